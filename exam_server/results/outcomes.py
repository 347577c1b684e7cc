"""The plain records a ranking starts from: formations and candidates' outcomes.

These are what the database adapter (:mod:`.from_db`) builds from the server's
tables, what an input document for ``seleksi results publish --input`` holds,
and what a verifier rebuilds from a publication. Nothing here knows the rules.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

#: A candidate sat the test to the end (or the clock ran out).
FINISHED = "finished"
#: A candidate never started the test.
ABSENT = "absent"
#: A proctor voided the attempt (disqualification).
VOIDED = "voided"
STATUSES = (FINISHED, ABSENT, VOIDED)


def never_taken(status: str, terminal_id: str | None, last_seq: int) -> bool:
    """An attempt the server prepared that no terminal ever took and that holds
    no answer: its candidate has not come (while the session is open) or did
    not come — absent (TH) — once it is closed, even though closing finished
    it. The one rule for the results, the public board and the proctor grid."""
    return status != "void" and terminal_id is None and last_seq == 0


def absent_now(status: str, terminal_id: str | None, last_seq: int, session_closed: bool) -> bool:
    """:func:`never_taken` and over: the session is closed, or closing it
    finished the attempt. What the proctor grid and the admin API show as
    absent (TH) while the live board and the results apply the same rule."""
    return never_taken(status, terminal_id, last_seq) and (session_closed or status == "finished")


Number = int | float | Decimal | str
_SAFE_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")


@dataclass(frozen=True)
class Formation:
    """A position opening: ``openings`` places, ranked on its own.

    ``group`` names the formations that may fill each other's vacant openings
    in the optimisation step (for example the same position at several
    locations); ``None`` means the formation is its own group.
    """

    id: str
    openings: int
    name: str = ""
    group: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id.strip():
            raise ValueError("formation id: must be a non-empty string")
        if not _SAFE_ID.fullmatch(self.id):
            # Formation ids become file names and URL parts in a publication.
            raise ValueError(
                f"formation {self.id!r}: id may hold only letters, digits, '.', '_' and '-', "
                "and must not start with '.'"
            )
        if isinstance(self.openings, bool) or not isinstance(self.openings, int):
            raise ValueError(f"formation {self.id}: openings must be an integer")
        if self.openings < 0:
            raise ValueError(f"formation {self.id}: openings must be ≥ 0, got {self.openings}")

    @property
    def optimisation_group(self) -> str:
        return self.group if self.group is not None else self.id


@dataclass(frozen=True)
class CandidateOutcome:
    """One candidate's SKD outcome, as recorded by the exam server.

    ``scores`` maps subtest code to points on the published scale (empty when
    absent); ``responses_hash`` is :func:`responses_digest` of the recorded
    responses (hex SHA-256, ``""`` when there are none); ``gpa`` on the
    graduate's own scale (0–4 in Indonesia); ``birth_date`` for the last
    tie-break (older first). ``status_note`` is shown with a TH/DIS code (for
    example the proctor's reason for voiding).
    """

    registration_number: str
    formation: str
    category: str
    status: str
    scores: Mapping[str, Number] = field(default_factory=dict)
    responses_hash: str = ""
    name: str = ""
    gpa: Number | None = None
    birth_date: dt.date | None = None
    status_note: str = ""

    def __post_init__(self) -> None:
        regno = self.registration_number
        if not isinstance(regno, str) or not regno.strip() or regno != regno.strip():
            raise ValueError(
                f"registration number {regno!r}: must be a non-empty string "
                "without surrounding spaces"
            )
        if self.status not in STATUSES:
            raise ValueError(
                f"candidate {regno}: status must be one of {', '.join(STATUSES)}, "
                f"got {self.status!r}"
            )
        if self.responses_hash and not _is_sha256_hex(self.responses_hash):
            raise ValueError(f"candidate {regno}: responses_hash must be 64 lowercase hex digits")


_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def _is_sha256_hex(text: str) -> bool:
    return _SHA256_HEX.fullmatch(text) is not None


def responses_digest(responses: Iterable[Mapping[str, Any]]) -> str:
    """Hex SHA-256 of a candidate's recorded responses, independent of their order.

    Each response is a JSON-safe mapping (the adapter uses ``item``, ``option``,
    ``seq``); the responses are serialised as canonical JSON (sorted keys, no
    spaces), sorted, joined by newlines, and hashed. A candidate given their
    own responses can recompute this with a few lines of any language.
    """
    lines = sorted(
        json.dumps(dict(r), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        for r in responses
    )
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()
