"""The candidate WebSocket endpoint (``/ws/candidate``): transport around ``protocol``.

One connection = one terminal. The first frame must be ``hello``; then frames
are handled one at a time in arrival order (so an answer's ack always comes
before the reply to the next frame). Every refused frame gets an ``error``
frame; the connection closes only for a bad origin, failed authentication,
a replaced or released terminal, a voided attempt, or a sustained flood.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from exam_server import protocol as p
from exam_server.attempts import AttemptService, LiveAttempt
from exam_server.auth import TokenBucket
from exam_server.channels import encode, origin_ok
from exam_server.context import context
from exam_server.limits import request_source
from exam_server.settings import Settings

log = logging.getLogger(__name__)

# Refused-for-rate frames in a row before the connection is closed as a flood.
FLOOD_CLOSE_AFTER = 200
# Seconds from its accept a new connection has to be logged in (a valid
# ``hello``), whatever it sends meanwhile: a ping or any other frame does not
# buy it more time (a socket kept open by pings held a slot for ever).
AUTH_TIMEOUT_SECONDS = 15.0
# The close code of a socket refused because its address (or everyone) holds
# too many sockets without a login (exam_server.socket_gate): "try again later".
CLOSE_BUSY = 1013


class TerminalConnection:
    """Sends frames to one terminal; safe to call from several tasks."""

    def __init__(self, ws: WebSocket, now: float, terminal_id: str = "") -> None:
        self.ws = ws
        self.terminal_id = terminal_id
        # Server time of the last frame received: when it was last seen alive.
        self.last_heard = now
        self._send_lock = asyncio.Lock()
        self.closed = False

    async def send(self, msg: dict[str, Any]) -> None:
        if self.closed:
            return
        async with self._send_lock:
            try:
                await self.ws.send_text(encode(msg))
            except Exception:  # the peer is gone; the receive loop will notice
                self.closed = True

    async def close(self, code: int, reason: str = "") -> None:
        if self.closed:
            return
        self.closed = True
        async with self._send_lock:
            try:
                if self.ws.application_state != WebSocketState.DISCONNECTED:
                    await self.ws.close(code=code, reason=reason[:120])
            except Exception:
                pass


async def candidate_endpoint(ws: WebSocket) -> None:
    app = ws.app
    settings: Settings = context(app).settings
    service: AttemptService = context(app).attempts
    if not origin_ok(ws, settings):
        await ws.close(code=p.CLOSE_POLICY)
        return
    await ws.accept()
    clock = context(app).clock
    conn = TerminalConnection(ws, clock.now())
    gate = context(app).preauth_gate
    # A pre-login slot until the hello is accepted (exam_server.socket_gate);
    # given to a newcomer from a lighter address if the pool fills up.
    slot = gate.admit(request_source(ws), gate.closer(lambda: conn.close(CLOSE_BUSY, "busy")))
    if slot is None:
        await ws.close(code=CLOSE_BUSY, reason="busy")
        return
    bucket = TokenBucket(settings.messages_per_second, settings.message_burst)
    la: LiveAttempt | None = None
    limited_in_row = 0
    close_code: int | None = None
    login_by = asyncio.get_running_loop().time() + AUTH_TIMEOUT_SECONDS
    try:
        while not conn.closed:
            if la is None:
                # An unauthenticated socket may not sit idle holding a slot.
                try:
                    left = login_by - asyncio.get_running_loop().time()
                    if left <= 0:
                        raise TimeoutError
                    message = await asyncio.wait_for(ws.receive(), left)
                except TimeoutError:
                    await conn.send(p.error_frame(p.ProtocolError("not_authenticated")))
                    await conn.close(p.CLOSE_POLICY, "no hello")
                    break
            else:
                message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                close_code = message.get("code")
                break
            conn.last_heard = clock.now()
            text = message.get("text")
            data: str | bytes = text if text is not None else (message.get("bytes") or b"")
            if not bucket.take():
                limited_in_row += 1
                if limited_in_row >= FLOOD_CLOSE_AFTER:
                    await conn.close(p.CLOSE_POLICY, "flood")
                    break
                await conn.send(p.error_frame(p.ProtocolError("rate_limited")))
                continue
            limited_in_row = 0
            try:
                msg = p.parse_client(data, settings.max_frame_bytes)
                if la is None:
                    slot.busy = True  # not given away while its hello is checked
                    try:
                        la = await _authenticate(service, conn, msg)
                    finally:
                        slot.busy = False
                    gate.release(slot)
                    continue
                for out in await _dispatch(service, la, msg):
                    await conn.send(out)
            except p.ProtocolError as err:
                await conn.send(p.error_frame(err))
                if la is None and err.code in (
                    "bad_token",
                    "expired_token",
                    "wrong_terminal",
                    "terminal_locked",
                ):
                    await conn.close(p.CLOSE_POLICY, err.code)
            except Exception:
                log.exception("candidate frame failed")
                await conn.send(p.error_frame(p.ProtocolError("internal")))
    except WebSocketDisconnect as exc:
        close_code = exc.code
    finally:
        conn.closed = True
        gate.release(slot)  # harmless if released at the hello or evicted
        if la is not None:
            try:
                await service.disconnected(la, conn, close_code)
            except Exception:
                log.exception("disconnect handling failed")


async def _authenticate(service: AttemptService, conn: TerminalConnection, msg: Any) -> LiveAttempt:
    if not isinstance(msg, p.Hello):
        if isinstance(msg, p.Ping):
            await conn.send(p.frame("pong", id=msg.id))
        raise p.ProtocolError("not_authenticated")
    conn.terminal_id = msg.terminal_id
    la = await service.hello(conn, msg)
    await conn.send(service.state_frame(la))
    if la.finish is not None:
        await conn.send(la.finish)
    return la


async def _dispatch(service: AttemptService, la: LiveAttempt, msg: Any) -> list[dict[str, Any]]:
    if isinstance(msg, p.Answer):
        return await service.answer(la, msg)
    if isinstance(msg, p.Flag):
        return await service.flag(la, msg)
    if isinstance(msg, p.Navigate):
        return await service.navigate(la, msg)
    if isinstance(msg, p.StateRequest):
        out = [service.state_frame(la)]
        if la.finish is not None:
            out.append(la.finish)
        return out
    if isinstance(msg, p.Finish):
        if la.status == "void":
            raise p.ProtocolError("attempt_void")
        if la.status == "paused":
            raise p.ProtocolError("attempt_paused")
        final = await service.finish(la, "candidate", f"candidate:{la.registration_number}")
        return [final] if final is not None else []
    if isinstance(msg, p.Ping):
        return [p.frame("pong", id=msg.id)]
    if isinstance(msg, p.Hello):
        raise p.ProtocolError("already_authenticated")
    raise p.ProtocolError("unknown_type")
