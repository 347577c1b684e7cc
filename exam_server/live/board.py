"""The public live board: ``/ws/board/{session_id}``.

No login. It shows what the selection's rules publish and nothing that
identifies an answer: per candidate, registration number, name, formation,
status, points per subtest and total, and pass/fail once final. A
subtest's running points change only at *releases*
(:mod:`exam_server.live.release`: per subtest, each release adds at
least ``board.batch_answers`` items never shown before, each frozen at its
answer then, releases at least ``board.min_interval_seconds`` apart, from
the exam's
:class:`~exam_server.exam_options.ExamOptions`); the total is the sum of
the subtests' shown figures; final scores appear at finish. No per-answer
event reaches a board socket: an answer only makes the board read the
attempt's stored answers and decide.

Frames also carry the latest signed checkpoint's fingerprint
(``Checkpointer.brief``), a witness of the records anyone watching can copy.

Candidates who did not come are absent (``absent``, shown as TH) once the
session is closed, never failing; a voided attempt is ``void`` (shown as
DIS) with no points and no reason.

Releases are derived from stored data (the attempt's answer rows, its
start and its form: the subtest of each item number, from its stored
state), not from what one process happened to see, so boards on any worker
of a PostgreSQL deployment show the same figures: events only tell a
board *which* attempt to look at again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import NoResultFound
from sqlmodel import Session, col, select
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketDisconnected

from cat_engine import engine as cat
from cat_engine.bank import BankArrays
from cat_engine.state import TestState
from exam_server import state_codec
from exam_server.attempts.storage import SNAPSHOT, read_state
from exam_server.channels import live_frame, origin_ok
from exam_server.context import context
from exam_server.events import Subscription
from exam_server.exam_options import ExamOptions
from exam_server.limits import request_source
from exam_server.live.queries import SessionInfo, exam_options, load_bank, never_taken, session_info
from exam_server.live.release import Answers, Form, Release, ReleaseTracker, StoredAnswer
from exam_server.live.serving import FLUSH_SECONDS, HEARTBEAT_SECONDS, collect, serve
from exam_server.models import Attempt, Candidate, Formation
from exam_server.models import Response as ResponseRow
from exam_server.snapshot import SealedBankError

log = logging.getLogger(__name__)

#: Board statuses: running (or paused), finished, absent (TH), void (DIS).
STATUSES = ("running", "finished", "absent", "void")
#: Events after which an attempt's board row is rebuilt from the database.
_RELOAD_KINDS = frozenset({"login", "connect", "finish", "void"})
_RESPONSE = ResponseRow.__table__  # type: ignore[attr-defined]


@dataclass
class BoardRow:
    """What the public board shows of one candidate (no answers, no items).

    sections: points per subtest code: while running, each subtest's figure
    as of its own last release (its start figure before one), final points
    once finished; as_of: epoch s of the attempt's last release of any
    subtest, or of the finish (None before any); total: the sum of
    ``sections`` (None for absent and void); passed: the verdict of the
    exam's policy, once final."""

    registration_number: str
    name: str
    formation: str | None
    status: str
    sections: dict[str, float] = field(default_factory=dict)
    total: float | None = None
    final: bool = False
    passed: bool | None = None
    as_of: float | None = None
    attempt_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "registration_number": self.registration_number,
            "name": self.name,
            "formation": self.formation,
            "status": self.status,
            "sections": self.sections,
            "total": self.total,
            "final": self.final,
            "passed": self.passed if self.final else None,
            "as_of": self.as_of,
        }


def points_as_of(state: TestState, bank: BankArrays, answers: Answers) -> dict[str, float]:
    """Points per subtest of ``state``'s test had its answers been ``answers``
    (item number → option): the engine's running points at a release.

    Linear: :func:`cat_engine.engine.running_points` with those answers.
    Adaptive (answers cannot change; numbers are the order of
    presentation): the engine's score of the responses given by then,
    which is what ``running_points`` showed at that answer."""
    adaptive = state.design.mode != "linear"
    number = 0
    for sec in state.sections:
        for pos in range(len(sec.items)):
            number += 1
            option = answers.get(number)
            sec.options[pos] = -1 if option is None else option
            sec.answered[pos] = option is not None and (adaptive or option >= 0)
    if adaptive:
        return {s.code: float(s.points) for s in cat.score(state, bank).sections}
    return {str(k): float(v) for k, v in cat.running_points(state, bank).items()}


