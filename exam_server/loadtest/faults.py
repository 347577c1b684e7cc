"""Fault drills: a fault injected in the middle of a load run, then the checks.

After each drill: every acknowledged answer is in the database, none is
stored twice and each attempt's stored seqs run 1..last without a hole
(:func:`~exam_server.loadtest.report.verify_in_database`), and every
attempt resumes with the right remaining time (:func:`check_resume`): the
time charged by the server must equal the time the terminal was connected
plus, for each time it was gone, that gap up to the grace period (the
domain rule: a vanished terminal's clock stops after the grace).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from exam_server.loadtest.report import LoadReport, TerminalTrace, verify_in_database
from exam_server.loadtest.runner import Credentials, LoadConfig, run_load


@dataclass
class ResumeCheck:
    """``errors`` are (charged − expected) seconds per attempt."""

    checked: int = 0
    ok: int = 0
    errors: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def max_abs_error(self) -> float:
        return max((abs(e) for e in self.errors), default=0.0)


def expected_used(intervals: list[list[float | None]], now: float, grace: float) -> float:
    """Seconds the server should have charged by ``now``: connected time plus
    each gap (and the current one) up to ``grace``."""
    used = 0.0
    prev_end: float | None = None
    for start, end in intervals:
        assert start is not None
        if prev_end is not None:
            used += min(max(0.0, start - prev_end), grace)
        stop = now if end is None else end
        used += max(0.0, stop - start)
        prev_end = stop
    return used


async def _resume_one(
    ws_url: str, trace: TerminalTrace, time_limit: float, grace: float, tolerance: float
) -> tuple[float | None, str | None]:
    from websockets.asyncio.client import connect

    async with connect(ws_url, open_timeout=30, compression=None) as ws:
        hello = {"type": "hello", "token": trace.token, "terminal_id": trace.terminal_id}
        await ws.send(json.dumps(hello))
        while True:
            state = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if state.get("type") not in ("time", "notice"):
                break
        now = time.time()
    if state.get("type") != "state":
        return None, f"{trace.terminal_id}: {state.get('code')}"
    charged = time_limit - float(state["remaining_seconds"])
    # The check itself connected at about ``now``; the server ran the clock
    # from its hello, which counts as connected time.
    intervals: list[list[float | None]] = [*trace.intervals, [now, now]]
    err = charged - expected_used(intervals, now, grace)
    if abs(err) > tolerance:
        return err, f"{trace.terminal_id}: charged {charged:.2f} s, error {err:+.2f} s"
    return err, None


async def check_resume(
    ws_url: str, report: LoadReport, time_limit: float, grace: float, tolerance: float
) -> ResumeCheck:
    """Reconnect every terminal and compare its remaining time with the expectation."""
    out = ResumeCheck()
    sem = asyncio.Semaphore(50)

    async def one(trace: TerminalTrace) -> None:
        async with sem:
            try:
                err, failure = await _resume_one(ws_url, trace, time_limit, grace, tolerance)
            except Exception as exc:
                err, failure = None, f"{trace.terminal_id}: {type(exc).__name__} {exc}"
        out.checked += 1
        if err is not None:
            out.errors.append(err)
        if failure is None:
            out.ok += 1
        else:
            out.failures.append(failure)

    await asyncio.gather(*(one(t) for t in report.traces.values() if t.intervals))
    return out


def mark_cut(report: LoadReport) -> None:
    """Record that the fault about to be made cuts connections now (a kill of
    server processes, an abort): see :func:`~exam_server.loadtest.report.connection_end`."""
    report.cuts.append(time.time())


def cut_clients(report: LoadReport) -> int:
    """Abort every open terminal socket (no close handshake), as a cut cable
    or a dead switch would; the terminals reconnect by themselves."""
    mark_cut(report)
    n = 0
    for ws in list(report.open_sockets):
        transport = getattr(ws, "transport", None)
        if transport is not None:
            transport.abort()
            n += 1
    return n


def restart_postgres(version: str = "15", cluster: str = "main", timeout: float = 60.0) -> float:
    """Restart the local PostgreSQL cluster; wait until it accepts connections.
    Returns the seconds it was unavailable (as seen from here)."""
    import psycopg

    t0 = time.monotonic()
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, cluster, "restart"],
        check=True,
        capture_output=True,
        timeout=timeout,
    )
    end = t0 + timeout
    while time.monotonic() < end:
        try:
            with psycopg.connect(
                "postgresql://postgres@127.0.0.1:5432/test", connect_timeout=2
            ) as conn:
                conn.execute("SELECT 1")
            return time.monotonic() - t0
        except psycopg.OperationalError:
            time.sleep(0.2)
    raise RuntimeError("PostgreSQL did not come back")


def can_restart_postgres() -> bool:
    from shutil import which

    return os.geteuid() == 0 and which("pg_ctlcluster") is not None


@dataclass
class DrillResult:
    name: str
    report: LoadReport
    db: dict[str, int]
    resume: ResumeCheck
    fault_detail: str

    @property
    def passed(self) -> bool:
        return (
            self.db["missing"] == 0
            and self.db["duplicated"] == 0
            and self.db["gapped"] == 0
            and not self.resume.failures
            and self.report.answers_acked > 0
        )

    def to_row(self) -> dict[str, Any]:
        lat = self.report.latency_ms()
        return {
            "drill": self.name,
            "fault": self.fault_detail,
            "terminals": self.report.terminals,
            "acked": self.db["acknowledged"],
            "found": self.db["found"],
            "missing": self.db["missing"],
            "duplicated": self.db["duplicated"],
            "gapped": self.db["gapped"],
            "reconnects": self.report.reconnects,
            "resumed_ok": f"{self.resume.ok}/{self.resume.checked}",
            "max_clock_error_s": round(self.resume.max_abs_error, 2),
            "p99_ms": round(lat["p99"], 1),
            "errors": dict(self.report.errors),
            "resume_failures": self.resume.failures[:5],
            "passed": self.passed,
        }


async def run_drill(
    name: str,
    config: LoadConfig,
    candidates: list[Credentials],
    session_token: str,
    database_url: str,
    fault: Callable[[LoadReport], Awaitable[str]],
    fault_at: float,
    *,
    time_limit: float,
    grace: float,
    tolerance: float,
    recover: float = 4.0,
) -> DrillResult:
    """Run the load, call ``fault(report)`` ``fault_at`` seconds in, check afterwards.

    The load goes on at least ``recover`` seconds after ``fault`` returned
    (a restart on a busy machine may take longer than planned)."""
    report = LoadReport()
    t0 = time.time()
    load = asyncio.create_task(
        run_load(config, candidates, session_token, start_at=t0, report=report)
    )
    await asyncio.sleep(max(0.0, t0 + fault_at - time.time()))
    planned, report.stop_at = report.stop_at, math.inf  # nobody stops during the fault
    detail = await fault(report)
    report.stop_at = max(planned, time.time() + recover)
    await load
    db = await asyncio.to_thread(verify_in_database, report, database_url)
    resume = await check_resume(config.ws_url, report, time_limit, grace, tolerance)
    return DrillResult(name, report, db, resume, detail)
