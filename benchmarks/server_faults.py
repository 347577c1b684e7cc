"""Fault drills at a larger size than CI's; results go to ``docs/reliability.md``.

    python -m benchmarks.server_faults [--terminals 200] [--duration 24] [--no-pg-restart]

Drills (each on a fresh database, loopback only, bounded in time):
SIGKILL of the single SQLite server process (restarted after 2 s); SIGKILL
of one of two PostgreSQL workers (uvicorn's supervisor restarts it); SIGKILL
of the whole two-worker PostgreSQL server (restarted after 2 s); a
PostgreSQL restart (``pg_ctlcluster``) under load; every client socket cut
twice. Each is checked as in ``tests/scaleout/test_faults.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from benchmarks.report import machine_line
from exam_server.loadtest.faults import (
    DrillResult,
    can_restart_postgres,
    cut_clients,
    mark_cut,
    restart_postgres,
    run_drill,
)
from exam_server.loadtest.report import LoadReport
from exam_server.loadtest.runner import LoadConfig
from exam_server.loadtest.seeding import seed_load_exam
from exam_server.scaleout.cluster import WorkerCluster
from exam_server.scaleout.migrate import temporary_schema
from exam_server.settings import Settings
from exam_server.testing import free_port

SECRET = "fault-drill-secret-key-0123456789-abcdefghij"
DOC = Path(__file__).resolve().parent.parent / "docs" / "reliability.md"
GRACE = 5.0
PRESENCE = 1.0
TIME_LIMIT = 3 * 3600.0
TOLERANCE = PRESENCE + 1.0

Fault = Callable[[WorkerCluster, LoadReport], Awaitable[str]]


async def drill(
    name: str, url: str, workers: int, fault: Fault, n: int, duration: float
) -> DrillResult:
    seed, creds = seed_load_exam(url, SECRET, n, time_limit_seconds=TIME_LIMIT)
    s = Settings(
        database_url=url,
        secret_key=SECRET,
        port=free_port(),
        grace_seconds=GRACE,
        presence_interval_seconds=PRESENCE,
        scrypt_n=2**8,
    )
    cluster = WorkerCluster(s, workers=workers).start()
    try:
        cfg = LoadConfig(
            url=cluster.url, terminals=n, pace=1.0, login_window=4.0, duration=duration
        )

        async def inject(rep: LoadReport) -> str:
            return await fault(cluster, rep)

        return await run_drill(
            name,
            cfg,
            creds,
            seed.session_token,
            url,
            inject,
            fault_at=duration / 3,
            time_limit=TIME_LIMIT,
            grace=GRACE,
            tolerance=TOLERANCE,
        )
    finally:
        cluster.stop()


async def kill_restart(c: WorkerCluster, rep: LoadReport) -> str:
    mark_cut(rep)
    c.kill()
    await asyncio.sleep(2.0)
    await asyncio.to_thread(c.start)
    return "SIGKILL of the whole server, restarted 2 s later"


async def kill_one_worker(c: WorkerCluster, rep: LoadReport) -> str:
    mark_cut(rep)
    return f"SIGKILL of 1 of 2 workers (pid {c.kill_worker(0)}); supervisor restarts it"


async def pg_restart(c: WorkerCluster, rep: LoadReport) -> str:
    took = await asyncio.to_thread(restart_postgres)
    return f"pg_ctlcluster restart ({took:.1f} s until it accepted connections)"


async def cut_twice(c: WorkerCluster, rep: LoadReport) -> str:
    a = cut_clients(rep)
    await asyncio.sleep(2.0)
    b = cut_clients(rep)
    return f"all client sockets aborted twice ({a}, then {b})"


async def run_all(
    n: int, duration: float, pg_restart_ok: bool, only: str | None = None
) -> list[DrillResult]:
    out: list[DrillResult] = []
    if only:
        url_kind = "sqlite" if "sqlite" in only.lower() else "pg"
        fault = {"kill one": kill_one_worker, "kill all": kill_restart, "restart": pg_restart}
        chosen = next((f for k, f in fault.items() if k in only), kill_restart)
        if url_kind == "sqlite":
            with tempfile.TemporaryDirectory() as d:
                out.append(await drill(only, f"sqlite:///{d}/o.db", 0, chosen, n, duration))
        else:
            with temporary_schema(prefix="drill") as url:
                out.append(await drill(only, url, 2, chosen, n, duration))
        return out
    with tempfile.TemporaryDirectory() as d:
        out.append(
            await drill(
                "SQLite, 1 process: SIGKILL", f"sqlite:///{d}/a.db", 0, kill_restart, n, duration
            )
        )
        out.append(
            await drill("SQLite: clients cut", f"sqlite:///{d}/b.db", 0, cut_twice, n, duration)
        )
    with temporary_schema(prefix="drill") as url:
        out.append(
            await drill("PostgreSQL, 2 workers: SIGKILL one", url, 2, kill_one_worker, n, duration)
        )
    with temporary_schema(prefix="drill") as url:
        out.append(
            await drill("PostgreSQL, 2 workers: SIGKILL all", url, 2, kill_restart, n, duration)
        )
    if pg_restart_ok:
        with temporary_schema(prefix="drill") as url:
            out.append(
                await drill(
                    "PostgreSQL, 2 workers: PostgreSQL restart", url, 2, pg_restart, n, duration
                )
            )
    return out


def markdown(results: list[DrillResult], n: int, duration: float, cmd: str) -> str:
    lines = [
        machine_line(),
        "",
        f"{n} terminals, one answer per second each (±50 %), logins over 4 s, "
        f"{duration:.0f} s per drill, fault at {duration / 3:.0f} s; grace {GRACE:.0f} s, "
        f"presence flush every {PRESENCE:.0f} s; remaining-time tolerance {TOLERANCE:.1f} s.",
        "",
        "| drill | fault | acked | in DB | missing | dup. | holes | reconnects | "
        "resumed right | max clock error s | p99 ack ms | errors seen by terminals | pass |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        row = r.to_row()
        errs = ", ".join(f"{k} {v}" for k, v in sorted(row["errors"].items())) or "none"
        lines.append(
            f"| {row['drill']} | {row['fault']} | {row['acked']} | {row['found']} | "
            f"{row['missing']} | {row['duplicated']} | {row['gapped']} | {row['reconnects']} | "
            f"{row['resumed_ok']} | {row['max_clock_error_s']} | {row['p99_ms']} | {errs} | "
            f"{'yes' if row['passed'] else '**no**'} |"
        )
    lines += ["", f"`{cmd}`"]
    return "\n".join(lines)


def write_doc(md: str) -> None:
    write_reliability_section("drills", md)


def write_reliability_section(name: str, md: str) -> None:
    """Put ``md`` between the ``<!-- {name}:start/end -->`` markers of ``DOC``
    (appending the markers, or making the file, when missing)."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = DOC.read_text() if DOC.exists() else "# Reliability\n"
    if start not in text:
        text += f"\n{start}\n{end}\n"
    text = re.sub(
        re.escape(start) + ".*?" + re.escape(end),
        lambda _m: f"{start}\n{md}\n{end}",
        text,
        flags=re.S,
    )
    DOC.write_text(text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.server_faults")
    ap.add_argument("--terminals", type=int, default=200)
    ap.add_argument("--duration", type=float, default=24.0)
    ap.add_argument("--no-pg-restart", action="store_true")
    ap.add_argument("--only", help="run only the drills whose name contains this (no doc)")
    args = ap.parse_args(argv)
    ok = not args.no_pg_restart and can_restart_postgres()
    results = asyncio.run(run_all(args.terminals, args.duration, ok, args.only))
    if args.only:
        print(json.dumps([r.to_row() for r in results], indent=1, default=str))
        return 0 if all(r.passed for r in results) else 1
    cmd = (
        f"python -m benchmarks.server_faults --terminals {args.terminals} "
        f"--duration {args.duration:g}"
    )
    md = markdown(results, args.terminals, args.duration, cmd)
    write_doc(md)
    print(md)
    print(json.dumps([r.to_row() for r in results], indent=1, default=str))
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
