"""The plumbing every live channel shares: wait for events, serve a socket.

A channel runs a *pump* (server → client: events turned into frames) beside
a reader that answers the client's ``ping`` frames, until either ends.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from exam_server.channels import live_frame, receive_json
from exam_server.context import context
from exam_server.events import LiveEvent, Subscription

FLUSH_SECONDS = 0.25
"""How long a channel waits for an event before checking its heartbeat; an
event is handled as soon as it arrives, with whatever else is queued."""
HEARTBEAT_SECONDS = 5.0
"""A channel with nothing to send sends a ``tick`` this often (pages treat
12 s of silence as a dead link)."""


async def collect(sub: Subscription, first_timeout: float) -> list[LiveEvent]:
    """Wait up to ``first_timeout`` seconds for an event, then take whatever else is queued."""
    events: list[LiveEvent] = []
    with contextlib.suppress(TimeoutError):
        events.append(await asyncio.wait_for(sub.get(), first_timeout))
    while (more := sub.get_nowait()) is not None:
        events.append(more)
    return events


async def drain_client(ws: WebSocket) -> None:
    """Read (and answer) client frames until the socket closes: ``ping`` gets
    ``pong``, anything else ``unknown_type``."""
    clock = context(ws.app).clock
    while True:
        msg = await receive_json(ws, clock.now(), None)
        if msg is not None and msg.get("type") == "ping":
            await ws.send_text(live_frame("pong", clock.now(), id=msg.get("id")))
        elif msg is not None:
            await ws.send_text(live_frame("error", clock.now(), code="unknown_type"))


async def serve(ws: WebSocket, pump: Coroutine[Any, Any, None]) -> None:
    """Run ``pump`` (server → client) beside the client reader until either ends."""
    reader = asyncio.create_task(drain_client(ws))
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
