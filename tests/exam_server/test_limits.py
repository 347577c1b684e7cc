"""Login limits that cannot be turned against people (issue 14, hole 3).

Each HTTP test attacks a real app over its real endpoints, as the issue did:
wrong PINs and passwords, rotated terminal ids and forged X-Forwarded-For
headers, probing for registration numbers. Time is a ManualClock, so waits
pass without sleeping.
"""

from __future__ import annotations

import asyncio
import gc
import json
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from exam_server.clock import ManualClock
from exam_server.db import make_engine
from exam_server.limits import (
    Backoff,
    LimitKey,
    MemoryStore,
    SqlStore,
    parse_networks,
    proxy_headers,
    source_of,
)
from exam_server.testing import ThreadServer
from tests.conftest import ServerHandle, make_settings, seed_small

Make = Callable[..., tuple[ServerHandle, ManualClock]]


@pytest.fixture
def clocked(tmp_path: Path) -> Iterator[Make]:
    """``make(database_url=None, seed=True, **settings)`` → (handle, clock): a
    seeded server on a ManualClock that believes X-Forwarded-For from
    127.0.0.1 (so a test can speak from several addresses) unless told
    otherwise. ``seed=False`` reuses the seeded database; ``clock`` shares a clock."""
    started: list[ServerHandle] = []
    seeds: dict[str, Any] = {}

    def make(
        database_url: str | None = None,
        seed: bool = True,
        clock: ManualClock | None = None,
        **settings: Any,
    ) -> tuple[ServerHandle, ManualClock]:
        url = database_url or f"sqlite:///{tmp_path / f'limits-{len(started)}.db'}"
        if seed:
            seeds[url] = seed_small(url, n_candidates=6)
        settings.setdefault("trusted_proxies", ("127.0.0.1",))
        clock = clock or ManualClock(time.time())
        server = ThreadServer(make_settings(url, **settings), clock=clock).start()
        h = ServerHandle(server, seeds[url], make_engine(url))
        started.append(h)
        return h, clock

    yield make
    for h in started:
        h.server.stop()
        h.db.dispose()


def regs(h: ServerHandle) -> list[str]:
    return [c["registration_number"] for c in h.seed.candidates]


def wrong_pin(h: ServerHandle, reg: str) -> str:
    return "000000" if h.seed.pins()[reg] != "000000" else "111111"


def pin_login(
    h: ServerHandle, reg: str, pin: str, source: str | None = None, terminal: str = "T-1"
) -> httpx.Response:
    headers = {"X-Forwarded-For": source} if source else {}
    return httpx.post(
        h.url + "/api/candidate/login",
        json={
            "registration_number": reg,
            "pin": pin,
            "session_token": h.seed.session_token,
            "terminal_id": terminal,
        },
        headers=headers,
        timeout=30,
    )


def staff_login(h: ServerHandle, user: str, password: str, source: str) -> httpx.Response:
    return httpx.post(
        h.url + "/api/auth/login",
        json={"username": user, "password": password},
        headers={"X-Forwarded-For": source},
        timeout=30,
    )


def audit_events(h: ServerHandle, kind: str) -> list[dict[str, Any]]:
    with h.db.connect() as c:
        rows = c.exec_driver_sql(
            "SELECT actor, data_json FROM exam_audit WHERE kind = ? ORDER BY id"
            if h.settings.is_sqlite
            else "SELECT actor, data_json FROM exam_audit WHERE kind = %s ORDER BY id",
            (kind,),
        ).all()
    return [{"actor": r[0], **json.loads(r[1])} for r in rows]


# --- the rules ------------------------------------------------------------------------


def test_backoff_doubles_after_the_free_failures_up_to_the_cap() -> None:
    b = Backoff(free=5, base_seconds=1.0, cap_seconds=300.0)
    assert [b.delay(n) for n in range(1, 15)] == [
        0,
        0,
        0,
        0,
        1,
        2,
        4,
        8,
        16,
        32,
        64,
        128,
        256,
        300,
    ]
    assert b.delay(10**9) == 300.0  # no overflow however many failures


TRUSTED = ("10.0.0.0/8", "127.0.0.1")
addresses = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(str),
    st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=30),
)


def client_seen(trusted: tuple[str, ...], peer: str, forwarded_for: list[str]) -> str:
    """The client address the app's endpoints see for a request from ``peer``
    carrying these X-Forwarded-For headers (the app's own middleware)."""
    mw = proxy_headers(trusted)
    seen: dict[str, str] = {}

    async def endpoint(scope: Any, receive: Any, send: Any) -> None:
        seen["client"] = scope["client"][0]

    scope = {
        "type": "http",
        "scheme": "http",
        "client": (peer, 40000),
        "headers": [(b"x-forwarded-for", v.encode("latin1")) for v in forwarded_for],
    }
    asyncio.run(mw.cls(endpoint, *mw.args, **mw.kwargs)(scope, None, None))
    return seen["client"]


