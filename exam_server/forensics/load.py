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
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.engine import Engine

from cat_engine.bank import BankArrays
from exam_server.forensics.models import ItemTime, RoomSeat
from exam_server.models import Attempt, Candidate, Exam, ExamSession, Response, Room
from exam_server.snapshot import bank_from_json
from forensics.data import SessionData, SessionItems


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


def find_session(engine: Engine, ref: str) -> ExamSession:
    """The session whose id or code is ``ref``."""
    with engine.connect() as conn:
        query = select(ExamSession).where(ExamSession.code == ref)  # type: ignore[arg-type]
        if ref.isdigit():
            query = select(ExamSession).where(
                (ExamSession.id == int(ref)) | (ExamSession.code == ref)  # type: ignore[arg-type]
            )
        row = conn.execute(query).first()
    if row is None:
        raise SessionNotFound(f"no session {ref!r} (give its id or code)")
    return ExamSession.model_validate(row._mapping)


def load_session(engine: Engine, ref: str) -> LoadedSession:
    """The session ``ref`` (id or code) ready for :func:`forensics.session.analyse`."""
    sess = find_session(engine, ref)
    with engine.connect() as conn:
        exam = conn.execute(select(Exam.code, Exam.bank_json).where(Exam.id == sess.exam_id)).one()  # type: ignore[arg-type]
        room = conn.execute(select(Room.code).where(Room.id == sess.room_id)).scalar_one()  # type: ignore[arg-type]
        attempts = conn.execute(
            select(Attempt.id, Attempt.terminal_id, Candidate.registration_number, Candidate.name)
            .join(Candidate, Candidate.id == Attempt.candidate_id)  # type: ignore[arg-type]
            .where(Attempt.session_id == sess.id, Attempt.status != "void")  # type: ignore[arg-type]
            .order_by(Candidate.registration_number)
        ).all()
        if not attempts:
            raise SessionNotFound(f"session {sess.code} has no attempts to analyse")
        ids = [int(a.id) for a in attempts]
        rows = conn.execute(
            select(
                Response.attempt_id,
                Response.item_id,
                Response.option,
                Response.elapsed,
                Response.server_elapsed,
            )
            .where(Response.attempt_id.in_(ids), Response.kind == "answer")  # type: ignore[attr-defined,arg-type]
            .order_by(Response.attempt_id, Response.seq)
        ).all()
        seats = {
            str(s.terminal_id): (float(s.row), float(s.col))
            for s in conn.execute(
                select(RoomSeat.terminal_id, RoomSeat.row, RoomSeat.col).where(
                    RoomSeat.room_id == sess.room_id  # type: ignore[arg-type]
                )
            )
        }
        bank = bank_from_json(exam.bank_json)
        item_ids = sorted({str(r.item_id) for r in rows}, key=bank.index_of)
        times = {
            str(t.item_id): (float(t.alpha), float(t.beta))
            for t in conn.execute(
                select(ItemTime.item_id, ItemTime.alpha, ItemTime.beta).where(
                    ItemTime.item_id.in_(item_ids)  # type: ignore[attr-defined]
                )
            )
        }
    data, index = _assemble(bank, item_ids, attempts, rows, seats, times)
    assert sess.id is not None
    return LoadedSession(
        session_id=sess.id,
        session_code=sess.code,
        exam_code=str(exam.code),
        room_code=str(room),
        data=data,
        bank_index=index,
        attempt_ids=tuple(ids),
        names=tuple(str(a.name) for a in attempts),
    )


def _assemble(
    bank: BankArrays,
    item_ids: list[str],
    attempts: list,  # type: ignore[type-arg]
    rows: list,  # type: ignore[type-arg]
    seats: dict[str, tuple[float, float]],
    times: dict[str, tuple[float, float]],
) -> tuple[SessionData, np.ndarray]:
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
