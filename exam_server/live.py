"""Proctor and live-board WebSocket channels (read-only views of the event bus).

``routes()`` gives the two channels the app factory mounts:

* ``/ws/proctor/{session_id}``: the proctor console of one session. The
  client first sends ``{"type": "auth", "token": <staff token>}`` (a proctor
  or admin token from the server's staff login); the server answers with a
  ``snapshot`` (session, every candidate's row, the incident log) and then
  ``update`` frames with the rows and incidents that changed, as soon as
  their events arrive. Proctor *actions* are the server's REST endpoints
  (``docs/protocol.md``); their events come back here.
* ``/ws/board/{session_id}``: the public live board. No login; it carries
  only what the domain rules publish: registration number, name, formation,
  points per subtest and total, running or final, and pass/fail once final.
  Never item content, answers, keys or alerts.

Every server frame has ``"now"`` (server epoch seconds) so a page can count
down from ``deadline_at`` with its own clock corrected by the offset. Frames
are JSON objects with ``"type"``; a malformed client frame gets
``{"type": "error", "code": ...}``, never a crash.

``start(app)`` / ``stop(app)`` run the proctoring detectors
(:class:`~exam_server.proctoring.service.ProctoringService`) on the app's bus;
the channels also start it on first use so that alerts flow even when the
app factory does not call ``start``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.types import ASGIApp
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from cat_engine import engine as cat
from cat_engine.bank import BankArrays
from cat_engine.state import TestState
from exam_server import audit
from exam_server.admin import session_room
from exam_server.auth import StaffClaims, TokenError
from exam_server.context import context
from exam_server.durability import GroupCommitter
from exam_server.events import EventBus, LiveEvent, Subscription
from exam_server.http import ApiError, Endpoint, openapi, read_json
from exam_server.models import (
    Attempt,
    AuditEvent,
    Candidate,
    Exam,
    ExamSession,
    Formation,
    Room,
)
from exam_server.models import Response as ResponseRow
from exam_server.presence import seen_alive
from exam_server.proctoring.grid import TerminalGrid, TerminalRow, incident_of
from exam_server.proctoring.service import AlertRecorder, ProctoringService
from exam_server.snapshot import bank_from_json

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.25
"""How long a channel waits for an event before checking its heartbeat; an
event is forwarded as soon as it arrives, with whatever else is queued."""
HEARTBEAT_SECONDS = 5.0
AUTH_TIMEOUT_SECONDS = 10.0
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
MAX_CLIENT_FRAME = 4096

# Event kinds after which the attempt's row is re-read from the database
# (clock, status and score live there, not in every event's data).
_RELOAD_KINDS = frozenset(
    {"login", "connect", "disconnect", "pause", "resume", "extend", "release", "void", "finish"}
)
_BOARD_KINDS = frozenset({"login", "connect", "answer", "finish", "void"})


# --- app state -----------------------------------------------------------------


def _bus(app: ASGIApp) -> EventBus:
    return context(app).bus


def _engine(app: ASGIApp) -> Engine:
    return context(app).engine


def _presence_seconds(app: ASGIApp) -> float:
    return context(app).settings.presence_interval_seconds


def _grace_seconds(app: ASGIApp) -> float:
    return context(app).settings.grace_seconds


async def load_bank(engine: Engine, session_id: int) -> BankArrays | None:
    """The bank snapshot of the exam a session sits (off the event loop)."""

    def work() -> BankArrays | None:
        with Session(engine) as db:
            row = db.exec(
                select(Exam.bank_json)
                .join(ExamSession, col(ExamSession.exam_id) == col(Exam.id))
                .where(ExamSession.id == session_id)
            ).first()
        return bank_from_json(row) if row else None

    return await asyncio.to_thread(work)


def make_proctoring(engine: Engine, bus: EventBus, committer: GroupCommitter) -> ProctoringService:
    """The proctoring detectors of one app (built in the lifespan)."""

    async def bank_for(session_id: int) -> BankArrays | None:
        return await load_bank(engine, session_id)

    # With a bus shared by several processes each process watches only its
    # own terminals, so an alert is raised once (and still seen everywhere).
    view = bus.local_view() if hasattr(bus, "local_view") else bus
    return ProctoringService(view, bank_for=bank_for, record=_alert_recorder(committer))


def proctoring_service(app: ASGIApp) -> ProctoringService:
    """The app's proctoring service."""
    return context(app).proctoring


