"""A stored session as :class:`forensics.data.SessionData`.

Reads, never writes: the session's exam (its frozen bank: parameters, keys
by option category), every attempt that is not void, each attempt's answer
history (``exam_response`` rows of kind ``answer``, in order), the room's
seating layout (:class:`~exam_server.forensics.models.RoomSeat`, by the
attempt's terminal) and the items' response-time parameters
(:class:`~exam_server.forensics.models.ItemTime`).

Per candidate and item: the final option is the last answer (``-1`` if
cleared); ``previous`` is the latest different option answered before it;
the seconds are the server's clock counted to each answer of that item
(``server_elapsed``, summed over its answers; the terminal's own ``elapsed``
where the server's is missing, in rows older than that column).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from cat_engine.bank import BankArrays
from exam_server.forensics.models import ItemTime, RoomSeat
from exam_server.models import Attempt, Candidate, Exam, ExamSession, Response, Room
from exam_server.snapshot import bank_from_json
from forensics.data import SessionData, SessionItems

SESSION = ExamSession.__table__  # type: ignore[attr-defined]
EXAM = Exam.__table__  # type: ignore[attr-defined]
ROOM = Room.__table__  # type: ignore[attr-defined]
ATTEMPT = Attempt.__table__  # type: ignore[attr-defined]
CANDIDATE = Candidate.__table__  # type: ignore[attr-defined]
RESPONSE = Response.__table__  # type: ignore[attr-defined]
SEAT = RoomSeat.__table__  # type: ignore[attr-defined]
TIME = ItemTime.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class LoadedSession:
    """data: the session for the indices; bank_index: (n,) each item's index in
    the exam's bank; attempt_ids, names: (m,) per candidate (candidate_ids of
    ``data`` are registration numbers)."""

    session_id: int
    session_code: str
    exam_code: str
    room_code: str
    data: SessionData
    bank_index: np.ndarray
    attempt_ids: tuple[int, ...]
    names: tuple[str, ...]


class SessionNotFound(LookupError):
    """No session with that id or code, or nothing to analyse in it."""


def find_session(engine: Engine, ref: str) -> Any:
    """The session row (id, code, exam_id, room_id) whose id or code is ``ref``."""
    where = SESSION.c.code == ref
    if ref.isdigit():
        where = (SESSION.c.id == int(ref)) | where
    with engine.connect() as conn:
        row = conn.execute(select(SESSION).where(where)).first()
    if row is None:
        raise SessionNotFound(f"no session {ref!r} (give its id or code)")
    return row


def load_session(engine: Engine, ref: str) -> LoadedSession:
    """The session ``ref`` (id or code) ready for :func:`forensics.session.analyse`."""
    sess = find_session(engine, ref)
    with engine.connect() as conn:
        exam = conn.execute(
            select(EXAM.c.code, EXAM.c.bank_json).where(EXAM.c.id == sess.exam_id)
        ).one()
        room = conn.execute(select(ROOM.c.code).where(ROOM.c.id == sess.room_id)).scalar_one()
        attempts = list(
            conn.execute(
                select(
                    ATTEMPT.c.id,
                    ATTEMPT.c.terminal_id,
                    CANDIDATE.c.registration_number,
                    CANDIDATE.c.name,
                )
                .join(CANDIDATE, CANDIDATE.c.id == ATTEMPT.c.candidate_id)
                .where(ATTEMPT.c.session_id == sess.id, ATTEMPT.c.status != "void")
                .order_by(CANDIDATE.c.registration_number)
            )
        )
        if not attempts:
            raise SessionNotFound(f"session {sess.code} has no attempts to analyse")
        ids = [int(a.id) for a in attempts]
        rows = list(
            conn.execute(
                select(
                    RESPONSE.c.attempt_id,
                    RESPONSE.c.item_id,
                    RESPONSE.c.option,
                    RESPONSE.c.elapsed,
                    RESPONSE.c.server_elapsed,
                )
                .where(RESPONSE.c.attempt_id.in_(ids), RESPONSE.c.kind == "answer")
                .order_by(RESPONSE.c.attempt_id, RESPONSE.c.seq)
            )
        )
        if not rows:
            raise SessionNotFound(f"session {sess.code} has no answers yet: nothing to analyse")
        seats = {
            str(s.terminal_id): (float(s.row), float(s.col))
            for s in conn.execute(select(SEAT).where(SEAT.c.room_id == sess.room_id))
        }
        bank = bank_from_json(exam.bank_json)
        item_ids = sorted({str(r.item_id) for r in rows}, key=bank.index_of)
        times = item_times(conn, item_ids)
    data, index = assemble(bank, item_ids, attempts, rows, seats, times)
    return LoadedSession(
        session_id=int(sess.id),
        session_code=str(sess.code),
        exam_code=str(exam.code),
        room_code=str(room),
        data=data,
        bank_index=index,
        attempt_ids=tuple(ids),
        names=tuple(str(a.name) for a in attempts),
    )


def item_times(conn: Connection, item_ids: Sequence[str]) -> dict[str, tuple[float, float]]:
    """The stored (α, β) of the items that have them."""
    rows = conn.execute(select(TIME).where(TIME.c.item_id.in_(list(item_ids))))
    return {str(t.item_id): (float(t.alpha), float(t.beta)) for t in rows}


def assemble(
    bank: BankArrays,
    item_ids: list[str],
    attempts: list[Any],
    rows: list[Any],
    seats: dict[str, tuple[float, float]],
    times: dict[str, tuple[float, float]],
) -> tuple[SessionData, np.ndarray]:
    """SessionData of ``attempts`` (rows with id, terminal_id,
    registration_number) from their answer ``rows`` (attempt_id, item_id,
    option, elapsed, server_elapsed; in seq order) on ``item_ids``; also
    each item's index in ``bank``."""
    col_of = {iid: j for j, iid in enumerate(item_ids)}
    row_of = {int(a.id): i for i, a in enumerate(attempts)}
    m, n = len(attempts), len(item_ids)
    options = np.full((m, n), -1, dtype=np.int64)
    previous = np.full((m, n), -1, dtype=np.int64)
    seconds = np.zeros((m, n))
    history: dict[tuple[int, int], list[int]] = defaultdict(list)
    for r in rows:
        i, j = row_of[int(r.attempt_id)], col_of[str(r.item_id)]
        history[(i, j)].append(int(r.option))
        spent = r.server_elapsed if r.server_elapsed is not None else r.elapsed
        seconds[i, j] += float(spent or 0.0)
    for (i, j), opts in history.items():
        final = opts[-1]
        options[i, j] = final
        if final >= 0:
            earlier = [o for o in opts[:-1] if o >= 0 and o != final]
            previous[i, j] = earlier[-1] if earlier else -1
    seconds = np.where(options >= 0, seconds, np.nan)
    index = np.array([bank.index_of(iid) for iid in item_ids], dtype=np.int64)
    alpha = np.array([times.get(iid, (np.nan, np.nan))[0] for iid in item_ids])
    beta = np.array([times.get(iid, (np.nan, np.nan))[1] for iid in item_ids])
    seat = [seats.get(str(a.terminal_id)) if a.terminal_id else None for a in attempts]
    data = SessionData(
        items=SessionItems.from_bank(bank, index, alpha, beta),
        options=options,
        seconds=seconds,
        previous=previous,
        room=np.zeros(m, dtype=np.int64),
        row=np.array([s[0] if s else np.nan for s in seat]),
        col=np.array([s[1] if s else np.nan for s in seat]),
        candidate_ids=tuple(str(a.registration_number) for a in attempts),
    )
    return data, index