@given(peer=addresses, header=st.lists(st.lists(addresses, max_size=4), max_size=3))
def test_forwarded_for_from_an_untrusted_peer_is_ignored(
    peer: str, header: list[list[str]]
) -> None:
    values = [", ".join(v) for v in header]
    assert client_seen((), peer, values) == peer
    assume(not peer.startswith(("10.", "127.0.0.1")))
    assert client_seen(TRUSTED, peer, values) == peer


@given(claimed=st.lists(addresses, max_size=4), client=st.ip_addresses(v=4).map(str))
def test_a_client_cannot_hide_behind_what_it_writes_left_of_the_proxy(
    claimed: list[str], client: str
) -> None:
    # The client sends any X-Forwarded-For it likes; the trusted proxy 10.0.0.1
    # appends the address it saw; the server's peer is the proxy.
    assume(not client.startswith("10.") and client != "127.0.0.1")
    values = [", ".join([*claimed, client])]
    assert client_seen(TRUSTED, "10.0.0.1", values) == client


def test_source_of_keys_ipv6_by_its_64_and_maps_ipv4() -> None:
    assert source_of("2001:db8:1:2:aaaa::1") == source_of("2001:db8:1:2:bbbb::9")
    assert source_of("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert source_of("2001:db8:1:3::1") != source_of("2001:db8:1:2::1")
    assert source_of("::ffff:192.0.2.7") == "192.0.2.7"
    with pytest.raises(ValueError, match="trusted_proxies"):
        parse_networks(["10.0.0.0/8", "proxy.example"])
    with pytest.raises(ValueError, match="trusted_proxies"):
        proxy_headers(["10.0.0.0/33"])


def test_a_flood_of_distinct_keys_does_not_grow_memory() -> None:
    store = MemoryStore(max_keys=2_000)
    since = -1.0  # nothing expires in this test: only the cap bounds it

    def flood(first: int, n: int) -> None:
        for i in range(first, first + n):
            store.add_failure(None, [LimitKey("pin", f"R{i:09d}", f"198.51.{i % 250}.1")], i, since)

    tracemalloc.start()
    try:
        flood(0, 5_000)  # past the cap: the store is at its size from here on
        gc.collect()
        at_cap = tracemalloc.get_traced_memory()[0]
        flood(5_000, 100_000)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - at_cap
    finally:
        tracemalloc.stop()
    assert len(store) == 2_000
    # 2,000 keys take ~0.8 MB (at_cap), so 100,000 more kept would be ~40 MB;
    # a bounded store replaces keys in place (allow 128 KiB of slack for the
    # dict's table and the interned strings of the last keys).
    assert at_cap < 2 * 1024 * 1024, at_cap
    assert grown < 128 * 1024, grown
    # The most recent failures are the ones kept.
    assert store.read(None, [LimitKey("pin", "R000104999", "198.51.249.1")], since)


def test_expired_keys_leave_the_memory_store() -> None:
    store = MemoryStore()
    store.add_failure(None, [LimitKey("pin", "A", "s")], now=100.0, since=0.0)
    store.add_failure(None, [LimitKey("pin", "B", "s")], now=200.0, since=0.0)
    assert [e.key.account for e in store.entries(None, since=150.0, limit=10)] == ["B"]
    assert len(store) == 1
    # A key failing again after it expired starts over.
    counts = store.add_failure(None, [LimitKey("pin", "B", "s")], now=900.0, since=500.0)
    assert counts == {LimitKey("pin", "B", "s"): 1}


# --- candidates -----------------------------------------------------------------------


def test_five_wrong_pins_then_a_pin_reissue_lets_the_candidate_in(clocked: Make) -> None:
    h, clock = clocked()
    reg = regs(h)[0]
    bad = wrong_pin(h, reg)
    codes = [pin_login(h, reg, bad, "10.1.1.1").status_code for _ in range(5)]
    assert codes == [401] * 5
    # The attack of the issue: the candidate's correct PIN is now refused ...
    r = pin_login(h, reg, h.seed.pins()[reg], "10.1.1.1")
    assert r.status_code == 429
    assert r.json()["error"] == "rate_limited" and r.json()["retry_after"] == 1
    assert r.headers["Retry-After"] == "1"
    # ... but only for a while, and only from that address: the same
    # candidate at another terminal address is let in at once.
    assert pin_login(h, reg, h.seed.pins()[reg], "10.2.2.2").status_code == 200
    # The waits grow: 1 s, 2 s, 4 s after further wrong PINs.
    waits = []
    for _ in range(3):
        clock.advance(pin_login(h, reg, bad, "10.1.1.1").json().get("retry_after", 0))
        assert pin_login(h, reg, bad, "10.1.1.1").status_code == 401
        waits.append(pin_login(h, reg, bad, "10.1.1.1").json()["retry_after"])
    assert waits == [2, 4, 8]
    # The proctor checks the candidate's identity and issues a new PIN: the
    # candidate logs in at once, from the address that was held up.
    r = httpx.post(
        f"{h.url}/api/proctor/sessions/{h.seed.session_id}/checkin",
        json={"registration_number": reg},
        headers=h.headers("proctor"),
    )
    assert r.status_code == 200
    new_pin = r.json()["pin"]
    r = pin_login(h, reg, new_pin, "10.1.1.1")
    assert r.status_code == 200, r.text


def test_rotating_terminal_ids_or_forged_headers_does_not_escape(clocked: Make) -> None:
    # No trusted proxy: X-Forwarded-For is the attacker's own words.
    h, _ = clocked(trusted_proxies=(), login_failures_per_source=10)
    victim, other = regs(h)[0], regs(h)[1]
    bad = wrong_pin(h, victim)
    for i in range(5):
        assert pin_login(h, victim, bad, f"203.0.113.{i}", terminal=f"T-{i}").status_code == 401
    r = pin_login(h, victim, bad, "203.0.113.99", terminal="T-fresh")
    assert r.status_code == 429
    # Guessing across registration numbers from one address slows down too
    # (here 10 free failures per source, then the same doubling wait).
    codes = [pin_login(h, f"X{i:06d}", "123456", terminal=f"T-{i}").status_code for i in range(8)]
    assert codes == [401] * 5 + [429] * 3
    assert pin_login(h, other, h.seed.pins()[other]).status_code == 429


def test_an_attacker_using_a_victims_terminal_id_does_not_lock_the_victim(
    clocked: Make,
) -> None:
    h, _ = clocked()
    reg = regs(h)[0]
    for _ in range(10):
        pin_login(h, reg, wrong_pin(h, reg), "10.66.6.6", terminal="T-VICTIM")
    assert pin_login(h, reg, wrong_pin(h, reg), "10.66.6.6", terminal="T-VICTIM").status_code == 429
    r = pin_login(h, reg, h.seed.pins()[reg], "10.7.7.7", terminal="T-VICTIM")
    assert r.status_code == 200, r.text


def test_unknown_and_known_numbers_get_the_same_answer(clocked: Make) -> None:
    h, _ = clocked()
    known, known_closed = regs(h)[0], regs(h)[1]
    unknown = "99999999"
    assert unknown not in regs(h)

    def answer(r: httpx.Response) -> tuple[int, Any]:
        return r.status_code, r.json()

    a_unknown = answer(pin_login(h, unknown, "123456", "10.3.0.1"))
    a_wrong = answer(pin_login(h, known, wrong_pin(h, known), "10.3.0.2"))
    assert a_unknown == a_wrong and a_unknown[0] == 401
    assert a_unknown[1]["error"] == "bad_credentials"
    r = httpx.post(
        f"{h.url}/api/sessions/{h.seed.session_id}/close",
        json={"reason": "session over"},
        headers=h.headers("proctor"),
    )
    assert r.status_code == 200, r.text
    # Before: a closed session answered 403 to a wrong PIN, 401 to an unknown number.
    a_closed_wrong = answer(pin_login(h, known_closed, wrong_pin(h, known_closed), "10.3.0.3"))
    assert a_closed_wrong == a_unknown
    assert answer(pin_login(h, unknown, "123456", "10.3.0.4")) == a_unknown
    # Only the right PIN learns that the session is over.
    r = pin_login(h, known_closed, h.seed.pins()[known_closed], "10.3.0.5")
    assert r.status_code == 403 and r.json()["error"] == "session_closed"
    # Unknown numbers back off like known ones, so the wait tells nothing either.
    for reg in (unknown, known):
        for _ in range(5):
            pin_login(h, reg, "123456" if reg == unknown else wrong_pin(h, reg), "10.3.1.1")
    assert answer(pin_login(h, unknown, "123456", "10.3.1.1")) == answer(
        pin_login(h, known, wrong_pin(h, known), "10.3.1.1")
    )


# --- staff ----------------------------------------------------------------------------


def test_wrong_staff_passwords_from_one_address_do_not_lock_another(clocked: Make) -> None:
    h, _ = clocked()
    user, password = h.seed.admin
    # The admin's own typos at the office: a right login starts the count over.
    office = "10.1.0.20"
    for _ in range(2):
        typos = [staff_login(h, user, "pasword", office).status_code for _ in range(4)]
        assert typos == [401] * 4
        assert staff_login(h, user, password, office).status_code == 200
    codes = [staff_login(h, user, "guess", "10.9.9.9").status_code for _ in range(6)]
    assert codes == [401] * 5 + [429]
    # The right password from the attacker's address waits too ...
    r = staff_login(h, user, password, "10.9.9.9")
    assert r.status_code == 429 and r.json()["retry_after"] >= 1
    # ... but the admin at the office is let in.
    assert staff_login(h, user, password, office).status_code == 200
    # The lock-out is in the audit chain, once, naming account and address.
    events = audit_events(h, "staff_lockout")
    assert [(e["username"], e["source"], e["actor"]) for e in events] == [
        (user, "10.9.9.9", "source:10.9.9.9")
    ]


def test_an_admin_lists_and_clears_a_lockout(clocked: Make) -> None:
    h, clock = clocked()
    admin = h.headers("admin")  # logged in before the attack
    user, password = h.seed.proctor
    for _ in range(8):
        staff_login(h, user, "guess", "10.4.4.4")
        clock.advance(0.5)
    rows = httpx.get(h.url + "/api/admin/login-limits", headers=admin).json()
    mine = [r for r in rows if r["account"] == user and r["scope"] == "staff"]
    assert len(mine) == 1
    assert mine[0]["source"] == "10.4.4.4" and mine[0]["retry_after"] >= 1
    assert staff_login(h, user, password, "10.4.4.4").status_code == 429
    # Only admins see or clear.
    url = h.url + "/api/admin/login-limits"
    assert httpx.get(url, headers=h.headers("proctor")).status_code == 403
    r = httpx.post(
        url + "/clear",
        json={"scope": "staff", "account": user, "reason": "proctor called, verified by phone"},
        headers=admin,
    )
    assert r.status_code == 200 and r.json() == {"cleared": 1}
    assert staff_login(h, user, password, "10.4.4.4").status_code == 200
    cleared = audit_events(h, "login_limit_cleared")
    assert cleared[0]["account"] == user and cleared[0]["actor"].startswith("admin:")
    bad = httpx.post(
        url + "/clear", json={"scope": "bank", "account": user, "reason": "x"}, headers=admin
    )
    assert bad.status_code == 422
    spec = httpx.get(h.url + "/api/openapi.json").json()
    assert "/api/admin/login-limits" in spec["paths"]
    assert "/api/admin/login-limits/clear" in spec["paths"]


# --- PostgreSQL: several workers, one limit -------------------------------------------


@pytest.mark.postgres
def test_two_apps_over_one_database_share_the_limit(postgres_url: str, clocked: Make) -> None:
    h1, c1 = clocked(database_url=postgres_url)  # two workers of one deployment
    h2, _ = clocked(database_url=postgres_url, seed=False, clock=c1)
    reg = regs(h1)[0]
    bad = wrong_pin(h1, reg)
    # Five wrong PINs spread over two workers count as five, not 2 × 5.
    codes = [pin_login(h, reg, bad, "10.5.5.5").status_code for h in (h1, h2, h1, h2, h1)]
    assert codes == [401] * 5
    assert pin_login(h2, reg, bad, "10.5.5.5").status_code == 429
    assert pin_login(h1, reg, bad, "10.5.5.5").status_code == 429
    # A re-issue on one worker clears the limit for both.
    r = httpx.post(
        f"{h1.url}/api/proctor/sessions/{h1.seed.session_id}/checkin",
        json={"registration_number": reg},
        headers=h1.headers("proctor"),
    )
    assert pin_login(h2, reg, r.json()["pin"], "10.5.5.5").status_code == 200
    # A staff lock-out seen by one worker is listed and cleared by the other.
    user = h1.seed.proctor[0]
    for _ in range(5):
        staff_login(h2, user, "guess", "10.6.6.6")
    rows = httpx.get(h1.url + "/api/admin/login-limits", headers=h1.headers("admin")).json()
    assert any(r["account"] == user and r["retry_after"] >= 1 for r in rows)


@pytest.mark.postgres
def test_concurrent_failures_on_postgresql_lose_no_increment(postgres_url: str) -> None:
    from exam_server.db import create_schema

    engine = make_engine(postgres_url)
    create_schema(engine)
    store = SqlStore()
    key, everyone = LimitKey("pin", "R1", "10.0.0.1"), LimitKey("pin", "", "10.0.0.1")
    per_thread, threads = 25, 8
    seen: list[int] = []
    lock = threading.Lock()

    def hammer() -> None:
        for _ in range(per_thread):
            with engine.connect() as conn:
                counts = store.add_failure(conn, [key, everyone], time.time(), 0.0)
                conn.commit()
            with lock:
                seen.append(counts[key])

    workers = [threading.Thread(target=hammer) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    with engine.connect() as conn:
        entries = {e.key: e.failures for e in store.read(conn, [key, everyone], 0.0)}
    engine.dispose()
    total = per_thread * threads
    assert entries == {key: total, everyone: total}
    # Every failure saw its own count: the upserts were serialised.
    assert sorted(seen) == list(range(1, total + 1))
