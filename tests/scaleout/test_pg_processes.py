"""Two server processes on one PostgreSQL database: a proctor and a board
connected to one process see the terminals of the other; proctor acts taken
on one process reach a terminal on the other; a terminal moving between
processes keeps its answers and its sequence numbers."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import text

from exam_server.db import make_engine
from exam_server.scaleout.cluster import WorkerCluster
from exam_server.testing import Terminal, candidate_login, staff_token
from tests.conftest import seed_small
from tests.scaleout.helpers import Channel

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]


def _ws_base(c: WorkerCluster) -> str:
    return f"ws://{c.settings.host}:{c.settings.port}"


async def test_live_events_and_proctor_acts_cross_processes(
    pg_url: str, cluster_factory: Callable[..., WorkerCluster]
) -> None:
    seed = seed_small(pg_url, n_candidates=3)
    a = cluster_factory(pg_url)
    b = cluster_factory(pg_url)
    reg = seed.candidates[0]["registration_number"]
    proctor = staff_token(b.url, *seed.proctor)
    sid = seed.session_id
    grid = await Channel.open(_ws_base(b), f"/ws/proctor/{sid}", proctor)
    board = await Channel.open(_ws_base(b), f"/ws/board/{sid}")

    r = candidate_login(a.url, reg, seed.pins()[reg], seed.session_token, "T-A")
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    t = await Terminal.open(a.ws_url, token, "T-A")
    assert t.state["type"] == "state"
    for number in (1, 2, 3):
        (ack,) = await t.answer(number, 1)
        assert ack["type"] == "ack" and not ack["duplicate"]

    # Process B's proctor grid and board saw process A's terminal answer.
    row = await grid.wait_for(lambda r: r["registration_number"] == reg and r["answered"] == 3)
    assert row["terminal_id"] == "T-A"
    # (The snapshot had no row: the candidate had not logged in yet.)
    brow = await board.wait_for(lambda r: r["registration_number"] == reg, timeout=30)
    assert brow["final"] is False and brow["status"] == "running"

    # A pause taken on B reaches the terminal on A, which can no longer answer.
    attempt_id = t.state["attempt_id"]
    hdr = {"Authorization": f"Bearer {proctor}"}
    resp = httpx.post(
        f"{b.url}/api/proctor/attempts/{attempt_id}/pause", json={"reason": "uji"}, headers=hdr
    )
    assert resp.status_code == 200, resp.text
    notice = await _pushed(t, "notice")
    assert notice["action"] == "pause"
    t.seq += 1
    await t.send({"type": "answer", "seq": t.seq, "number": 4, "option": 0})
    refused = await t.next()
    assert refused["type"] == "error" and refused["code"] in ("attempt_paused", "unavailable")
    t.seq -= 1
    resp = httpx.post(
        f"{b.url}/api/proctor/attempts/{attempt_id}/resume", json={"reason": "uji"}, headers=hdr
    )
    assert resp.status_code == 200, resp.text
    assert (await _pushed(t, "notice"))["action"] == "resume"
    state = await t.request({"type": "state"})
    assert state["clock_running"] is True and state["status"] == "running"

    # The same terminal reconnects to B (A's socket left half-open): B resumes
    # from the database; A closes its leftover connection.
    t2 = await Terminal.open(b.ws_url, token, "T-A")
    assert t2.state["type"] == "state" and t2.state["last_seq"] == 3
    (ack,) = await t2.answer(4, 2)
    assert ack["type"] == "ack" and ack["seq"] == 4
    closed = await _closed_or_replaced(t)
    assert closed
    # A repeat of seq 4 through B is a duplicate, stored once.
    t2.seq = 3
    (dup,) = await t2.answer(4, 2)
    assert dup["duplicate"] is True
    await t2.close()
    await grid.close()
    await board.close()

    eng = make_engine(pg_url)
    try:
        with eng.connect() as conn:
            seqs = conn.execute(
                text("SELECT seq FROM exam_response WHERE attempt_id = :a ORDER BY seq"),
                {"a": attempt_id},
            ).scalars()
            assert list(seqs) == [1, 2, 3, 4]
    finally:
        eng.dispose()


async def _pushed(t: Terminal, kind: str, timeout: float = 10.0) -> dict:
    while True:
        for i, msg in enumerate(t.pushed):
            if msg.get("type") == kind:
                return t.pushed.pop(i)
        msg = await t.recv(timeout)
        if msg.get("type") == kind:
            return msg
        t.pushed.append(msg)


async def _closed_or_replaced(t: Terminal) -> bool:
    try:
        while True:
            msg = await t.recv(10)
            if msg.get("type") == "error" and msg.get("code") == "replaced":
                return True
    except Exception:
        return True
