"""After a crash, the clock stops at the last moment the terminal is known alive.

Issue 8: the presence flush (``last_seen_at``) can lag behind, or be
overwritten by an older flush queued behind the group commit. The stored
answers carry their own commit time, so the server must stop the clock at the
later of the two plus the grace period, not at a stale ``last_seen_at``.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from exam_server.db import make_engine
from exam_server.testing import ProcessServer, Terminal, candidate_login
from tests.conftest import make_settings, seed_small

GRACE = 1.0


@pytest.mark.slow
async def test_crash_recovery_counts_answers_newer_than_presence(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    seed = seed_small(url, "linear", 1)
    # A long presence interval: no timer flush refreshes last_seen_at here.
    settings = make_settings(url, grace_seconds=GRACE, presence_interval_seconds=60.0)
    c = seed.candidates[0]
    server = ProcessServer(settings).start()
    try:
        r = candidate_login(
            server.url, c["registration_number"], c["pin"], seed.session_token, "T1"
        )
        assert r.status_code == 200, r.text
        token = r.json()["token"]
        t = await Terminal.open(server.ws_url, token, "T1")
        await asyncio.sleep(1.5)  # the candidate thinks, then answers
        (ack,) = await t.answer(1, 2)
        assert ack["type"] == "ack", ack
        await asyncio.to_thread(server.kill)  # SIGKILL: no orderly clock stop
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
            assert answered_at >= since + 1.0
            # What a lagging presence flush leaves behind: last seen at the start.
            conn.exec_driver_sql("UPDATE exam_attempt SET last_seen_at = running_since")
            conn.exec_driver_sql("DELETE FROM exam_presence")
        # Restart once the grace after the answer has surely run out.
        time.sleep(max(0.0, answered_at + GRACE + 0.2 - time.time()))
        server = ProcessServer(settings).start()  # startup sweeps the database
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
    # Charged up to the answer + grace (the old rule charged only the grace,
    # handing back the ~1.5 s before the answer). Exact: both come from the db.
    expected = left - (answered_at + GRACE - since)
    assert remaining == pytest.approx(expected, abs=1e-3)
