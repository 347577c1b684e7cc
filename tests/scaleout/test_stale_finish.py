"""A worker whose copy of an attempt missed another worker's proctor act must
not end the attempt from that copy (found in review, 2026-12-07).

Two workers on one PostgreSQL schema and one ManualClock; the terminal is on
worker A (the holder). A proctor pauses, extends or voids the attempt on
worker B, and the news (LISTEN/NOTIFY) is held back from A, as it is while a
notification is in flight or lost in a listener's reconnect. A's sweep then
reaches the attempt's *old* deadline. Before, A ended it as time-up and
overwrote the pause, the extension or the void; now its finish is refused
against the stored row (``scaleout.locks.check_attempt_current``), A drops
its copy and the terminal reconnects to the stored attempt.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from exam_server.clock import ManualClock
from exam_server.context import context
from exam_server.db import make_engine
from exam_server.testing import Terminal, ThreadServer, candidate_login, staff_token
from tests.conftest import fresh_postgres_schema, make_settings, seed_small

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]

LIMIT = 600.0


def stored(db: Any, aid: int) -> dict[str, Any]:
    with db.connect() as c:
        return dict(
            c.execute(
                text(
                    "SELECT status, finish_reason, remaining_at_start FROM exam_attempt"
                    " WHERE id = :a"
                ),
                {"a": aid},
            )
            .mappings()
            .one()
        )


@pytest.mark.parametrize(
    ("action", "status"), [("pause", "paused"), ("extend", "running"), ("void", "void")]
)
async def test_a_stale_copy_does_not_end_an_attempt_acted_on_elsewhere(
    action: str, status: str
) -> None:
    for url in fresh_postgres_schema("stale"):
        seed = seed_small(url, n_candidates=2, time_limit_seconds=LIMIT)
        clock = ManualClock(time.time())
        kw = {
            "presence_interval_seconds": 15.0,
            "grace_seconds": 30.0,
            "sweep_interval_seconds": 3600.0,
        }
        holder = ThreadServer(make_settings(url, **kw), clock=clock, presence_timer=False).start()
        other = ThreadServer(make_settings(url, **kw), clock=clock, presence_timer=False).start()
        db = make_engine(url)
        try:
            reg = str(seed.candidates[0]["registration_number"])
            r = candidate_login(holder.url, reg, seed.pins()[reg], seed.session_token, "T-A")
            t = await Terminal.open(holder.ws_url, r.json()["token"], "T-A")
            aid = int(t.state["attempt_id"])
            assert (await t.answer(1, 1))[0]["type"] == "ack"
            for _ in range(39):  # 585 s of work, the holder's presence kept fresh
                clock.advance(15.0)
                await holder.flush_presence()

            held: list[Any] = []
            bus = context(holder.app).bus
            real = bus.on_remote
            bus.on_remote = _holding(held)  # the news of B's act does not reach A yet
            token = staff_token(other.url, *seed.proctor)
            body: dict[str, Any] = {"reason": "uji"}
            if action == "extend":
                body["seconds"] = 600
            reply = httpx.post(
                f"{other.url}/api/proctor/attempts/{aid}/{action}",
                json=body,
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            assert reply.status_code == 200, reply.text
            acted = stored(db, aid)

            clock.advance(30.0)  # past the old deadline only
            await holder.flush_presence()
            await holder.sweep()
            after = stored(db, aid)
            assert after == acted, f"{action} on B was overwritten by A: {after}"
            assert after["status"] == status
            if action == "extend":
                assert after["remaining_at_start"] > LIMIT  # the extension kept
            bus.on_remote = real
            for event in held:
                await holder.on_loop(real(event))
            assert stored(db, aid) == acted
        finally:
            holder.stop()
            other.stop()
            db.dispose()


def _holding(held: list[Any]) -> Any:
    async def hold(event: Any) -> None:
        held.append(event)

    return hold