def form_of(state: TestState) -> Form:
    """Item number → the code of the subtest whose figure counts it (None: a
    pretest item, which no figure counts), numbered as :func:`points_as_of`
    and the terminal number them. An adaptive test's form holds the items
    given so far."""
    form: dict[int, str | None] = {}
    for sec in state.sections:
        for pos in range(len(sec.items)):
            pretest = pos < len(sec.pretest) and sec.pretest[pos]
            form[len(form) + 1] = None if pretest else sec.code
    return form


def _final_scores(attempt: Attempt) -> tuple[dict[str, float], float | None]:
    try:
        score = json.loads(attempt.score_json or "")
        sections = {str(s["code"]): float(s["points"]) for s in score["sections"]}
        return sections, float(score.get("total", sum(sections.values())))
    except (ValueError, KeyError, TypeError):
        log.warning("board: unreadable score of attempt %s", attempt.id)
        return {}, None


@dataclass
class BoardBook:
    """One board socket's knowledge of a session: its rows and, per running
    attempt, the release tracker (rebuilt from stored answers on load)."""

    options: ExamOptions
    bank: BankArrays | None
    rows: dict[str, BoardRow] = field(default_factory=dict)
    trackers: dict[int, ReleaseTracker] = field(default_factory=dict)

    def row_of(self, attempt_id: int) -> BoardRow | None:
        for row in self.rows.values():
            if row.attempt_id == attempt_id:
                return row
        return None


def _answers_since(db: Session, since: dict[int, int]) -> dict[int, list[StoredAnswer]]:
    """Stored answers with a seq above ``since[attempt]``, per attempt, in order."""
    out: dict[int, list[StoredAnswer]] = {aid: [] for aid in since}
    ids = sorted(since)
    for i in range(0, len(ids), 500):  # bounded IN lists
        chunk = ids[i : i + 500]
        rows = db.execute(
            sa_select(
                _RESPONSE.c.attempt_id,
                _RESPONSE.c.seq,
                _RESPONSE.c.at,
                _RESPONSE.c.number,
                _RESPONSE.c.option,
            )
            .where(_RESPONSE.c.attempt_id.in_(chunk))
            .where(_RESPONSE.c.kind == "answer")
            .where(_RESPONSE.c.seq > min(since[a] for a in chunk))
            .order_by(_RESPONSE.c.attempt_id, _RESPONSE.c.seq)
        ).all()
        for aid, seq, at, number, option in rows:
            if seq > since[aid]:
                out[aid].append(StoredAnswer(int(seq), float(at), int(number), int(option)))
    return out


def _state(db: Session, book: BoardBook, attempt_id: int) -> TestState | None:
    """The attempt's current engine state; None (logged) if it cannot be read."""
    if book.bank is None:
        return None
    try:
        return read_state(db.connection(), attempt_id, book.bank)
    except Exception:  # a state the engine cannot read must not blank the board
        log.exception("board: cannot read the state of attempt %s", attempt_id)
        return None


def _show_release(
    row: BoardRow, book: BoardBook, db: Session, made: Release, state: TestState | None = None
) -> bool:
    """Put the points of release ``made`` on ``row``: per subtest, the points
    of its last released answers, and their sum as the total (so the total
    never moves without a subtest's figure). ``state``: the attempt's state
    if already read (its options are overwritten). False if they cannot be
    computed."""
    row.as_of = made.at if made.seq else None
    if book.bank is None or row.attempt_id is None:
        return False
    if state is None:
        state = _state(db, book, row.attempt_id)
    if state is None:
        return False
    try:
        row.sections = points_as_of(state, book.bank, made.answers)
    except Exception:  # a state the engine cannot score must not blank the board
        log.exception("board: cannot score attempt %s", row.attempt_id)
        return False
    row.total = round(sum(row.sections.values()), 4)
    return True


def _mode_of(db: Session, attempt_id: int) -> str:
    """The attempt's test mode, from its first stored state (the design never changes)."""
    try:
        first = db.exec(
            sa_select(SNAPSHOT.c.state)  # type: ignore[call-overload]
            .where(SNAPSHOT.c.attempt_id == attempt_id)
            .order_by(SNAPSHOT.c.seq)
            .limit(1)
        ).scalar_one()
        return str(state_codec.unpack_dict(first)["design"]["mode"])
    except (ValueError, KeyError, TypeError, LookupError, NoResultFound):
        return "linear"