def _alert_recorder(committer: GroupCommitter) -> AlertRecorder:
    """Alerts go to the audit log (kind ``alert``, actor ``detector:<name>``)."""

    async def record(event: LiveEvent) -> None:
        data = dict(event.data)
        message = data.get("message") or {}
        reason = str(message.get("id", "")) if isinstance(message, dict) else ""
        await committer.submit(
            lambda conn: audit.append(
                conn,
                "alert",
                f"detector:{data.get('detector', '?')}",
                session_id=event.session_id,
                attempt_id=event.attempt_id,
                reason=reason,
                data=data,
                at=event.at,
            )
        )

    return record


async def start(app: ASGIApp) -> None:
    """Start the proctoring detectors on the app's bus (call in the lifespan),
    and add this module's endpoints to the app's OpenAPI schema."""
    proctoring_service(app).start()
    schema = getattr(app.state, "openapi", None)  # type: ignore[attr-defined]
    if isinstance(schema, dict) and isinstance(schema.get("paths"), dict):
        ours = openapi(ENDPOINTS, "Seleksi live channels", "1")["paths"]
        schema["paths"].update({k: v for k, v in ours.items() if k not in schema["paths"]})


async def stop(app: ASGIApp) -> None:
    await proctoring_service(app).stop()


# --- database snapshots ------------------------------------------------------------


def _design_items(design_json: str) -> int:
    """Number of items in a design document (sum of its sections' ``n_items``)."""
    try:
        design = json.loads(design_json)
        return int(sum(int(s.get("n_items", 0)) for s in design.get("sections", [])))
    except (ValueError, TypeError, AttributeError):
        return 0


@dataclass(frozen=True)
class SessionInfo:
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


def _session_info(db: Session, session_id: int) -> SessionInfo | None:
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


def _never_started(attempt: Attempt) -> bool:
    """Attempts are made when the session opens; no terminal yet = not started."""
    return attempt.status == "running" and attempt.terminal_id is None and attempt.last_seq == 0


def _attempt_status(attempt: Attempt, now: float, presence: float, seen: float) -> str:
    if attempt.status in ("finished", "void", "paused"):
        return attempt.status
    if _never_started(attempt):
        return "waiting"
    if attempt.running_since is None:
        return "disconnected"  # the clock was stopped: the terminal is gone
    # The server marks connected terminals seen every `presence` seconds;
    # three missed marks mean nobody is there.
    return "working" if now - seen <= 3 * presence else "disconnected"


def _remaining(attempt: Attempt, now: float) -> float:
    if attempt.status in ("finished", "void"):
        return 0.0
    if attempt.deadline_at is not None:
        return max(0.0, attempt.deadline_at - now)
    return max(0.0, attempt.remaining_at_start)


def _apply_attempt(
    row: TerminalRow,
    attempt: Attempt,
    now: float,
    presence: float,
    *,
    live: bool = False,
    grace: float | None = None,
    seen: float | None = None,
) -> None:
    """Copy the stored attempt into ``row``. seen: when its terminal was last
    seen alive (:func:`exam_server.presence.seen_alive`; default the
    attempt's own ``last_seen_at``).

    live: the row is kept current by events, which know better than the
    database whether a terminal is connected (a dropped terminal's clock
    runs on through the grace period; a login precedes the connection), so
    a running attempt keeps its waiting/working/disconnected status.
    """
    row.attempt_id = attempt.id
    if seen is None:
        seen = attempt.last_seen_at or 0.0
    status = _attempt_status(attempt, now, presence, seen)
    kept = ("working", "disconnected", "waiting")
    if not (live and attempt.status == "running" and row.status in kept):
        row.status = status
    if grace is not None and status == "disconnected" and attempt.deadline_at is not None:
        # Still in the grace period: the server stops the clock when it ends.
        row.clock_stops_at = seen + grace
    row.deadline_at = attempt.deadline_at if attempt.status == "running" else None
    row.remaining = _remaining(attempt, now)
    row.terminal_id = attempt.terminal_id
    row.last_seen = seen or row.last_seen
    row.total_points = attempt.total_points


