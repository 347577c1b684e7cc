"""The presence flush never moves a terminal's presence mark backwards (issue 8,
drill table), and keeps it out of the attempt row."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from sqlalchemy import text

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


async def test_presence_flush_keeps_the_later_last_seen_at(live_server: ServerHandle) -> None:
    await _check_flush(live_server)  # SQLite


async def test_presence_flush_keeps_the_later_last_seen_at_on_postgresql(
    postgres_url: str, server_factory: Any
) -> None:
    # postgres_url first: its schema is dropped after the server has stopped
    # (else the drop races the server's presence flush for the table lock).
    h = server_factory(database_url=postgres_url, n_candidates=2)
    try:
        await _check_flush(h)
    finally:
        h.server.stop()


async def _check_flush(h: ServerHandle) -> None:
    """presence_interval_seconds is 0.5 in the test settings."""
    regs = [c["registration_number"] for c in h.seed.candidates[:2]]
    terms = [await Terminal.open(h.ws_url, h.login(r, f"T-{r}"), f"T-{r}") for r in regs]
    try:
        ahead_id, behind_id = (int(t.state["attempt_id"]) for t in terms)
        # One attempt was seen later than any flush tick to come (what an
        # answer committed after the tick leaves); the other long ago.
        ahead, behind = time.time() + 3600.0, time.time() - 3600.0
        with h.db.begin() as c:
            c.execute(SET_SEEN, {"at": ahead, "id": ahead_id})
            c.execute(SET_SEEN, {"at": behind, "id": behind_id})
        # Wait for a flush after that write: it moves the old one forward...
        deadline = time.monotonic() + 15.0
        while _seen(h, behind_id) == behind and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert _seen(h, behind_id) > behind, "no presence flush ran"
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
