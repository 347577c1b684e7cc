"""How fast a proctor console sees an answer: latency from a terminal to the grid.

    python -m benchmarks.live_latency [--quick]

A real server (``exam_server.serve`` in its own process, SQLite, durable
commits) with one seeded session. N scripted terminals speak the candidate
protocol and answer 30 items each, pausing 0.2–1.0 s between answers; a
proctor console (``/ws/proctor``) and a live board (``/ws/board``) watch the
session. For every answer the script notes when it was sent, when its ack
came back (the floor: the answer is durable then, and nothing can show it
earlier) and when the proctor's grid first showed the candidate's new
answered count; the board's first update for the candidate after the ack is
timed too. Clients and server run in separate processes; all client
timestamps come from one clock. Percentiles over every answer of the run.
Writes the ``live_latency`` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

from benchmarks.report import machine_line, write_section
from exam_server.db import make_engine
from exam_server.demo import seed_exam
from exam_server.settings import Settings
from exam_server.testing import (
    ProcessServer,
    Terminal,
    candidate_login,
    free_port,
    small_bank,
    small_design,
    staff_token,
)

SECRET = "benchmark-live-latency-secret-0123456789abcdef"
PASSWORD = "bench-password-1"
ITEMS = 30


def percentiles(values: list[float]) -> str:
    if not values:
        return "–"
    v = sorted(values)
    pick = lambda q: v[min(len(v) - 1, int(q * len(v)))]  # noqa: E731
    return f"{statistics.median(v):.0f} / {pick(0.95):.0f} / {pick(0.99):.0f} / {v[-1]:.0f}"


async def run(n_terminals: int, seed: int) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp())
    db_url = f"sqlite:///{tmp / 'bench.db'}"
    engine = make_engine(db_url)
    bank, items = small_bank(per_subtest=40, seed=seed)
    summary = seed_exam(
        engine,
        SECRET,
        design=small_design(time_limit_seconds=3600, lengths=(10, 10, 10)),
        bank=bank,
        items=items,
        n_candidates=n_terminals,
        scrypt_n=2**10,
        admin_password=PASSWORD,
        proctor_password=PASSWORD,
    )
    engine.dispose()
    settings = Settings(
        database_url=db_url,
        secret_key=SECRET,
        port=free_port(),
        scrypt_n=2**10,
        messages_per_second=50.0,
    )
    server = ProcessServer(settings).start()
    try:
        return await _measure(server, summary, n_terminals, seed)
    finally:
        server.stop()


async def _measure(server: ProcessServer, summary: Any, n: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    base_ws = server.url.replace("http://", "ws://")
    sent: dict[tuple[str, int], float] = {}
    acked: dict[tuple[str, int], float] = {}
    seen: dict[tuple[str, int], float] = {}
    done = asyncio.Event()

    token = await asyncio.to_thread(staff_token, server.url, "pengawas", PASSWORD)
    proctor = await connect(f"{base_ws}/ws/proctor/{summary.session_id}", max_size=2**24)
    await proctor.send(json.dumps({"type": "auth", "token": token}))
    board = await connect(f"{base_ws}/ws/board/{summary.session_id}", max_size=2**24)

    async def watch_proctor() -> None:
        async for raw in proctor:
            now = time.perf_counter()
            msg = json.loads(raw)
            for row in msg.get("terminals", []):
                # A row carries the latest count: it shows every answer up to it.
                for k in range(1, int(row["answered"]) + 1):
                    seen.setdefault((row["registration_number"], k), now)
            if done.is_set():
                return

    board_updates: dict[str, list[float]] = {}

    async def watch_board() -> None:
        async for raw in board:
            now = time.perf_counter()
            msg = json.loads(raw)
            if msg.get("type") == "update":
                for row in msg["rows"]:
                    board_updates.setdefault(row["registration_number"], []).append(now)
            if done.is_set():
                return

    async def candidate(index: int) -> None:
        cand = summary.candidates[index]
        regno = cand["registration_number"]
        terminal_id = f"T-bench-{index}"
        login = await asyncio.to_thread(
            candidate_login, server.url, regno, cand["pin"], summary.session_token, terminal_id
        )
        login.raise_for_status()
        term = await Terminal.open(server.ws_url, login.json()["token"], terminal_id)
        for number in range(1, ITEMS + 1):
            await asyncio.sleep(rng.uniform(0.2, 1.0))
            sent[(regno, number)] = time.perf_counter()
            reply = await term.answer(number, rng.randint(0, 4))
            if reply[0].get("type") == "ack":
                acked[(regno, number)] = time.perf_counter()
        await term.close()

    watchers = [asyncio.create_task(watch_proctor()), asyncio.create_task(watch_board())]
    start = time.perf_counter()
    await asyncio.gather(*(candidate(i) for i in range(n)))
    elapsed = time.perf_counter() - start
    await asyncio.sleep(1.0)  # let the last updates arrive
    done.set()
    await proctor.close()
    await board.close()
    for task in watchers:
        task.cancel()

    ack_ms = [(acked[k] - sent[k]) * 1e3 for k in acked]
    proctor_ms = [(seen[k] - sent[k]) * 1e3 for k in sent if k in seen]
    board_ms = []
    for regno, number in acked:
        t_sent = sent[(regno, number)]
        later = [t for t in board_updates.get(regno, []) if t >= t_sent]
        if later:
            board_ms.append((min(later) - t_sent) * 1e3)
    return {
        "n": n,
        "answers": len(sent),
        "rate": len(acked) / elapsed,
        "ack": ack_ms,
        "proctor": proctor_ms,
        "board": board_ms,
        "missed": len(sent) - len(proctor_ms),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one small room only")
    args = parser.parse_args(argv)
    sizes = [20] if args.quick else [40, 150]
    results = [asyncio.run(run(n, seed=100 + n)) for n in sizes]
    load = os.getloadavg()[0]
    lines = [
        "## Live channels: from a terminal's answer to the proctor's grid",
        "",
        machine_line() + f" Load average at the end of the run: {load:.1f} "
        "(the clients share the machine with the server; on a busy machine the tail "
        "is scheduler noise).",
        "",
        f"Real server in its own process (SQLite, synchronous=FULL), {ITEMS} answers per "
        "terminal with 0.2–1.0 s between answers, one proctor console and one live board "
        "watching. Latency from sending an answer: its ack (durable; the floor), the "
        "proctor grid showing the new answered count, the board's next update for that "
        "candidate. Command: `python -m benchmarks.live_latency`.",
        "",
        "| terminals | answers/s | ack ms p50 / p95 / p99 / max "
        "| proctor grid ms p50 / p95 / p99 / max | board ms p50 / p95 / p99 / max "
        "| answers never seen by the proctor |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r['n']} | {r['rate']:.0f} | {percentiles(r['ack'])} | "
            f"{percentiles(r['proctor'])} | {percentiles(r['board'])} | {r['missed']} |"
        )
    markdown = "\n".join(lines)
    write_section("live_latency", markdown)
    print(markdown)


if __name__ == "__main__":
    main()