def load_grid(
    engine: Engine, session_id: int, presence: float, grace: float = 30.0
) -> tuple[SessionInfo, TerminalGrid]:
    """The session and its grid as stored now (blocking; run it in a thread).

    presence: how often the server refreshes a connected terminal's
    ``last_seen_at``; grace: how long a dropped terminal's clock runs on.
    """
    now = time.time()
    with Session(engine) as db:
        info = _session_info(db, session_id)
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
        by_attempt: dict[int, TerminalRow] = {}
        for att in attempts:
            row = by_id.get(att.candidate_id) or TerminalRow(f"#{att.candidate_id}", "?")
            grid.add(row)
            _apply_attempt(row, att, now, presence, grace=grace, seen=seen.get(att.id or 0))
            if att.id is not None:
                by_attempt[att.id] = row
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
        regno = {att.id: by_id.get(att.candidate_id) for att in attempts}

        def by_id_of_attempt(attempt_id: int | None) -> TerminalRow | None:
            return regno.get(attempt_id) if attempt_id is not None else None

        # The incident log: proctors' acts, alerts and the session's opening
        # and closing (not the routine check-ins and clock entries), newest
        # MAX_SNAPSHOT_INCIDENTS; alerts are counted over all of them.
        audits = db.exec(
            select(AuditEvent)
            .where(AuditEvent.session_id == session_id)
            .where(col(AuditEvent.kind).in_(SNAPSHOT_INCIDENT_KINDS))
            .order_by(col(AuditEvent.id).desc())
            .limit(MAX_SNAPSHOT_INCIDENTS)
        ).all()
        shown = {entry.id for entry in audits}
        older_alerts = db.exec(
            select(AuditEvent)
            .where(AuditEvent.session_id == session_id)
            .where(AuditEvent.kind == "alert")
            .order_by(col(AuditEvent.id))
        ).all()
        for entry in older_alerts:
            target = by_id_of_attempt(entry.attempt_id)
            if entry.id not in shown and target is not None:
                target.alerts += 1
        for entry in reversed(audits):
            try:
                data = json.loads(entry.data_json)
            except ValueError:
                data = {}
            target = regno.get(entry.attempt_id)
            if entry.kind == "alert" and target is not None:
                target.alerts += 1
                target.last_alert = {
                    "code": data.get("code"),
                    "severity": data.get("severity"),
                    "message": data.get("message"),
                    "at": entry.at,
                }
            grid.incidents.append(
                {
                    "at": entry.at,
                    "kind": entry.kind,
                    "attempt_id": entry.attempt_id,
                    "registration_number": target.registration_number if target else None,
                    "actor": entry.actor,
                    "reason": entry.reason,
                    "data": data if isinstance(data, dict) else {},
                }
            )
    return info, grid


def reload_attempt(engine: Engine, attempt_id: int) -> tuple[Attempt | None, float | None]:
    """The stored attempt and when its terminal was last seen alive."""
    with Session(engine) as db:
        attempt = db.get(Attempt, attempt_id)
        if attempt is None:
            return None, None
        return attempt, seen_alive(db, [attempt]).get(attempt_id)


# --- the live board ----------------------------------------------------------------


@dataclass
class BoardRow:
    """What the public board shows of one candidate (no answers, no items)."""

    registration_number: str
    name: str
    formation: str | None
    status: str
    sections: dict[str, float]
    total: float
    final: bool
    passed: bool | None
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
        }


