"""Fault test: SIGKILL the server in the middle of a burst of answers.

Twenty terminals answer as fast as their acknowledgements come back; the
server process is killed with SIGKILL mid-burst and restarted on the same
SQLite database. Every acknowledged answer must be stored, and every attempt
must resume with its remaining time (the time while the server was down is
not counted beyond the grace period).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Connection
from websockets.exceptions import ConnectionClosed

from exam_server.db import make_engine
from exam_server.testing import ProcessServer, Terminal, candidate_login
from tests.conftest import make_settings, seed_small

N_TERMINALS = 20
KILL_AFTER_ACKS = 200


@pytest.mark.slow
async def test_sigkill_during_burst_loses_no_acknowledged_answer(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fault.db'}"
    seed = seed_small(url, "linear", N_TERMINALS)
    settings = make_settings(url, grace_seconds=1.0, presence_interval_seconds=0.5)
    server = ProcessServer(settings).start()
    try:
        tokens = {}
        for c in seed.candidates:
            r = candidate_login(
                server.url,
                c["registration_number"],
                c["pin"],
                seed.session_token,
                f"T-{c['registration_number']}",
            )
            assert r.status_code == 200, r.text
            tokens[c["registration_number"]] = r.json()["token"]
        terminals = {
            reg: await Terminal.open(server.ws_url, tok, f"T-{reg}") for reg, tok in tokens.items()
        }
        # (remaining, server time) as each terminal's state said: the same clock
        # as this process's on this machine.
        left_at_open = {
            reg: (t.state["remaining_seconds"], t.state["server_time"])
            for reg, t in terminals.items()
        }
        acked: dict[str, set[int]] = {reg: set() for reg in terminals}
        total = 0
        killed = asyncio.Event()

        async def burst(reg: str, t: Terminal) -> None:
            nonlocal total
            seq = 0
            try:
                while True:
                    seq += 1
                    await t.send(
                        {
                            "type": "answer",
                            "seq": seq,
                            "number": (seq - 1) % 10 + 1,
                            "option": seq % 5,
                        }
                    )
                    ack = await t.next(timeout=5)
                    assert ack["type"] == "ack" and ack["seq"] == seq, ack
                    acked[reg].add(seq)
                    total += 1
                    if total >= KILL_AFTER_ACKS and not killed.is_set():
                        killed.set()
            except (ConnectionClosed, OSError, TimeoutError):
                return

        tasks = [asyncio.create_task(burst(reg, t)) for reg, t in terminals.items()]
        await asyncio.wait_for(killed.wait(), 30)
        killed_at = time.time()
        await asyncio.to_thread(server.kill)
        await asyncio.wait_for(asyncio.gather(*tasks), 15)
        assert sum(len(s) for s in acked.values()) >= KILL_AFTER_ACKS

        server = ProcessServer(settings).start()
        down_for = time.time() - killed_at
        for reg, tok in tokens.items():
            t = await Terminal.open(server.ws_url, tok, f"T-{reg}")
            st = t.state
            assert st["type"] == "state", st
            # Every acknowledged answer is there (and nothing beyond a gap).
            assert st["last_seq"] >= max(acked[reg], default=0)
            with server_db(url) as conn:
                seqs = [
                    r[0]
                    for r in conn.exec_driver_sql(
                        "SELECT seq FROM exam_response WHERE attempt_id = ? ORDER BY seq",
                        (st["attempt_id"],),
                    )
                ]
            assert acked[reg] <= set(seqs)
            assert seqs == list(range(1, len(seqs) + 1))
            # Remaining time: what was left at the kill, minus at most the grace
            # period and one presence interval (plus scheduling slack), never
            # the whole time the server was down.
            left, at = left_at_open[reg]
            left_at_kill = left - (killed_at - at)
            assert st["remaining_seconds"] <= left_at_kill + 0.5
            assert st["remaining_seconds"] >= left_at_kill - (1.0 + 0.5 + 1.5)
            assert down_for > 0
            # And the attempt carries on.
            (ack,) = await t.answer(1, 4)
            assert ack["type"] == "ack" and ack["seq"] == st["last_seq"] + 1
            await t.close()
    finally:
        server.stop()


@contextlib.contextmanager
def server_db(url: str) -> Iterator[Connection]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()
