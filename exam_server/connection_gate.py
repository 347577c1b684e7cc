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
heaviest address's oldest connection that is not being answered (closed at
once). A connection is *being answered* from the end of a request's body to
the end of its response, and for good once it is a WebSocket; otherwise it
is idle and may be given away.

*Deadlines.* A second review held the pool with connections that each sent
a whole header and then stalled: a POST whose body never came, and a
request answered before its body came followed by one stray byte (which
also cancels uvicorn's keep-alive timer). So a connection must keep moving
whenever it is the client's turn: a request's header is due within
``header_timeout_seconds`` of the connection, of the end of the previous
response, or of the request's first byte; its body must not pause longer
than that between chunks, also after an answer that came first (uvicorn
drops the rest of such a body); a response the client does not read
(writing paused; the send buffer is :data:`SEND_BUFFER_BYTES`, so a pause
comes early) for :data:`WRITE_STALL_FACTOR` deadlines closes it; and more
than :data:`MAX_PIPELINED` requests sent ahead of their answers close it at
once (a third review made the server write megabytes to clients that never
read). Such a close is a reset (``SO_LINGER`` 0: the kernel drops what it
still held to send), and requests still running or queued are told their
client is gone. Between requests uvicorn's keep-alive timeout usually
closes idle connections first.

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
import collections
import contextlib
import ipaddress
import resource
import socket
import struct
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from exam_server.context import NotStarted, context
from exam_server.limits import parse_networks, source_of
from exam_server.settings import Settings
from exam_server.socket_gate import Slot, SocketGate

#: Requests a client may send ahead of their answers; more closes the connection.
MAX_PIPELINED = 8
#: The send buffer of a connection from an untrusted address (bytes).
SEND_BUFFER_BYTES = 64 * 1024
#: A response the client does not read for this many header deadlines
#: (writing paused all that time) closes the connection.
WRITE_STALL_FACTOR = 3.0


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
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # a proxy over IPv4 to a server bound to ::
    return any(ip in net for net in networks)


class GatedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the connection gate and the
    deadlines that keep a connection moving (module doc: *Deadlines*)."""

    _slot: Slot | None = None
    _deadline: asyncio.TimerHandle | None = None
    _stalled: asyncio.TimerHandle | None = None
    _header_seconds: float = 0.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # This connection's requests not yet answered (told when it is lost).
        self._cycles: collections.deque[Any] = collections.deque(maxlen=MAX_PIPELINED + 2)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        found = _gate_of(self.app)
        if found is None:
            return
        gate, trusted, self._header_seconds = found
        peer = transport.get_extra_info("peername")
        host = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        if not _trusted(host, trusted):
            self._slot = gate.admit(source_of(host), self._abort)
            if self._slot is None:  # its address holds its cap, or nobody gives way
                self._abort()
                return
            # A bounded send buffer: a client that stops reading is noticed
            # (writing pauses) after this much, not after the kernel's
            # autotuned megabytes.
            sock = transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError, AttributeError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
        self._arm()

    # -- the deadline of the part being read -----------------------------------------

    def _arm(self) -> None:
        """Close the connection unless it moves within the deadline."""
        if self._header_seconds > 0:
            self._disarm()
            self._deadline = self.loop.call_later(self._header_seconds, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        self._abort()

    def _abort(self) -> None:
        """Close at once, dropping what the kernel still holds to send (a
        reset, not a FIN after megabytes nobody reads), and tell every
        request still running or queued that its client is gone (their
        answers are dropped, not written to a closed handle)."""
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError, AttributeError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._forget_requests()
        self.transport.abort()

    def _forget_requests(self) -> None:
        for cycle in self._cycles:
            if not cycle.response_complete:
                cycle.disconnected = True
                cycle.message_event.set()
        self._cycles.clear()
        self.pipeline.clear()

    def _busy(self, busy: bool) -> None:
        if self._slot is not None:
            self._slot.busy = busy

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()  # its header is due

    def on_headers_complete(self) -> None:
        self._arm()  # its body (if any) must keep coming
        super().on_headers_complete()
        if self.cycle is not None:
            self._cycles.append(self.cycle)
        if len(self.pipeline) > MAX_PIPELINED:
            # Hundreds of requests sent ahead and never read made the server
            # write megabytes before anything paused (found by a review).
            self._abort()

    def on_body(self, body: bytes) -> None:
        self._arm()
        super().on_body(body)

    def on_message_complete(self) -> None:
        if self.cycle is not None and self.cycle.response_complete:
            # The rest of a body whose answer went first: idle now (uvicorn
            # re-arms no keep-alive timer here; the deadline stands in).
            self._busy(False)
            self._arm()
        else:
            self._disarm()
            self._busy(True)  # being answered: never given away
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:
            # Idle between requests, or answered before its body came (a 404,
            # a refusal: uvicorn reads the rest of the body and drops it, and
            # a client may reuse the connection after it): uvicorn's
            # keep-alive timeout closes it, and the deadline too, which every
            # body byte moves but none of them cancels (a stray byte cancels
            # uvicorn's timer: a review held connections for ever that way).
            self._busy(False)
            self._arm()

    # -- a client that does not read -------------------------------------------------

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._stalled is None and self._header_seconds > 0:
            self._stalled = self.loop.call_later(
                WRITE_STALL_FACTOR * self._header_seconds, self._abort
            )

    def resume_writing(self) -> None:
        if self._stalled is not None:
            self._stalled.cancel()
            self._stalled = None
        super().resume_writing()

    def handle_websocket_upgrade(self) -> None:
        self._disarm()
        self._busy(True)
        super().handle_websocket_upgrade()
        # The WebSocket protocol owns the connection from now on: it frees the slot.
        protocol = self.transport.get_protocol()
        if isinstance(protocol, GatedWebSocketsProtocol):
            protocol.slot = self._slot
            self._slot = None

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._stalled is not None:
            self._stalled.cancel()
            self._stalled = None
        self._forget_requests()
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
