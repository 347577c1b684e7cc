"""The stored form through the server: narrow rows per answer, a snapshot
every ``snapshot_every`` responses, and a load (restart, another worker)
that rebuilds exactly the state the server held; a database migrated from
the old form (state in ``exam_attempt``) resumes.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from exam_server.attempts import storage
from exam_server.clock import ManualClock
from exam_server.context import context
from exam_server.db import make_engine
from exam_server.exams import ExamData
from exam_server.migrations import alembic_config, upgrade
from exam_server.models import Exam
from exam_server.testing import Terminal, ThreadServer, candidate_login
from tests.conftest import make_settings, seed_small


def _exam_for(url: str) -> ExamData:
    from sqlmodel import Session

    engine = make_engine(url)
    try:
        with Session(engine) as s:
            row = s.exec(sa.select(Exam)).scalar_one()  # type: ignore[call-overload]
            return ExamData.from_row(row)
    finally:
        engine.dispose()


def _stored(url: str, aid: int) -> tuple[list[int], str]:
    """The snapshot seqs of an attempt, and its state as a load rebuilds it."""
    exam = _exam_for(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            seqs = [
                int(s)
                for (s,) in conn.execute(
                    sa.select(storage.SNAPSHOT.c.seq)
                    .where(storage.SNAPSHOT.c.attempt_id == aid)
                    .order_by(storage.SNAPSHOT.c.seq)
                )
            ]
            la, _ = storage.load_attempt(conn, aid, lambda _: exam)
            return seqs, storage.state_json(la.state)
    finally:
        engine.dispose()


@pytest.mark.parametrize("mode", ["linear", "adaptive"])
async def test_a_load_rebuilds_the_state_the_server_held(tmp_path: Path, mode: str) -> None:
    url = f"sqlite:///{tmp_path / 'form.db'}"
    seed = seed_small(url, mode, 1)
    settings = make_settings(url, snapshot_every=3)
    c = seed.candidates[0]
    clock = ManualClock(time.time())
    server = ThreadServer(settings, clock=clock, presence_timer=False).start()
    try:
        r = candidate_login(
            server.url, c["registration_number"], c["pin"], seed.session_token, "T1"
        )
        assert r.status_code == 200, r.text
        t = await Terminal.open(server.ws_url, r.json()["token"], "T1")
        svc = context(server.app).attempts
        (aid,) = svc.live
        number = 1
        for k in range(7):
            clock.advance(11.5 + k)  # the engine is given the server's seconds
            out = await t.answer(number, k % 3)
            assert out[0]["type"] == "ack", out
            number = out[1]["number"] if mode == "adaptive" else number % 4 + 1
        if mode == "linear":
            t.seq += 1
            ack = await t.request({"type": "flag", "seq": t.seq, "number": 2, "flagged": True})
            assert ack["type"] == "ack", ack
            # Navigation after the last response: stored by the next flush.
            item = await t.request({"type": "navigate", "number": 6})
            assert item["type"] == "item", item
            await server.on_loop(svc.flush_presence(clock.now()))
        live = storage.state_json(svc.live[aid].state)
        seqs, rebuilt = _stored(url, aid)
        # Snapshots at the start and every third response; the rest replayed.
        if mode == "linear":
            assert seqs == [0, 3, 6]
        else:
            assert seqs[:1] == [0] and all(s % 3 == 0 for s in seqs[1:])
        assert rebuilt == live
        await t.close()
    finally:
        server.stop()
    # Another process on the same database resumes the same state.
    server = ThreadServer(settings, clock=clock).start()
    try:
        r = candidate_login(
            server.url, c["registration_number"], c["pin"], seed.session_token, "T1"
        )
        assert r.status_code == 200, r.text
        t = await Terminal.open(server.ws_url, r.json()["token"], "T1")
        assert t.state["type"] == "state" and t.state["last_seq"] == (8 if mode == "linear" else 7)
        assert storage.state_json(context(server.app).attempts.live[aid].state) == live
        await t.close()
    finally:
        server.stop()


async def test_the_finish_stores_the_final_state_and_audit_verifies(tmp_path: Path) -> None:
    from exam_server.audit import verify

    url = f"sqlite:///{tmp_path / 'fin.db'}"
    seed = seed_small(url, "adaptive", 1)
    server = ThreadServer(make_settings(url, snapshot_every=4)).start()
    c = seed.candidates[0]
    try:
        r = candidate_login(
            server.url, c["registration_number"], c["pin"], seed.session_token, "T1"
        )
        t = await Terminal.open(server.ws_url, r.json()["token"], "T1")
        number, final = 1, None
        while final is None:
            out = await t.answer(number, 1)
            final = next((f for f in out if f["type"] == "final"), None)
            items = [f for f in out if f["type"] == "item"]
            number = items[0]["number"] if items else number
        svc = context(server.app).attempts
        (aid,) = svc.live
        live = storage.state_json(svc.live[aid].state)
        await t.close()
    finally:
        server.stop()
    seqs, rebuilt = _stored(url, aid)
    assert rebuilt == live and seqs[-1] == 10  # the final state, after the 10th answer
    engine = make_engine(url)
    try:
        rep = verify(engine)
    finally:
        engine.dispose()
    assert rep.problems == [] and rep.scores == 1
    # Replayed with the recorded choices and elapsed seconds: no fallback note.
    assert rep.notes == []


def test_old_form_database_migrates_and_resumes(tmp_path: Path) -> None:
    """0006 → head: each attempt's state becomes its snapshot at its last seq;
    the running attempt resumes with its answers and the finished one keeps
    its final state (the old form is written here as the old code wrote it)."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    seed = seed_small(url, "linear", 2)  # at head: build the old form by hand below
    exam = _exam_for(url)
    from cat_engine import engine as cat

    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0006_staff_disabled")
        states = {}
        with engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM exam_attempt")
            cands = conn.exec_driver_sql("SELECT id, session_id FROM exam_candidate").all()
            for k, (cid, sid) in enumerate(cands):
                st = cat.start(exam.design, exam.bank, 100 + k)
                for idx, option in zip(cat.presented(st)[:3], (1, 2, 0), strict=True):
                    st = cat.record(st, exam.bank, idx, option, elapsed=7.5)
                st = cat.navigate(st, cat.presented(st)[5])
                status = "running"
                if k == 0:
                    st, status = cat.finish(st, "submitted"), "finished"
                states[cid] = storage.state_json(st)
                conn.exec_driver_sql(
                    "INSERT INTO exam_attempt (session_id, candidate_id, status, seed, state_json,"
                    " last_seq, response_head, terminal_released, remaining_at_start,"
                    " last_seen_at, started_at) VALUES (?, ?, ?, ?, ?, 3, '', 0, 500, 0, 1)",
                    (sid, cid, status, 100 + k, states[cid]),
                )
        upgrade(engine)
        with engine.connect() as conn:
            cols = {c["name"] for c in sa.inspect(conn).get_columns("exam_attempt")}
            assert "state_json" not in cols and "on_screen" in cols
            rows = conn.exec_driver_sql(
                "SELECT a.id, a.candidate_id, a.status, s.seq FROM exam_attempt a"
                " JOIN exam_attempt_snapshot s ON s.attempt_id = a.id ORDER BY a.id"
            ).all()
            assert [(r[2], r[3]) for r in rows] == [("finished", 3), ("running", 3)]
            for aid, cid, _, _ in rows:
                la, _ = storage.load_attempt(conn, aid, lambda _: exam)
                assert storage.state_json(la.state) == states[cid]
    finally:
        engine.dispose()
    # The running attempt resumes on a server at head and takes the next answer.
    running = seed.candidates[1]

    async def resume() -> None:
        server = ThreadServer(make_settings(url)).start()
        try:
            r = candidate_login(
                server.url, running["registration_number"], running["pin"], seed.session_token, "T9"
            )
            assert r.status_code == 200, r.text
            t = await Terminal.open(server.ws_url, r.json()["token"], "T9")
            assert t.state["type"] == "state" and t.state["last_seq"] == 3, t.state
            (ack,) = await t.answer(4, 1)
            assert ack["type"] == "ack", ack
            await t.close()
        finally:
            server.stop()

    import asyncio

    asyncio.run(resume())