def _board_scores(attempt: Attempt, bank: BankArrays | None) -> tuple[dict[str, float], float]:
    """Points per subtest and total: final from the stored score, else running."""
    if attempt.score_json:
        try:
            score = json.loads(attempt.score_json)
            sections = {str(s["code"]): float(s["points"]) for s in score["sections"]}
            return sections, float(score.get("total", sum(sections.values())))
        except (ValueError, KeyError, TypeError):
            log.warning("board: unreadable score of attempt %s", attempt.id)
    if bank is None:
        return {}, 0.0
    sections = running_points(attempt.state_json, bank)
    return sections, round(sum(sections.values()), 4)


def running_points(state_json: str, bank: BankArrays) -> dict[str, float]:
    """Points per section so far, by the engine's rule (``cat_engine.engine``)."""
    state = TestState.from_dict(json.loads(state_json))
    return {str(k): float(v) for k, v in cat.running_points(state, bank).items()}


def load_board(
    engine: Engine, session_id: int, attempt_ids: set[int] | None, bank: BankArrays | None
) -> tuple[SessionInfo | None, list[BoardRow]]:
    """Board rows of a session (all, or only ``attempt_ids``). Blocking."""
    with Session(engine) as db:
        info = _session_info(db, session_id) if attempt_ids is None else None
        query = (
            select(Attempt, Candidate, Formation)
            .join(Candidate, col(Candidate.id) == col(Attempt.candidate_id))
            .join(Formation, col(Formation.id) == col(Candidate.formation_id), isouter=True)
            .where(Attempt.session_id == session_id)
        )
        if attempt_ids is not None:
            query = query.where(col(Attempt.id).in_(list(attempt_ids)))
        rows = []
        for attempt, cand, formation in db.exec(query).all():
            if _never_started(attempt):
                continue  # not on the board until the candidate logs in
            try:
                sections, total = _board_scores(attempt, bank)
            except Exception:  # a state the engine cannot read must not blank the board
                log.exception("board: cannot score attempt %s", attempt.id)
                sections, total = {}, 0.0
            final = attempt.status == "finished"
            rows.append(
                BoardRow(
                    cand.registration_number,
                    cand.name,
                    formation.code if formation else None,
                    attempt.status,
                    sections,
                    total,
                    final,
                    attempt.passed,
                    attempt.id,
                )
            )
    return info, rows


# --- channels ----------------------------------------------------------------------


def _origin_ok(ws: WebSocket) -> bool:
    """Browsers send Origin; it must be this server or an allowed origin."""
    origin = ws.headers.get("origin")
    if origin is None:
        return True  # not a browser (tests, scripts); auth still applies
    allowed = context(ws.app).settings.allowed_origins
    host = ws.headers.get("host", "")
    return urlsplit(origin).netloc == host or origin in allowed


def _frame(kind: str, **fields: Any) -> str:
    return json.dumps({"type": kind, "now": time.time(), **fields}, separators=(",", ":"))


async def _receive_json(ws: WebSocket, timeout: float | None) -> dict[str, Any] | None:
    """The next client frame as a dict; None for a malformed one (after an error frame)."""
    text = await asyncio.wait_for(ws.receive_text(), timeout)
    if len(text) > MAX_CLIENT_FRAME:
        await ws.send_text(_frame("error", code="too_large"))
        return None
    try:
        msg = json.loads(text)
    except ValueError:
        await ws.send_text(_frame("error", code="bad_json"))
        return None
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        await ws.send_text(_frame("error", code="bad_frame"))
        return None
    return msg


async def _authenticate(ws: WebSocket) -> StaffClaims | None:
    """Wait for ``auth`` with a proctor/admin token. None (socket closed) otherwise."""
    signer = context(ws.app).signer
    while True:
        try:
            msg = await _receive_json(ws, AUTH_TIMEOUT_SECONDS)
        except TimeoutError:
            await ws.close(code=1008)
            return None
        if msg is None:
            continue
        if msg.get("type") != "auth" or not isinstance(msg.get("token"), str):
            await ws.send_text(_frame("error", code="not_authenticated"))
            continue
        try:
            claims: StaffClaims = signer.read_staff(msg["token"])
        except Exception as exc:  # TokenError: bad or expired
            await ws.send_text(_frame("error", code=getattr(exc, "code", "bad_token")))
            await ws.close(code=1008)
            return None
        return claims


