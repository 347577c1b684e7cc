"""The presence flush never moves a terminal's presence mark backwards (issue 8,
drill table), and keeps it out of the attempt row."""

from __future__ import annotations

import time
from typing import Any

import httpx
from sqlalchemy import text

from exam_server.clock import ManualClock
from exam_server.testing import Terminal
from tests.conftest import ServerHandle

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
    finally:
        for t in terms:
            await t.close()
