"""The presence flush never moves a terminal's presence mark backwards (issue 8,
drill table), keeps it out of the attempt row, and writes one heartbeat per
interval rather than a row per connected terminal (issue 17); the rule that
reads the marks back (``presence.seen_alive`` and ``seen_alive_sql``)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from exam_server import presence
from exam_server.clock import ManualClock
from exam_server.context import context
from exam_server.db import make_engine, writer
from exam_server.models import Attempt
from exam_server.testing import Terminal
from tests.conftest import ServerHandle, seed_small

SET_SEEN = text(
    "INSERT INTO exam_presence (attempt_id, last_seen_at) VALUES (:id, :at) "
    "ON CONFLICT (attempt_id) DO UPDATE SET last_seen_at = excluded.last_seen_at"
)


def _seen(h: ServerHandle, attempt_id: int) -> float:
    with h.db.connect() as c:
        value = c.execute(
            text("SELECT last_seen_at FROM exam_presence WHERE attempt_id = :id"),
            {"id": attempt_id},
        ).scalar()
    assert value is not None
    return float(value)


# The flush is run by the test at the server's ManualClock (the periodic one
# is an hour apart, so it never runs meanwhile).
FLUSH = {"presence_interval_seconds": 3600.0}


async def test_presence_flush_keeps_the_later_last_seen_at(server_factory: Any) -> None:
    await _check_flush(server_factory(clock=ManualClock(time.time()), **FLUSH))  # SQLite


async def test_presence_flush_keeps_the_later_last_seen_at_on_postgresql(
    postgres_url: str, server_factory: Any
) -> None:
    # postgres_url first: its schema is dropped after the server has stopped
    # (else the drop races the server's presence flush for the table lock).
    h = server_factory(
        database_url=postgres_url, n_candidates=2, clock=ManualClock(time.time()), **FLUSH
    )
    try:
        await _check_flush(h)
    finally:
        h.server.stop()


async def _check_flush(h: ServerHandle) -> None:
    regs = [c["registration_number"] for c in h.seed.candidates[:2]]
    terms = [await Terminal.open(h.ws_url, h.login(r, f"T-{r}"), f"T-{r}") for r in regs]
    try:
        ahead_id, behind_id = (int(t.state["attempt_id"]) for t in terms)
        # One attempt was seen later than the flush to come (what an answer
        # committed after the flush's tick leaves); the other long ago.
        now = h.server.now()
        ahead, behind = now + 3600.0, now - 3600.0
        with h.db.begin() as c:
            c.execute(SET_SEEN, {"at": ahead, "id": ahead_id})
            c.execute(SET_SEEN, {"at": behind, "id": behind_id})
        await h.server.flush_presence()
        # The flush moves the old mark forward to its tick...
        assert _seen(h, behind_id) == now
        # ...and leaves the newer one alone (it used to write its older tick).
        assert _seen(h, ahead_id) == ahead
        # The proctor's view reads the mark (the attempt row is not rewritten
        # by the flush: it carries the engine state, kilobytes a row).
        rows = httpx.get(
            f"{h.url}/api/proctor/sessions/{h.seed.session_id}/attempts", headers=h.headers()
        ).json()
        seen = {r["attempt_id"]: r["last_seen_at"] for r in rows}
        assert seen[ahead_id] == ahead

        # Later intervals write the process's heartbeat, not the marks: the
        # rows stay as they are, yet the terminals are seen alive at the beat.
        clock = h.server.clock
        assert isinstance(clock, ManualClock)
        clock.advance(30.0)
        await h.server.flush_presence()
        assert _seen(h, behind_id) == now
        assert _last_seen(h)[behind_id] == pytest.approx(now + 30.0)

        # A terminal that goes is marked with the moment it was last known
        # alive (a clean close: when it closed) and no process; later beats
        # no longer vouch for it.
        clock.advance(2.0)
        closed_at = h.server.now()
        await terms[1].close()
        await _wait_gone(h, behind_id)
        clock.advance(3.0)
        await h.server.flush_presence()
        assert _row(h, behind_id) == (pytest.approx(closed_at), None)
        clock.advance(30.0)
        await h.server.flush_presence()
        assert _last_seen(h)[behind_id] == pytest.approx(closed_at)
        assert _last_seen(h)[ahead_id] == ahead  # still connected, still ahead of the beat

        # The terminal comes back: the next interval marks it with the process again.
        clock.advance(1.0)
        back = h.server.now()
        terms.append(
            await Terminal.open(h.ws_url, h.login(regs[1], f"T-{regs[1]}"), f"T-{regs[1]}")
        )
        await h.server.flush_presence()
        assert _row(h, behind_id)[1] is not None
        assert _last_seen(h)[behind_id] == pytest.approx(back)
    finally:
        for t in terms:
            await t.close()


def _row(h: ServerHandle, attempt_id: int) -> tuple[float, str | None]:
    with h.db.connect() as c:
        at, process = c.execute(
            text("SELECT last_seen_at, process_id FROM exam_presence WHERE attempt_id = :id"),
            {"id": attempt_id},
        ).one()
    return float(at), process


def _last_seen(h: ServerHandle) -> dict[int, float]:
    """What the proctor's view says (the rule: presence.seen_alive)."""
    rows = httpx.get(
        f"{h.url}/api/proctor/sessions/{h.seed.session_id}/attempts", headers=h.headers()
    ).json()
    return {int(r["attempt_id"]): float(r["last_seen_at"]) for r in rows}


