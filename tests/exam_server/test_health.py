"""What /healthz tells an operator: event-loop lag, GC pauses, commit batches;
and the GC freezer that keeps full collections short."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import weakref
from pathlib import Path

import httpx
import pytest

from exam_server.context import context
from exam_server.db import WalCheckpointer, make_engine
from exam_server.gcpolicy import GcFreezer
from exam_server.health import LoopMonitor
from exam_server.settings import Settings
from exam_server.testing import Terminal
from tests.conftest import TEST_SECRET, ServerHandle


def test_loop_monitor_sees_a_blocked_loop_and_gc_pauses() -> None:
    mon = LoopMonitor(interval=0.01, window=60.0, stall_seconds=0.1)

    async def scenario() -> dict[str, object]:
        await mon.start()
        try:
            await asyncio.sleep(0.05)
            time.sleep(0.3)  # what a long synchronous step does to every task
            await asyncio.sleep(0.05)
            gc.collect()
            return mon.report()
        finally:
            await mon.stop()

    rep = asyncio.run(scenario())
    lag = rep["loop_lag_ms"]
    assert isinstance(lag, dict)
    # The monitor wakes every 10 ms; a 300 ms block shows as ~290 ms of lag
    # (less than the block by at most one interval, more by scheduling noise).
    assert lag["max"] >= 250.0
    assert lag["p50"] < 50.0  # the rest of the time the loop was free
    # The watchdog caught the block while it lasted, and where the loop was.
    # (The gc.collect() below may be caught too, in a big test process.)
    stalls = rep["stalls"]
    assert isinstance(stalls, list)
    slept = [st for st in stalls if "time.sleep(0.3)" in st["where"]]
    assert len(slept) == 1  # one record per stall, however long it lasts
    assert slept[0]["blocked_ms"] >= 100.0 and "scenario" in slept[0]["where"]
    gcp = rep["gc_pause_ms"]
    assert isinstance(gcp, dict) and gcp["n"] >= 1
    assert not any(getattr(cb, "__self__", None) is mon for cb in gc.callbacks)


def _spin_in_python(stop: threading.Event) -> None:
    while not stop.is_set():
        sum(range(1000))  # Python work: holds the GIL between switch intervals


def test_a_stall_report_names_the_threads_that_were_running() -> None:
    """A loop stuck without a frame of its own (waiting for the GIL) is
    explained by the other threads' places; parked threads are left out."""
    mon = LoopMonitor(interval=0.01, window=60.0, stall_seconds=0.1)
    stop, parked = threading.Event(), threading.Event()
    busy = threading.Thread(target=_spin_in_python, args=(stop,), name="busy-writer")
    idle = threading.Thread(target=parked.wait, name="parked-helper")

    async def scenario() -> dict[str, object]:
        await mon.start()
        try:
            busy.start()
            idle.start()
            await asyncio.sleep(0.05)
            time.sleep(0.3)
            await asyncio.sleep(0.05)
            return mon.report()
        finally:
            stop.set()
            parked.set()
            busy.join()
            idle.join()
            await mon.stop()

    rep = asyncio.run(scenario())
    stalls = rep["stalls"]
    assert isinstance(stalls, list) and stalls
    others = next(st for st in stalls if "time.sleep(0.3)" in st["where"])["other_threads"]
    assert any(o.startswith("busy-writer: _spin_in_python (") for o in others), others
    assert not any(o.startswith("parked-helper") for o in others), others


def test_loop_monitor_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="interval"):
        LoopMonitor(interval=0.0)
    with pytest.raises(ValueError, match="window"):
        LoopMonitor(interval=0.5, window=0.1)
    with pytest.raises(ValueError, match="stall_seconds"):
        LoopMonitor(interval=0.05, stall_seconds=0.06)
    with pytest.raises(ValueError, match="gc_freeze_seconds"):
        Settings(secret_key=TEST_SECRET, gc_freeze_seconds=-1.0)


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def _cycle() -> tuple[list[_Node], weakref.ref[_Node]]:
    """Two nodes referring to each other, held by the returned list."""
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    return [a], weakref.ref(a)