def _running_row(
    book: BoardBook,
    row: BoardRow,
    attempt: Attempt,
    answers: list[StoredAnswer],
    db: Session,
) -> None:
    """Fold a running attempt's stored answers from its start and show its
    last release. An attempt whose state cannot be read keeps its tracker at
    the start (its answers are read again at the next answer)."""
    assert attempt.id is not None
    adaptive = _mode_of(db, attempt.id) != "linear"
    state = _state(db, book, attempt.id)
    form = form_of(state) if state is not None else {}
    tracker = ReleaseTracker(book.options.board, attempt.started_at, form, adaptive=adaptive)
    book.trackers[attempt.id] = tracker
    if state is None:
        return
    if not tracker.knows(answers):  # cannot happen: an answered item was given
        log.error("board: attempt %s has answers outside its form", attempt.id)
        return
    made = tracker.add_all(answers) or tracker.last
    _show_release(row, book, db, made, state)


def load_board(
    engine: Engine, session_id: int, book: BoardBook, attempt_ids: Iterable[int] | None = None
) -> tuple[SessionInfo | None, list[BoardRow]]:
    """Rebuild board rows from the database: every candidate of the session
    (attempt_ids None; the session info too) or only those attempts. Returns
    the rows it built, which replace the book's. Blocking."""
    with Session(engine) as db:
        info = session_info(db, session_id) if attempt_ids is None else None
        query = (
            select(Candidate, Attempt, Formation)
            .join(
                Attempt,
                (col(Attempt.candidate_id) == col(Candidate.id))
                & (col(Attempt.session_id) == session_id),
                isouter=True,
            )
            .join(Formation, col(Formation.id) == col(Candidate.formation_id), isouter=True)
        )
        if attempt_ids is None:
            query = query.where(Candidate.session_id == session_id)
        else:
            query = query.where(col(Attempt.id).in_(list(attempt_ids)))
        closed = info is not None and info.status == "closed"
        built: list[BoardRow] = []
        running: list[tuple[BoardRow, Attempt]] = []
        for cand, attempt, formation in db.exec(query).all():
            row = BoardRow(
                cand.registration_number, cand.name, formation.code if formation else None, ""
            )
            if attempt is None or never_taken(attempt):
                # Not on the board until the candidate logs in; absent once the
                # session is closed (or closing finished the untaken attempt).
                waiting = attempt is None or attempt.status in ("running", "paused")
                if waiting and (attempt_ids is not None or not closed):
                    continue
                row.status, row.final = "absent", True
            elif attempt.status == "void":
                row.status, row.final = "void", True
            elif attempt.status == "finished":
                row.status, row.final, row.passed = "finished", True, attempt.passed
                row.sections, row.total = _final_scores(attempt)
                row.as_of = attempt.finished_at
            else:
                row.status = "running"
                running.append((row, attempt))
            if attempt is not None:
                row.attempt_id = attempt.id
                if attempt.id is not None:
                    book.trackers.pop(attempt.id, None)
            built.append(row)
        if running:
            answers = _answers_since(db, {a.id: 0 for _, a in running if a.id is not None})
            for row, attempt in running:
                assert attempt.id is not None
                _running_row(book, row, attempt, answers.get(attempt.id, []), db)
    return info, built


def advance_board(engine: Engine, book: BoardBook, attempt_ids: Iterable[int]) -> list[BoardRow]:
    """Read the new stored answers of running attempts and apply any release;
    the rows whose points changed. Blocking."""
    since = {aid: book.trackers[aid].seq for aid in attempt_ids if aid in book.trackers}
    if not since:
        return []
    changed: list[BoardRow] = []
    with Session(engine) as db:
        fresh = _answers_since(db, since)
        for aid, answers in fresh.items():
            tracker = book.trackers[aid]
            state = None
            if not tracker.knows(answers):  # items given since (adaptive), or no state yet
                state = _state(db, book, aid)
                if state is None:
                    continue  # nothing taken: read again at the next answer
                tracker.place(form_of(state))
                if not tracker.knows(answers):
                    log.error("board: attempt %s has answers outside its form", aid)
                    continue
            made = tracker.add_all(answers)
            row = book.row_of(aid)
            if made is None or row is None:
                continue
            if _show_release(row, book, db, made, state):
                changed.append(row)
    return changed


def _dicts(rows: Iterable[BoardRow]) -> list[dict[str, Any]]:
    return [r.to_dict() for r in rows]


def _warn_once(ws: WebSocket, session_id: int, options: ExamOptions) -> None:
    """Log the options' warnings when a session's board first starts in this process."""
    warned: set[int] = context(ws.app).extras.setdefault("board_warned_sessions", set())
    if session_id in warned:
        return
    warned.add(session_id)
    for warning in options.warnings():
        log.warning("board of session %s: %s", session_id, warning)


