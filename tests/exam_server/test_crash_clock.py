"""After a crash, the clock stops at the last moment the terminal is known alive.

Issue 8: the presence flush (``last_seen_at``) can lag behind, or be
overwritten by an older flush queued behind the group commit. The stored
answers carry their own commit time, so the server must stop the clock at the
later of the two plus the grace period, not at a stale ``last_seen_at``.

The crash is a server stopped with the clock still running in the database
(an orderly stop does not stop clocks either; the SIGKILL itself is
``test_fault_sigkill``); the next server on the same database recovers at
start. Both run on one :class:`~exam_server.clock.ManualClock`, so the
thinking time and the time down are moved, not slept.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from exam_server.clock import ManualClock
from exam_server.db import make_engine
from exam_server.demo import SeedSummary
from exam_server.presence import pack_attempts
from exam_server.testing import Terminal, ThreadServer, candidate_login
from tests.conftest import make_settings, seed_small

GRACE = 30.0


async def _logged_in(server: ThreadServer, seed: SeedSummary) -> tuple[str, Terminal]:
    """The seed's one candidate logged in on terminal T1: its token and the
    open terminal."""
    c = seed.candidates[0]
    r = candidate_login(server.url, c["registration_number"], c["pin"], seed.session_token, "T1")
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    return token, await Terminal.open(server.ws_url, token, "T1")


@pytest.mark.parametrize("flushed_after", [None, 40.0], ids=["no-flush", "flush-after-answer"])
async def test_crash_recovery_counts_answers_newer_than_presence(
    tmp_path: Path, flushed_after: float | None
) -> None:
    """flushed_after: None, no presence row holds the attempt (the answer is
    the last sign of life); else the crashed process's row held it that many
    seconds after the answer, and the rule counts up to it."""
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    seed = seed_small(url, "linear", 1)
    # No presence timer: no flush refreshes last_seen_at here.
    settings = make_settings(url, grace_seconds=GRACE)
    clock = ManualClock(time.time())
    server = ThreadServer(settings, clock=clock, presence_timer=False).start()
    try:
        _, t = await _logged_in(server, seed)
        clock.advance(90.0)  # the candidate thinks, then answers
        (ack,) = await t.answer(1, 2)
        assert ack["type"] == "ack", ack
    finally:
        server.stop()

    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            aid, left, since = conn.exec_driver_sql(
                "SELECT id, remaining_at_start, running_since FROM exam_attempt"
            ).one()
            (answered_at,) = conn.exec_driver_sql(
                "SELECT max(at) FROM exam_response WHERE attempt_id = ?", (aid,)
            ).one()
            assert since is not None, "the stop must leave the clock running (a crash)"
            assert answered_at == pytest.approx(since + 90.0, abs=1e-6)
            # What a lagging presence flush leaves behind: last seen at the start.
            conn.exec_driver_sql("UPDATE exam_attempt SET last_seen_at = running_since")
            conn.exec_driver_sql("DELETE FROM exam_presence")
            conn.exec_driver_sql("DELETE FROM exam_presence_process")
            rows = [("other-process", answered_at + 300.0, pack_attempts([aid + 1]))]
            if flushed_after is not None:
                rows.append(("crashed", answered_at + flushed_after, pack_attempts([aid])))
            conn.exec_driver_sql(
                "INSERT INTO exam_presence_process (process, seen_at, attempts) VALUES (?, ?, ?)",
                rows,
            )
        clock.advance(600.0)  # down far longer than the grace
        server = ThreadServer(settings, clock=clock).start()  # startup sweeps the database
        try:
            with engine.connect() as conn:
                status, running, remaining = conn.exec_driver_sql(
                    "SELECT status, running_since, remaining_at_start FROM exam_attempt"
                ).one()
        finally:
            server.stop()
    finally:
        engine.dispose()
    assert status == "running" and running is None  # clock stopped, attempt alive
    # Charged up to the answer (or the crashed process's later row) + grace
    # (the old rule charged only the grace, handing back the 90 s before the
    # answer); another process's row, later but without the attempt, counts
    # for nothing.
    assert remaining == pytest.approx(left - (90.0 + (flushed_after or 0.0) + GRACE), abs=1e-6)


async def test_a_terminal_back_after_the_grace_before_any_sweep_is_charged_the_grace(
    tmp_path: Path,
) -> None:
    """The server crashed; it was back before the grace ran out (its start-up
    sweep stopped nothing) and the terminal came back after it, before the
    next database sweep: the gap is charged up to the grace, not in full."""
    url = f"sqlite:///{tmp_path / 'back.db'}"
    seed = seed_small(url, "linear", 1)
    # No periodic sweep or flush runs in this test: the clock is moved by hand.
    settings = make_settings(url, grace_seconds=GRACE, sweep_interval_seconds=3600.0)
    clock = ManualClock(time.time())
    server = ThreadServer(settings, clock=clock, presence_timer=False).start()
    try:
        token, t = await _logged_in(server, seed)
        limit = float(t.state["remaining_seconds"])
        clock.advance(20.0)
        (ack,) = await t.answer(1, 2)  # last seen alive: now
        assert ack["type"] == "ack", ack
    finally:
        server.stop()  # the clock left running: a crash
    clock.advance(10.0)  # back within the grace: the start-up sweep stops nothing
    server = ThreadServer(settings, clock=clock).start()
    try:
        clock.advance(50.0)  # the terminal is back 60 s after it was last seen
        t = await Terminal.open(server.ws_url, token, "T1")
        remaining = float(t.state["remaining_seconds"])
        await t.close()
    finally:
        server.stop()
    # 20 s before the answer, then the grace: not the 60 s gap in full.
    assert remaining == pytest.approx(limit - (20.0 + GRACE), abs=1e-6)
