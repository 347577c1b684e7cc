"""The centre's copies of a site's records: their tables, how far each chain
has arrived (:func:`positions`), and what applying a batch finds
(:class:`_Outcome`, :class:`Gap`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from exam_server.db import writer
from exam_server.models import Candidate, Exam, ExamSession
from exam_server.sites.models import (
    SiteAttempt,
    SiteAuditEvent,
    SiteChainHead,
    SiteCheckpoint,
    SiteLink,
    SiteProblem,
    SiteResponse,
)
from exam_server.sites.wire import AttemptPosition, ChainHead, Positions

LINK = SiteLink.__table__  # type: ignore[attr-defined]
S_AUDIT = SiteAuditEvent.__table__  # type: ignore[attr-defined]
S_RESPONSE = SiteResponse.__table__  # type: ignore[attr-defined]
S_HEAD = SiteChainHead.__table__  # type: ignore[attr-defined]
S_CHECKPOINT = SiteCheckpoint.__table__  # type: ignore[attr-defined]
S_ATTEMPT = SiteAttempt.__table__  # type: ignore[attr-defined]
PROBLEM = SiteProblem.__table__  # type: ignore[attr-defined]
SESSION = ExamSession.__table__  # type: ignore[attr-defined]
EXAM = Exam.__table__  # type: ignore[attr-defined]
CANDIDATE = Candidate.__table__  # type: ignore[attr-defined]


class Gap(Exception):
    """A record whose predecessor the centre does not hold: resend from ``positions``."""

    def __init__(self, message: str, positions: Positions) -> None:
        super().__init__(message)
        self.positions = positions


@dataclass
class _Outcome:
    stored: int = 0
    duplicates: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)  # (kind, message)

    def conflict(self, kind: str, message: str) -> None:
        self.problems.append((kind, message))


class _GapSignal(Exception):
    pass


def positions(conn: Connection, site_id: int) -> Positions:
    """How far each chain of ``site_id`` has arrived here."""
    link = conn.execute(select(LINK).where(LINK.c.site_id == site_id)).mappings().one()
    attempts = {
        aid: AttemptPosition(seq=h.position, hash=h.hash)
        for aid, h in positions_of(conn, site_id, None).items()
    }
    for aid, status, last_seq in conn.execute(
        select(S_ATTEMPT.c.attempt_id, S_ATTEMPT.c.status, S_ATTEMPT.c.last_seq).where(
            S_ATTEMPT.c.site_id == site_id
        )
    ):
        pos = attempts.setdefault(int(aid), AttemptPosition(seq=0, hash=""))
        pos.status, pos.last_seq = str(status), int(last_seq)
    return Positions(
        audit=ChainHead(position=int(link["audit_last_id"]), hash=str(link["audit_last_hash"])),
        checkpoint=ChainHead(position=int(link["checkpoint_n"]), hash=str(link["checkpoint_hash"])),
        attempts=attempts,
    )


def read_positions(engine: Engine, site_id: int, now: float) -> Positions:
    """:func:`positions`, noting the site's contact."""
    with writer(engine).begin() as conn:
        conn.execute(LINK.update().where(LINK.c.site_id == site_id).values(last_contact_at=now))
        return positions(conn, site_id)


def positions_of(
    conn: Connection, site_id: int, attempt_ids: list[int] | None
) -> dict[int, ChainHead]:
    """The last answer stored here of each of ``attempt_ids`` (None: of every attempt)."""
    where = S_HEAD.c.site_id == site_id
    if attempt_ids is not None:
        where = where & S_HEAD.c.attempt_id.in_(attempt_ids)
    rows = conn.execute(select(S_HEAD.c.attempt_id, S_HEAD.c.seq, S_HEAD.c.hash).where(where))
    return {int(a): ChainHead(position=int(s), hash=str(h)) for a, s, h in rows}
