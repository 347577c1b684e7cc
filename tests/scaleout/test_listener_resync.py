"""A process whose LISTEN connection dropped catches up with the proctor acts
it missed (``AttemptCacheKeeper.resync``, exam_server.scaleout.fanout).

Two workers (ThreadServers) on one fresh PostgreSQL schema and one
:class:`~exam_server.clock.ManualClock`; the terminals are connected to the
holder. The holder's LISTEN backend is terminated with
``pg_terminate_backend`` (a network blip, an idle-session timeout, a pooler
restart) and kept from reconnecting while a proctor acts on the other
worker: its listener is pointed at a closed port for the outage (the
database unreachable for it) and back afterwards. The NOTIFY of the act is
lost to the holder for good; once LISTEN is in place again, the holder must
tell the terminal what a live act tells it, and hold what is stored. An
attempt nobody acted on gets nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from websockets.exceptions import ConnectionClosed

from exam_server.clock import ManualClock
from exam_server.context import context
from exam_server.db import make_engine
from exam_server.scaleout.fanout import PgEventBus
from exam_server.testing import Terminal, ThreadServer, candidate_login, staff_token
from tests.conftest import fresh_postgres_schema, make_settings, seed_small
from tests.scaleout.test_remote_acts import Workers as RemoteActWorkers

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]

PRESENCE = 15.0
GRACE = 30.0
HOLDER_APP = "seleksi-resync-holder"
ACTIONS = ("pause", "extend", "void")
#: Candidates (index into the seed): a live act and a missed act per action,
#: and one attempt per test nobody acts on.
CANDIDATE = {
    (action, kind): i
    for i, (action, kind) in enumerate(
        (a, k) for a in ACTIONS for k in ("live", "missed", "unchanged")
    )
}
CLOCK_COLUMNS = (
    "status",
    "remaining_at_start",
    "running_since",
    "terminal_id",
    "terminal_released",
)


@dataclass
class Workers(RemoteActWorkers):
    """The two workers of tests/scaleout/test_remote_acts.py, with the holder's
    bus and terminals logged in on the holder."""

    @property
    def bus(self) -> PgEventBus:
        bus = context(self.holder.app).bus
        assert isinstance(bus, PgEventBus)
        return bus

    async def terminal(self, i: int) -> tuple[Terminal, int]:
        reg = str(self.seed.candidates[i]["registration_number"])
        r = candidate_login(
            self.holder.url, reg, self.seed.pins()[reg], self.seed.session_token, "T-A"
        )
        assert r.status_code == 200, r.text
        t = await Terminal.open(self.holder.ws_url, str(r.json()["token"]), "T-A")
        (ack,) = await t.answer(1, 1)
        assert ack["type"] == "ack"
        return t, int(t.state["attempt_id"])

    def act(self, aid: int, action: str) -> dict[str, Any]:
        token = staff_token(self.other.url, *self.seed.proctor)
        body = {"reason": "uji"} | ({"seconds": 600} if action == "extend" else {})
        r = httpx.post(
            f"{self.other.url}/api/proctor/attempts/{aid}/{action}",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        return out

    def stored(self, aid: int) -> dict[str, Any]:
        with self.db.connect() as c:
            row = c.execute(
                text(f"SELECT {', '.join(CLOCK_COLUMNS)} FROM exam_attempt WHERE id = :a"),
                {"a": aid},
            )
            return dict(row.mappings().one())


@pytest.fixture(scope="module")
def workers() -> Iterator[Workers]:
    for url in fresh_postgres_schema("lr"):
        seed = seed_small(url, n_candidates=len(CANDIDATE))
        clock = ManualClock(time.time())
        kw = {"presence_interval_seconds": PRESENCE, "grace_seconds": GRACE}
        # The holder's connections carry a name, so the test cuts its LISTEN only.
        named = make_url(url).update_query_dict({"application_name": HOLDER_APP})
        holder_url = named.render_as_string(hide_password=False)
        holder = ThreadServer(make_settings(holder_url, **kw), clock=clock, presence_timer=False)
        other = ThreadServer(make_settings(url, **kw), clock=clock, presence_timer=False)
        holder.start()
        other.start()
        db = make_engine(url)
        try:
            yield Workers(holder, other, clock, seed, db)
        finally:
            holder.stop()
            other.stop()
            db.dispose()


async def wait_until(cond: Any, what: str, timeout: float = 15.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def frames(t: Terminal, quiet: float = 1.5) -> list[tuple[Any, ...]]:
    """What the terminal got until ``quiet`` seconds without a frame (or its
    socket closed), as (type, what matters) tuples."""
    out: list[tuple[Any, ...]] = []
    try:
        while True:
            msg = await t.recv(timeout=quiet)
            kind = msg.get("type")
            if kind == "time":
                out.append(("time", msg["status"], msg["clock_running"]))
            elif kind == "notice":
                out.append(("notice", msg.get("action")))
            else:
                out.append((kind, msg.get("code")))
    except TimeoutError:
        pass
    except ConnectionClosed as exc:
        out.append(("closed", exc.rcvd.code if exc.rcvd else None))
    return out


def copy_matches_store(w: Workers, aid: int) -> None:
    la = context(w.holder.app).attempts.live.get(aid)
    if la is None:
        return  # dropped: reloaded from the database on next use
    stored = w.stored(aid)
    for col in CLOCK_COLUMNS:
        mine, theirs = getattr(la, col), stored[col]
        if isinstance(theirs, float):
            assert mine == pytest.approx(theirs, abs=1e-6), (col, mine, theirs)
        else:
            assert mine == theirs, (col, mine, theirs)


async def test_no_resync_on_first_connect(workers: Workers) -> None:
    assert workers.bus.listening.is_set()
    assert workers.bus.resyncs == workers.bus.reconnects == 0


@pytest.mark.parametrize("action", ACTIONS)
async def test_act_missed_while_listener_reconnects_reaches_the_terminal(
    workers: Workers, action: str
) -> None:
    w, bus = workers, workers.bus
    live, laid = await w.terminal(CANDIDATE[action, "live"])
    missed, maid = await w.terminal(CANDIDATE[action, "missed"])
    calm, caid = await w.terminal(CANDIDATE[action, "unchanged"])
    w.clock.advance(10.0)
    await w.holder.flush_presence()
    calm_before = w.stored(caid)

    # What a live act (the holder listening) tells the terminal.
    w.act(laid, action)
    expected = await frames(live)
    assert expected, f"a live {action} told the terminal nothing"
    copy_matches_store(w, laid)

    # The holder's LISTEN session is cut and stays down during the act.
    good = bus.conninfo
    bus.conninfo = make_url("postgresql://postgres@127.0.0.1:1/test").render_as_string()
    reconnects, resyncs = bus.reconnects, bus.resyncs
    try:
        with w.db.connect() as c:
            cut = c.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE application_name = :app AND query LIKE 'LISTEN %'"
                ),
                {"app": HOLDER_APP},
            ).scalar()
        assert cut == 1
        await wait_until(lambda: bus.reconnects > reconnects + 1, "the listener to fail again")
        assert not bus.listening.is_set()
        w.act(maid, action)
        await asyncio.sleep(0.3)  # the NOTIFY goes out now, to nobody on the holder
        gap = await frames(missed, quiet=0.3)
        assert gap == [], f"the terminal heard of the act while its listener was down: {gap}"
    finally:
        bus.conninfo = good
    await wait_until(bus.listening.is_set, "the listener to reconnect")

    got = await frames(missed, quiet=3.0)
    assert got == expected, f"missed {action}: terminal got {got}, a live act gives {expected}"
    await wait_until(lambda: bus.resyncs > resyncs, "the resync to finish")
    copy_matches_store(w, maid)
    stored = w.stored(maid)
    la = context(w.holder.app).attempts.live.get(maid)
    if action == "void":
        assert stored["status"] == "void" and (la is None or la.conn is None)
    else:
        assert la is not None and la.conn is not None
        st = await missed.request({"type": "state"})
        now = w.clock.now()
        left = (
            stored["remaining_at_start"]
            if stored["running_since"] is None
            else stored["remaining_at_start"] - (now - stored["running_since"])
        )
        assert st["remaining_seconds"] == pytest.approx(left, abs=1e-6)
        assert st["clock_running"] is (stored["running_since"] is not None)

    # Nobody acted on this one: no frame, its copy as stored before.
    assert await frames(calm, quiet=0.5) == []
    assert w.stored(caid) == calm_before
    copy_matches_store(w, caid)
    for t in (live, missed, calm):
        await t.close()
