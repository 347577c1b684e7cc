"""A proctor act does the same wherever it is taken (issue 13: "A proctor act
taken on another worker leaves every console wrong").

Two workers (ThreadServers) on one PostgreSQL schema and one
:class:`~exam_server.clock.ManualClock`; the terminal is connected to worker
A (the holder), a proctor console is open on each worker, and the act is
taken on A or on B. What a candidate and a proctor would notice must not
depend on which: the REST reply, the terminal's frames and clock, the stored
clock, and both consoles.

The presence flush (every ``presence_interval_seconds`` on the holder) is run
by the test where the clock jumps: it is what the periodic task would have
done in the time skipped.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from websockets.exceptions import ConnectionClosed

from exam_server.clock import ManualClock
from exam_server.context import context
from exam_server.db import make_engine
from exam_server.demo import SeedSummary
from exam_server.testing import Terminal, ThreadServer, candidate_login, staff_token
from tests.conftest import fresh_postgres_schema, make_settings, seed_small
from tests.scaleout.helpers import Channel

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]

# The periodic flush is run by the test (the timer is off), and a mark is
# fresh for 3 × this (exam_server.presence.looks_connected); at most half the
# grace, as Settings requires.
PRESENCE = 15.0
GRACE = 30.0

#: The candidate (index into the seed) each test drives.
CANDIDATE = {
    ("pause", "holder"): 0,
    ("pause", "other"): 1,
    ("stale", "other"): 2,
    ("release", "holder"): 3,
    ("release", "other"): 4,
    ("void", "holder"): 5,
    ("void", "other"): 6,
}


@dataclass
class Workers:
    holder: ThreadServer
    other: ThreadServer
    clock: ManualClock
    seed: SeedSummary
    db: Engine

    def by_name(self, name: str) -> ThreadServer:
        return self.holder if name == "holder" else self.other

    def regno(self, i: int = 0) -> str:
        return str(self.seed.candidates[i]["registration_number"])

    def login(self, server: ThreadServer, i: int, terminal_id: str) -> str:
        reg = self.regno(i)
        r = candidate_login(
            server.url, reg, self.seed.pins()[reg], self.seed.session_token, terminal_id
        )
        assert r.status_code == 200, r.text
        return str(r.json()["token"])

    def stored_clock(self, attempt_id: int) -> dict[str, Any]:
        with self.db.connect() as c:
            row = c.execute(
                text(
                    "SELECT status, remaining_at_start, running_since, deadline_at,"
                    " terminal_id, terminal_released FROM exam_attempt WHERE id = :a"
                ),
                {"a": attempt_id},
            )
            return dict(row.mappings().one())


@pytest.fixture(scope="module")
def workers() -> Iterator[Workers]:
    """Two workers for the whole module (starting them costs more than a test);
    each test takes candidates of its own (:data:`CANDIDATE`)."""
    for url in fresh_postgres_schema("ra"):
        seed = seed_small(url, n_candidates=len(CANDIDATE))
        clock = ManualClock(time.time())
        settings = {"presence_interval_seconds": PRESENCE, "grace_seconds": GRACE}
        a = ThreadServer(make_settings(url, **settings), clock=clock, presence_timer=False).start()
        b = ThreadServer(make_settings(url, **settings), clock=clock, presence_timer=False).start()
        db = make_engine(url)
        try:
            yield Workers(a, b, clock, seed, db)
        finally:  # before the schema is dropped
            a.stop()
            b.stop()
            db.dispose()


@pytest.fixture
async def consoles(workers: Workers) -> AsyncIterator[list[Channel]]:
    """A proctor console on each worker (holder first)."""
    chans = []
    for server in (workers.holder, workers.other):
        token = staff_token(server.url, *workers.seed.proctor)
        base = server.url.replace("http://", "ws://")
        chans.append(await Channel.open(base, f"/ws/proctor/{workers.seed.session_id}", token))
    yield chans
    for ch in chans:
        await ch.close()


async def jump(w: Workers, seconds: float) -> None:
    """Move the shared clock on by ``seconds`` while the holder's terminal
    stays connected: in steps shorter than the grace, each followed by the
    holder's presence flush (what its periodic task does in real time).

    In one jump, the holder's mark would be older than the grace until the
    test flushed, and a worker's database sweep running in that moment would
    rightly take the terminal for gone and charge it only the grace (570
    instead of 558 s left: this test failed so under a busy machine)."""
    step = GRACE / 2
    while seconds > 0:
        w.clock.advance(min(step, seconds))
        seconds -= step
        await w.holder.flush_presence()


def act(w: Workers, server: ThreadServer, aid: int, action: str, **body: Any) -> dict[str, Any]:
    token = staff_token(server.url, *w.seed.proctor)
    r = httpx.post(
        f"{server.url}/api/proctor/attempts/{aid}/{action}",
        json={"reason": "uji", **body},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


async def pushed(t: Terminal, kind: str) -> dict[str, Any]:
    """The next pushed frame of ``kind`` (``time``/``notice``) the terminal gets."""
    for i, msg in enumerate(t.pushed):
        if msg.get("type") == kind:
            return t.pushed.pop(i)
    while True:
        msg = await t.recv()
        if msg.get("type") == kind:
            return msg
        t.pushed.append(msg)


async def closed_with(t: Terminal) -> tuple[list[str], int | None]:
    """The error codes the terminal got until its socket closed, and the close code."""
    codes = []
    try:
        while True:
            msg = await t.recv()
            if msg.get("type") == "error":
                codes.append(str(msg["code"]))
    except ConnectionClosed as exc:
        return codes, exc.rcvd.code if exc.rcvd else None


async def both_show(
    consoles: list[Channel], reg: str, status: str, deadline: float | None
) -> list[dict[str, Any]]:
    """Wait until every console shows ``reg`` with ``status`` and ``deadline``
    (None: the clock is stopped)."""

    def shows(row: dict[str, Any]) -> bool:
        if row["registration_number"] != reg or row["status"] != status:
            return False
        if deadline is None:
            return row["deadline_at"] is None
        return row["deadline_at"] is not None and abs(row["deadline_at"] - deadline) < 1e-6

    rows = []
    for ch in consoles:
        try:
            rows.append(await ch.wait_for(shows, timeout=10))
        except TimeoutError:
            last = [
                r
                for f in ch.frames[-6:]
                for r in f.get("terminals", [])
                if r["registration_number"] == reg
            ]
            raise AssertionError(f"a console never showed {status}/{deadline}: {last}") from None
    return rows


@pytest.mark.parametrize("where", ["holder", "other"])
async def test_pause_and_resume_show_the_same_on_every_worker(
    workers: Workers, consoles: list[Channel], where: str
) -> None:
    w, clock = workers, workers.clock
    i = CANDIDATE["pause", where]
    reg = w.regno(i)
    t = await Terminal.open(w.holder.ws_url, w.login(w.holder, i, "T-A"), "T-A")
    aid = int(t.state["attempt_id"])
    (ack,) = await t.answer(1, 1)
    assert ack["type"] == "ack"
    await jump(w, 60.0)
    paused = act(w, w.by_name(where), aid, "pause")
    left = paused["remaining_seconds"]
    assert paused["status"] == "paused" and paused["deadline"] is None
    assert left == pytest.approx(t.state["remaining_seconds"] - 60.0, abs=1e-6)
    frame = await pushed(t, "time")
    assert frame["status"] == "paused" and frame["clock_running"] is False
    await both_show(consoles, reg, "paused", None)

    clock.advance(300.0)  # a long break: not counted
    await w.holder.flush_presence()  # the holder's periodic mark, due in the break
    resumed = act(w, w.by_name(where), aid, "resume")
    now = clock.now()
    assert resumed["status"] == "running"
    assert resumed["deadline"] == pytest.approx(now + left, abs=1e-6)  # issue 13: was null on B
    frame = await pushed(t, "time")
    assert frame["status"] == "running" and frame["clock_running"] is True
    assert frame["remaining_seconds"] == pytest.approx(left, abs=1e-6)
    stored = w.stored_clock(aid)
    assert stored["status"] == "running" and stored["running_since"] == pytest.approx(now, abs=1e-6)
    # Every console: the terminal working, its clock running to the same deadline.
    await both_show(consoles, reg, "working", now + left)
    clock.advance(10.0)
    st = await t.request({"type": "state"})
    assert st["clock_running"] is True and st["remaining_seconds"] == pytest.approx(
        left - 10.0, abs=1e-6
    )
    await t.close()


async def test_resume_elsewhere_with_a_stale_mark_is_started_by_the_holder(
    workers: Workers, consoles: list[Channel]
) -> None:
    """The other worker cannot tell that the terminal is connected (its mark is
    older than three presence intervals): the holder starts the clock and
    publishes ``clock``; every console reloads the attempt on it."""
    w, clock = workers, workers.clock
    i = CANDIDATE["stale", "other"]
    reg = w.regno(i)
    t = await Terminal.open(w.holder.ws_url, w.login(w.holder, i, "T-A"), "T-A")
    aid = int(t.state["attempt_id"])
    left = act(w, w.other, aid, "pause")["remaining_seconds"]
    await pushed(t, "time")
    await both_show(consoles, reg, "paused", None)
    clock.advance(4 * PRESENCE)  # no mark in the meantime: stale for the other worker
    # The other worker saw no fresh mark: its reply waits for the holder's
    # `clock` event, so it says what the candidate and the consoles see.
    reply = act(w, w.other, aid, "resume")
    frame = await pushed(t, "time")
    assert frame["status"] == "running" and frame["clock_running"] is True
    stored = w.stored_clock(aid)
    assert stored["running_since"] is not None, "the holder did not start the clock"
    deadline = float(stored["running_since"]) + left
    assert stored["deadline_at"] == pytest.approx(deadline, abs=1e-6)
    assert reply["deadline"] == pytest.approx(deadline, abs=1e-6), reply
    await both_show(consoles, reg, "working", deadline)
    await t.close()


@pytest.mark.parametrize("where", ["holder", "other"])
async def test_release_unbinds_the_terminal_on_every_worker(
    workers: Workers, consoles: list[Channel], where: str
) -> None:
    w = workers
    i = CANDIDATE["release", where]
    token = w.login(w.holder, i, "T-A")
    t = await Terminal.open(w.holder.ws_url, token, "T-A")
    aid = int(t.state["attempt_id"])
    await t.answer(1, 3)
    out = act(w, w.by_name(where), aid, "release")
    assert out["terminal_released"] is True
    codes, close = await closed_with(t)
    assert codes == ["replaced"] and close == 1008
    assert w.stored_clock(aid)["terminal_released"] is True
    # The old terminal cannot come back with its token, on either worker.
    for server in (w.holder, w.other):
        stale = await Terminal.open(server.ws_url, token, "T-A")
        assert stale.state["type"] == "error"
        assert stale.state["code"] in ("terminal_locked", "wrong_terminal"), stale.state
        await stale.ws.close()
    # The candidate logs in at another terminal, through the worker that held
    # the old one, and goes on where they were.
    t2 = await Terminal.open(w.holder.ws_url, w.login(w.holder, i, "T-B"), "T-B")
    assert t2.state["type"] == "state" and t2.state["last_seq"] == 1
    (ack,) = await t2.answer(2, 1)
    assert ack["type"] == "ack" and ack["seq"] == 2
    assert w.stored_clock(aid)["terminal_id"] == "T-B"
    await t2.close()


@pytest.mark.parametrize("where", ["holder", "other"])
async def test_void_closes_the_terminal_on_every_worker(
    workers: Workers, consoles: list[Channel], where: str
) -> None:
    w = workers
    i = CANDIDATE["void", where]
    reg = w.regno(i)
    t = await Terminal.open(w.holder.ws_url, w.login(w.holder, i, "T-A"), "T-A")
    aid = int(t.state["attempt_id"])
    await t.answer(1, 3)
    await jump(w, 42.0)
    out = act(w, w.by_name(where), aid, "void")
    assert out["status"] == "void" and out["deadline"] is None
    assert out["remaining_seconds"] == pytest.approx(t.state["remaining_seconds"] - 42.0, abs=1e-6)
    codes, close = await closed_with(t)
    assert codes == ["attempt_void"] and close == 1008
    stored = w.stored_clock(aid)
    assert stored["status"] == "void" and stored["running_since"] is None
    await both_show(consoles, reg, "void", None)
    # No worker keeps the voided attempt bound to a socket.
    for server in (w.holder, w.other):
        la = context(server.app).attempts.live.get(aid)
        assert la is None or la.conn is None
