"""Caps on TCP connections before they have sent a whole request.

uvicorn sets no deadline before a connection's first request is complete: a
connection that sends ``GET / HTTP/1.1`` and a header, then nothing, stays
open for ever, and nothing counted such connections. A review held 20,600
of them open from two addresses in 2.5 s; the process reached its limit of
open files, after which no terminal could log in or reconnect, no proctor
could open the console, ``/healthz`` did not answer and a signed checkpoint
was not written (docs/reliability.md, *Connections that never finish a
request*).

So every connection from an address that is not a trusted proxy takes a slot
of a :class:`~exam_server.socket_gate.SocketGate` of its own kind
(``connections``: per source address and in all, the total leaving
``connection_reserve`` descriptors for the database, files and logs), with the
gate's rule when it is full: a newcomer from a lighter address takes the
heaviest address's oldest connection that has not yet sent a whole request
header (closed at once); a connection that has (a request being answered, a
WebSocket) is never given away. And a request's header must be complete
within ``header_timeout_seconds`` of its connection (or, on a kept-alive
connection, of its first byte), else the connection is closed. Between
requests uvicorn's own keep-alive timeout closes idle connections.

A trusted proxy's connections carry many clients (``Settings.
trusted_proxies``): they take no slot; the proxy applies its own limits
(docs/operations.md).

uvicorn makes its protocol objects itself, given only its config, so the
classes here find the gate through the app uvicorn serves
(:func:`exam_server.context.context`); they are named in the uvicorn options
(``http``, ``ws``: :func:`exam_server.serve.uvicorn_options`), and an app
without a gate (not started yet) is served as uvicorn would.
"""

from __future__ import annotations

import asyncio
import ipaddress
import resource
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from exam_server.context import NotStarted, context
from exam_server.limits import parse_networks, source_of
from exam_server.settings import Settings
from exam_server.socket_gate import Slot, SocketGate


def connections_total(settings: Settings) -> int:
    """Connections one process may hold: its open-files soft limit less the
    ``connection_reserve`` kept for everything else (at least 64)."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 1 << 20
    return max(64, int(soft) - settings.connection_reserve)


def connection_gate(settings: Settings) -> SocketGate:
    """The process's gate of TCP connections (built in the app's lifespan,
    after ``exam_server.serve`` raised the open-files limit)."""
    total = connections_total(settings)
    return SocketGate("connections", min(settings.connections_per_source, total), total)


def _gate_of(app: Any) -> tuple[SocketGate, tuple[Any, ...], float] | None:
    """The gate, trusted proxies and header deadline of the app served, or
    None (an app not started: uvicorn's own behaviour)."""
    try:
        ctx = context(app)
    except (NotStarted, AttributeError):
        return None
    found = ctx.extras.get("connection_gate")
    if found is None:
        networks = parse_networks(ctx.settings.trusted_proxies)
        found = (ctx.connection_gate, networks, ctx.settings.header_timeout_seconds)
        ctx.extras["connection_gate"] = found
    return found


def _trusted(host: str, networks: tuple[Any, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(ip in net for net in networks)


class GatedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the connection gate and the header
    deadline."""

    _slot: Slot | None = None
    _deadline: asyncio.TimerHandle | None = None
    _header_seconds: float = 0.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        found = _gate_of(self.app)
        if found is None:
            return
        gate, trusted, self._header_seconds = found
        peer = transport.get_extra_info("peername")
        host = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        if not _trusted(host, trusted):
            self._slot = gate.admit(source_of(host), transport.abort)
            if self._slot is None:  # its address holds its cap, or nobody gives way
                transport.abort()
                return
        self._arm()

    def _arm(self) -> None:
        if self._header_seconds > 0:
            self._disarm()
            self._deadline = self.loop.call_later(self._header_seconds, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        self.transport.abort()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._deadline is None and self._header_seconds > 0:
            self._arm()  # a kept-alive connection's next request

    def on_headers_complete(self) -> None:
        self._disarm()
        if self._slot is not None:
            self._slot.busy = True  # answering a request: never given away
        super().on_headers_complete()

    def handle_websocket_upgrade(self) -> None:
        super().handle_websocket_upgrade()
        # The WebSocket protocol owns the connection from now on: it frees the slot.
        protocol = self.transport.get_protocol()
        if isinstance(protocol, GatedWebSocketsProtocol):
            protocol.slot = self._slot
            self._slot = None

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        slot, self._slot = self._slot, None
        found = _gate_of(self.app)
        if found is not None and slot is not None:
            found[0].release(slot)
        super().connection_lost(exc)


class GatedWebSocketsProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol that frees its connection's gate slot
    when the connection ends."""

    slot: Slot | None = None

    def connection_lost(self, exc: Exception | None) -> None:
        slot, self.slot = self.slot, None
        found = _gate_of(self.app)
        if found is not None and slot is not None:
            found[0].release(slot)
        super().connection_lost(exc)
