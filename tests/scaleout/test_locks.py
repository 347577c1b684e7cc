"""The pieces of the PostgreSQL path, directly: advisory lock and stale-copy
refusal, migration, the LISTEN/NOTIFY bus between two buses, and the small
pure parts of the load generator and the drills."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from exam_server.db import make_engine
from exam_server.events import LiveEvent
from exam_server.loadtest.faults import expected_used
from exam_server.loadtest.runner import LoadConfig, load_candidates
from exam_server.migrations import head_revision
from exam_server.scaleout.fanout import MAX_PAYLOAD, PgEventBus, channel_name, pg_conninfo
from exam_server.scaleout.locks import NAMESPACE, StaleAttempt, serialise_attempt
from exam_server.scaleout.migrate import migrate, schema_state
from seleksi.cli import main as seleksi_main
from tests.conftest import add_running_attempts, seed_small

pg = pytest.mark.postgres


@pg
def test_advisory_lock_serialises_and_stale_copies_are_refused(pg_url: str) -> None:
    seed_small(pg_url, n_candidates=1)
    eng = make_engine(pg_url)
    try:
        with eng.begin() as conn:
            add_running_attempts(conn, limit=1)
            aid = conn.execute(text("SELECT id FROM exam_attempt LIMIT 1")).scalar_one()
            conn.execute(text("UPDATE exam_attempt SET last_seq = 3, status = 'running'"))
        conninfo = pg_conninfo(pg_url)
        with eng.connect() as holder, psycopg.connect(conninfo, autocommit=True) as other:
            holder.begin()
            serialise_attempt(holder, aid, 3)  # current copy: allowed, lock held
            took = other.execute(
                "SELECT pg_try_advisory_xact_lock(%s, %s)", (NAMESPACE, aid)
            ).fetchone()
            assert took is not None and took[0] is False  # another process must wait
            holder.rollback()
            took = other.execute("SELECT pg_try_advisory_lock(%s, %s)", (NAMESPACE, aid)).fetchone()
            assert took is not None and took[0] is True  # released by the rollback
            other.execute("SELECT pg_advisory_unlock(%s, %s)", (NAMESPACE, aid))
        with eng.begin() as conn, pytest.raises(StaleAttempt) as info:
            serialise_attempt(conn, aid, 2)  # another process stored seq 3 meanwhile
        assert info.value.found_seq == 3
        with eng.begin() as conn:
            conn.execute(text("UPDATE exam_attempt SET status = 'paused'"))
        with eng.begin() as conn, pytest.raises(StaleAttempt):
            serialise_attempt(conn, aid, 3)  # paused elsewhere: no answer goes in
    finally:
        eng.dispose()


@pg
def test_migrate_is_idempotent_and_recorded(
    pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert schema_state(pg_url).revision is None
    first = migrate(pg_url)
    assert "exam_response" in first.upgrade.created and "exam_attempt" in first.upgrade.created
    second = migrate(pg_url)
    assert second.upgrade.applied == () and second.upgrade.created == ()
    assert schema_state(pg_url).at_head
    assert seleksi_main(["db", "migrate", "--url", pg_url]) == 0
    assert seleksi_main(["db", "version", "--url", pg_url]) == 0
    assert f"{head_revision()} (head)" in capsys.readouterr().out


@pg
async def test_two_buses_share_events_and_skip_their_own(pg_url: str) -> None:
    a, b = PgEventBus(pg_url), PgEventBus(pg_url)
    await a.start()
    await b.start()
    try:
        assert a.channel == b.channel
        sub_b = b.subscribe(7)
        local_b = b.local_view().subscribe(7)
        sub_a = a.subscribe(None)
        a.publish(LiveEvent("answer", 7, 11, "R-1", data={"number": 2}))
        got = await asyncio.wait_for(sub_b.get(), 10)
        assert (got.kind, got.attempt_id, got.data) == ("answer", 11, {"number": 2})
        mine = await asyncio.wait_for(sub_a.get(), 1)
        assert mine.attempt_id == 11
        big = LiveEvent("note", 7, 12, data={"text": "x" * 20_000})
        a.publish(big)
        got = await asyncio.wait_for(sub_b.get(), 10)
        assert got.attempt_id == 12 and got.data == {"truncated": True}
        await asyncio.sleep(0.3)
        assert sub_a.get_nowait() is not None  # a's own copy of the big one, delivered once
        assert sub_a.get_nowait() is None  # ... and nothing echoed back from PostgreSQL
        assert local_b.get_nowait() is None  # local-only subscribers never see remote events
        # A burst goes out packed into a few notifications, every event once, in order.
        for i in range(300):
            a.publish(LiveEvent("answer", 7, 1000 + i, data={"number": i, "pad": "y" * 100}))
        burst = [await asyncio.wait_for(sub_b.get(), 10) for _ in range(300)]
        assert [e.attempt_id for e in burst] == list(range(1000, 1300))
        await asyncio.sleep(0.3)
        assert sub_b.get_nowait() is None
    finally:
        await a.stop()
        await b.stop()


def test_channel_names_differ_by_schema_and_fit_postgres() -> None:
    one, two = channel_name("test", "t_a"), channel_name("test", "t_b")
    assert one != two and len(one) <= 63 and one.isidentifier()
    assert pg_conninfo("postgresql+psycopg://u@h:5/d?options=-csearch_path%3Dx").startswith(
        "postgresql://u@h:5/d"
    )
    with pytest.raises(ValueError):
        pg_conninfo("sqlite:///x.db")


def test_load_config_and_candidates_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="url"):
        LoadConfig(url="127.0.0.1:8000", terminals=1)
    with pytest.raises(ValueError, match="login_window"):
        LoadConfig(url="http://h:1", terminals=1, login_window=60, duration=30)
    assert LoadConfig(url="http://h:1/", terminals=1).ws_url == "ws://h:1/ws/candidate"
    f = tmp_path / "c.csv"
    f.write_text("registration_number,pin\nR1,1234\nR2,\n")
    with pytest.raises(ValueError, match="line 3"):
        load_candidates(str(f))
    f.write_text("registration_number,pin\nR1,1234\n\nR2,9\n")
    assert [c.pin for c in load_candidates(str(f))] == ["1234", "9"]


def test_expected_clock_counts_gaps_up_to_the_grace() -> None:
    # connected 10 s, gone 3 s (< grace 5: all counted), connected 10 s,
    # gone 20 s (only 5 counted), connected until now (+2 s).
    iv: list[list[float | None]] = [[0.0, 10.0], [13.0, 23.0], [43.0, None]]
    assert expected_used(iv, 45.0, 5.0) == pytest.approx(10 + 3 + 10 + 5 + 2)


def test_packed_notifications_stay_under_the_payload_limit() -> None:
    bus = PgEventBus("postgresql+psycopg://nobody@127.0.0.1/none")
    events = [f'{{"kind":"answer","n":{i},"pad":"{"z" * (i % 900)}"}}' for i in range(400)]
    payloads = bus._pack(events)
    assert len(payloads) > 1
    assert all(len(p.encode()) <= MAX_PAYLOAD for p in payloads)
    unpacked = [e for p in payloads for e in json.loads(p)["es"]]
    assert unpacked == [json.loads(e) for e in events]
    assert all(json.loads(p)["o"] == bus.origin for p in payloads)
