"""What the attempts read and write: the statements, the stored form of an
attempt, and the group committer's guard.

The stored form: every answer or flag appends one narrow ``exam_response``
row (with its hash-chain link and what the engine was given that a replay
cannot recompute) and updates the narrow ``exam_attempt`` row (last seq,
chain head, item on screen); the engine state is written to
``exam_attempt_snapshot`` only every ``Settings.snapshot_every`` responses,
when an adaptive section ends and at the finish. A load takes the last
snapshot and replays the responses after it through the engine
(:func:`replay`), which gives the live state exactly.

Everything here runs on a connection (a worker thread or the group
committer's writer thread), never on the event loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection

from cat_engine import engine as cat
from cat_engine.bank import BankArrays
from cat_engine.errors import EngineError
from cat_engine.state import TestState
from exam_server import audit, presence, state_codec
from exam_server.attempts.state import LiveAttempt
from exam_server.exams import ExamData
from exam_server.models import (
    Attempt,
    AttemptSnapshot,
    Candidate,
    CheckIn,
    ExamSession,
    Formation,
    Response,
)
from exam_server.scaleout.locks import StaleAttempt, read_attempts_locked
from exam_server.state_codec import state_json

__all__ = ["state_json"]  # re-exported: the JSON a snapshot holds, for tests and tools

ATTEMPT = Attempt.__table__  # type: ignore[attr-defined]
RESPONSE = Response.__table__  # type: ignore[attr-defined]
SNAPSHOT = AttemptSnapshot.__table__  # type: ignore[attr-defined]
CANDIDATE = Candidate.__table__  # type: ignore[attr-defined]
SESSION = ExamSession.__table__  # type: ignore[attr-defined]
CHECKIN = CheckIn.__table__  # type: ignore[attr-defined]
FORMATION = Formation.__table__  # type: ignore[attr-defined]
PRESENCE = presence.PRESENCE

# A candidate's login in one statement: the session, the PIN issued for it,
# the attempt if prepared, the formation shown on the terminal.
LOGIN_QUERY = (
    select(
        CANDIDATE.c.id,
        CANDIDATE.c.session_id,
        SESSION.c.status,
        SESSION.c.token,
        SESSION.c.exam_id,
        CHECKIN.c.pin_mac,
        ATTEMPT.c.id,
        FORMATION.c.code,
        FORMATION.c.position,
        FORMATION.c.agency,
        FORMATION.c.location,
    )
    .select_from(
        CANDIDATE.join(SESSION, SESSION.c.id == CANDIDATE.c.session_id)
        .outerjoin(
            CHECKIN,
            (CHECKIN.c.session_id == SESSION.c.id) & (CHECKIN.c.candidate_id == CANDIDATE.c.id),
        )
        .outerjoin(
            ATTEMPT,
            (ATTEMPT.c.session_id == SESSION.c.id) & (ATTEMPT.c.candidate_id == CANDIDATE.c.id),
        )
        .outerjoin(FORMATION, FORMATION.c.id == CANDIDATE.c.formation_id)
    )
    .where(CANDIDATE.c.registration_number == bindparam("reg"))
)

# An attempt with what the terminal shows of its candidate, in one statement.
_LOAD_QUERY = (
    select(
        ATTEMPT,
        CANDIDATE.c.registration_number,
        CANDIDATE.c.name,
        CANDIDATE.c.category,
        SESSION.c.exam_id,
        SESSION.c.code.label("session_code"),
    )
    .select_from(
        ATTEMPT.join(CANDIDATE, CANDIDATE.c.id == ATTEMPT.c.candidate_id).join(
            SESSION, SESSION.c.id == ATTEMPT.c.session_id
        )
    )
    .where(ATTEMPT.c.id == bindparam("aid"))
)

# An attempt's responses in order: what the terminal shows of its answers and
# doubtful flags, and what a replay after the last snapshot needs.
_RESPONSES_QUERY = (
    select(
        RESPONSE.c.seq,
        RESPONSE.c.kind,
        RESPONSE.c.number,
        RESPONSE.c.item_id,
        RESPONSE.c.option,
        RESPONSE.c.flagged,
        RESPONSE.c.server_elapsed,
        RESPONSE.c.chosen,
    )
    .where(RESPONSE.c.attempt_id == bindparam("aid"))
    .order_by(RESPONSE.c.seq)
)

# An attempt's last snapshot of the engine state.
_SNAPSHOT_QUERY = (
    select(SNAPSHOT.c.seq, SNAPSHOT.c.state)
    .where(SNAPSHOT.c.attempt_id == bindparam("aid"))
    .order_by(SNAPSHOT.c.seq.desc())
    .limit(1)
)


def snapshot_row(attempt_id: int, seq: int, state: TestState) -> dict[str, Any]:
    """An ``exam_attempt_snapshot`` row: ``state`` as it is after response ``seq``
    (stored compressed: :mod:`exam_server.state_codec`)."""
    return {"attempt_id": attempt_id, "seq": seq, "state": state_codec.pack(state)}


def put_snapshot(conn: Connection, row: dict[str, Any]) -> None:
    """Store a snapshot row, replacing one of the same attempt and seq (the
    finish stores the final state after the last response, which may have
    had its own snapshot)."""
    conn.execute(
        delete(SNAPSHOT).where(
            SNAPSHOT.c.attempt_id == row["attempt_id"], SNAPSHOT.c.seq == row["seq"]
        )
    )
    conn.execute(insert(SNAPSHOT).values(**row))


def snapshot_due(before: TestState, after: TestState, seq: int, every: int) -> bool:
    """Whether the state after response ``seq`` is stored as a snapshot: every
    ``every`` responses, when an adaptive section ended (its next one starts
    from a new pool: a later load replays no step across it) and when the
    test completed."""
    if seq % every == 0 or after.finished:
        return True
    return after.design.mode != "linear" and after.section_index != before.section_index


def on_screen(state: TestState) -> int | None:
    """The item a linear test shows (the attempt's ``on_screen``); None otherwise."""
    return state.current if state.design.mode == "linear" else None


def _presented_index(state: TestState, item_id: str) -> int:
    """The bank index of a presented item, by its id (responses name items by id)."""
    for sec in state.sections:
        if item_id in sec.item_ids:
            return sec.items[sec.item_ids.index(item_id)]
    raise EngineError("not_presented", f"item {item_id!r} was not presented")


def replay(
    state: TestState,
    bank: BankArrays,
    rows: Iterable[Mapping[Any, Any]],
    screen: int | None = None,
) -> TestState:
    """The state after ``rows`` (stored responses after ``state``'s snapshot, in
    seq order), each applied through the engine as the live path applied it
    (:func:`exam_server.audit.apply_response`); then, on a linear test, the
    item on screen (``exam_attempt.on_screen``) navigated to, as the live
    state had it. Gives exactly the live state (tests/exam_server/test_replay.py)."""
    for r in rows:
        state = audit.apply_response(state, bank, _presented_index(state, str(r["item_id"])), r)
    if (
        screen is not None
        and state.design.mode == "linear"
        and not state.finished
        and state.current != screen
    ):
        state = cat.navigate(state, screen)
    return state


def read_state(conn: Connection, attempt_id: int, bank: BankArrays) -> TestState:
    """An attempt's current engine state, rebuilt from its last snapshot and
    the responses after it (for readers outside the live path: the board,
    the load test's exposure check). Raises KeyError if it has no snapshot."""
    snap = conn.execute(_SNAPSHOT_QUERY, {"aid": attempt_id}).first()
    if snap is None:
        raise KeyError(f"attempt {attempt_id} has no stored state")
    screen = conn.execute(
        select(ATTEMPT.c.on_screen).where(ATTEMPT.c.id == attempt_id)
    ).scalar_one_or_none()
    rows = conn.execute(
        _RESPONSES_QUERY.where(RESPONSE.c.seq > snap[0]), {"aid": attempt_id}
    ).mappings()
    return replay(state_codec.unpack(snap[1]), bank, rows, screen)


def load_attempt(
    conn: Connection, attempt_id: int, exam_for: Callable[[int], ExamData]
) -> tuple[LiveAttempt, dict[str, Any] | None]:
    """The attempt as a process keeps it, read on ``conn``; and, for a finished
    attempt, what was stored of its end (``score``, ``passed``,
    ``pass_reason``, ``finish_reason``) so the final frame can be rebuilt.

    Raises KeyError if there is no such attempt."""
    a = conn.execute(_LOAD_QUERY, {"aid": attempt_id}).mappings().first()
    if a is None:
        raise KeyError(f"no attempt {attempt_id}")
    rows = conn.execute(_RESPONSES_QUERY, {"aid": attempt_id}).mappings().all()
    snap = conn.execute(_SNAPSHOT_QUERY, {"aid": attempt_id}).first()
    if snap is None:
        raise KeyError(f"attempt {attempt_id} has no stored state")
    exam = exam_for(a["exam_id"])
    state = replay(
        state_codec.unpack(snap[1]),
        exam.bank,
        (r for r in rows if r["seq"] > snap[0]),
        a["on_screen"],
    )
    la = LiveAttempt(
        id=attempt_id,
        session_id=a["session_id"],
        candidate_id=a["candidate_id"],
        registration_number=a["registration_number"],
        name=a["name"],
        category=a["category"],
        exam=exam,
        session_code=a["session_code"],
        state=state,
        status=a["status"],
        last_seq=a["last_seq"],
        response_head=a["response_head"],
        terminal_id=a["terminal_id"],
        terminal_released=bool(a["terminal_released"]),
        remaining_at_start=float(a["remaining_at_start"]),
        running_since=a["running_since"],
        started_at=float(a["started_at"] or 0.0),
    )
    for r in rows:
        kind, number, option, flagged = r["kind"], r["number"], r["option"], r["flagged"]
        if kind == "answer":
            if option >= 0:
                la.answers[number] = option
            else:
                la.answers.pop(number, None)
        la.flags[number] = bool(flagged)
    la.refresh()
    ended = None
    if a["status"] == "finished" and a["score_json"]:
        ended = {
            "score": orjson.loads(a["score_json"]),
            "passed": a["passed"],
            "pass_reason": a["pass_reason"],
            "finish_reason": a["finish_reason"],
        }
    return la, ended


def read_clock(conn: Connection, attempt_id: int) -> dict[str, Any] | None:
    """The stored status, clock and terminal of one attempt (None: no such attempt)."""
    row = (
        conn.execute(
            select(
                ATTEMPT.c.status,
                ATTEMPT.c.remaining_at_start,
                ATTEMPT.c.running_since,
                ATTEMPT.c.terminal_id,
                ATTEMPT.c.terminal_released,
            ).where(ATTEMPT.c.id == attempt_id)
        )
        .mappings()
        .first()
    )
    return None if row is None else dict(row)


def seen_alive_of(conn: Connection, attempt_id: int) -> float:
    """When the attempt's terminal was last seen alive (:mod:`exam_server.presence`)."""
    seen = conn.execute(
        select(presence.stored_seen_sql(ATTEMPT.c.last_seen_at))
        .select_from(ATTEMPT.outerjoin(PRESENCE, PRESENCE.c.attempt_id == ATTEMPT.c.id))
        .where(ATTEMPT.c.id == attempt_id)
    ).scalar_one_or_none()
    return presence.with_process_marks(conn, {attempt_id: float(seen or 0.0)})[attempt_id]


def update_attempt(conn: Connection, attempt_id: int, values: dict[str, Any]) -> None:
    conn.execute(update(ATTEMPT).where(ATTEMPT.c.id == attempt_id).values(**values))


def write_attempt(
    la: LiveAttempt,
    values: dict[str, Any],
    kind: str,
    actor: str,
    reason: str = "",
    data: dict[str, Any] | None = None,
    at: float | None = None,
) -> Callable[[Connection], None]:
    """A write (for the group committer) of ``values`` into the attempt's row
    with its audit event ``kind``."""

    def write(conn: Connection) -> None:
        if values:
            update_attempt(conn, la.id, values)
        audit.append(
            conn,
            kind,
            actor,
            session_id=la.session_id,
            attempt_id=la.id,
            reason=reason,
            data=data or {},
            at=at,
        )

    return write


def response_row(
    la: LiveAttempt,
    seq: int,
    kind: str,
    number: int,
    idx: int,
    option: int,
    flagged: bool,
    elapsed: float,
    now: float,
    server_elapsed: float | None = None,
    chosen: str | None = None,
) -> dict[str, Any]:
    """One ``exam_response`` row chained onto the live attempt's answer chain
    (:func:`chained_response` with the attempt's id, head and item id)."""
    return chained_response(
        la.id,
        la.response_head,
        seq,
        kind,
        number,
        la.exam.bank.item_ids[idx],
        option,
        flagged,
        elapsed,
        now,
        server_elapsed,
        chosen,
    )


def chained_response(
    attempt_id: int,
    prev_hash: str,
    seq: int,
    kind: str,
    number: int,
    item_id: str,
    option: int,
    flagged: bool,
    elapsed: float,
    now: float,
    server_elapsed: float | None = None,
    chosen: str | None = None,
) -> dict[str, Any]:
    """One ``exam_response`` row after ``prev_hash`` in an attempt's answer chain
    (``hash`` is the new head). elapsed: the terminal's report; server_elapsed:
    the seconds the engine was given; chosen: an adaptive answer's recorded
    choices (``audit.encode_choices``). The one place a response row is made."""
    row: dict[str, Any] = {
        "attempt_id": attempt_id,
        "seq": seq,
        "kind": kind,
        "number": number,
        "item_id": item_id,
        "option": option,
        "flagged": flagged,
        "elapsed": elapsed,
        "at": round(now, 6),
        "prev_hash": prev_hash,
        "server_elapsed": server_elapsed,
        "chosen": chosen,
    }
    row["hash"] = audit.response_hash(prev_hash, row)
    return row


def check_attempt_guards(conn: Connection, guards: list[tuple[int, int]]) -> dict[int, Exception]:
    """The group committer's guard for answers: lock each attempt (PostgreSQL
    advisory lock, in id order so two processes never deadlock) and refuse
    writes from a copy whose ``last_seq`` is not the database's or whose
    attempt is no longer running (``exam_server.scaleout.locks``)."""
    expected = dict(guards)
    ids = sorted(expected)
    found = read_attempts_locked(conn, ids)
    refused: dict[int, Exception] = {}
    for aid in ids:
        seq_status = found.get(aid)
        if seq_status is None:
            refused[aid] = StaleAttempt(aid, expected[aid], None, "missing")
        elif seq_status[0] != expected[aid] or seq_status[1] != "running":
            refused[aid] = StaleAttempt(aid, expected[aid], seq_status[0], seq_status[1])
    return refused
