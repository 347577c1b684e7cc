"""What the live channels read from the database: a session, its proctor grid,
one attempt again, the exam's bank and options, the list of sessions.

All functions here are blocking (run them with ``asyncio.to_thread``) and
take ``now`` from the caller, who reads it from the app's clock
(``context(app).clock.now()``). The rules they apply live elsewhere and are
called, not restated: remaining time is
:func:`exam_server.clock.remaining_seconds`, when a terminal was last seen
alive is :func:`exam_server.presence.seen_alive`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from cat_engine.bank import BankArrays
from exam_server.clock import deadline_at, remaining_seconds, silent_stop_at
from exam_server.exam_options import ExamOptions
from exam_server.models import Attempt, AuditEvent, Candidate, Exam, ExamSession, Room
from exam_server.models import Response as ResponseRow
from exam_server.presence import seen_alive
from exam_server.proctoring.grid import TerminalGrid, TerminalRow, alert_of
from exam_server.results import outcomes
from exam_server.snapshot import bank_from_json

log = logging.getLogger(__name__)

MAX_SNAPSHOT_INCIDENTS = 300
SNAPSHOT_INCIDENT_KINDS = (
    "pause",
    "resume",
    "extend",
    "release",
    "void",
    "note",
    "alert",
    "second_login",
    "open_session",
    "close_session",
)
#: Missed presence marks after which a running attempt's terminal counts as gone.
MISSED_MARKS = 3


# --- the session and its exam ---------------------------------------------------------


def _design_items(design_json: str) -> int:
    """Number of items in a design document (sum of its sections' ``n_items``)."""
    try:
        design = json.loads(design_json)
        return int(sum(int(s.get("n_items", 0)) for s in design.get("sections", [])))
    except (ValueError, TypeError, AttributeError):
        return 0


@dataclass(frozen=True)
class SessionInfo:
    """A session as the channels show it (the token only to proctors)."""

    id: int
    code: str
    status: str
    token: str | None
    exam_code: str
    exam_name: str
    room: str
    n_items: int

    def to_dict(self, *, with_token: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "code": self.code,
            "status": self.status,
            "exam": {"code": self.exam_code, "name": self.exam_name},
            "room": self.room,
            "n_items": self.n_items,
        }
        if with_token:
            out["token"] = self.token
        return out


def session_info(db: Session, session_id: int) -> SessionInfo | None:
    row = db.exec(
        select(ExamSession, Exam, Room)
        .join(Exam, col(Exam.id) == col(ExamSession.exam_id))
        .join(Room, col(Room.id) == col(ExamSession.room_id))
        .where(ExamSession.id == session_id)
    ).first()
    if row is None:
        return None
    sess, exam, room = row
    assert sess.id is not None
    return SessionInfo(
        sess.id,
        sess.code,
        sess.status,
        sess.token,
        exam.code,
        exam.name,
        room.name,
        _design_items(exam.design_json),
    )


def _bank_of(engine: Engine, session_id: int) -> BankArrays | None:
    with Session(engine) as db:
        row = db.exec(
            select(Exam.bank_json)
            .join(ExamSession, col(ExamSession.exam_id) == col(Exam.id))
            .where(ExamSession.id == session_id)
        ).first()
    return bank_from_json(row) if row else None


async def load_bank(engine: Engine, session_id: int) -> BankArrays | None:
    """The bank snapshot of the exam a session sits (off the event loop)."""
    return await asyncio.to_thread(_bank_of, engine, session_id)


def exam_options(engine: Engine, session_id: int) -> ExamOptions:
    """The operating options of the exam a session sits (``Exam.options_json``;
    the defaults when the exam has none)."""
    with Session(engine) as db:
        row = db.exec(
            select(Exam.options_json)
            .join(ExamSession, col(ExamSession.exam_id) == col(Exam.id))
            .where(ExamSession.id == session_id)
        ).first()
    return ExamOptions.from_json(row)


def session_rows(engine: Engine) -> list[dict[str, Any]]:
    """Every session with its exam and room, in order of start."""
    with Session(engine) as db:
        rows = db.exec(
            select(ExamSession, Exam, Room)
            .join(Exam, col(Exam.id) == col(ExamSession.exam_id))
            .join(Room, col(Room.id) == col(ExamSession.room_id))
            .order_by(col(ExamSession.starts_at), col(ExamSession.id))
        ).all()
        return [
            {
                "id": sess.id,
                "code": sess.code,
                "status": sess.status,
                "starts_at": sess.starts_at,
                "exam": exam.name,
                "room": room.name,
                "room_id": room.id,
            }
            for sess, exam, room in rows
        ]


# --- attempts --------------------------------------------------------------------------


def never_taken(attempt: Attempt) -> bool:
    """:func:`exam_server.results.outcomes.never_taken` of a stored attempt
    (the same rule as the results' ``absent``)."""
    return outcomes.never_taken(attempt.status, attempt.terminal_id, attempt.last_seq)


def attempt_status(
    attempt: Attempt, now: float, presence: float, seen: float, *, closed: bool = False
) -> str:
    """The proctor grid's status of a stored attempt (see
    :mod:`exam_server.proctoring.grid`). presence: seconds between two
    presence marks; seen: when its terminal was last seen alive; closed: the
    session is closed.

    An attempt no terminal ever took (:func:`never_taken`) is ``waiting``
    while the candidate may still come and ``absent`` once the session is
    closed, or once closing it finished the attempt, as on the board and in
    the published results (TH)."""
    if outcomes.absent_now(attempt.status, attempt.terminal_id, attempt.last_seq, closed):
        return "absent"
    if never_taken(attempt) and attempt.status != "paused":
        return "waiting"
    if attempt.status in ("finished", "void", "paused"):
        return attempt.status
    if attempt.running_since is None:
        return "disconnected"  # the clock was stopped: the terminal is gone
    # The server marks connected terminals seen every `presence` seconds;
    # MISSED_MARKS missed marks mean nobody is there.
    return "working" if now - seen <= MISSED_MARKS * presence else "disconnected"


def apply_attempt(
    row: TerminalRow,
    attempt: Attempt,
    now: float,
    presence: float,
    *,
    live: bool = False,
    grace: float | None = None,
    seen: float | None = None,
    closed: bool = False,
) -> None:
    """Copy the stored attempt into ``row``. seen: when its terminal was last
    seen alive (:func:`exam_server.presence.seen_alive`; default the
    attempt's own ``last_seen_at``); closed: the session is closed.

    live: the row is kept current by events, which know better than the
    database whether a terminal is connected (a dropped terminal's clock
    runs on through the grace period; a login precedes the connection), so
    a running attempt keeps its waiting/working/disconnected status.
    """
    row.attempt_id = attempt.id
    if seen is None:
        seen = attempt.last_seen_at or 0.0
    status = attempt_status(attempt, now, presence, seen, closed=closed)
    kept = ("working", "disconnected", "waiting")
    if not (live and status != "absent" and attempt.status == "running" and row.status in kept):
        row.status = status
    running = attempt.status == "running"
    deadline = deadline_at(attempt.remaining_at_start, attempt.running_since) if running else None
    if grace is not None and status == "disconnected" and attempt.running_since is not None:
        # Still in the grace period: the server stops the clock when it ends.
        row.clock_stops_at = silent_stop_at(seen, grace, attempt.running_since)
    row.deadline_at = deadline
    row.remaining = remaining_seconds(attempt.remaining_at_start, attempt.running_since, now)
    row.terminal_id = attempt.terminal_id
    row.last_seen = seen or row.last_seen
    row.total_points = attempt.total_points


def load_grid(
    engine: Engine, session_id: int, now: float, presence: float, grace: float = 30.0
) -> tuple[SessionInfo, TerminalGrid]:
    """The session and its proctor grid as stored at ``now`` (epoch s).

    presence: how often the server refreshes a connected terminal's
    ``last_seen_at``; grace: how long a dropped terminal's clock runs on.
    Raises ``LookupError`` for an unknown session.
    """
    with Session(engine) as db:
        info = session_info(db, session_id)
        if info is None:
            raise LookupError(session_id)
        grid = TerminalGrid(session_id)
        candidates = db.exec(select(Candidate).where(Candidate.session_id == session_id)).all()
        by_id: dict[int, TerminalRow] = {}
        for cand in candidates:
            row = TerminalRow(cand.registration_number, cand.name, cand.id, n_items=info.n_items)
            grid.add(row)
            if cand.id is not None:
                by_id[cand.id] = row
        attempts = db.exec(select(Attempt).where(Attempt.session_id == session_id)).all()
        seen = seen_alive(db, attempts)
        closed = info.status == "closed"
        by_attempt: dict[int, TerminalRow] = {}
        for att in attempts:
            row = by_id.get(att.candidate_id) or TerminalRow(f"#{att.candidate_id}", "?")
            grid.add(row)
            apply_attempt(
                row, att, now, presence, grace=grace, seen=seen.get(att.id or 0), closed=closed
            )
            if att.id is not None:
                by_attempt[att.id] = row
        if closed:  # scheduled, but the session ended before any attempt was made
            for row in grid.rows.values():
                if row.attempt_id is None:
                    row.status = "absent"
        if by_attempt:
            responses = db.exec(
                select(ResponseRow)
                .where(col(ResponseRow.attempt_id).in_(list(by_attempt)))
                .order_by(col(ResponseRow.attempt_id), col(ResponseRow.seq))
            ).all()
            for resp in responses:
                row = by_attempt[resp.attempt_id]
                if resp.kind == "answer":
                    mark = row.answered.add if resp.option >= 0 else row.answered.discard
                    mark(resp.number)
                (row.doubtful.add if resp.flagged else row.doubtful.discard)(resp.number)
        _load_incidents(
            db, session_id, grid, {att.id: by_id.get(att.candidate_id) for att in attempts}
        )
    return info, grid


def _load_incidents(
    db: Session, session_id: int, grid: TerminalGrid, rows: dict[int | None, TerminalRow | None]
) -> None:
    """The incident log: proctors' acts, alerts and the session's opening and
    closing (not the routine check-ins and clock entries), newest
    MAX_SNAPSHOT_INCIDENTS; alerts are counted over all of them."""
    audits = db.exec(
        select(AuditEvent)
        .where(AuditEvent.session_id == session_id)
        .where(col(AuditEvent.kind).in_(SNAPSHOT_INCIDENT_KINDS))
        .order_by(col(AuditEvent.id).desc())
        .limit(MAX_SNAPSHOT_INCIDENTS)
    ).all()
    # Every alert of the session counts and goes into its candidate's log
    # (the row keeps the newest ALERT_LOG_LENGTH), not only those among the
    # newest incidents.
    alerts = db.exec(
        select(AuditEvent)
        .where(AuditEvent.session_id == session_id)
        .where(AuditEvent.kind == "alert")
        .order_by(col(AuditEvent.id))
    ).all()
    for entry in alerts:
        target = rows.get(entry.attempt_id) if entry.attempt_id is not None else None
        if target is not None:
            target.add_alert(alert_of(_data(entry.data_json), entry.at))
    for entry in reversed(audits):
        data = _data(entry.data_json)
        target = rows.get(entry.attempt_id)
        grid.incidents.append(
            {
                "at": entry.at,
                "kind": entry.kind,
                "attempt_id": entry.attempt_id,
                "registration_number": target.registration_number if target else None,
                "actor": entry.actor,
                "reason": entry.reason,
                "data": data,
            }
        )


def _data(data_json: str) -> dict[str, Any]:
    try:
        data = json.loads(data_json)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def reload_attempt(engine: Engine, attempt_id: int) -> tuple[Attempt | None, float | None]:
    """The stored attempt and when its terminal was last seen alive."""
    with Session(engine) as db:
        attempt = db.get(Attempt, attempt_id)
        if attempt is None:
            return None, None
        return attempt, seen_alive(db, [attempt]).get(attempt_id)