def cadence(options: ExamOptions) -> dict[str, Any]:
    """The release cadence as the board page shows it."""
    board = options.board
    return {
        "show_running": board.show_running,
        "batch_answers": board.batch_answers,
        "min_interval_seconds": board.min_interval_seconds,
    }


async def board_channel(ws: WebSocket) -> None:
    """``/ws/board/{session_id}``: public running (released) and final scores."""
    session_id = int(ws.path_params["session_id"])
    ctx = context(ws.app)
    if not origin_ok(ws, ctx.settings):
        await ws.close(code=1008)
        return
    await ws.accept()
    gate = ctx.board_gate  # exam_server.socket_gate: a public socket
    slot = gate.admit(request_source(ws), gate.closer(lambda: ws.close(1013, "busy")))
    if slot is None:
        await ws.close(code=1013, reason="busy")
        return
    engine = ctx.engine
    sub = ctx.bus.subscribe(session_id)  # before the snapshot: nothing falls between
    try:
        options = await asyncio.to_thread(exam_options, engine, session_id)
        _warn_once(ws, session_id, options)
        try:
            bank = await load_bank(engine, session_id)
        except SealedBankError as exc:
            # An exam site's session whose key is not released yet: nothing
            # to show; the page tries again and finds the session once it is.
            await ws.send_text(
                live_frame("error", ctx.clock.now(), code="items_sealed", message=str(exc))
            )
            await ws.close(code=1013)
            return
        book = BoardBook(options, bank)
        info, rows = await asyncio.to_thread(load_board, engine, session_id, book)
        if info is None:
            await ws.send_text(live_frame("error", ctx.clock.now(), code="unknown_session"))
            await ws.close(code=1008)
            return
        book.rows = {r.registration_number: r for r in rows}
        session = {**info.to_dict(with_token=False), "board": cadence(options)}
        checkpoint = await ctx.checkpoints.brief()
        await ws.send_text(
            live_frame(
                "snapshot",
                ctx.clock.now(),
                session=session,
                rows=_dicts(rows),
                checkpoint=checkpoint,
            )
        )
        await serve(ws, _board_pump(ws, sub, engine, session_id, book, checkpoint))
    except (WebSocketDisconnect, WebSocketDisconnected):
        # WebSocketDisconnected: a send after the gate closed this socket for
        # a newcomer while it was loading (found by a review: a traceback).
        return
    finally:
        sub.close()
        gate.release(slot)


async def _board_pump(
    ws: WebSocket,
    sub: Subscription,
    engine: Engine,
    session_id: int,
    book: BoardBook,
    checkpoint: dict[str, Any] | None,
) -> None:
    """Send the board's changes, and the latest checkpoint when it changed
    (``checkpoint``: the one the snapshot showed)."""
    clock = context(ws.app).clock
    checkpoints = context(ws.app).checkpoints
    last_sent = time.monotonic()
    dropped = sub.dropped
    while True:
        answered: set[int] = set()
        reload: set[int] = set()
        everything = False
        for event in await collect(sub, FLUSH_SECONDS):
            aid = event.attempt_id
            if event.kind == "finish" and event.data.get("reason") == "session_closed":
                everything = True  # the absent now show as absent
            if aid is None:
                continue
            if event.kind in _RELOAD_KINDS:
                reload.add(aid)
            elif event.kind == "answer":
                answered.add(aid)
        if sub.dropped != dropped:  # events were lost: read everything again
            dropped, everything = sub.dropped, True
        before = {key: row.to_dict() for key, row in book.rows.items()}
        fields: dict[str, Any] = {}
        if everything:
            book.trackers.clear()
            info, rows = await asyncio.to_thread(load_board, engine, session_id, book)
            book.rows = {r.registration_number: r for r in rows}
            if info is not None:
                fields["session"] = {
                    **info.to_dict(with_token=False),
                    "board": cadence(book.options),
                }
        else:
            if reload:
                _, rows = await asyncio.to_thread(load_board, engine, session_id, book, reload)
                book.rows.update({r.registration_number: r for r in rows})
            if answered - reload:
                await asyncio.to_thread(advance_board, engine, book, answered - reload)
        changed = [r for key, r in book.rows.items() if before.get(key) != r.to_dict()]
        latest = await checkpoints.brief()
        if latest != checkpoint:
            fields["checkpoint"] = checkpoint = latest
        if changed or fields:
            await ws.send_text(live_frame("update", clock.now(), rows=_dicts(changed), **fields))
            last_sent = time.monotonic()
        elif time.monotonic() - last_sent > HEARTBEAT_SECONDS:
            await ws.send_text(live_frame("tick", clock.now()))
            last_sent = time.monotonic()
