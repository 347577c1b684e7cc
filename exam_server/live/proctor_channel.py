"""The proctor console's channel: ``/ws/proctor/{session_id}``.

The client first sends ``{"type": "auth", "token": <staff token>}`` (a
proctor of the session's room, or an admin); the server answers with a
``snapshot`` (session with its token, every candidate's row, the incident
log) and then ``update`` frames with the rows and incidents that changed,
as soon as their events arrive: the proctor sees every answer live (unlike
the public board). Proctor *acts* are REST endpoints (``docs/protocol.md``);
their events come back here.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from sqlalchemy.engine import Engine
from starlette.websockets import WebSocket, WebSocketDisconnect

from exam_server.admin import session_room
from exam_server.channels import authenticate_staff, live_frame, origin_ok
from exam_server.context import AppContext, context
from exam_server.events import Subscription
from exam_server.limits import request_source
from exam_server.live.queries import apply_attempt, load_grid, reload_attempt
from exam_server.live.serving import FLUSH_SECONDS, HEARTBEAT_SECONDS, collect, serve
from exam_server.proctoring.grid import TerminalGrid, TerminalRow, incident_of

AUTH_TIMEOUT_SECONDS = 10.0

# Event kinds after which the attempt's row is re-read from the database
# (clock, status and score live there, not in every event's data).
_RELOAD_KINDS = frozenset(
    {
        "login",
        "connect",
        "disconnect",
        "pause",
        "resume",
        "extend",
        "release",
        "void",
        "finish",
        # The worker holding a terminal started its clock after an act taken
        # on another worker (exam_server.attempts.proctor_acts.apply_remote).
        "clock",
    }
)


async def _may_watch(ws: WebSocket, ctx: AppContext, session_id: int) -> bool:
    """Authenticate the socket's staff member; a proctor watches only the
    sessions of the rooms they supervise. False once the socket is closed."""
    claims = await authenticate_staff(ws, ctx.signer, ctx.clock.now, AUTH_TIMEOUT_SECONDS)
    if claims is None:
        return False
    if claims.role == "admin":
        return True
    room = await asyncio.to_thread(session_room, ctx.engine, session_id)
    code = "unknown_session" if room is None else "forbidden"
    if room is not None and claims.may_supervise(room):
        return True
    await ws.send_text(live_frame("error", ctx.clock.now(), code=code))
    await ws.close(code=1008)
    return False


async def _close_busy(ws: WebSocket) -> None:
    """Close with 1013 ("try again later"): the console reconnects after its back-off."""
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
        await ws.close(code=1013, reason="busy")


async def proctor_channel(ws: WebSocket) -> None:
    """``/ws/proctor/{session_id}``: the live grid of a session for its proctors."""
    session_id = int(ws.path_params["session_id"])
    ctx = context(ws.app)
    if not origin_ok(ws, ctx.settings):
        await ws.close(code=1008)
        return
    await ws.accept()
    # A slot among the sockets without a login (exam_server.socket_gate), as
    # a terminal's before its hello: a review held every connection of the
    # process with proctor sockets that never authenticated.
    gate = ctx.preauth_gate
    slot = gate.admit(request_source(ws), gate.closer(lambda: _close_busy(ws)))
    if slot is None:
        await _close_busy(ws)
        return
    try:
        if not await _may_watch(ws, ctx, session_id):
            return
    except WebSocketDisconnect:
        return
    finally:
        gate.release(slot)
    service = ctx.proctoring
    service.start()
    settings = ctx.settings
    presence, grace = settings.presence_interval_seconds, settings.grace_seconds
    # Subscribe before reading the snapshot so nothing falls between the two.
    sub = ctx.bus.subscribe(session_id)
    try:
        try:
            info, grid = await asyncio.to_thread(
                load_grid, ctx.engine, session_id, ctx.clock.now(), presence, grace
            )
        except LookupError:
            await ws.send_text(live_frame("error", ctx.clock.now(), code="unknown_session"))
            await ws.close(code=1008)
            return
        if service.record is None:  # alerts are not in the audit log: replay ours
            for alert in service.recent_alerts(session_id):
                grid.apply(alert)
        await ws.send_text(
            live_frame(
                "snapshot",
                ctx.clock.now(),
                session=info.to_dict(with_token=True),
                terminals=[row.to_dict() for row in grid.rows.values()],
                incidents=list(grid.incidents),
            )
        )
        await serve(ws, _proctor_pump(ws, ctx, sub, grid, session_id))
    finally:
        sub.close()


async def _proctor_pump(
    ws: WebSocket, ctx: AppContext, sub: Subscription, grid: TerminalGrid, session_id: int
) -> None:
    """Forward the session's events as ``update`` frames."""
    engine: Engine = ctx.engine
    presence, grace = ctx.settings.presence_interval_seconds, ctx.settings.grace_seconds
    last_sent = time.monotonic()
    while True:
        events = await collect(sub, FLUSH_SECONDS)
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
                apply_attempt(row, attempt, ctx.clock.now(), presence, live=True, seen=seen)
        fields: dict[str, Any] = {}
        if session_changed:
            info, fresh = await asyncio.to_thread(
                load_grid, engine, session_id, ctx.clock.now(), presence, grace
            )
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
            await ws.send_text(live_frame("update", ctx.clock.now(), **fields))
            last_sent = time.monotonic()
        elif time.monotonic() - last_sent > HEARTBEAT_SECONDS:
            await ws.send_text(live_frame("tick", ctx.clock.now()))
            last_sent = time.monotonic()