async def _drain_client(ws: WebSocket) -> None:
    """Read (and answer) client frames until the socket closes."""
    while True:
        msg = await _receive_json(ws, None)
        if msg is not None and msg.get("type") == "ping":
            await ws.send_text(_frame("pong", id=msg.get("id")))
        elif msg is not None:
            await ws.send_text(_frame("error", code="unknown_type"))


async def _collect(sub: Subscription, first_timeout: float) -> list[LiveEvent]:
    """Wait up to ``first_timeout`` for an event, then take whatever else is queued."""
    events: list[LiveEvent] = []
    with contextlib.suppress(TimeoutError):
        events.append(await asyncio.wait_for(sub.get(), first_timeout))
    while (more := sub.get_nowait()) is not None:
        events.append(more)
    return events


async def _serve(ws: WebSocket, pump: Coroutine[Any, Any, None]) -> None:
    """Run ``pump`` (server → client) beside the client reader until either ends."""
    reader = asyncio.create_task(_drain_client(ws))
    writer = asyncio.create_task(pump)
    try:
        await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (reader, writer):
            task.cancel()
        for task in (reader, writer):
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, Exception):
                await task
        if ws.client_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await ws.close()


async def proctor_channel(ws: WebSocket) -> None:
    """``/ws/proctor/{session_id}``: the live grid of a session for its proctors."""
    session_id = int(ws.path_params["session_id"])
    if not _origin_ok(ws):
        await ws.close(code=1008)
        return
    await ws.accept()
    try:
        claims = await _authenticate(ws)
        if claims is None:
            return
        # A proctor watches only the sessions of the rooms they supervise.
        if claims.role != "admin":
            room = await asyncio.to_thread(session_room, _engine(ws.app), session_id)
            if room is None:
                await ws.send_text(_frame("error", code="unknown_session"))
                await ws.close(code=1008)
                return
            if not claims.may_supervise(room):
                await ws.send_text(_frame("error", code="forbidden"))
                await ws.close(code=1008)
                return
    except WebSocketDisconnect:
        return
    app = ws.app
    service = proctoring_service(app)
    service.start()
    engine = _engine(app)
    presence = _presence_seconds(app)
    # Subscribe before reading the snapshot so nothing falls between the two.
    sub = _bus(app).subscribe(session_id)
    try:
        try:
            info, grid = await asyncio.to_thread(
                load_grid, engine, session_id, presence, _grace_seconds(app)
            )
        except LookupError:
            await ws.send_text(_frame("error", code="unknown_session"))
            await ws.close(code=1008)
            return
        if service.record is None:  # alerts are not in the audit log: replay ours
            for alert in service.recent_alerts(session_id):
                grid.apply(alert)
        await ws.send_text(
            _frame(
                "snapshot",
                session=info.to_dict(with_token=True),
                terminals=[row.to_dict() for row in grid.rows.values()],
                incidents=list(grid.incidents),
            )
        )
        pump = _proctor_pump(ws, sub, grid, engine, (presence, _grace_seconds(app)), session_id)
        await _serve(ws, pump)
    finally:
        sub.close()


