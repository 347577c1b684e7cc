"""What a load run measured, and the database check after it."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def percentiles_ms(seconds: list[float]) -> dict[str, float]:
    """p50/p95/p99/max of latencies given in seconds, in milliseconds (NaN if none)."""
    if not seconds:
        return {"p50": math.nan, "p95": math.nan, "p99": math.nan, "max": math.nan}
    a = np.asarray(seconds) * 1000.0
    p50, p95, p99 = np.percentile(a, [50, 95, 99])
    return {"p50": float(p50), "p95": float(p95), "p99": float(p99), "max": float(a.max())}


@dataclass
class TerminalTrace:
    """One terminal's token, attempt and connected intervals (epoch seconds;
    ``end`` None while connected), for the resume checks of the fault drills."""

    terminal_id: str
    token: str
    attempt_id: int | None = None
    intervals: list[list[float | None]] = field(default_factory=list)
    # When the current connection last brought a frame from the server (it
    # was alive then): with ``LoadReport.cuts``, when a dropped one ended.
    heard: float = 0.0


def connection_end(heard: float, noticed: float, cuts: list[float]) -> float:
    """When a dropped connection ended (epoch seconds): when the terminal
    noticed, unless a cut a fault drill made (``LoadReport.cuts``: a kill,
    an abort) came between the last frame it heard and the notice — then
    the cut. A terminal thinking between answers notices a dead server only
    at its next send, up to a think time later; the server cannot have seen
    it alive after the kill, so counting that time as connected would make
    the drill expect a charge the rule must not make."""
    return min((c for c in cuts if heard <= c <= noticed), default=noticed)


@dataclass
class LoadReport:
    """Counters of one run. Latencies are seconds; rates per second of wall time.

    ``ack_latency`` holds (send time, latency) pairs so a benchmark can cut a
    window out of the run (e.g. "during the login rush").
    """

    terminals: int = 0
    logins_ok: int = 0
    login_failures: int = 0
    login_first_at: float = math.inf
    login_last_at: float = 0.0
    login_latency: list[float] = field(default_factory=list)
    connections_open: int = 0
    connections_max: int = 0
    reconnects: int = 0
    answers_sent: int = 0
    answers_acked: int = 0
    duplicates_acked: int = 0
    finished: int = 0
    ack_latency: list[tuple[float, float]] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    started_at: float = 0.0
    stop_at: float = math.inf  # when the terminals stop (a drill may push it back)
    ended_at: float = 0.0
    acked: dict[int, set[int]] = field(default_factory=dict)  # attempt id → acked seqs
    db: dict[str, int] | None = None
    traces: dict[str, TerminalTrace] = field(default_factory=dict)
    open_sockets: set[Any] = field(default_factory=set)
    cuts: list[float] = field(default_factory=list)  # when a fault drill cut connections
    login_slots: Any = None  # asyncio.Semaphore bounding logins in flight
    # The generator's own event-loop lag and GC pauses over the run
    # (exam_server.health.LoopMonitor.report): a slow ack seen while the
    # generator itself was paused is the generator's, not the server's.
    generator: dict[str, Any] = field(default_factory=dict)

    # --- derived ---------------------------------------------------------------

    @property
    def wall_seconds(self) -> float:
        return max(1e-9, self.ended_at - self.started_at)

    @property
    def logins_per_second(self) -> float:
        span = self.login_last_at - self.login_first_at
        return self.logins_ok / span if self.logins_ok > 1 and span > 0 else math.nan

    @property
    def answers_per_second(self) -> float:
        return self.answers_acked / self.wall_seconds

    def latency_ms(self, start: float | None = None, end: float | None = None) -> dict[str, float]:
        """Ack latency percentiles of answers sent in [start, end) (epoch seconds)."""
        lo = -math.inf if start is None else start
        hi = math.inf if end is None else end
        return percentiles_ms([lat for t, lat in self.ack_latency if lo <= t < hi])

    def to_dict(self) -> dict[str, Any]:
        return {
            "terminals": self.terminals,
            "connections_max": self.connections_max,
            "connections_open_at_end": self.connections_open,
            "logins_ok": self.logins_ok,
            "login_failures": self.login_failures,
            "logins_per_second": self.logins_per_second,
            "login_latency_ms": percentiles_ms(self.login_latency),
            "answers_sent": self.answers_sent,
            "answers_acked": self.answers_acked,
            "duplicates_acked": self.duplicates_acked,
            "answers_per_second": self.answers_per_second,
            "ack_latency_ms": self.latency_ms(),
            "reconnects": self.reconnects,
            "finished": self.finished,
            "errors": dict(self.errors),
            "wall_seconds": self.wall_seconds,
            "db": self.db,
            "generator": {k: v for k, v in self.generator.items() if k != "stalls"},
        }

    def to_text(self) -> str:
        lat = self.latency_ms()
        lines = [
            f"terminals {self.terminals}: connections held max {self.connections_max}, "
            f"open at end {self.connections_open}, reconnects {self.reconnects}",
            f"logins {self.logins_ok} ok / {self.login_failures} failed, "
            f"{self.logins_per_second:.1f}/s",
            f"answers {self.answers_acked} acknowledged of {self.answers_sent} sent, "
            f"{self.answers_per_second:.1f}/s over {self.wall_seconds:.1f} s",
            "ack latency ms: " + ", ".join(f"{k} {v:.1f}" for k, v in lat.items()),
            "errors: " + (", ".join(f"{k} {v}" for k, v in sorted(self.errors.items())) or "none"),
        ]
        if self.generator:
            lag, gcp = self.generator["loop_lag_ms"], self.generator["gc_pause_ms"]
            lines.append(
                f"load generator itself: event-loop lag ms p99 {lag['p99']:.1f}, max "
                f"{lag['max']:.1f}; GC pause ms max {gcp['max']:.1f}"
            )
        if self.db is not None:
            d = self.db
            lines.append(
                f"database: acknowledged {d['acknowledged']}, found {d['found']}, "
                f"missing {d['missing']}, duplicated {d['duplicated']}"
            )
        return "\n".join(lines)


def verify_in_database(report: LoadReport, database_url: str) -> dict[str, int]:
    """Count the acknowledged (attempt, seq) pairs found in ``exam_response``."""
    from sqlalchemy import text

    from exam_server.db import make_engine

    acked = {(a, s) for a, seqs in report.acked.items() for s in seqs}
    engine = make_engine(database_url, pool_size=1)
    try:
        with engine.connect() as conn:
            ids = sorted(report.acked)
            found: Counter[tuple[int, int]] = Counter()
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                params = {f"a{j}": v for j, v in enumerate(chunk)}
                marks = ",".join(f":a{j}" for j in range(len(chunk)))
                rows = conn.execute(
                    text(
                        f"SELECT attempt_id, seq FROM exam_response WHERE attempt_id IN ({marks})"
                    ),
                    params,
                ).all()
                found.update((int(a), int(s)) for a, s in rows)
    finally:
        engine.dispose()
    out = {
        "acknowledged": len(acked),
        "found": sum(1 for k in acked if found[k] > 0),
        "missing": sum(1 for k in acked if found[k] == 0),
        "duplicated": sum(1 for n in found.values() if n > 1),
        "rows": sum(found.values()),
        # attempts whose stored seqs are not exactly 1..max (a hole or a repeat)
        "gapped": sum(
            1
            for a in ids
            if sorted(s for (x, s) in found if x == a)
            != list(range(1, 1 + max((s for (x, s) in found if x == a), default=0)))
        ),
    }
    report.db = out
    return out