async def _wait_gone(h: ServerHandle, attempt_id: int) -> None:
    """Until the server has noticed the terminal's close."""
    live = context(h.server.app).attempts.live
    for _ in range(500):
        la = live.get(attempt_id)
        if la is None or la.conn is None:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the server never noticed the close")


# --- the rule, on rows written directly ---------------------------------------


def _attempts(engine: Engine, session_id: int, n: int) -> list[int]:
    """``n`` running attempts of the session, last seen at 100 (as logins make them)."""
    with writer(engine).begin() as c:
        cands = [
            int(r[0])
            for r in c.execute(text("SELECT id FROM exam_candidate ORDER BY id LIMIT :n"), {"n": n})
        ]
        for cid in cands:
            c.execute(
                text(
                    "INSERT INTO exam_attempt (session_id, candidate_id, status, seed, last_seq,"
                    " response_head, terminal_released, remaining_at_start, last_seen_at,"
                    " started_at) VALUES (:s, :c, 'running', 1, 0, '', false, 600, 100, 100)"
                ),
                {"s": session_id, "c": cid},
            )
        return [int(r[0]) for r in c.execute(text("SELECT id FROM exam_attempt ORDER BY id"))]


def _seen_alive(engine: Engine, attempt_id: int) -> float:
    with Session(engine) as s:
        attempts = list(s.exec(select(Attempt).where(col(Attempt.id) == attempt_id)))
        return presence.seen_alive(s, attempts)[attempt_id]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_connected_terminal_is_seen_at_its_process_heartbeat(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'p.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    seed = seed_small(url, n_candidates=4)
    engine = make_engine(url)
    try:
        ids = _attempts(engine, seed.session_id, 4)
        with writer(engine).begin() as c:
            # Process A marks two terminals, B one; A's beat goes on, B died at 150.
            presence.record_presence(c, "A", 200.0, {ids[0]: 190.0, ids[1]: 195.0})
            presence.record_presence(c, "B", 150.0, {ids[2]: 140.0})
            presence.record_presence(c, "A", 400.0)
            # A's second terminal went at 250 (its row keeps that, no process).
            presence.record_presence(c, "A", 400.0, gone={ids[1]: 250.0})
            # A late "gone" from B for a terminal A holds changes nothing.
            presence.record_presence(c, "B", 150.0, gone={ids[0]: 999.0})
            # A beat queued behind a later one does not move it back.
            presence.record_presence(c, "A", 300.0)
            # B's socket of A's first terminal, older than A's connection (B
            # had not seen it close), does not take the row from A.
            presence.record_presence(c, "B", 150.0, {ids[0]: 180.0})
        want = {ids[0]: 400.0, ids[1]: 250.0, ids[2]: 150.0, ids[3]: 100.0}
        with Session(engine) as s:
            attempts = list(s.exec(select(Attempt).where(col(Attempt.id).in_(ids))))
            assert presence.seen_alive(s, attempts) == want
            # The SQL form is the same rule.
            rule = presence.seen_alive_sql(presence.ATTEMPT.c.last_seen_at)
            joined = presence.ATTEMPT.outerjoin(
                presence.PRESENCE, presence.PRESENCE.c.attempt_id == presence.ATTEMPT.c.id
            )
            got = s.execute(
                select(presence.ATTEMPT.c.id, rule)
                .select_from(joined)
                .where(presence.ATTEMPT.c.id.in_(ids))
            ).all()
            assert {int(a): float(t) for a, t in got} == want
        # A newer connection to another process D does take the row (and A's
        # later "gone" is then not A's to write): D's beat is read from then on.
        with writer(engine).begin() as c:
            presence.record_presence(c, "D", 412.0, {ids[0]: 410.0})
            presence.record_presence(c, "A", 420.0, gone={ids[0]: 415.0})
        assert _seen_alive(engine, ids[0]) == 412.0  # D's beat, not A's 420
        with writer(engine).begin() as c:
            presence.record_presence(c, "D", 500.0)
        assert _seen_alive(engine, ids[0]) == 500.0
        # B's and D's beats are still read (marks name them); A's, whose
        # terminals have all gone or moved, and C's, which never held one, are
        # pruned.
        with writer(engine).begin() as c:
            presence.record_presence(c, "C", 500.0)
            presence.prune_beats(c)
            beats = {r[0] for r in c.execute(text("SELECT process_id FROM exam_process_beat"))}
        assert beats == {"B", "D"}
    finally:
        engine.dispose()
