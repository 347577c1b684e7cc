"""During a database outage the server says "unavailable, try again", in one
vocabulary (issue 13: "During a database outage hello answers internal").

The outage is PostgreSQL cut off behind a TCP proxy: every open connection
is reset and new ones are reset at the handshake, as when the database
restarts or the network to it fails; then the proxy lets connections through
again. A terminal's ``hello`` gets the ``unavailable`` error frame (not
``internal``) and its socket stays open, a login gets 503 ``unavailable``
with ``Retry-After``; once the database is back the same ``hello`` and the
same login succeed (docs/protocol.md, error codes and login statuses).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from exam_server.testing import Terminal, ThreadServer, candidate_login, free_port
from tests.conftest import make_settings, seed_small

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]


class TcpProxy:
    """127.0.0.1:``port`` → ``target``, served by a loop in a thread of its own
    (so a test blocked in a synchronous HTTP call does not stall it).
    :meth:`cut` resets every connection and every new one; :meth:`restore`
    lets them through again."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.up = True
        self.transports: set[asyncio.BaseTransport] = set()
        self.server: asyncio.Server | None = None

    def start(self) -> TcpProxy:
        self.thread.start()
        self._call(self._listen())
        return self

    def cut(self) -> None:
        async def cut() -> None:
            self.up = False
            for tr in list(self.transports):
                tr.abort()  # type: ignore[attr-defined]
            self.transports.clear()

        self._call(cut())

    def restore(self) -> None:
        async def restore() -> None:
            self.up = True

        self._call(restore())

    def stop(self) -> None:
        async def stop() -> None:
            if self.server is not None:
                self.server.close()
            for tr in list(self.transports):
                tr.abort()  # type: ignore[attr-defined]

        self._call(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    async def _listen(self) -> None:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", self.port)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.transports |= {writer.transport, up_writer.transport}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, ConnectionError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self.transports -= {writer.transport, up_writer.transport}


@pytest.fixture
def proxied(postgres_url: str) -> Iterator[tuple[str, TcpProxy]]:
    """(URL of the test's schema through the proxy, the proxy)."""
    url = make_url(postgres_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432).start()
    try:
        yield url.set(port=proxy.port).render_as_string(hide_password=False), proxy
    finally:
        proxy.stop()


async def test_hello_and_login_answer_unavailable_while_the_database_is_down(
    postgres_url: str, proxied: tuple[str, TcpProxy]
) -> None:
    url, proxy = proxied
    seed = seed_small(postgres_url, n_candidates=3)
    pins = seed.pins()
    regs = [str(c["registration_number"]) for c in seed.candidates]
    # Two workers: the attempt of candidate 0 is in worker A's memory (it
    # logged in there), that of candidate 1 is read from the database by B.
    a = ThreadServer(make_settings(url)).start()
    b = ThreadServer(make_settings(url)).start()
    try:
        tokens = []
        for i in (0, 1):
            r = candidate_login(a.url, regs[i], pins[regs[i]], seed.session_token, f"T-{i}")
            assert r.status_code == 200, r.text
            tokens.append(r.json()["token"])

        proxy.cut()
        down = [
            await Terminal.open(a.ws_url, tokens[0], "T-0"),  # must store its clock's start
            await Terminal.open(b.ws_url, tokens[1], "T-1"),  # must read the attempt
        ]
        for t in down:
            assert t.state["type"] == "error" and t.state["code"] == "unavailable", t.state
        login = await asyncio.to_thread(
            candidate_login, a.url, regs[2], pins[regs[2]], seed.session_token, "T-2"
        )
        assert login.status_code == 503, login.text
        assert login.json()["error"] == "unavailable" and login.headers["Retry-After"]
        # The operator sees why on /healthz: the place and the driver's own
        # message, not SQLAlchemy's wrapper with the statement.
        health = (await asyncio.to_thread(httpx.get, f"{a.url}/healthz")).json()
        (seen,) = [o for o in health["database_unavailable"] if o["where"].endswith("/login")]
        assert seen["count"] >= 1 and seen["cause"].startswith("OperationalError: "), seen
        assert "SELECT" not in seen["cause"] and "[SQL" not in seen["cause"], seen

        proxy.restore()
        # The same sockets say hello again and get their attempts.
        for t, token in zip(down, tokens, strict=True):
            await t.send({"type": "hello", "token": token, "terminal_id": t.terminal_id})
            state = await t.recv()
            assert state["type"] == "state" and state["clock_running"] is True, state
            (ack,) = await t.answer(1, 1)
            assert ack["type"] == "ack", ack
            await t.close()
        login = await asyncio.to_thread(
            candidate_login, a.url, regs[2], pins[regs[2]], seed.session_token, "T-2"
        )
        assert login.status_code == 200, login.text
    finally:
        a.stop()
        b.stop()
