"""Server-side validation of the recruitment forms, with messages in Bahasa
Indonesia and English naming the field.

Each ``parse_*`` takes the submitted fields (text) and returns a typed value or
raises :class:`FormError` listing every field that is wrong, so a page shows
all of them at once and stores nothing.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9.-]{1,185}\.[A-Za-z]{2,}$")
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,29}$")
MIN_PASSWORD = 10


@dataclass
class FieldError:
    field: str
    text_id: str
    text_en: str


@dataclass
class FormError(Exception):
    errors: list[FieldError] = field(default_factory=list)

    def add(self, name: str, text_id: str, text_en: str) -> None:
        self.errors.append(FieldError(name, text_id, text_en))

    def by_field(self) -> dict[str, FieldError]:
        return {e.field: e for e in self.errors}

    def raise_if_any(self) -> None:
        if self.errors:
            raise self


def text(
    form: Mapping[str, Any], name: str, err: FormError, *, max_len: int = 200, required: bool = True
) -> str:
    raw = form.get(name)
    value = raw.strip() if isinstance(raw, str) else ""
    if required and not value:
        err.add(name, "wajib diisi", "required")
    elif len(value) > max_len:
        err.add(name, f"paling banyak {max_len} karakter", f"at most {max_len} characters")
    elif any(ord(c) < 32 and c not in "\n\t" for c in value):
        err.add(name, "berisi karakter kendali", "contains control characters")
    return value[:max_len]


def integer(form: Mapping[str, Any], name: str, err: FormError, lo: int, hi: int) -> int:
    raw = form.get(name)
    try:
        value = int(str(raw).strip())
    except (TypeError, ValueError):
        err.add(name, "harus bilangan bulat", "must be a whole number")
        return lo
    if not lo <= value <= hi:
        err.add(name, f"harus antara {lo} dan {hi}", f"must be between {lo} and {hi}")
    return value


def date(form: Mapping[str, Any], name: str, err: FormError) -> dt.date | None:
    raw = form.get(name)
    try:
        return dt.date.fromisoformat(str(raw).strip())
    except (TypeError, ValueError):
        err.add(name, "tanggal tidak sah (TTTT-BB-HH)", "not a valid date (YYYY-MM-DD)")
        return None


def choice(
    form: Mapping[str, Any],
    name: str,
    err: FormError,
    allowed: Sequence[str],
    *,
    required: bool = True,
) -> str:
    raw = form.get(name)
    value = raw.strip() if isinstance(raw, str) else ""
    if not value and not required:
        return ""
    if value not in allowed:
        err.add(name, "pilihan tidak sah", "not one of the choices")
    return value


def email(form: Mapping[str, Any], name: str, err: FormError) -> str:
    value = text(form, name, err, max_len=254)
    if value and not EMAIL_RE.match(value):
        err.add(name, "alamat email tidak sah", "not a valid email address")
    return value.lower()


def password(form: Mapping[str, Any], name: str, err: FormError) -> str:
    raw = form.get(name)
    value = raw if isinstance(raw, str) else ""
    if len(value) < MIN_PASSWORD:
        err.add(
            name, f"paling sedikit {MIN_PASSWORD} karakter", f"at least {MIN_PASSWORD} characters"
        )
    elif len(value) > 200:
        err.add(name, "paling banyak 200 karakter", "at most 200 characters")
    return value
