"""Helpers to run a real server in tests and benchmarks (used by ``tests/conftest.py``).

* :func:`small_bank` / :func:`small_design`: a tiny SKD-shaped bank (TWK,
  TIU dichotomous; TKP graded, 1–5 points) and a short design, so tests cost
  milliseconds of engine time.
* :class:`ThreadServer`: uvicorn in a thread of this process (fast start);
  :meth:`ThreadServer.on_loop` runs a coroutine on its event loop (where the
  attempt service lives), :meth:`ThreadServer.sweep` runs the periodic sweep
  at the server's clock, so a test on a :class:`~exam_server.clock.ManualClock`
  moves time instead of sleeping.
* :class:`ProcessServer`: uvicorn in a subprocess (``seleksi serve``), which
  a fault test can SIGKILL and restart on the same database.
* :class:`Terminal`: a candidate terminal over the real ``websockets`` client.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np

from cat_engine.bank import BankArrays
from cat_engine.design import TestDesign
from cat_engine.irt import ItemParameters, Model
from exam_server.clock import Clock
from exam_server.serve import ServerAddress, settings_env
from exam_server.settings import Settings
from exam_server.snapshot import PublicItemContent

SUBTESTS = ("TWK", "TIU", "TKP")

T = TypeVar("T")


def small_bank(per_subtest: int = 12, seed: int = 7) -> tuple[BankArrays, list[PublicItemContent]]:
    """``3 × per_subtest`` items: TWK/TIU 2PL with 5 options (key = 5 points),
    TKP GRM with 5 options worth 1–5 points. Returns (arrays, public items)."""
    rng = np.random.default_rng(seed)
    n = 3 * per_subtest
    subtest = np.repeat(np.arange(3), per_subtest).astype(np.int64)
    model = np.where(subtest == 2, Model.GRM, Model.TWO_PL).astype(np.int8)
    a = rng.uniform(0.8, 2.0, n)
    b = np.where(subtest == 2, np.nan, rng.normal(0, 1, n))
    thresholds = np.full((n, 4), np.nan)
    poly = subtest == 2
    thresholds[poly] = np.sort(rng.normal(0, 1, (int(poly.sum()), 4)), axis=1)
    params = ItemParameters(model, a, b, np.zeros(n), np.ones(n), thresholds)
    points = np.zeros((n, 5))
    category = np.zeros((n, 5), dtype=np.int64)
    for i in range(n):
        if subtest[i] == 2:
            perm = rng.permutation(5)
            points[i] = perm + 1
            category[i] = perm
        else:
            key = int(rng.integers(5))
            points[i, key] = 5.0
            category[i, key] = 1
    ids = tuple(f"{SUBTESTS[subtest[i]]}-{i:04d}" for i in range(n))
    bank = BankArrays(
        item_ids=ids,
        params=params,
        subtest=subtest,
        subtest_codes=SUBTESTS,
        content_area=subtest.copy(),
        content_codes=("TWK.umum", "TIU.umum", "TKP.umum"),
        n_options=np.full(n, 5, dtype=np.int64),
        option_points=points,
        option_category=category,
        enemy_group=np.full(n, -1, dtype=np.int64),
        pretest=np.zeros(n, dtype=bool),
    )
    items = [
        PublicItemContent(
            ids[i],
            SUBTESTS[subtest[i]],
            f"Butir {ids[i]}: pilih jawaban yang paling tepat.",
            tuple(f"Pilihan {c}" for c in "ABCDE"),
        )
        for i in range(n)
    ]
    return bank, items


def small_design(
    mode: str = "linear",
    time_limit_seconds: float = 600.0,
    lengths: tuple[int, int, int] = (3, 3, 4),
) -> TestDesign:
    return TestDesign.from_dict(
        {
            "name": f"small SKD ({mode})",
            "mode": mode,
            "time_limit_seconds": time_limit_seconds,
            "sections": [
                {"code": code, "n_items": k, "stopping": ["fixed_length"]}
                for code, k in zip(SUBTESTS, lengths, strict=True)
            ],
            "exposure": {"method": "none"},
            # A tiny bank cannot meet the default ±2 % parallel-form tolerance.
            "assembly": {"score_tolerance": 0.5, "information_tolerance": 2.0},
        }
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ThreadServer(ServerAddress):
    """uvicorn serving ``create_app(settings)`` in a daemon thread."""

    def __init__(
        self,
        settings: Settings,
        ws_max_size: int = 65536,
        clock: Clock | None = None,
        presence_timer: bool = True,
    ) -> None:
        import uvicorn

        from exam_server.app import create_app

        self.settings = settings
        self.clock = clock
        self.app = create_app(settings, clock=clock, presence_timer=presence_timer)
        config = uvicorn.Config(
            self.app,
            host=settings.host,
            port=settings.port,
            log_level="warning",
            ws_max_size=ws_max_size,
            proxy_headers=False,  # as exam_server.serve: the app decides
            ws_ping_interval=settings.ws_ping_interval_seconds,
            ws_ping_timeout=settings.ws_ping_timeout_seconds,
            lifespan="on",
            # as exam_server.serve.uvicorn_options (exam_server.connection_gate)
            http="exam_server.connection_gate:GatedHttpToolsProtocol",
            ws="exam_server.connection_gate:GatedWebSocketsProtocol",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self, timeout: float = 20.0) -> ThreadServer:
        self.thread.start()
        end = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > end:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop the server (and its attempt service) runs on."""
        if not self.server.servers:
            raise RuntimeError("the test server is not started")
        return self.server.servers[0].get_loop()

    async def on_loop(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run ``coro`` on the server's event loop and return its result: the
        service's state is changed only there. Awaitable from a test's own
        loop (which keeps serving its sockets meanwhile)."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return await asyncio.wait_for(asyncio.wrap_future(future), timeout)

    def on_loop_sync(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """:meth:`on_loop` for a test without an event loop of its own."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def now(self) -> float:
        """The server's clock (epoch seconds)."""
        from exam_server.context import context

        return context(self.app).clock.now()

    async def sweep(self, database: bool = False) -> None:
        """One pass of the attempt service's sweep at the server's clock (ends
        attempts at their deadline, stops the clocks of terminals gone past the
        grace); ``database=True`` also sweeps the stored attempts no process
        holds. What the periodic task does, at once."""
        from exam_server.context import context

        attempts = context(self.app).attempts
        now = self.now()
        await self.on_loop(attempts.sweep(now))
        if database:
            await self.on_loop(attempts.sweep_database(now))

    async def flush_presence(self) -> None:
        """One presence flush at the server's clock (what the periodic task does)."""
        from exam_server.context import context

        await self.on_loop(context(self.app).attempts.flush_presence(self.now()))


async def wait_until(
    condition: Callable[[], bool], timeout: float = 10.0, what: str = "the condition"
) -> None:
    """Poll ``condition`` until it holds: waits for an event of a real socket
    or task (a close noticed, a background step done), never for a clock."""
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError(f"{what} did not happen within {timeout} s")
        await asyncio.sleep(0.01)


class ProcessServer(ServerAddress):
    """``python -m seleksi serve`` in a subprocess; ``kill()`` sends SIGKILL."""

    def __init__(self, settings: Settings, cwd: str | Path | None = None) -> None:
        self.settings = settings
        self.cwd = str(cwd) if cwd else str(Path(__file__).resolve().parent.parent)
        self.proc: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(settings_env(self.settings))
        env["PYTHONPATH"] = self.cwd + os.pathsep + env.get("PYTHONPATH", "")
        return env

    def start(self, timeout: float = 30.0) -> ProcessServer:
        cmd = [
            sys.executable,
            "-m",
            "exam_server.serve",
            "--host",
            self.settings.host,
            "--port",
            str(self.settings.port),
            "--log-level",
            "warning",
        ]
        self.proc = subprocess.Popen(cmd, cwd=self.cwd, env=self.env())
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with code {self.proc.returncode}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError("the server did not answer /healthz in time")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def candidate_login(
    base_url: str, registration_number: str, pin: str, session_token: str, terminal_id: str
) -> httpx.Response:
    return httpx.post(
        base_url + "/api/candidate/login",
        json={
            "registration_number": registration_number,
            "pin": pin,
            "session_token": session_token,
            "terminal_id": terminal_id,
        },
        timeout=30,
    )


def staff_token(base_url: str, username: str, password: str) -> str:
    r = httpx.post(
        base_url + "/api/auth/login", json={"username": username, "password": password}, timeout=30
    )
    r.raise_for_status()
    return str(r.json()["token"])


class Terminal:
    """A candidate terminal speaking the protocol over ``websockets``.

    ``await Terminal.open(ws_url, token, terminal_id)`` connects and says
    hello; ``state`` holds the first state frame. ``request(msg)`` sends one
    frame and returns the next frame that is not a ``time``/``notice``.
    """

    def __init__(self, ws: Any, terminal_id: str) -> None:
        self.ws = ws
        self.terminal_id = terminal_id
        self.state: dict[str, Any] = {}
        self.seq = 0
        self.pushed: list[dict[str, Any]] = []

    @classmethod
    async def open(
        cls, ws_url: str, token: str, terminal_id: str, headers: Mapping[str, str] | None = None
    ) -> Terminal:
        from websockets.asyncio.client import connect

        ws = await connect(ws_url, additional_headers=dict(headers or {}), open_timeout=10)
        t = cls(ws, terminal_id)
        await t.send({"type": "hello", "token": token, "terminal_id": terminal_id})
        t.state = await t.recv()
        if t.state.get("type") == "state":
            t.seq = int(t.state["last_seq"])
        return t

    async def send(self, msg: dict[str, Any] | str) -> None:
        await self.ws.send(msg if isinstance(msg, str) else json.dumps(msg))

    async def recv(self, timeout: float = 10.0) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        out: dict[str, Any] = json.loads(raw)
        return out

    async def next(self, timeout: float = 10.0) -> dict[str, Any]:
        """The next frame that is not a server push (``time``, ``notice``)."""
        while True:
            msg = await self.recv(timeout)
            if msg.get("type") in ("time", "notice"):
                self.pushed.append(msg)
                continue
            return msg

    async def request(self, msg: dict[str, Any] | str, timeout: float = 10.0) -> dict[str, Any]:
        await self.send(msg)
        return await self.next(timeout)

    async def answer(self, number: int, option: int, **extra: Any) -> list[dict[str, Any]]:
        """Answer with the next seq; returns the ack and (adaptive) the next item."""
        self.seq += 1
        await self.send(
            {"type": "answer", "seq": self.seq, "number": number, "option": option, **extra}
        )
        ack = await self.next()
        out = [ack]
        if (
            ack.get("type") == "ack"
            and self.state.get("mode") == "adaptive"
            and not ack.get("duplicate")
        ):
            out.append(await self.next())
        return out

    async def close(self) -> None:
        await self.ws.close()
