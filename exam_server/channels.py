"""What every WebSocket of the server needs: the origin check, frame
encoding, reading a client frame, and authenticating staff on a socket.

Used by the candidate socket (:mod:`exam_server.terminal`) and the live
channels (:mod:`exam_server.live`), so that a browser from another site is
refused by one rule, and every frame is JSON by one encoder (orjson, with
non-finite floats as ``null``, which browsers can parse; the stdlib's
``NaN`` they cannot).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect

from exam_server.auth import StaffClaims, TokenError, TokenSigner
from exam_server.protocol import encode
from exam_server.settings import Settings

__all__ = [
    "STAFF_ROLES",
    "authenticate_staff",
    "encode",
    "live_frame",
    "origin_allowed",
    "origin_ok",
    "receive_json",
]

#: Roles that may open a staff channel (the proctor console).
STAFF_ROLES = frozenset({"admin", "proctor"})
#: Largest client frame a live channel reads (bytes of text).
MAX_CLIENT_FRAME = 4096


def origin_allowed(origin: str | None, host: str | None, settings: Settings) -> bool:
    """Browsers send Origin: it must be this server's own host or an allowed
    origin. Non-browser clients (no Origin header) are allowed; they still
    need a valid token where the channel asks for one."""
    if origin is None:
        return True
    if origin in settings.allowed_origins:
        return True
    netloc = urlsplit(origin).netloc
    return bool(host) and netloc == host


def origin_ok(ws: WebSocket, settings: Settings) -> bool:
    """:func:`origin_allowed` for the headers of ``ws``."""
    return origin_allowed(ws.headers.get("origin"), ws.headers.get("host"), settings)


def live_frame(kind: str, now: float, **fields: Any) -> str:
    """A live-channel frame as JSON text: ``{"type": kind, "now": now, ...}``
    (now: the server's clock, epoch seconds, so a page can correct its own)."""
    return encode({"type": kind, "now": now, **fields})


async def receive_json(ws: WebSocket, now: float, timeout: float | None) -> dict[str, Any] | None:
    """The next client frame of a live channel as a dict; None for a malformed
    one, after answering it with an ``error`` frame (``too_large``,
    ``bad_json``, ``bad_frame``). Raises ``TimeoutError`` after ``timeout``
    seconds without a frame and ``WebSocketDisconnect`` when the client leaves."""
    text = await asyncio.wait_for(ws.receive_text(), timeout)
    if len(text) > MAX_CLIENT_FRAME:
        await ws.send_text(live_frame("error", now, code="too_large"))
        return None
    try:
        msg = orjson.loads(text)
    except orjson.JSONDecodeError:
        await ws.send_text(live_frame("error", now, code="bad_json"))
        return None
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        await ws.send_text(live_frame("error", now, code="bad_frame"))
        return None
    return msg


async def authenticate_staff(
    ws: WebSocket, signer: TokenSigner, clock_now: Callable[[], float], timeout: float
) -> StaffClaims | None:
    """Wait for ``{"type": "auth", "token": <staff token>}`` on an accepted
    socket and return its claims (role proctor or admin).

    Other frames get ``not_authenticated`` and the wait goes on, but only
    until ``timeout`` seconds after the call, whatever arrives: a socket
    sending a frame every few seconds kept itself open for ever (found by a
    review, which held every connection of the process that way). Then, or
    for a bad or expired token (its error code first), the socket is closed
    (1008). Returns None once closed (also when the client left, or the
    socket was closed meanwhile, e.g. given away by the socket gate).
    clock_now: the server's clock (``context(app).clock.now``), for the frames.
    """
    loop = asyncio.get_running_loop()
    due = loop.time() + timeout
    while True:
        try:
            left = due - loop.time()
            if left <= 0:
                raise TimeoutError
            msg = await receive_json(ws, clock_now(), left)
        except TimeoutError:
            with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                await ws.close(code=1008)
            return None
        except (WebSocketDisconnect, RuntimeError):
            return None
        if msg is None:
            continue
        if msg.get("type") != "auth" or not isinstance(msg.get("token"), str):
            try:
                await ws.send_text(live_frame("error", clock_now(), code="not_authenticated"))
            except (RuntimeError, WebSocketDisconnect):
                return None
            continue
        try:
            claims = signer.read_staff(msg["token"])
        except TokenError as exc:
            await ws.send_text(live_frame("error", clock_now(), code=exc.code))
            await ws.close(code=1008)
            return None
        if claims.role not in STAFF_ROLES:
            await ws.send_text(live_frame("error", clock_now(), code="forbidden"))
            await ws.close(code=1008)
            return None
        return claims
