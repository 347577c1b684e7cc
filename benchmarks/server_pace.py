"""Exam pace and the login rush (``python -m benchmarks.server pace|rush|
pace-postgres``): the run and its section's table."""

from __future__ import annotations

import asyncio
import json
import resource
from typing import Any

from benchmarks.meters import (
    PgWalMeter,
    cpu_seconds,
    load_avg,
    wal_meter,
)
from benchmarks.report import machine_line
from benchmarks.server_common import fmt, seeded, server_health, settings_for, wait_prepared
from exam_server.loadtest.report import LoadReport, percentiles_ms, verify_in_database
from exam_server.loadtest.runner import LoadConfig, run_load
from exam_server.scaleout.cluster import WorkerCluster


async def pace_run(
    url: str,
    n: int,
    pace: float,
    window: float,
    duration: float,
    workers: int = 0,
    freeze_gc: bool = True,
) -> LoadReport:
    """workers: 0 = one server process (SQLite's only shape), N = N uvicorn workers;
    freeze_gc: the load generator freezes its own heap (LoadConfig.freeze_gc)."""
    token, creds = seeded(url, n)
    cluster = WorkerCluster(settings_for(url), workers=workers).start()
    try:
        prep_cpu0 = cpu_seconds(cluster.worker_pids())
        prep = wait_prepared(url, n)
        t0 = cpu_seconds(cluster.worker_pids())
        cfg = LoadConfig(
            url=cluster.url,
            terminals=n,
            pace=pace,
            login_window=window,
            duration=duration,
            freeze_gc=freeze_gc,
        )
        meter = wal_meter(url)
        rep = LoadReport()

        async def steady_meter() -> None:
            # From when everyone is logged in and answering: answers, clocks
            # and presence marks, not the logins.
            await asyncio.sleep(window + pace)
            assert meter is not None
            meter.start()
            rep.wal_from = rep.answers_acked  # type: ignore[attr-defined]

        metering = None if meter is None else asyncio.create_task(steady_meter())
        g0 = resource.getrusage(resource.RUSAGE_SELF)
        await run_load(cfg, creds, token, report=rep)
        g1 = resource.getrusage(resource.RUSAGE_SELF)
        if metering is not None and metering.done() and meter is not None:
            rep.wal_bytes = meter.stop()  # type: ignore[attr-defined]
            if isinstance(meter, PgWalMeter):
                rep.wal_kind = "PostgreSQL WAL (the run's schema, pg_walinspect)"  # type: ignore[attr-defined]
                rep.wal_fpi = meter.fpi_bytes  # type: ignore[attr-defined]
                rep.wal_by_relation = meter.by_relation  # type: ignore[attr-defined]
                rep.attempt_updates = meter.attempt_updates  # type: ignore[attr-defined]
        # The run only (wall seconds of the run and a margin), not the preparation before it.
        rep.health = server_health(cluster.url, rep.wall_seconds + 2.0)  # type: ignore[attr-defined]
        print("server /healthz after the run:", json.dumps(rep.health))  # type: ignore[attr-defined]
        rep.server_cpu = cpu_seconds(cluster.worker_pids()) - t0  # type: ignore[attr-defined]
        rep.generator_cpu = (g1.ru_utime + g1.ru_stime) - (g0.ru_utime + g0.ru_stime)  # type: ignore[attr-defined]
        rep.prepare = (prep, t0 - prep_cpu0)  # type: ignore[attr-defined]
        rep.generator_froze = freeze_gc  # type: ignore[attr-defined]
    finally:
        cluster.stop()
    verify_in_database(rep, url)
    return rep


def stall_places(health: dict[str, Any]) -> str:
    """The stalls the server's watchdog recorded: blocked ms and the innermost
    frame of the loop thread (file:line in function)."""
    out = []
    for st in health.get("stalls", []):
        frames = [ln.strip() for ln in str(st.get("where", "")).splitlines() if ln.strip()]
        files = [ln for ln in frames if ln.startswith("File ")]
        inner = files[-1] if files else "?"
        others = ", ".join(st.get("other_threads", [])) or "none running"
        out.append(
            f"{st.get('blocked_ms', 0):.0f} ms in `{inner.replace('|', '/')}` "
            f"(other threads: {others.replace('|', '/')})"
        )
    return "; ".join(out) or "none"


def slow_seconds(rep: LoadReport, threshold_ms: float = 100.0) -> str:
    """When the slow acks happened: ``second after start: count`` of acks over
    the threshold, the worst ten seconds (to tell a periodic stall from a rush)."""
    from collections import Counter

    slow = Counter(
        int(t - rep.started_at) for t, lat in rep.ack_latency if lat * 1000.0 > threshold_ms
    )
    return ", ".join(f"{sec} s: {n}" for sec, n in sorted(slow.most_common(10))) or "none"