async def _proctor_pump(
    ws: WebSocket,
    sub: Subscription,
    grid: TerminalGrid,
    engine: Engine,
    clock: tuple[float, float],
    session_id: int,
) -> None:
    """Forward the session's events as ``update`` frames (clock: presence and grace seconds)."""
    presence, grace = clock
    last_sent = time.monotonic()
    while True:
        events = await _collect(sub, FLUSH_SECONDS)
        changed: dict[str, TerminalRow] = {}
        incidents: list[dict[str, Any]] = []
        reload: set[int] = set()
        session_changed = False
        for event in events:
            if event.attempt_id is None and event.kind in ("pause", "resume", "note", "extend"):
                incidents.append(incident_of(event))  # room-wide acts
                session_changed = True
                continue
            before = len(grid.incidents)
            row = grid.apply(event)
            if len(grid.incidents) > before:
                incidents.append(grid.incidents[-1])
            if row is not None:
                changed[row.registration_number] = row
                if event.kind in _RELOAD_KINDS and row.attempt_id is not None:
                    reload.add(row.attempt_id)
        for attempt_id in reload:
            attempt, seen = await asyncio.to_thread(reload_attempt, engine, attempt_id)
            row = grid.by_attempt(attempt_id)
            if attempt is not None and row is not None:
                _apply_attempt(row, attempt, time.time(), presence, live=True, seen=seen)
        fields: dict[str, Any] = {}
        if session_changed:
            info, fresh = await asyncio.to_thread(load_grid, engine, session_id, presence, grace)
            fields["session"] = info.to_dict(with_token=True)
            for key, row in fresh.rows.items():
                old = grid.rows.get(key)
                if old is not None:
                    row.alerts, row.last_alert = old.alerts, old.last_alert
                grid.rows[key] = row
                changed[key] = row
        if changed or incidents or fields:
            fields["terminals"] = [row.to_dict() for row in changed.values()]
            fields["incidents"] = incidents
            await ws.send_text(_frame("update", **fields))
            last_sent = time.monotonic()
        elif time.monotonic() - last_sent > HEARTBEAT_SECONDS:
            await ws.send_text(_frame("tick"))
            last_sent = time.monotonic()


async def board_channel(ws: WebSocket) -> None:
    """``/ws/board/{session_id}``: public running and final scores of a session."""
    session_id = int(ws.path_params["session_id"])
    if not _origin_ok(ws):
        await ws.close(code=1008)
        return
    await ws.accept()
    app = ws.app
    engine = _engine(app)
    sub = _bus(app).subscribe(session_id)
    try:
        bank = await load_bank(engine, session_id)
        info, rows = await asyncio.to_thread(load_board, engine, session_id, None, bank)
        if info is None:
            await ws.send_text(_frame("error", code="unknown_session"))
            await ws.close(code=1008)
            return
        await ws.send_text(
            _frame(
                "snapshot",
                session=info.to_dict(with_token=False),
                rows=[r.to_dict() for r in rows],
            )
        )
        by_attempt = {r.attempt_id: r for r in rows if r.attempt_id is not None}
        await _serve(ws, _board_pump(ws, sub, engine, session_id, bank, by_attempt))
    except WebSocketDisconnect:
        return
    finally:
        sub.close()


async def _board_pump(
    ws: WebSocket,
    sub: Subscription,
    engine: Engine,
    session_id: int,
    bank: BankArrays | None,
    rows: dict[int, BoardRow],
) -> None:
    last_sent = time.monotonic()
    while True:
        changed: dict[int, BoardRow] = {}
        reload: set[int] = set()
        for event in await _collect(sub, FLUSH_SECONDS):
            aid = event.attempt_id
            if aid is None or event.kind not in _BOARD_KINDS:
                continue
            row = rows.get(aid)
            points = event.data.get("points")
            if row is None or event.kind in ("login", "void") or not isinstance(points, dict):
                if event.kind in ("answer", "finish", "login", "connect", "void"):
                    reload.add(aid)
                continue
            # The server puts the engine's running (or final) points in the
            # answer and finish events: no database read per answer.
            row.sections = {str(k): float(v) for k, v in points.items()}
            row.total = float(event.data.get("total", sum(row.sections.values())))
            if event.kind == "finish":
                row.status, row.final = "finished", True
                passed = event.data.get("passed")
                row.passed = passed if isinstance(passed, bool) else None
            changed[aid] = row
        if reload:
            _, fresh = await asyncio.to_thread(load_board, engine, session_id, reload, bank)
            for row in fresh:
                if row.attempt_id is not None:
                    rows[row.attempt_id] = changed[row.attempt_id] = row
        if changed:
            await ws.send_text(_frame("update", rows=[r.to_dict() for r in changed.values()]))
            last_sent = time.monotonic()
        elif time.monotonic() - last_sent > HEARTBEAT_SECONDS:
            await ws.send_text(_frame("tick"))
            last_sent = time.monotonic()


