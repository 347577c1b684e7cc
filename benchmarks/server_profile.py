"""Where the exam server's CPU goes per answer: py-spy on a saturated server.

    pip install py-spy   # not a project dependency
    python -m benchmarks.server_profile [--clients 100] [--seconds 8]

Seeds a SQLite exam, waits for the forms to be prepared, logs everyone in,
then samples the server process with py-spy (100 Hz, all threads, idle time
excluded) while closed-loop terminals answer, and writes the share of the
samples under each of the server's own functions to ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from benchmarks.meters import cpu_seconds
from benchmarks.report import machine_line
from benchmarks.report import write_section as _write_section
from benchmarks.server_common import seeded, server_health, settings_for, wait_prepared
from benchmarks.server_saturation import saturation_config
from exam_server.loadtest.report import LoadReport
from exam_server.loadtest.runner import run_load
from exam_server.scaleout.cluster import WorkerCluster

#: Frames we attribute samples to (inclusive share), in the order shown.
WATCH = [
    ("candidate frame handling (all)", "candidate_endpoint (exam_server/terminal.py"),
    ("answer action (all)", "answer (exam_server/attempts/actions.py"),
    ("state → JSON (snapshots)", "state_json (exam_server/attempts/storage.py"),
    ("engine: cat.record", "record (cat_engine/engine.py"),
    ("engine: ability estimate inside record", "_estimate_live (cat_engine/engine.py"),
    ("engine: running_points", "running_points (cat_engine/engine.py"),
    ("response hash chain", "response_hash (exam_server/audit.py"),
    ("group commit (thread, incl. fsync)", "_commit_batch (exam_server/durability.py"),
    ("  of which COMMIT", "do_commit (sqlalchemy/engine/default.py"),
    ("event bus publish", "publish (exam_server/events.py"),
    ("proctoring detectors", "exam_server/proctoring/"),
    ("WebSocket send", "send_text (starlette/websockets.py"),
]


#: Exclusive buckets: each sample goes to the first bucket whose needle is in
#: its stack (so the rows add up to 100 % of the busy samples).
IDLE = ("Condition.wait (threading.py", "Queue.get (queue.py")
BUCKETS = [
    ("COMMIT (the fsync is inside)", ("do_commit (sqlalchemy",)),
    ("group commit: stale-copy guard (SELECT)", ("check_attempt_guards",)),
    ("group commit: driver executemany and bookkeeping", ("_commit_batch (exam_server",)),
    ("hand-off to and from the writer thread", ("_enqueue (exam_server", "_deliver (exam_server")),
    ("engine: record", ("record (cat_engine/engine.py",)),
    ("state → JSON (snapshots)", ("state_json (exam_server",)),
    ("response hash chain", ("response_hash (exam_server",)),
    ("engine: running_points (board)", ("running_points (cat_engine",)),
    ("proctoring detectors", ("exam_server/proctoring/",)),
    ("live channels", ("exam_server/live/",)),
    ("sending frames", ("TerminalConnection.send",)),
    ("parsing frames", ("parse_client (exam_server",)),
    (
        "rest of the answer action",
        ("answer (exam_server/attempts/actions.py", "store_response (exam_server"),
    ),
    ("rest of the candidate endpoint", ("candidate_endpoint (exam_server",)),
    ("uvicorn, Starlette, websockets, asyncio (the echo's share)", ("",)),
]


def stacks(raw: Path, busy_only: bool = False) -> Iterator[tuple[str, int]]:
    """(stack, samples) of py-spy's raw output; busy_only leaves out the
    threads' idle waits (:data:`IDLE`)."""
    for line in raw.read_text().splitlines():
        if " " not in line.strip():
            continue
        stack, n_s = line.strip().rsplit(" ", 1)
        if busy_only and any(k in stack for k in IDLE):
            continue
        yield stack, int(n_s)


def profile(raw: Path, watch: list[tuple[str, str]] = WATCH) -> tuple[int, dict[str, float]]:
    """Samples in all, and the share of them with each row's function on the stack."""
    total = 0
    incl: Counter[str] = Counter()
    for stack, n in stacks(raw):
        total += n
        for label, needle in watch:
            if needle in stack:
                incl[label] += n
    return total, {label: incl[label] / max(1, total) for label, _ in watch}


def top_table(top: list[tuple[str, float]]) -> list[str]:
    """Markdown lines: the functions with the most self time."""
    lines = ["", "Functions with the most self time (busy samples):", ""]
    lines += ["| function | share |", "| --- | --- |"]
    return lines + [f"| `{fn}` | {share:.1%} |" for fn, share in top]