def pace_markdown(
    rep: LoadReport,
    n: int,
    pace: float,
    window: float,
    duration: float,
    store: str = "SQLite (WAL, synchronous=FULL), one server process",
) -> str:
    steady_from = rep.started_at + window + pace  # everyone logged in and answering
    during = rep.latency_ms(rep.started_at, rep.started_at + window)
    steady = rep.latency_ms(steady_from, None)
    db = rep.db or {}
    prep = getattr(rep, "prepare", (0.0, 0.0))
    health: dict[str, Any] = getattr(rep, "health", {})
    lag = {"p50": 0.0, "p99": 0.0, "max": 0.0, **health.get("loop_lag_ms", {})}
    gcp = health.get("gc_pause_ms", {})
    batches = health.get("commit_batches", {})
    freezer = health.get("gc_freezer", {})
    slowest = batches.get("slowest", {})
    glag = rep.generator.get("loop_lag_ms", {})
    ggc = rep.generator.get("gc_pause_ms", {})
    return "\n".join(
        [
            f"{machine_line()}",
            "",
            f"{store}; {n} terminals log in "
            f"uniformly over {window:.0f} s (real scrypt n=2^14 is not on this path: "
            f"candidates log in with a PIN checked by HMAC) and answer every {pace:.0f} s "
            f"±50 % for {duration:.0f} s. The server first prepares every candidate's form "
            "(as when a session opens before the rush), then the logins start. Load "
            "generator in another process on the same 2 cores"
            + (
                " (it freezes its own heap every 5 s, as the server does)"
                if getattr(rep, "generator_froze", True)
                else " (its garbage collector left alone: `--no-generator-freeze`)"
            )
            + "; load average at the end "
            f"(1/5/15 min): {load_avg()}.",
            "",
            "| figure | value |",
            "| --- | --- |",
            f"| forms prepared before the rush (wall s / server CPU s) | "
            f"{prep[0]:.0f} / {prep[1]:.0f} |",
            f"| connections held (max) | {rep.connections_max} |",
            f"| logins ok / failed | {rep.logins_ok} / {rep.login_failures} |",
            f"| logins/s during the window | {rep.logins_per_second:.1f} |",
            f"| login latency p50/p95/p99/max ms | {fmt(percentiles_ms(rep.login_latency))} |",
            f"| answers acknowledged | {rep.answers_acked} ({rep.answers_per_second:.1f}/s) |",
            f"| ack latency during the login window, ms p50/p95/p99/max | {fmt(during)} |",
            f"| ack latency after it (steady), ms p50/p95/p99/max | {fmt(steady)} |",
            f"| ack latency, whole run, ms p50/p95/p99/max | {fmt(rep.latency_ms())} |",
            f"| server CPU seconds (user+sys) | {getattr(rep, 'server_cpu', 0.0):.1f} |",
            f"| load generator CPU seconds | {getattr(rep, 'generator_cpu', 0.0):.1f} |",
            f"| wall seconds of the run | {rep.wall_seconds:.1f} |",
            f"| errors by code | {json.dumps(dict(rep.errors)) or '{}'} |",
            f"| acks over 100 ms, by second of the run (worst 10) | {slow_seconds(rep)} |",
            f"| load generator's own event-loop lag ms p99/max; GC pause ms max | "
            f"{glag.get('p99', 0.0):.1f} / {glag.get('max', 0.0):.1f}; "
            f"{ggc.get('max', 0.0):.1f} |",
            f"| server event-loop lag ms p50/p99/max | "
            f"{lag['p50']:.1f} / {lag['p99']:.1f} / {lag['max']:.1f} |",
            f"| server GC pauses ms p99/max; full collections | "
            f"{gcp.get('p99', 0.0):.1f} / {gcp.get('max', 0.0):.1f}; "
            f"{health.get('gc_collections', {}).get('gen2', '?')} |",
            f"| GC freezer: freezes; maintenance passes (full unfrozen collections) | "
            f"{freezer.get('freezes', '?')}; {freezer.get('maintenances', '?')} |",
            f"| event-loop stalls over 250 ms: where the loop was | {stall_places(health)} |",
            f"| commit batches: count, mean size, slowest ms (its writer CPU ms; in COMMIT ms) | "
            f"{batches.get('n', 0)}, {batches.get('mean_size', 0.0)}, "
            f"{batches.get('max_ms', 0.0)} ({slowest.get('writer_cpu_ms', '?')}; "
            f"{slowest.get('commit_ms', '?')}) |",
            f"| acknowledged / found in DB / missing / duplicated | "
            f"{db.get('acknowledged')} / {db.get('found')} / {db.get('missing')} / "
            f"{db.get('duplicated')} |",
            *_wal_row(rep),
        ]
    )


def _wal_row(rep: LoadReport) -> list[str]:
    wal = getattr(rep, "wal_bytes", None)
    if wal is None:
        return []
    answers = rep.answers_acked - getattr(rep, "wal_from", 0)
    what = getattr(rep, "wal_kind", "SQLite WAL")
    rows = [
        f"| {what} written after the login window (answers, clocks, presence marks): "
        f"MB; per answer acknowledged then | {wal / 1e6:.1f}; {wal / max(1, answers):,.0f} "
        "bytes |"
    ]
    fpi = getattr(rep, "wal_fpi", None)
    if fpi is not None:
        rows.append(
            "| … of which full-page images (each page's first change after the window's "
            f"checkpoint): per answer | {fpi / max(1, answers):,.0f} bytes |"
        )
    by_relation = getattr(rep, "wal_by_relation", None)
    if by_relation:
        where = ", ".join(f"{k} {v / max(1, answers):,.0f}" for k, v in by_relation.items())
        rows.append(
            f"| … by relation (records, commit records apart): bytes per answer | {where} |"
        )
    hot = getattr(rep, "attempt_updates", ())
    if hot:
        rows.append(
            f"| updates of `exam_attempt` on their own page (HOT), of all "
            f"| {hot[0]:,} of {hot[1]:,} |"
        )
    return rows
