"""Identity against the population registry (Dukcapil): an adapter interface.

A :class:`RegistryAdapter` answers one question: does this NIK belong to a
person with this name and birth date? The answer (:class:`IdentityResult`) is
stored with the registration as evidence for the verifiers; it never holds
the NIK.

:class:`OfflineRegistry` reads a registry extract (CSV with the header
``nik,name,birth_date``) as the agency receives it for offline checking; it
keeps only keyed hashes of the numbers in memory. A real service plugs in as
another class with the same ``check`` method (for example one calling the
agency's Dukcapil web service over mutual TLS), chosen where the app builds
its recruitment configuration (``exam_server.recruitment.config``).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import io
import secrets
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from recruitment.nik import normalise


@dataclass(frozen=True)
class IdentityResult:
    """found: the NIK is in the registry; name_matches / birth_date_matches
    compare it with what the candidate entered (None when not found);
    source: which adapter answered."""

    found: bool
    name_matches: bool | None
    birth_date_matches: bool | None
    source: str

    @property
    def ok(self) -> bool:
        return self.found and bool(self.name_matches) and bool(self.birth_date_matches)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


class RegistryAdapter(Protocol):
    def check(self, nik: str, name: str, birth_date: dt.date) -> IdentityResult: ...


def _name_key(name: str) -> str:
    return " ".join(name.upper().split())


class OfflineRegistry:
    """The adapter over a registry extract (see the module doc)."""

    source = "offline-extract"

    def __init__(self, text: str) -> None:
        self._key = secrets.token_bytes(32)
        self._rows: dict[bytes, tuple[str, str]] = {}
        reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
        if reader.fieldnames is None or not {"nik", "name", "birth_date"} <= set(reader.fieldnames):
            raise ValueError("the registry extract needs the columns nik, name, birth_date")
        for line, row in enumerate(reader, start=2):
            nik = normalise(row["nik"] or "")
            try:
                dt.date.fromisoformat(row["birth_date"] or "")
            except ValueError:
                raise ValueError(
                    f"registry extract line {line}: birth_date is not YYYY-MM-DD"
                ) from None
            self._rows[self._h(nik)] = (_name_key(row["name"] or ""), row["birth_date"])

    def _h(self, nik: str) -> bytes:
        return hmac.new(self._key, nik.encode(), hashlib.sha256).digest()

    def check(self, nik: str, name: str, birth_date: dt.date) -> IdentityResult:
        row = self._rows.get(self._h(normalise(nik)))
        if row is None:
            return IdentityResult(False, None, None, self.source)
        return IdentityResult(
            True, row[0] == _name_key(name), row[1] == birth_date.isoformat(), self.source
        )


class NoRegistry:
    """No registry configured: every identity is left for the verifiers."""

    source = "none"

    def check(self, nik: str, name: str, birth_date: dt.date) -> IdentityResult:
        return IdentityResult(False, None, None, self.source)
