"""A period's public announcement: the document, its signature, and what changed.

:func:`build_document` gathers the schedule and the formations into one
dictionary; :func:`sign` signs its canonical JSON (the same canonical form and
Ed25519 keys as the results publication, ``exam_server.results.publication``)
and :func:`changes` lists what differs from the version before, in words a
reader follows (a formation added or removed, a field changed, a date moved).
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, model_validator

from exam_server.results.publication import canonical_json, public_key_fingerprint


class Schedule(BaseModel):
    """The period's dates (``YYYY-MM-DD``, inclusive)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    registration_opens: dt.date
    registration_closes: dt.date
    verification_ends: dt.date
    appeal_opens: dt.date
    appeal_closes: dt.date
    appeal_answer_days: int = 7
    exam_from: dt.date
    exam_to: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> Schedule:
        # Each window runs forwards, and nothing comes before registration
        # opens. Windows may overlap (an agency may verify while registration
        # is still open, and a registration's own states keep its order: an
        # appeal needs a TMS, which needs a submitted registration).
        pairs = [
            ("registration_opens", "registration_closes"),
            ("registration_opens", "verification_ends"),
            ("appeal_opens", "appeal_closes"),
            ("registration_opens", "appeal_opens"),
            ("exam_from", "exam_to"),
            ("registration_opens", "exam_from"),
        ]
        for a, b in pairs:
            if getattr(self, b) < getattr(self, a):
                raise ValueError(f"{b} ({getattr(self, b)}) is before {a} ({getattr(self, a)})")
        if self.appeal_answer_days < 1:
            raise ValueError("appeal_answer_days must be at least 1")
        return self

    def registration_open(self, today: dt.date) -> bool:
        return self.registration_opens <= today <= self.registration_closes

    def appeal_open(self, today: dt.date) -> bool:
        return self.appeal_opens <= today <= self.appeal_closes


SCHEDULE_TEXT: dict[str, tuple[str, str]] = {
    "registration_opens": ("Pendaftaran dibuka", "Registration opens"),
    "registration_closes": ("Pendaftaran ditutup", "Registration closes"),
    "verification_ends": ("Verifikasi selesai", "Verification ends"),
    "appeal_opens": ("Masa sanggah dibuka", "Appeal window opens"),
    "appeal_closes": ("Masa sanggah ditutup", "Appeal window closes"),
    "appeal_answer_days": ("Batas jawaban sanggah (hari)", "Appeal answered within (days)"),
    "exam_from": ("Ujian mulai", "Exams from"),
    "exam_to": ("Ujian sampai", "Exams until"),
}


def build_document(
    period: Mapping[str, Any], schedule: Schedule, formations: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """The announcement: period (code, name, agency, rules version), schedule,
    formations sorted by code (code, unit, position, location, category,
    openings, education_level, majors, max_age, other_requirements)."""
    return {
        "period": dict(period),
        "schedule": schedule.model_dump(mode="json"),
        "formations": sorted((dict(f) for f in formations), key=lambda f: str(f["code"])),
    }


def sign(doc: Mapping[str, Any], key: Ed25519PrivateKey) -> tuple[bytes, str, str]:
    """(canonical bytes, base64 signature, key fingerprint)."""
    data = canonical_json(doc)
    return data, base64.b64encode(key.sign(data)).decode(), public_key_fingerprint(key.public_key())


def verify(data: bytes, signature: str, public_key: Ed25519PublicKey) -> bool:
    try:
        public_key.verify(base64.b64decode(signature, validate=True), data)
    except (InvalidSignature, ValueError):
        return False
    return True


def changes(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[dict[str, str]]:
    """What changed from ``old`` to ``new``: ``{"what", "id", "en"}`` lines."""
    if old is None:
        return [{"what": "first", "id": "Pengumuman pertama", "en": "First announcement"}]
    out: list[dict[str, str]] = []
    for key, (tid, ten) in SCHEDULE_TEXT.items():
        a, b = old["schedule"].get(key), new["schedule"].get(key)
        if a != b:
            out.append({"what": key, "id": f"{tid}: {a} → {b}", "en": f"{ten}: {a} → {b}"})
    before = {f["code"]: f for f in old["formations"]}
    after = {f["code"]: f for f in new["formations"]}
    for code in sorted(after.keys() - before.keys()):
        out.append({"what": code, "id": f"Formasi baru {code}", "en": f"New formation {code}"})
    for code in sorted(before.keys() - after.keys()):
        out.append(
            {"what": code, "id": f"Formasi {code} dihapus", "en": f"Formation {code} removed"}
        )
    for code in sorted(before.keys() & after.keys()):
        for field in sorted(set(before[code]) | set(after[code])):
            a, b = before[code].get(field), after[code].get(field)
            if a != b:
                out.append(
                    {
                        "what": f"{code}.{field}",
                        "id": f"Formasi {code}, {field}: {a} → {b}",
                        "en": f"Formation {code}, {field}: {a} → {b}",
                    }
                )
    return out