async def test_snapshots_are_stored_compressed_and_survive_0014_both_ways(tmp_path: Path) -> None:
    """Revision 0014: the server stores each snapshot as zstd-compressed JSON,
    a fraction of the JSON's size; a downgrade to 0013 gives back the same
    JSON text and the upgrade the same bytes' state, and a resume after the
    round trip continues from it."""
    from exam_server import state_codec

    url = f"sqlite:///{tmp_path / 'zst.db'}"
    seed = seed_small(url, "linear", 1)
    settings = make_settings(url, snapshot_every=2)
    c = seed.candidates[0]
    server = ThreadServer(settings, presence_timer=False).start()
    try:
        r = candidate_login(
            server.url, c["registration_number"], c["pin"], seed.session_token, "T1"
        )
        t = await Terminal.open(server.ws_url, r.json()["token"], "T1")
        for k in range(5):
            out = await t.answer(k % 4 + 1, k % 3)
            assert out[0]["type"] == "ack", out
        svc = context(server.app).attempts
        (aid,) = svc.live
        live = storage.state_json(svc.live[aid].state)
        await t.close()
    finally:
        server.stop()
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(storage.SNAPSHOT.c.seq, storage.SNAPSHOT.c.state).order_by(
                    storage.SNAPSHOT.c.seq
                )
            ).all()
        assert [s for s, _ in rows] == [0, 2, 4]
        texts = {s: state_codec.unpack_json(b) for s, b in rows}
        for _, blob in rows:
            assert isinstance(blob, bytes) and blob[:4] == b"\x28\xb5\x2f\xfd"  # zstd frame
            assert len(blob) < len(state_codec.unpack_json(blob)) / 2
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0013_response_attempt_ix")
        with engine.connect() as conn:
            back = dict(
                conn.exec_driver_sql(
                    "SELECT seq, state_json FROM exam_attempt_snapshot ORDER BY seq"
                ).all()
            )
        assert back == texts
        upgrade(engine)
        with engine.connect() as conn:
            la, _ = storage.load_attempt(conn, aid, lambda _: _exam_for(url))
        assert storage.state_json(la.state) == live
    finally:
        engine.dispose()
    with pytest.raises(ValueError, match="not a stored engine state"):
        state_codec.unpack(b'{"version": 1}')
