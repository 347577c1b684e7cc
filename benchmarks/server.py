"""Exam-server load benchmarks: exam pace, login rush, saturation vs a bare echo,
PostgreSQL with 1 and 2 workers. Writes the "Exam server" sections of
``docs/benchmarks.md``.

    python -m benchmarks.server [pace|rush|saturation|postgres ...] [--terminals N]
        [--duration S] [--pace S] [--login-window S]

Everything runs on loopback: the server in a subprocess, the load generator
(``exam_server.loadtest``, uvloop) in this process. Sizes are bounded by
the options; the defaults are the sizes reported in the doc. The runs live in
``server_pace`` and ``server_saturation``, what they share in
``server_common``; this module holds the PostgreSQL comparison and the
command line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile

from benchmarks.report import machine_line
from benchmarks.report import write_section as _write_section
from benchmarks.server_common import raise_fd_limit, seeded, settings_for, wait_prepared
from benchmarks.server_pace import pace_markdown, pace_run
from benchmarks.server_saturation import _bytes, saturation, saturation_server
from exam_server.loadtest.report import verify_in_database
from exam_server.loadtest.runner import LoadConfig, run_load
from exam_server.scaleout.cluster import WorkerCluster


async def postgres(clients: int, seconds: float, n_pace: int, pace: float, dur: float) -> str:
    from exam_server.scaleout.migrate import temporary_schema

    lines = [
        machine_line(),
        "",
        "PostgreSQL 15 on the same machine (fsync on, synchronous_commit on), "
        "the same code with N uvicorn worker processes sharing one socket; live events "
        "across workers by LISTEN/NOTIFY; per-attempt advisory lock on every answer. "
        f"Saturation: {clients} closed-loop terminals for {seconds:.0f} s. Exam pace: "
        f"{n_pace} terminals answering every {pace:.0f} s ±50 % for {dur:.0f} s "
        "(logins over the first 20 s).",
        "",
        "| workers | saturation answers/s | per server CPU s | PostgreSQL CPU s per 1000 "
        "answers | p99 ms | exam-pace p99 ms | WAL bytes per answer (saturation) "
        "| acked = in DB | errors |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for workers in (1, 2):
        with temporary_schema(prefix="bench") as url:
            sat = await saturation_server(url, clients, seconds, workers)
        with temporary_schema(prefix="bench") as url:
            token, creds = seeded(url, n_pace)
            cluster = WorkerCluster(settings_for(url, scrypt_n=2**8), workers=workers).start()
            try:
                wait_prepared(url, n_pace)
                cfg = LoadConfig(
                    url=cluster.url, terminals=n_pace, pace=pace, login_window=20.0, duration=dur
                )
                rep = await run_load(cfg, creds, token)
            finally:
                cluster.stop()
            verify_in_database(rep, url)
        db = rep.db or {}
        lines.append(
            f"| {workers} | {sat['answers_per_s']:.0f} | {sat['per_cpu_s']:.0f} | "
            f"{1000 * sat['db_cpu'] / max(1.0, sat['answers_per_s'] * seconds):.2f} | "
            f"{sat['lat']['p99']:.1f} | {rep.latency_ms()['p99']:.1f} | "
            f"{_bytes(sat['wal_per_answer'])} | "
            f"{(sat['db'] or {}).get('acknowledged')} = {(sat['db'] or {}).get('found')}; "
            f"{db.get('acknowledged')} = {db.get('found')} | "
            f"{json.dumps({**sat['errors'], **dict(rep.errors)})} |"
        )
    return "\n".join(lines)


def write_section(name: str, markdown: str) -> None:
    """The section with its own heading, like the other benchmarks' sections."""
    _write_section(name, f"## {name}\n\n{markdown}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.server")
    ap.add_argument("what", nargs="*", default=["pace", "saturation", "postgres"])
    ap.add_argument("--terminals", type=int, default=2000)
    ap.add_argument("--pace", type=float, default=30.0)
    ap.add_argument("--login-window", type=float, default=60.0)
    ap.add_argument("--duration", type=float, default=150.0)
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument(
        "--no-generator-freeze",
        action="store_true",
        help="pace: the load generator leaves its garbage collector alone (to see its cost)",
    )
    ap.add_argument(
        "--workers",
        default="1,2",
        help="pace-postgres: worker counts to run, comma-separated (default 1,2)",
    )
    ap.add_argument(
        "--no-doc", action="store_true", help="print the sections, leave docs/benchmarks.md"
    )
    args = ap.parse_args(argv)
    if args.no_doc:
        global write_section
        write_section = lambda name, markdown: None  # noqa: E731
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    limit = raise_fd_limit(2 * args.terminals + 1024)
    print(f"RLIMIT_NOFILE soft limit {limit}")
    for what in args.what:
        if what in ("pace", "rush"):
            with tempfile.TemporaryDirectory() as d:
                rep = asyncio.run(
                    pace_run(
                        f"sqlite:///{d}/pace.db",
                        args.terminals,
                        args.pace,
                        args.login_window,
                        args.duration,
                        freeze_gc=not args.no_generator_freeze,
                    )
                )
            md = pace_markdown(rep, args.terminals, args.pace, args.login_window, args.duration)
            cmd = (
                f"python -m benchmarks.server pace --terminals {args.terminals} --pace "
                f"{args.pace:g} --login-window {args.login_window:g} --duration {args.duration:g}"
            )
            write_section("Exam server: exam pace and login rush (SQLite)", md + f"\n\n`{cmd}`")
            print(md)
        elif what == "pace-postgres":
            from exam_server.scaleout.migrate import temporary_schema

            parts = []
            for workers in [int(w) for w in args.workers.split(",")]:
                with temporary_schema(prefix="pace") as url:
                    rep = asyncio.run(
                        pace_run(
                            url,
                            args.terminals,
                            args.pace,
                            args.login_window,
                            args.duration,
                            workers=workers,
                            freeze_gc=not args.no_generator_freeze,
                        )
                    )
                store = (
                    f"PostgreSQL 15 on the same machine, {workers} uvicorn worker process"
                    f"{'es' if workers > 1 else ''} (server CPU: the workers summed; event-loop "
                    "lag, GC, stall and commit figures: one worker's /healthz)"
                )
                parts.append(
                    f"### {workers} worker{'s' if workers > 1 else ''}\n\n"
                    + pace_markdown(
                        rep, args.terminals, args.pace, args.login_window, args.duration, store
                    )
                )
            cmd = (
                f"python -m benchmarks.server pace-postgres --terminals {args.terminals} --pace "
                f"{args.pace:g} --login-window {args.login_window:g} --duration {args.duration:g}"
            )
            md = "\n\n".join(parts)
            write_section(
                "Exam server: exam pace and login rush (PostgreSQL, 1 and 2 workers)",
                md + f"\n\n`{cmd}`",
            )
            print(md)
        elif what == "saturation":
            md = asyncio.run(saturation(args.clients, args.seconds, args.rounds))
            cmd = (
                f"python -m benchmarks.server saturation --clients {args.clients} "
                f"--seconds {args.seconds:g} --rounds {args.rounds}"
            )
            write_section("Exam server: saturation vs a bare echo", md + f"\n\n`{cmd}`")
            print(md)
        elif what == "postgres":
            md = asyncio.run(postgres(args.clients, args.seconds, 500, args.pace, 60.0))
            cmd = (
                f"python -m benchmarks.server postgres --clients {args.clients} "
                f"--seconds {args.seconds:g} --pace {args.pace:g}"
            )
            write_section("Exam server: PostgreSQL, 1 and 2 workers", md + f"\n\n`{cmd}`")
            print(md)
        else:
            ap.error(f"unknown benchmark {what!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