# --- small HTTP endpoints the pages need ----------------------------------------------

REPORT_KINDS = frozenset({"focus_lost", "fullscreen_exit"})
REPORT_MIN_INTERVAL = 1.0
"""Seconds between two accepted reports of one attempt (a flood is dropped)."""


async def candidate_report(request: Request) -> Response:
    """``POST /api/candidate/report`` ``{"kind": "focus_lost" | "fullscreen_exit"}``.

    The terminal page reports that it lost focus or left full screen; the
    report becomes a ``LiveEvent`` that the focus detector turns into an
    alert on the proctor console. Needs the candidate's bearer token.
    """
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer "):
        raise ApiError(401, "not_authenticated", "send Authorization: Bearer <candidate token>")
    try:
        claims = context(request.app).signer.read_candidate(header[7:].strip())
    except TokenError as exc:
        raise ApiError(401, exc.code, str(exc)) from None
    body = await read_json(request, 1024)
    kind = body.get("kind")
    if kind not in REPORT_KINDS:
        raise ApiError(
            422,
            "bad_field",
            f"'kind' must be one of {sorted(REPORT_KINDS)}",
            [{"field": "kind", "message": "unknown kind"}],
        )
    last: dict[int, float] = context(request.app).extras.setdefault("report_times", {})
    now = time.time()
    if now - last.get(claims.attempt_id, 0.0) < REPORT_MIN_INTERVAL:
        return JSONResponse({"accepted": False, "reason": "rate_limited"}, status_code=429)
    last[claims.attempt_id] = now
    _bus(request.app).publish(
        LiveEvent(
            kind,
            claims.session_id,
            claims.attempt_id,
            claims.registration_number,
            at=now,
            data={"terminal_id": claims.terminal_id},
        )
    )
    return JSONResponse({"accepted": True})


def _session_rows(engine: Engine) -> list[dict[str, Any]]:
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


async def live_sessions(request: Request) -> Response:
    """``GET /api/live/sessions``: sessions a proctor can open a console on
    (a proctor: those of the rooms they supervise; an admin: all)."""
    rows = await asyncio.to_thread(_session_rows, _engine(request.app))
    staff: StaffClaims = request.state.staff
    return JSONResponse([r for r in rows if staff.may_supervise(int(r["room_id"]))])


async def public_sessions(request: Request) -> Response:
    """``GET /api/live/board-sessions``: sessions with a public board (open or closed)."""
    rows = await asyncio.to_thread(_session_rows, _engine(request.app))
    return JSONResponse([{k: r[k] for k in ("id", "code", "status", "exam", "room")} for r in rows])


ENDPOINTS: list[Endpoint] = [
    Endpoint(
        "POST",
        "/api/candidate/report",
        candidate_report,
        "the terminal page reports focus_lost or fullscreen_exit (candidate bearer token)",
        body={"type": "object", "required": ["kind"], "properties": {"kind": {"type": "string"}}},
        tag="candidate",
        responses={"401": "no or bad candidate token", "422": "unknown kind", "429": "too often"},
    ),
    Endpoint(
        "GET",
        "/api/live/sessions",
        live_sessions,
        "sessions with exam and room, for the proctor console",
        ("admin", "proctor"),
        tag="proctor",
    ),
    Endpoint(
        "GET",
        "/api/live/board-sessions",
        public_sessions,
        "sessions that have a public live board",
        tag="board",
    ),
]


def routes() -> list[BaseRoute]:
    """The proctor and board channels and their helper endpoints, for the app factory."""
    return [
        WebSocketRoute("/ws/proctor/{session_id:int}", proctor_channel),
        WebSocketRoute("/ws/board/{session_id:int}", board_channel),
        *(ep.route() for ep in ENDPOINTS),
    ]
