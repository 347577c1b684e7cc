"""Sockets without a login cannot use up the server (exam_server.socket_gate).

Found by a review: a socket that never logged in stayed open for as long as
it pinged (each frame restarted the 15 s hello timeout), with no cap per
address; about a thousand such sockets from one address used up a process
with the common 1,024 open-files limit, after which no terminal, proctor or
admin could connect. Over a real server with the real ``websockets`` client;
sources are told apart by ``X-Forwarded-For`` from the trusted local proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from exam_server import terminal
from exam_server.context import context
from exam_server.settings import Settings
from exam_server.socket_gate import SocketGate
from exam_server.testing import Terminal
from tests.conftest import ServerHandle, make_settings


def test_the_gate_counts_per_source_and_in_all() -> None:
    gate = SocketGate("t", per_source=2, total=3)
    assert gate.admit("a") and gate.admit("a")
    assert not gate.admit("a")  # a's cap
    assert gate.admit("b")
    assert not gate.admit("c")  # everyone's cap
    gate.release("a")
    assert gate.admit("c") and gate.open == 3 and gate.refused == 2
    with gate.holding("d") as admitted:
        assert not admitted
    gate.release("zzz")  # never admitted: nothing changes
    assert gate.open == 3


def test_settings_refuse_caps_that_cannot_hold() -> None:
    with pytest.raises(ValueError, match="preauth_sockets_per_source"):
        make_settings("sqlite://", preauth_sockets_per_source=10, preauth_sockets_total=5)
    with pytest.raises(ValueError, match="board_sockets_per_source"):
        make_settings("sqlite://", board_sockets_per_source=0)
    assert Settings.from_env({"SELEKSI_PREAUTH_SOCKETS_TOTAL": "9000"}).preauth_sockets_total == (
        9000
    )


def _from(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


async def _open(url: str, address: str) -> ClientConnection:
    return await connect(url, additional_headers=_from(address), open_timeout=10)


async def _closed_with(ws: ClientConnection, timeout: float = 5.0) -> int | None:
    """The close code the server sent (frames before it are read and dropped)."""
    with contextlib.suppress(ConnectionClosed):
        async with asyncio.timeout(timeout):
            while True:
                await ws.recv()
    return ws.close_code


async def test_one_address_cannot_hold_every_pre_login_slot(
    server_factory: Any,
) -> None:
    h: ServerHandle = server_factory(preauth_sockets_per_source=3, preauth_sockets_total=5)
    held = [await _open(h.ws_url, "10.9.0.1") for _ in range(3)]
    extra = await _open(h.ws_url, "10.9.0.1")
    assert await _closed_with(extra) == terminal.CLOSE_BUSY  # "try again later"
    # A candidate at another address logs in meanwhile, and then holds no
    # pre-login slot: the two left are free for others.
    token = h.login(str(h.seed.candidates[0]["registration_number"]))
    t = await Terminal.open(h.ws_url, token, "T-1", headers=_from("10.9.0.2"))
    assert t.state["type"] == "state"
    others = [await _open(h.ws_url, f"10.9.1.{i}") for i in range(2)]
    gate = context(h.app).preauth_gate
    assert gate.open == 5
    # Everyone's cap: the next one is refused whatever its address ...
    late = await _open(h.ws_url, "10.9.2.1")
    assert await _closed_with(late) == terminal.CLOSE_BUSY
    # ... until one closes, and the logged-in terminal answers all along.
    await held[0].close()
    for _ in range(50):
        if gate.open == 4:
            break
        await asyncio.sleep(0.05)
    again = await _open(h.ws_url, "10.9.2.1")
    await again.send(json.dumps({"type": "ping", "id": 1}))
    assert json.loads(await again.recv())["type"] == "pong"
    (ack,) = await t.answer(1, 0)
    assert ack["type"] == "ack"
    assert gate.refused == 2
    for ws in [*held[1:], *others, again]:
        await ws.close()
    await t.ws.close()


async def test_pings_do_not_keep_a_socket_that_never_logs_in(
    server_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hello is due a fixed time after the accept, whatever arrives meanwhile."""
    monkeypatch.setattr(terminal, "AUTH_TIMEOUT_SECONDS", 1.0)
    h: ServerHandle = server_factory()
    ws = await _open(h.ws_url, "10.9.3.1")
    started = time.monotonic()
    frames: list[dict[str, Any]] = []
    with contextlib.suppress(ConnectionClosed):
        for i in range(30):  # a ping every 0.2 s for 6 s, reading all that comes back
            await ws.send(json.dumps({"type": "ping", "id": i}))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.2):
                    while True:
                        frames.append(json.loads(await ws.recv()))
    lasted = time.monotonic() - started
    # Closed at about the deadline (the old code kept it open until the
    # test's own 6 s ran out), as a policy close after a not_authenticated.
    assert lasted < 3.0, lasted
    assert ws.close_code == 1008
    assert {"type": "error", "code": "not_authenticated"}.items() <= frames[-1].items()
    assert context(h.app).preauth_gate.open == 0


async def test_the_public_board_has_its_own_caps(server_factory: Any) -> None:
    h: ServerHandle = server_factory(board_sockets_per_source=2, board_sockets_total=3)
    url = f"ws://127.0.0.1:{h.settings.port}/ws/board/{h.seed.session_id}"
    boards = [await _open(url, "10.9.4.1") for _ in range(2)]
    for b in boards:
        assert json.loads(await b.recv())["type"] == "snapshot"
    assert await _closed_with(await _open(url, "10.9.4.1")) == 1013
    elsewhere = await _open(url, "10.9.4.2")
    assert json.loads(await elsewhere.recv())["type"] == "snapshot"
    assert await _closed_with(await _open(url, "10.9.4.3")) == 1013  # everyone's cap
    # Candidates are not affected by the board's caps.
    token = h.login(str(h.seed.candidates[1]["registration_number"]), "T-2")
    t = await Terminal.open(h.ws_url, token, "T-2", headers=_from("10.9.4.1"))
    assert t.state["type"] == "state"
    for ws in [*boards, elsewhere, t.ws]:
        await ws.close()


def test_serve_raises_the_open_files_limit_to_the_hard_limit() -> None:
    """Each terminal is a file descriptor: a server started under a soft limit
    of 512 takes its hard limit (in a child process: the limit is per process)."""
    import resource
    import subprocess
    import sys

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 512:
        pytest.skip(f"the hard limit here is {hard}: nothing to raise")
    code = (
        "import resource; from exam_server.serve import raise_open_files_limit; "
        "print(raise_open_files_limit(), resource.getrlimit(resource.RLIMIT_NOFILE)[0])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (512, hard)),
    ).stdout.split()
    want = 1_048_576 if hard == resource.RLIM_INFINITY else hard
    assert [int(x) for x in out] == [want, want]
