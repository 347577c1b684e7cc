"""Small builders shared by the results tests (imported as a plain module)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from exam_server.results.outcomes import FINISHED, CandidateOutcome, Formation
from exam_server.results.rules import RankingPolicy

POLICY = RankingPolicy.default_2024()


def cand(
    regno: str,
    twk: float,
    tiu: float,
    tkp: float,
    *,
    formation: str = "F1",
    category: str = "general",
    status: str = FINISHED,
    gpa: float | None = None,
    born: str | None = None,
    **kw: Any,
) -> CandidateOutcome:
    """A finished candidate with the given subtest points."""
    return CandidateOutcome(
        registration_number=regno,
        formation=formation,
        category=category,
        status=status,
        scores={"TWK": twk, "TIU": tiu, "TKP": tkp} if status == FINISHED else {},
        gpa=gpa,
        birth_date=None if born is None else dt.date.fromisoformat(born),
        **kw,
    )


def absent(regno: str, formation: str = "F1", status: str = "absent") -> CandidateOutcome:
    return CandidateOutcome(regno, formation, "general", status)


def formation(fid: str = "F1", openings: int = 1, group: str | None = None) -> Formation:
    return Formation(fid, openings, name=f"Formation {fid}", group=group)


def codes(result: Any, fid: str = "F1") -> dict[str, str]:
    """registration number → code in formation ``fid`` of an SKD or final result."""
    for f in result.formations:
        if f.formation.id == fid:
            return {e.registration_number: e.code for e in f.entries}
    raise KeyError(fid)
