"""Simulated terminals over the real protocol (HTTP login + ``websockets``).

Each terminal: waits for its moment in the login window, logs in
(``POST /api/candidate/login``; retried on 429/5xx and connection errors),
opens ``/ws/candidate``, says ``hello``, then answers one item every
``pace × U(1 − jitter, 1 + jitter)`` seconds, waiting for each ``ack``. When
the connection drops it reconnects (with backoff) and resends the answer
that was not acknowledged with the same ``seq`` (the server acknowledges a
repeat as a duplicate and stores it once). At the end of the run it closes,
or with ``finish`` ends the attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from exam_server.gcpolicy import GcFreezer
from exam_server.health import LoopMonitor
from exam_server.loadtest.report import LoadReport, TerminalTrace, connection_end

PUSHES = ("time", "notice")

# What terminal i answers to the item frame it is shown (an option index);
# without one a terminal picks an option at random.
Answerer = Callable[[int, Mapping[str, Any]], int]


@dataclass(frozen=True)
class LoadConfig:
    """One load run. Times are seconds.

    url: the server's base URL (``http://127.0.0.1:8000``); terminals: how
    many; pace: mean seconds between a terminal's answers; jitter: relative
    spread of the pace (0 = metronome, 0.5 = ±50 %); login_window: logins
    are spread uniformly over it; duration: the whole run, from the first
    login; finish: end every attempt at the end of the run; freeze_gc:
    keep the generator's own full garbage collections short (see
    :func:`run_load`).
    """

    url: str
    terminals: int
    pace: float = 30.0
    login_window: float = 60.0
    duration: float = 120.0
    jitter: float = 0.5
    finish: bool = False
    seed: int = 1
    timeout: float = 30.0
    http_connections: int = 64
    freeze_gc: bool = True

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"LoadConfig.url must be http(s)://host:port, got {self.url!r}")
        if self.terminals < 1:
            raise ValueError("LoadConfig.terminals must be at least 1")
        for name in ("pace", "duration", "timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"LoadConfig.{name} must be positive")
        if self.login_window < 0 or self.login_window >= self.duration:
            raise ValueError("LoadConfig.login_window must be >= 0 and shorter than duration")
        if not 0 <= self.jitter < 1:
            raise ValueError("LoadConfig.jitter must be in [0, 1)")

    @property
    def ws_url(self) -> str:
        return "ws" + self.url[4:].rstrip("/") + "/ws/candidate"


@dataclass(frozen=True)
class Credentials:
    registration_number: str
    pin: str


class _Done(Exception):
    """The terminal has nothing more to do (finished, voided, time up)."""


async def run_load(
    config: LoadConfig,
    candidates: list[Credentials],
    session_token: str,
    *,
    start_at: float | None = None,
    report: LoadReport | None = None,
    answerer: Answerer | None = None,
) -> LoadReport:
    """Drive ``config.terminals`` terminals (the first N ``candidates``); return the report.

    answerer: how terminal i answers an adaptive item (e.g.
    :class:`~exam_server.loadtest.exposure.IrtAnswers`); default at random."""
    if len(candidates) < config.terminals:
        raise ValueError(f"{config.terminals} terminals need as many candidates")
    rep = report if report is not None else LoadReport()
    rep.terminals = config.terminals
    rep.login_slots = asyncio.Semaphore(config.http_connections)
    t0 = time.time() if start_at is None else start_at
    rep.started_at = t0
    rep.stop_at = t0 + config.duration
    rng = random.Random(config.seed)
    limits = httpx.Limits(max_connections=config.http_connections, max_keepalive_connections=32)
    # The generator's own pauses show up as the server's latency: an ack that
    # arrives while this process is in a full garbage collection (its heap
    # holds thousands of sockets) is read late. So it watches itself (loop
    # lag and GC pauses, in the report next to the latencies) and freezes
    # what survived every few seconds, as the server does.
    monitor = LoopMonitor(window=config.duration + 120.0, stall_seconds=0.0)
    freezer = GcFreezer(5.0, busy=lambda: True) if config.freeze_gc else None
    await monitor.start()
    if freezer is not None:
        await freezer.start()
    try:
        await _drive(config, candidates, session_token, rep, rng, limits, t0, answerer)
    finally:
        if freezer is not None:
            await freezer.stop()
        await monitor.stop()
        rep.generator = monitor.report(time.time() - t0 + 1.0)
    rep.ended_at = time.time()
    return rep


async def _drive(
    config: LoadConfig,
    candidates: list[Credentials],
    session_token: str,
    rep: LoadReport,
    rng: random.Random,
    limits: httpx.Limits,
    t0: float,
    answerer: Answerer | None = None,
) -> None:
    async with httpx.AsyncClient(base_url=config.url, limits=limits, timeout=config.timeout) as hc:
        tasks = [
            asyncio.create_task(
                _terminal(
                    i,
                    config,
                    candidates[i],
                    session_token,
                    rep,
                    hc,
                    random.Random(rng.getrandbits(64)),
                    t0,
                    answerer,
                )
            )
            for i in range(config.terminals)
        ]
        await asyncio.gather(*tasks)


async def _sleep_until(t: float) -> None:
    delay = t - time.time()
    if delay > 0:
        await asyncio.sleep(delay)


async def _login(
    cfg: LoadConfig,
    cred: Credentials,
    session_token: str,
    tid: str,
    rep: LoadReport,
    hc: httpx.AsyncClient,
) -> str | None:
    backoff = 0.5
    while time.time() < rep.stop_at:
        try:
            # At most ``http_connections`` logins in flight: httpcore's pool
            # scans its whole queue on every event, so thousands of queued
            # requests would make the generator itself the bottleneck.
            async with rep.login_slots:
                sent = time.time()  # server latency, not the wait for a slot
                r = await hc.post(
                    "/api/candidate/login",
                    json={
                        "registration_number": cred.registration_number,
                        "pin": cred.pin,
                        "session_token": session_token,
                        "terminal_id": tid,
                    },
                )
        except httpx.HTTPError as exc:
            rep.errors[f"login_{type(exc).__name__}"] += 1
            await asyncio.sleep(backoff)
            backoff = min(5.0, backoff * 2)
            continue
        if r.status_code == 200:
            now = time.time()
            rep.logins_ok += 1
            rep.login_latency.append(now - sent)
            rep.login_first_at = min(rep.login_first_at, now)
            rep.login_last_at = max(rep.login_last_at, now)
            return str(r.json()["token"])
        try:
            code = str(r.json().get("code", r.status_code))
        except ValueError:
            code = str(r.status_code)
        rep.errors[f"login_{code}"] += 1
        if r.status_code in (429, 500, 502, 503, 504):
            await asyncio.sleep(backoff)
            backoff = min(5.0, backoff * 2)
            continue
        rep.login_failures += 1
        return None
    rep.login_failures += 1
    return None


async def _terminal(
    i: int,
    cfg: LoadConfig,
    cred: Credentials,
    session_token: str,
    rep: LoadReport,
    hc: httpx.AsyncClient,
    rng: random.Random,
    t0: float,
    answerer: Answerer | None = None,
) -> None:
    from websockets.asyncio.client import connect

    await _sleep_until(t0 + rng.uniform(0.0, cfg.login_window))
    tid = f"LT-{i:05d}"
    token = await _login(cfg, cred, session_token, tid, rep, hc)
    if token is None:
        return
    trace = rep.traces[tid] = TerminalTrace(tid, token)
    pending: tuple[int, int, int] | None = None  # seq, number, option
    backoff = 0.2
    max_backoff = min(5.0, cfg.pace)
    first = True
    while time.time() < rep.stop_at:
        try:
            ws = await connect(
                cfg.ws_url, open_timeout=cfg.timeout, compression=None, close_timeout=2
            )
        except Exception as exc:
            rep.errors[f"connect_{type(exc).__name__}"] += 1
            await asyncio.sleep(backoff + rng.uniform(0, backoff))
            backoff = min(max_backoff, backoff * 2)
            continue
        rep.connections_open += 1
        rep.connections_max = max(rep.connections_max, rep.connections_open)
        rep.open_sockets.add(ws)
        if not first:
            rep.reconnects += 1
        first = False
        try:
            pending = await _session(ws, cfg, trace, rep, rng, pending, i, answerer)
            backoff = 0.2
            if pending is None:
                return  # done: the run ended or the attempt did
        except _Done:
            return
        except Exception as exc:  # dropped connection, timeout: reconnect
            rep.errors[f"drop_{type(exc).__name__}"] += 1
            await asyncio.sleep(backoff + rng.uniform(0, backoff))
            backoff = min(max_backoff, backoff * 2)
        finally:
            rep.connections_open -= 1
            rep.open_sockets.discard(ws)
            if trace.intervals and trace.intervals[-1][1] is None:
                trace.intervals[-1][1] = connection_end(trace.heard, time.time(), rep.cuts)
            with contextlib.suppress(Exception):
                await ws.close()


async def _recv(ws: Any, timeout: float) -> dict[str, Any]:
    while True:
        msg: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if msg.get("type") not in PUSHES:
            return msg


async def _session(
    ws: Any,
    cfg: LoadConfig,
    trace: TerminalTrace,
    rep: LoadReport,
    rng: random.Random,
    pending: tuple[int, int, int] | None,
    index: int = 0,
    answerer: Answerer | None = None,
) -> tuple[int, int, int] | None:
    """One connection's life. Returns the unacknowledged answer to resend
    after a reconnect (raises on a drop), or None when done."""
    hello = {"type": "hello", "token": trace.token, "terminal_id": trace.terminal_id}
    # The server starts the clock while handling hello: count from the send.
    hello_at = time.time()
    await ws.send(json.dumps(hello))
    state = await _recv(ws, cfg.timeout)
    trace.heard = time.time()
    if state.get("type") == "error":
        code = state.get("code")
        rep.errors[f"hello_{code}"] += 1
        if code in ("internal", "unavailable", "rate_limited"):
            raise ConnectionResetError(f"hello refused for now: {code}")  # retry
        raise _Done
    trace.intervals.append([hello_at, None])
    attempt_id = int(state["attempt_id"])
    trace.attempt_id = attempt_id
    acked = rep.acked.setdefault(attempt_id, set())
    if state.get("status") in ("finished", "void"):
        raise _Done
    last_seq = int(state["last_seq"])
    n_items = int(state["n_items"])
    adaptive = state.get("mode") == "adaptive"
    shown: dict[str, Any] = state.get("current") or {}
    current = shown.get("number")
    if pending is not None and pending[0] <= last_seq:
        pending = None  # stored before the drop; its ack was lost with the connection
    seq = last_seq
    while True:
        if pending is None:
            wait = cfg.pace * rng.uniform(1 - cfg.jitter, 1 + cfg.jitter)
            if time.time() + wait >= rep.stop_at:
                await _sleep_until(rep.stop_at)
                if cfg.finish:
                    await _finish(ws, cfg, rep)
                return None
            await asyncio.sleep(wait)
            seq += 1
            number = int(current) if adaptive and current else (seq - 1) % n_items + 1
            if answerer is not None and adaptive and shown:
                option = answerer(index, shown)
            else:
                option = rng.randrange(5)
            pending = (seq, number, option)
        pseq, number, option = pending
        sent = time.time()
        await ws.send(
            json.dumps(
                {
                    "type": "answer",
                    "seq": pseq,
                    "number": number,
                    "option": option,
                    "elapsed": round(min(cfg.pace, 3600.0), 2),
                }
            )
        )
        rep.answers_sent += 1
        reply = await _recv(ws, cfg.timeout)
        trace.heard = time.time()
        if reply.get("type") == "ack" and reply.get("seq") == pseq:
            rep.ack_latency.append((sent, time.time() - sent))
            rep.answers_acked += 1
            if reply.get("duplicate"):
                rep.duplicates_acked += 1
            acked.add(pseq)
            pending = None
            if adaptive:
                nxt = await _recv(ws, cfg.timeout)
                trace.heard = time.time()
                if nxt.get("type") == "item":
                    shown = nxt
                    current = nxt.get("number")
                elif nxt.get("type") == "final":
                    rep.finished += 1
                    raise _Done
            continue
        if reply.get("type") == "final":
            rep.finished += 1
            raise _Done
        code = str(reply.get("code", reply.get("type")))
        rep.errors[code] += 1
        if code in ("attempt_finished", "attempt_void", "time_up"):
            raise _Done
        if code in ("unavailable", "rate_limited", "attempt_paused"):
            await asyncio.sleep(1.0 + rng.uniform(0, 1.0))
            continue  # resend the same seq
        # Anything else: resynchronise from the server's state.
        raise ConnectionResetError(f"resync after {code}")


async def _finish(ws: Any, cfg: LoadConfig, rep: LoadReport) -> None:
    await ws.send(json.dumps({"type": "finish", "confirm": True}))
    end = time.time() + cfg.timeout
    while time.time() < end:
        msg = await _recv(ws, cfg.timeout)
        if msg.get("type") == "final":
            rep.finished += 1
            return
        if msg.get("type") == "error":
            rep.errors[f"finish_{msg.get('code')}"] += 1
            return


def load_candidates(path: str) -> list[Credentials]:
    """``registration_number,pin`` per line (a header line is skipped)."""
    out: list[Credentials] = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            parts = [p.strip() for p in line.strip().split(",")]
            if not parts or not parts[0]:
                continue
            if n == 1 and parts[0].lower() == "registration_number":
                continue
            if len(parts) < 2 or not parts[1]:
                raise ValueError(f"{path} line {n}: expected registration_number,pin")
            out.append(Credentials(parts[0], parts[1]))
    return out


def summary_line(rep: LoadReport) -> str:
    lat = rep.latency_ms()
    p99 = lat["p99"]
    return (
        f"{rep.terminals} terminals, {rep.answers_acked} acks, p99 {p99:.1f} ms"
        if not math.isnan(p99)
        else f"{rep.terminals} terminals, no acks"
    )