def test_freezer_keeps_survivors_out_of_full_collections_and_maintenance_frees_cycles() -> None:
    busy = True
    fz = GcFreezer(interval=1.0, busy=lambda: busy, min_maintenance_gap=0.0)
    try:
        keep = [_Node() for _ in range(1000)]
        fz.freeze()
        frozen = gc.get_freeze_count()
        assert frozen >= 1000  # the survivors left the collector's generations
        # A cycle made before a freeze and dropped after it: reference
        # counting cannot free it and collections no longer look at it...
        holder, dead = _cycle()
        fz.freeze()
        holder.clear()  # now only the cycle keeps itself alive
        gc.collect()
        assert dead() is not None
        # ...while terminals are connected the freezer only freezes...
        fz.step()
        assert dead() is not None and fz.maintenances == 0
        # ...and once nobody is connected, maintenance collects everything.
        busy = False
        fz.step()
        assert fz.maintenances == 1
        assert dead() is None
        assert gc.get_freeze_count() >= len(keep)
    finally:
        gc.unfreeze()


def test_freezer_maintains_a_busy_server_whose_frozen_set_outgrew() -> None:
    fz = GcFreezer(
        interval=1.0,
        busy=lambda: True,
        max_growth=2.0,
        min_maintenance_gap=0.0,
        growth_floor=1,
        growth_check_every=1,
    )
    try:
        fz.maintain()
        holder, dead = _cycle()
        fz.freeze()
        holder.clear()
        fz.step()  # busy, frozen set not grown: only a freeze
        assert fz.maintenances == 1 and dead() is not None
        grown = [[_Node()] for _ in range(fz.baseline + 1000)]  # more than doubles the heap
        fz.freeze()
        fz.step()  # busy, but the frozen set outgrew twice its size: maintenance
        assert fz.maintenances == 2 and dead() is None
        del grown
    finally:
        gc.unfreeze()


def test_healthz_reports_lag_gc_and_commit_batches(live_server: ServerHandle) -> None:
    h = live_server
    reg = h.seed.candidates[0]["registration_number"]
    token = h.login(reg, "T-H1")

    async def answer() -> None:
        t = await Terminal.open(h.ws_url, token, "T-H1")
        try:
            ack = (await t.answer(1, 0))[0]
            assert ack["type"] == "ack"
        finally:
            await t.close()

    asyncio.run(answer())
    # The terminal has gone; the login 0.x s ago still counts as a rush
    # starting, so the GC freezer would not run a full pass now.
    attempts = context(h.app).attempts
    deadline = time.monotonic() + 5.0
    while attempts.is_busy(quiet_seconds=0.0) and time.monotonic() < deadline:
        time.sleep(0.05)  # the server notices the closed socket
    assert not attempts.is_busy(quiet_seconds=0.0)
    assert attempts.is_busy()
    r = httpx.get(h.url + "/healthz", params={"seconds": 30})
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["window_seconds"] == 30
    assert body["commit_batches"]["n"] >= 1 and body["writes"] >= 1
    # The slowest group's time inside COMMIT is part of its time (the fsync).
    slowest = body["commit_batches"]["slowest"]
    assert 0.0 < slowest["commit_ms"] <= body["commit_batches"]["max_ms"]
    assert body["loop_lag_ms"]["n"] >= 1
    assert set(body["gc_pause_ms"]) == {"n", "p50", "p99", "max"}
    assert isinstance(body["stalls"], list)
    assert body["wal_checkpoint"]["checkpoints"] >= 0  # SQLite: checkpoints off the commit path
    assert body["gc_freezer"]["frozen_objects_last_counted"] > 0
    assert body["live_attempts"] >= 1
    for bad in ("0", "301", "soon"):
        r = httpx.get(h.url + "/healthz", params={"seconds": bad})
        assert r.status_code == 422 and r.json()["error"] == "bad_field"


def test_wal_checkpoints_happen_off_the_commit_path(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'wal.db'}", wal_autocheckpoint=0)
    try:
        with engine.begin() as c:
            c.exec_driver_sql("CREATE TABLE t (x TEXT)")
        for _ in range(30):  # ~1,500 pages: past the 1,000 that would checkpoint a commit
            with engine.begin() as c:
                c.exec_driver_sql("INSERT INTO t VALUES (?)", [("x" * 200_000,)])
        wal = tmp_path / "wal.db-wal"
        # No commit checkpointed: every page written is still in the WAL.
        assert wal.stat().st_size > 1000 * 4096
        ck = WalCheckpointer(engine, interval=0.05)
        first = ck.checkpoint()
        assert first["wal_pages"] > 1000
        assert first["checkpointed_pages"] == first["wal_pages"]  # no reader held it back
        ck.start()
        time.sleep(0.3)
        ck.stop()
        assert ck.checkpoints >= 3  # the thread kept checkpointing
    finally:
        engine.dispose()
    with pytest.raises(ValueError, match="interval"):
        WalCheckpointer(engine, interval=0.0)