def buckets(raw: Path) -> dict[str, float]:
    """Exclusive shares of the busy samples (idle thread waits left out)."""
    count: Counter[str] = Counter()
    for stack, n in stacks(raw, busy_only=True):
        label = next(lb for lb, keys in BUCKETS if any(k in stack for k in keys))
        count[label] += n
    busy = max(1, sum(count.values()))
    return {label: count[label] / busy for label, _ in BUCKETS}


async def run(
    clients: int, seconds: float, spy: str, raw_out: Path | None = None, gil: bool = False
) -> str:
    with tempfile.TemporaryDirectory() as d:
        url = f"sqlite:///{d}/prof.db"
        token, creds = seeded(url, clients)
        s = settings_for(url, messages_per_second=1e5, message_burst=100000, scrypt_n=2**8)
        cluster = WorkerCluster(s, workers=0).start()
        try:
            wait_prepared(url, clients)
            pid = cluster.worker_pids()[0]
            rep = LoadReport()
            cfg = saturation_config(cluster.url, clients)
            task = asyncio.create_task(run_load(cfg, creds, token, report=rep))
            while rep.connections_open < clients:
                await asyncio.sleep(0.1)
            await asyncio.sleep(1.0)
            raw = Path(d) / "raw.txt"
            a0, c0, t0 = rep.answers_acked, cpu_seconds([pid]), time.time()
            proc = await asyncio.create_subprocess_exec(
                spy, "record", "-p", str(pid), "-d", str(int(seconds)), "-r", "100",
                "-f", "raw", "-o", str(raw), "--nonblocking", *(["--gil"] if gil else []),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            await proc.wait()
            answers, cpu, wall = rep.answers_acked - a0, cpu_seconds([pid]) - c0, time.time() - t0
            health = server_health(cluster.url, seconds)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):  # cut on purpose
                await task
            total, shares = profile(raw)
            exclusive = buckets(raw)
            top = top_functions(raw, 25)
            if raw_out is not None:
                shutil.copyfile(raw, raw_out)
        finally:
            cluster.stop()
    lines = [
        machine_line(),
        "",
        f"{clients} closed-loop terminals on one SQLite server process; py-spy sampled "
        f"{total} stacks over {wall:.1f} s while {answers} answers were acknowledged "
        f"({answers / wall:.0f}/s) using {cpu:.1f} s of server CPU: "
        f"**{1000 * cpu / max(1, answers):.2f} ms of server CPU per answer** "
        f"({answers / max(cpu, 1e-9):.0f} answers per server CPU second). Share of the "
        "server's samples under each function (inclusive, so rows overlap):",
        "",
        "| where | share of server samples |",
        "| --- | --- |",
    ]
    lines += [f"| {label} | {share:.1%} |" for label, share in shares.items()]
    per_answer = 1e6 * cpu / max(1, answers)
    batches = health.get("commit_batches", {})
    lines += [
        "",
        "The same samples split exclusively (each sample counted once, under the first "
        "row whose function is on its stack; idle thread waits left out), with the "
        "share turned into µs of server CPU per answer. py-spy counts a thread that waits "
        "in fsync, or for the GIL after the database returns, as busy, so the group-commit "
        "rows overstate their CPU: the writer thread's own CPU, measured by the server "
        "(`/healthz`, thread CPU time), was "
        f"**{batches.get('writer_cpu_us_per_write', '?')} µs per answer** in groups of "
        f"{batches.get('mean_size', '?')}:",
        "",
        "| where (exclusive) | share of busy samples | ≈ µs CPU per answer |",
        "| --- | --- | --- |",
    ]
    lines += [
        f"| {label} | {share:.1%} | {share * per_answer:.0f} |"
        for label, share in exclusive.items()
    ]
    lines += top_table(top)
    lines += [
        "",
        f"`python -m benchmarks.server_profile --clients {clients} --seconds {seconds:g}`",
    ]
    return "\n".join(lines)


#: Inclusive rows for the login profile: where a login plus its WebSocket
#: ``hello`` spends the server's CPU.
LOGIN_WATCH = [
    ("POST /api/candidate/login (all)", "candidate_login (exam_server/admin/logins.py"),
    ("  credentials check (check_login)", "check_login (exam_server/attempts/login.py"),
    (
        "  attempt loaded from the database (load_attempt)",
        "load_attempt (exam_server/attempts/storage.py",
    ),
    ("  terminal bound (bind_terminal)", "bind_terminal (exam_server/attempts/login.py"),
    ("  token signed", "candidate_token (exam_server/auth.py"),
    ("candidate WebSocket hello (all)", "_authenticate (exam_server/terminal.py"),
    ("  token read", "read_candidate (exam_server/auth.py"),
    ("  clock started (start_clock)", "start_clock (exam_server/attempts/timing.py"),
    ("  state frame built", "state_frame (exam_server/attempts/frames.py"),
    ("  frames sent", "TerminalConnection.send"),
    ("group commit (thread)", "_commit_batch (exam_server/durability.py"),
    ("SQLAlchemy / SQLModel (anywhere)", "sqlalchemy/"),
    ("live events and proctoring", "exam_server/proctoring/"),
    ("garbage collection", "gc_collect"),
]


