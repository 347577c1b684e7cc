"""Concurrent bursts of wrong logins (issue 14, hole 3: check and count as one step).

A login checks its keys, awaits slow work (a lookup, an scrypt hash), then
counts the failure. Before ``LoginLimiter.trying`` every try of a concurrent
burst passed the check before the first failure was counted, so a burst of
any size was checked in full. Now a key holds at most its in-flight
allowance of tries between check and count (per process): a burst gets at
most ``free`` + that allowance checked, the rest 429 unchecked.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from exam_server.clock import ManualClock
from exam_server.db import make_engine
from exam_server.limit_stores import LimitKey, MemoryStore
from exam_server.limits import LoginLimiter, Throttled
from exam_server.testing import ThreadServer
from tests.conftest import ServerHandle, make_settings, seed_small

Make = Callable[..., ServerHandle]

PER_ACCOUNT = LoginLimiter.in_flight_per_account
PER_SOURCE = LoginLimiter.in_flight_per_source


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Make]:
    """``make(**settings)`` → a seeded server that believes X-Forwarded-For from 127.0.0.1."""
    started: list[ServerHandle] = []

    def make(**settings: Any) -> ServerHandle:
        url = f"sqlite:///{tmp_path / f'bursts-{len(started)}.db'}"
        seed = seed_small(url, n_candidates=3)
        settings.setdefault("trusted_proxies", ("127.0.0.1",))
        srv = ThreadServer(make_settings(url, **settings), clock=ManualClock(time.time()))
        h = ServerHandle(srv.start(), seed, make_engine(url))
        started.append(h)
        return h

    yield make
    for h in started:
        h.server.stop()
        h.db.dispose()


async def burst(url: str, bodies: list[tuple[dict[str, Any], str]]) -> list[httpx.Response]:
    """POST every (json body, X-Forwarded-For) to ``url`` at once."""
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    async with httpx.AsyncClient(timeout=60, limits=limits) as c:
        return list(
            await asyncio.gather(
                *(c.post(url, json=b, headers={"X-Forwarded-For": src}) for b, src in bodies)
            )
        )


def codes(responses: list[httpx.Response]) -> Counter[int]:
    return Counter(r.status_code for r in responses)


# --- the rule ---------------------------------------------------------------------------


def limiter() -> LoginLimiter:
    from exam_server.limits import Backoff

    return LoginLimiter(
        MemoryStore(),
        None,  # type: ignore[arg-type]  # MemoryStore needs no engine
        ManualClock(1000.0),
        per_account=Backoff(5),
        per_source=Backoff(100),
        forget_after_seconds=600,
    )


def test_trying_holds_both_keys_in_flight_and_always_releases() -> None:
    lim = limiter()
    mine, every = lim.keys("staff", "admin", "10.0.0.1")

    async def scenario() -> None:
        entered = asyncio.Event()
        leave = asyncio.Event()

        async def hold(account: str) -> None:
            async with lim.trying("staff", account, "10.0.0.1"):
                entered.set()
                await leave.wait()

        held = [asyncio.create_task(hold("admin")) for _ in range(PER_ACCOUNT)]
        while lim.in_flight(mine) < PER_ACCOUNT:
            await asyncio.sleep(0)
        # One more try of the same key is refused unchecked, retry after 1 s.
        with pytest.raises(Throttled) as refused:
            async with lim.trying("staff", "admin", "10.0.0.1"):
                raise AssertionError("not reached")
        assert refused.value.retry_after == 1
        assert lim.in_flight(mine) == PER_ACCOUNT  # the refusal held nothing
        # Other accounts from the source fill the every-account key.
        others = [asyncio.create_task(hold(f"user{k}")) for k in range(PER_SOURCE - PER_ACCOUNT)]
        while lim.in_flight(every) < PER_SOURCE:
            await asyncio.sleep(0)
        with pytest.raises(Throttled):
            async with lim.trying("staff", "someone-else", "10.0.0.1"):
                raise AssertionError("not reached")
        # Another source is not held up.
        async with lim.trying("staff", "admin", "10.0.0.2") as had_failures:
            assert had_failures is False
        leave.set()
        await asyncio.gather(*held, *others)
        assert lim.in_flight(mine) == lim.in_flight(every) == 0

        # An exception inside the block (a failed lookup, a cancelled
        # request) releases the slots too.
        with pytest.raises(RuntimeError):
            async with lim.trying("staff", "admin", "10.0.0.1"):
                assert lim.in_flight(mine) == lim.in_flight(every) == 1
                raise RuntimeError("boom")
        assert lim.in_flight(mine) == lim.in_flight(every) == 0
        task = asyncio.create_task(hold("admin"))
        await entered.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert lim.in_flight(mine) == lim.in_flight(every) == 0

        # A key that must still wait is refused by the check, and released.
        for _ in range(5):
            async with lim.trying("staff", "admin", "10.0.0.1"):
                await lim.failed("staff", "admin", "10.0.0.1")
        with pytest.raises(Throttled) as waiting:
            async with lim.trying("staff", "admin", "10.0.0.1"):
                raise AssertionError("not reached")
        assert waiting.value.retry_after == 1
        assert lim.in_flight(mine) == lim.in_flight(every) == 0
        # ``also``: a caller's further key is held under the per-account allowance.
        extra = LimitKey("skb", "R001", "*")
        async with (
            lim.trying("skb", "R001", "10.0.0.3", also=(extra,)),
            lim.trying("skb", "R001", "10.0.0.4", also=(extra,)),
        ):
            assert lim.in_flight(extra) == 2
            with pytest.raises(Throttled):
                async with lim.trying("skb", "R001", "10.0.0.5", also=(extra,)):
                    raise AssertionError("not reached")
        assert lim.in_flight(extra) == 0
        assert lim._in_flight == {}  # nothing leaks

    asyncio.run(scenario())


# --- over HTTP --------------------------------------------------------------------------


def test_a_burst_of_wrong_staff_passwords_is_checked_only_up_to_the_allowance(
    server: Make,
) -> None:
    h = server()
    user, password = h.seed.admin
    free = h.settings.login_failures_per_candidate
    n = 60
    got = asyncio.run(
        burst(
            h.url + "/api/auth/login",
            [({"username": user, "password": f"guess-{k}"}, "10.9.9.9") for k in range(n)],
        )
    )
    c = codes(got)
    assert set(c) <= {401, 429}, c
    assert 1 <= c[401] <= free + PER_ACCOUNT, c
    assert c[401] + c[429] == n
    assert all(r.json()["retry_after"] >= 1 for r in got if r.status_code == 429)
    # The admin at the office is not held up by it.
    r = httpx.post(
        h.url + "/api/auth/login",
        json={"username": user, "password": password},
        headers={"X-Forwarded-For": "10.1.0.20"},
        timeout=30,
    )
    assert r.status_code == 200, r.text


def test_a_burst_across_usernames_from_one_address_is_checked_only_up_to_the_allowance(
    server: Make,
) -> None:
    per_source = 10
    h = server(login_failures_per_source=per_source)
    n = 80
    got = asyncio.run(
        burst(
            h.url + "/api/auth/login",
            [({"username": f"user{k}", "password": "guess"}, "10.9.9.9") for k in range(n)],
        )
    )
    c = codes(got)
    assert set(c) <= {401, 429}, c
    assert 1 <= c[401] <= per_source + PER_SOURCE, c
    assert c[401] + c[429] == n