def top_functions(raw: Path, n: int = 15) -> list[tuple[str, float]]:
    """The ``n`` functions with the most samples on top of the stack (self time)."""
    count: Counter[str] = Counter()
    for stack, n in stacks(raw, busy_only=True):
        count[stack.rsplit(";", 1)[-1]] += n
    total = sum(count.values())
    return [(fn, c / max(1, total)) for fn, c in count.most_common(n)]


async def run_logins(terminals: int, window: float, spy: str, postgres: bool = False) -> str:
    """A login rush with no answers: CPU per login + connect, and where it goes.
    ``postgres``: the same on a fresh PostgreSQL schema (one worker)."""
    from exam_server.loadtest.runner import LoadConfig
    from exam_server.scaleout.migrate import temporary_schema

    with contextlib.ExitStack() as stack:
        d = stack.enter_context(tempfile.TemporaryDirectory())
        url = (
            stack.enter_context(temporary_schema(prefix="prof"))
            if postgres
            else f"sqlite:///{d}/login.db"
        )
        token, creds = seeded(url, terminals)
        cluster = WorkerCluster(settings_for(url), workers=0).start()
        try:
            wait_prepared(url, terminals)
            pid = cluster.worker_pids()[0]
            rep = LoadReport()
            cfg = LoadConfig(
                url=cluster.url,
                terminals=terminals,
                pace=3600.0,  # nobody answers: only logins and hellos are measured
                login_window=window,
                duration=window + 15.0,
            )
            raw = Path(d) / "raw.txt"
            c0, t0 = cpu_seconds([pid]), time.time()
            proc = await asyncio.create_subprocess_exec(
                spy, "record", "-p", str(pid), "-d", str(int(window + 5)), "-r", "100",
                "-f", "raw", "-o", str(raw), "--nonblocking",
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            task = asyncio.create_task(run_load(cfg, creds, token, report=rep))
            await proc.wait()
            cpu, wall = cpu_seconds([pid]) - c0, time.time() - t0
            connected = rep.connections_max
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            total, shares = profile(raw, LOGIN_WATCH)
            top = top_functions(raw)
        finally:
            cluster.stop()
    per_login = 1000 * cpu / max(1, connected)
    lines = [
        machine_line(),
        "",
        f"{terminals} terminals log in over {window:.0f} s and open their WebSocket (no "
        f"answers); py-spy sampled {total} stacks over {wall:.1f} s; {connected} connected "
        f"using {cpu:.1f} s of server CPU: **{per_login:.2f} ms of server CPU per login "
        "+ connect**. Inclusive share of the server's samples:",
        "",
        "| where | share of server samples |",
        "| --- | --- |",
    ]
    lines += [f"| {label} | {share:.1%} |" for label, share in shares.items()]
    lines += top_table(top)
    lines += [
        "",
        f"`python -m benchmarks.server_profile --logins {terminals} --window {window:g}"
        f"{' --postgres' if postgres else ''}`",
    ]
    return "\n".join(lines)


def write_section(name: str, markdown: str) -> None:
    """The section with its own heading, like the other benchmarks' sections."""
    _write_section(name, f"## {name}\n\n{markdown}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.server_profile")
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--logins", type=int, default=0, help="profile a login rush of N instead")
    ap.add_argument("--window", type=float, default=30.0)
    ap.add_argument("--postgres", action="store_true", help="logins: on PostgreSQL")
    ap.add_argument("--no-doc", action="store_true", help="print only; docs unchanged")
    ap.add_argument("--raw-out", type=Path, help="answers: keep py-spy's raw stacks in this file")
    ap.add_argument(
        "--gil",
        action="store_true",
        help="answers: sample only the thread holding the GIL (Python's own CPU, no waits)",
    )
    args = ap.parse_args(argv)
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        print("py-spy is not installed (pip install py-spy); nothing measured")
        return 0
    if args.logins:
        md = asyncio.run(run_logins(args.logins, args.window, spy, args.postgres))
        where = " (PostgreSQL)" if args.postgres else ""
        if not args.no_doc:
            write_section(f"Exam server: where the CPU goes per login{where}", md)
        print(md)
        return 0
    md = asyncio.run(run(args.clients, args.seconds, spy, args.raw_out, args.gil))
    if not args.no_doc:
        write_section("Exam server: where the CPU goes per answer", md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
