"""Terminal passes: one person cannot lock a whole exam room out of logging in.

The room of the review (2026-12-07): every terminal reaches the server
through one NAT address, so the count of failed logins over every account
from that address was the room's, and one candidate typing wrong PINs for
many registration numbers made every login of the room wait, right PINs
included, up to 300 s. With a pass per terminal that count is the
terminal's. Each HTTP test runs a real app on a ManualClock and speaks from
the addresses it chooses (X-Forwarded-For from the trusted 127.0.0.1), as
tests/exam_server/test_limits.py does.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from exam_server import terminal_passes as tp
from exam_server.admin.scope import session_room
from exam_server.limits import pass_source, source_of, split_source
from exam_server.terminal_passes import TerminalPass
from tests.conftest import TEST_SECRET, ServerHandle
from tests.exam_server.test_limits import Make, audit_events, clocked, regs, wrong_pin

__all__ = ["clocked"]  # the fixture, shared with test_limits


@dataclass(frozen=True)
class Issued:
    id: str
    code: str


def login(
    h: ServerHandle,
    reg: str,
    pin: str,
    source: str,
    terminal: str = "T-1",
    terminal_pass: Any = None,
) -> httpx.Response:
    body: dict[str, Any] = {
        "registration_number": reg,
        "pin": pin,
        "session_token": h.seed.session_token,
        "terminal_id": terminal,
    }
    if terminal_pass is not None:
        body["terminal_pass"] = terminal_pass
    return _HTTP.post(
        h.url + "/api/candidate/login", json=body, headers={"X-Forwarded-For": source}
    )


# One client for the hundreds of logins of a test (a connection each costs more).
_HTTP = httpx.Client(timeout=30)


@pytest.fixture(scope="module", autouse=True)
def _close_client() -> Iterator[None]:
    yield
    _HTTP.close()


def room_of(h: ServerHandle) -> int:
    room = session_room(h.db, h.seed.session_id)
    assert room is not None
    return room


def issue(h: ServerHandle, role: str = "admin", **body: Any) -> httpx.Response:
    return httpx.post(h.url + "/api/terminal-passes", json=body, headers=h.headers(role))


def passes(h: ServerHandle, n: int, **body: Any) -> list[Issued]:
    r = issue(h, room_id=room_of(h), count=n, **body)
    assert r.status_code == 201, r.text
    return [Issued(p["id"], p["code"]) for p in r.json()["passes"]]


def revoke(h: ServerHandle, pass_id: str, role: str = "admin", **body: Any) -> httpx.Response:
    return httpx.post(
        f"{h.url}/api/admin/terminal-passes/{pass_id}/revoke",
        json={"reason": "terminal taken out of the room", **body},
        headers=h.headers(role),
    )


def answer(r: httpx.Response) -> tuple[int, Any, str | None]:
    return r.status_code, r.json(), r.headers.get("Retry-After")


# --- the room behind one address ------------------------------------------------------


def test_one_candidate_spraying_wrong_pins_does_not_hold_up_the_room(clocked: Make) -> None:
    h, clock = clocked()
    p1, p2, p3 = passes(h, 3)
    nat = "10.20.0.1"  # the room's one address: every terminal below speaks from it
    cands, pins = regs(h), h.seed.pins()

    # The insider at the terminal holding P1 tries one PIN for each of 150
    # registration numbers: the first 100 are checked, then the pass waits.
    codes = [
        login(h, f"X{i:07d}", "123456", nat, "T-INSIDER", p1.code).status_code for i in range(150)
    ]
    assert codes == [401] * 100 + [429] * 50
    # A candidate at the next terminal, with its own pass, is let in at once;
    # so is one at a terminal without a pass (the address has counted nothing).
    assert login(h, cands[0], pins[cands[0]], nat, "T-A", p2.code).status_code == 200
    assert login(h, cands[1], pins[cands[1]], nat, "T-B").status_code == 200
    # The insider stays slowed, a right PIN included, and the waits grow
    # while the room goes on.
    r = login(h, cands[2], pins[cands[2]], nat, "T-INSIDER", p1.code)
    assert r.status_code == 429 and r.json()["retry_after"] == 1
    waits: list[int] = []
    for i in range(4):
        clock.advance(1 + sum(waits))
        assert login(h, f"Y{i:07d}", "123456", nat, "T-INSIDER", p1.code).status_code == 401
        waits.append(
            login(h, f"Y{i:07d}", "123456", nat, "T-INSIDER", p1.code).json()["retry_after"]
        )
    assert waits == [2, 4, 8, 16]
    assert login(h, cands[2], pins[cands[2]], nat, "T-C", p3.code).status_code == 200

    # A second insider without a pass does what the room suffered before:
    # the address waits, and with it every terminal of the room that has no
    # pass, right PINs included ...
    codes = [login(h, f"Z{i:07d}", "123456", nat, "T-NOPASS").status_code for i in range(150)]
    assert codes == [401] * 100 + [429] * 50
    r = login(h, cands[3], pins[cands[3]], nat, "T-D")
    assert r.status_code == 429 and r.json()["error"] == "rate_limited"
    # ... but not the terminals that hold a pass.
    assert login(h, cands[3], pins[cands[3]], nat, "T-D", p2.code).status_code == 200
    # The insider's pass waits on: its own failures, nobody else's.
    assert login(h, cands[4], pins[cands[4]], nat, "T-INSIDER", p1.code).status_code == 429
    assert login(h, cands[4], pins[cands[4]], nat, "T-E", p3.code).status_code == 200


def test_without_passes_the_room_waits_as_before(clocked: Make) -> None:
    h, _ = clocked(login_failures_per_source=20)
    nat = "10.21.0.1"
    cands, pins = regs(h), h.seed.pins()
    codes = [login(h, f"X{i:07d}", "123456", nat, f"T-{i}").status_code for i in range(25)]
    assert codes == [401] * 20 + [429] * 5
    r = login(h, cands[0], pins[cands[0]], nat, "T-A")
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    # Another address is not held up.
    assert login(h, cands[0], pins[cands[0]], "10.22.0.1", "T-A").status_code == 200


def test_a_pass_does_not_escape_the_per_account_key(clocked: Make) -> None:
    h, _ = clocked()
    victim = regs(h)[0]
    bad, right = wrong_pin(h, victim), h.seed.pins()[victim]
    p1, p2 = passes(h, 2)
    nat = "10.23.0.1"
    # Five wrong PINs for one number, with one pass, another, none: five.
    for code in (p1.code, p2.code, None, p1.code, p2.code):
        assert login(h, victim, bad, nat, "T-X", code).status_code == 401
    # The number waits at that address, whatever pass a login brings.
    for code in (p1.code, p2.code, None):
        r = login(h, victim, right, nat, "T-X", code)
        assert r.status_code == 429 and r.json()["retry_after"] == 1
    # The owner elsewhere is let in (the key is still (number, address)).
    assert login(h, victim, right, "10.24.0.1", "T-OWN", p1.code).status_code == 200


def test_a_forged_expired_or_revoked_pass_counts_as_no_pass(clocked: Make) -> None:
    h, clock = clocked(login_failures_per_source=10)
    good, revoked = passes(h, 2)
    (short,) = passes(h, 1, days=1)
    cands, pins = regs(h), h.seed.pins()
    parsed = tp.parse(good.code)
    assert parsed is not None
    body = good.code.replace("-", "")[2:]
    last = body[-1]
    forged = [
        good.code[:-1] + ("A" if last != "A" else "B"),  # a signature character changed
        tp.make_code("another-server-key-0123456789-abcdefghij", parsed[0]),  # another key
        tp.format_code(body[:10] + tp._encode(parsed[0].expires_at + 86400, 7) + body[17:]),
        "TP-123",
        12345,
        {"id": good.id},
        "",
    ]
    # The answers say nothing of a pass: a wrong PIN with a forged pass is
    # answered as without one, byte for byte; a right PIN is let in.
    plain = answer(login(h, "99999999", "123456", "10.31.0.1", "T-Q"))
    for i, code in enumerate(forged):
        assert answer(login(h, "99999999", "123456", f"10.31.1.{i}", "T-Q", code)) == plain
    assert login(h, cands[0], pins[cands[0]], "10.31.2.1", "T-R", forged[0]).status_code == 200

    assert revoke(h, revoked.id).status_code == 200
    clock.advance(86400 + 1)  # the one-day pass has expired
    h._tokens.clear()  # so have the staff tokens of the test's first day
    nat = "10.32.0.1"
    for i in range(10):  # the address's allowance, spent without a pass
        assert login(h, f"X{i:07d}", "123456", nat, "T-NOPASS").status_code == 401
    held = answer(login(h, cands[1], pins[cands[1]], nat, "T-S"))
    assert held[0] == 429
    # Each of these is no pass: the address's wait, the same answer.
    for code in [*forged, revoked.code, short.code]:
        assert answer(login(h, cands[1], pins[cands[1]], nat, "T-S", code)) == held, code
    # A valid pass is counted on its own.
    assert login(h, cands[1], pins[cands[1]], nat, "T-S", good.code).status_code == 200


def test_a_pass_shared_by_terminals_or_used_from_elsewhere(clocked: Make) -> None:
    h, _ = clocked(login_failures_per_source=10)
    (shared,) = passes(h, 1)
    cands, pins = regs(h), h.seed.pins()
    room, elsewhere = "10.33.0.1", "10.34.0.1"
    # Terminals sharing one pass share its count, as a pass-less room shares
    # its address's: give every terminal its own pass.
    for i in range(10):
        assert login(h, f"X{i:07d}", "1", room, "T-1", shared.code).status_code == 401
    assert login(h, cands[0], pins[cands[0]], room, "T-2", shared.code).status_code == 429
    # The same pass from another address counts there on its own: a copied
    # pass does not let anyone elsewhere slow the terminal that holds it.
    assert login(h, cands[0], pins[cands[0]], elsewhere, "T-3", shared.code).status_code == 200
    rows = httpx.get(h.url + "/api/admin/login-limits", headers=h.headers("admin")).json()
    mine = [r for r in rows if r["pass_id"] == shared.id]
    assert [(r["account"], r["address"], r["failures"]) for r in mine] == [("", room, 10)]
    assert mine[0]["source"] == f"pass:{shared.id}@{room}"
    assert mine[0]["pass"]["id"] == shared.id and mine[0]["pass"]["status"] == "active"
    assert mine[0]["pass"]["room_id"] == room_of(h) and mine[0]["pass"]["room_code"] == "R1"
    # An admin clears the pass's count like an address's (audited).
    r = httpx.post(
        h.url + "/api/admin/login-limits/clear",
        json={"scope": "pin", "account": "", "source": mine[0]["source"], "reason": "checked"},
        headers=h.headers("admin"),
    )
    assert r.json() == {"cleared": 1}
    assert login(h, cands[1], pins[cands[1]], room, "T-2", shared.code).status_code == 200


# --- issuing, listing, revoking --------------------------------------------------------


def test_issuing_and_revoking_are_audited_and_only_for_staff_in_scope(clocked: Make) -> None:
    h, clock = clocked()
    admin, proctor = h.headers("admin"), h.headers("proctor")
    r1 = room_of(h)
    sites = httpx.get(h.url + "/api/admin/sites", headers=admin).json()
    r2 = next(r["id"] for s in sites for r in s["rooms"] if r["id"] != r1)
    site = sites[0]["code"]

    r = issue(h, room_id=r1, count=2, days=7, label="R1 meja 1-2", reason="set-up day")
    assert r.status_code == 201, r.text
    got = r.json()
    assert got["room_id"] == r1 and got["room_code"] == "R1" and got["site_code"] == site
    assert got["expires_at"] == int(clock.now() + 7 * 86400)
    for p in got["passes"]:
        assert tp.verify(TEST_SECRET, p["code"], clock.now()) == TerminalPass(
            p["id"], got["expires_at"]
        )
    # A proctor issues for the room they supervise, not for another or a site.
    assert issue(h, "proctor", room_id=r1).status_code == 201
    assert issue(h, "proctor", room_id=r2).json()["error"] == "forbidden"
    assert issue(h, "proctor", site_code=site).status_code == 403
    assert httpx.post(h.url + "/api/terminal-passes", json={"room_id": r1}).status_code == 401
    # An admin also for a site; bad requests say which field.
    assert issue(h, site_code=site, count=3).status_code == 201
    assert issue(h, room_id=10**6).status_code == 404
    assert issue(h, site_code="NOWHERE").status_code == 404
    bad_bodies: list[dict[str, Any]] = [
        {},
        {"room_id": r1, "site_code": site},
        {"room_id": "1"},
        {"room_id": r1, "count": 0},
        {"room_id": r1, "count": 501},
        {"room_id": r1, "days": 367},
    ]
    for bad in bad_bodies:
        assert issue(h, **bad).status_code == 422, bad

    issued = audit_events(h, tp.ISSUED)
    assert [(e["actor"].split(":")[0], len(e["pass_ids"])) for e in issued] == [
        ("admin", 2),
        ("proctor", 1),
        ("admin", 3),
    ]
    assert issued[0]["pass_ids"] == [p["id"] for p in got["passes"]]
    assert issued[0]["label"] == "R1 meja 1-2" and issued[0]["room_id"] == r1
    # The codes are nowhere in the database: only the ids.
    with h.db.connect() as c:
        stored = " ".join(row[0] for row in c.exec_driver_sql("SELECT data_json FROM exam_audit"))
    for p in got["passes"]:
        assert p["id"] in stored and p["code"] not in stored
        assert p["code"].replace("-", "")[2:] not in stored

    # Admins list and revoke; proctors do neither.
    url = h.url + "/api/admin/terminal-passes"
    assert httpx.get(url, headers=proctor).status_code == 403
    listed = httpx.get(url, headers=admin).json()
    assert len(listed) == 6 and {p["status"] for p in listed} == {"active"}
    first = next(p for p in listed if p["id"] == got["passes"][0]["id"])
    assert first["room_code"] == "R1" and first["label"] == "R1 meja 1-2"
    assert "code" not in first
    pid = first["id"]
    assert revoke(h, pid, "proctor").status_code == 403
    assert revoke(h, pid, reason="").status_code == 422
    r = revoke(h, pid, reason="PC 1 sent for repair")
    assert r.status_code == 200 and r.json()["status"] == "revoked"
    assert revoke(h, pid).status_code == 409
    assert revoke(h, "ABCDEFGHJK").status_code == 404
    assert revoke(h, "not-a-pass").status_code == 404
    events = audit_events(h, tp.REVOKED)
    assert [(e["pass_id"], e["actor"].split(":")[0]) for e in events] == [(pid, "admin")]
    listed = {p["id"]: p for p in httpx.get(url, headers=admin).json()}
    assert listed[pid]["status"] == "revoked"
    assert listed[pid]["revoke_reason"] == "PC 1 sent for repair"
    clock.advance(8 * 86400)
    h._tokens.clear()
    statuses = {p["id"]: p["status"] for p in httpx.get(url, headers=h.headers("admin")).json()}
    assert statuses[pid] == "revoked" and statuses[got["passes"][1]["id"]] == "expired"

    spec = httpx.get(h.url + "/api/openapi.json").json()["paths"]
    assert "/api/terminal-passes" in spec and "/api/admin/terminal-passes" in spec
    assert "/api/admin/terminal-passes/{pass_id}/revoke" in spec
    assert "terminal_pass" in json.dumps(spec["/api/candidate/login"])


def test_the_setup_check_tells_a_usable_pass(clocked: Make) -> None:
    h, _ = clocked()
    good, other = passes(h, 2)
    url = h.url + "/api/candidate/terminal-pass"
    spaced = good.code.lower().replace("-", " ")
    r = httpx.post(url, json={"terminal_pass": spaced}).json()
    assert r["valid"] is True and r["id"] == good.id and r["expires_at"] > 0
    for bad in (good.code[:-1] + "2" if good.code[-1] != "2" else good.code[:-1] + "3", "x", 1):
        assert httpx.post(url, json={"terminal_pass": bad}).json() == {"valid": False}
    assert revoke(h, other.id).status_code == 200
    assert httpx.post(url, json={"terminal_pass": other.code}).json() == {"valid": False}


# --- the pass code ----------------------------------------------------------------------


NOW = 1_900_000_000.0
KEY = TEST_SECRET
junk = st.one_of(
    st.text(max_size=200),
    st.text(alphabet=tp.ALPHABET + "- tpx0O1I", max_size=60).map(lambda s: "TP" + s),
    st.text(alphabet=tp.ALPHABET, min_size=33, max_size=33).map(lambda s: "TP" + s),
    st.integers(),
    st.none(),
    st.booleans(),
    st.floats(allow_nan=True),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    st.binary(max_size=50),
)


@given(value=junk)
def test_malformed_input_never_crashes_and_never_verifies(value: object) -> None:
    parsed = tp.parse(value)
    assert parsed is None or isinstance(parsed[0], TerminalPass)
    # Random text of the right shape carries a matching 80-bit signature
    # with probability 2**-80: in practice never.
    assert tp.verify(KEY, value, NOW) is None


@given(
    expires=st.integers(int(NOW) + 1, int(NOW) + tp.MAX_DAYS * 86400),
    key=st.text(min_size=32, max_size=64),
    data=st.data(),
)
def test_only_signed_unexpired_passes_verify(expires: int, key: str, data: st.DataObject) -> None:
    p, code = tp.new_pass(key, expires)
    assert tp.valid_id(p.id) and len(code) == 2 + tp.BODY_CHARS + 5
    # However it is typed: case, spaces for hyphens, no separators.
    for typed in (code, code.lower(), code.replace("-", " "), code.replace("-", "")):
        assert tp.verify(key, typed, NOW) == p
    assert tp.verify(key + "x", code, NOW) is None  # another server's key
    assert tp.verify(key, code, expires) is None  # expired at its expiry
    # Any one character of the body changed: no pass.
    body = code.replace("-", "")[2:]
    pos = data.draw(st.integers(0, len(body) - 1))
    new = data.draw(st.sampled_from([c for c in tp.ALPHABET if c != body[pos]]))
    assert tp.verify(key, "TP" + body[:pos] + new + body[pos + 1 :], NOW) is None


@given(address=st.one_of(st.ip_addresses().map(str), st.text(max_size=80)))
def test_a_pass_source_names_its_pass_and_an_address_never_does(address: str) -> None:
    src = source_of(address)
    assert split_source(src) == (None, src)  # no address passes for a pass's key
    assert split_source(pass_source("ABCDEFGHJK", src)) == ("ABCDEFGHJK", src)


def test_the_registry_reads_only_what_was_appended(tmp_path: Any) -> None:
    from exam_server.db import create_schema, make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'reg.db'}")
    create_schema(engine)
    ticks = [0.0]
    reg = tp.PassRegistry(interval=2.0, monotonic=lambda: ticks[0])
    with engine.begin() as conn:
        ((a, _), (b, _)) = tp.issue(
            conn, KEY, count=2, expires_at=int(NOW) + 60, actor="admin:x", at=NOW, room_id=1
        )
    with engine.connect() as conn:
        assert reg.usable_on(conn, a) == a
        assert reg.record(a.id) is not None and reg.record(a.id).room_id == 1  # type: ignore[union-attr]
    with engine.begin() as conn:
        tp.revoke(conn, a.id, actor="cli:x", reason="lost", at=NOW + 1)
    with engine.connect() as conn:
        assert reg.usable_on(conn, a) == a  # read 0 s ago: within the interval
        ticks[0] = 2.0
        assert reg.usable_on(conn, a) is None and reg.usable_on(conn, b) == b
    assert [r.status(NOW + 2) for r in reg.records()] in (
        ["revoked", "active"],
        ["active", "revoked"],
    )
    engine.dispose()


# --- PostgreSQL: several workers -------------------------------------------------------


@pytest.mark.postgres
def test_two_workers_share_a_pass_count_and_its_revocation(
    postgres_url: str, clocked: Make
) -> None:
    fast = {"login_failures_per_source": 10, "staff_refresh_seconds": 0.2}
    h1, c1 = clocked(database_url=postgres_url, **fast)
    h2, _ = clocked(database_url=postgres_url, seed=False, clock=c1, **fast)
    p1, p2 = passes(h1, 2)
    cands, pins = regs(h1), h1.seed.pins()
    nat = "10.40.0.1"
    # The insider's ten failures with P1, spread over both workers, count as ten.
    for i in range(10):
        h = (h1, h2)[i % 2]
        assert login(h, f"X{i:07d}", "1", nat, "T-IN", p1.code).status_code == 401
    for h in (h1, h2):
        assert login(h, cands[0], pins[cands[0]], nat, "T-IN", p1.code).status_code == 429
    assert login(h2, cands[0], pins[cands[0]], nat, "T-A", p2.code).status_code == 200
    # Spend the address's allowance without a pass, then revoke P2 on one
    # worker: within the refresh interval the other counts it as no pass.
    for i in range(10):
        assert login(h1, f"Y{i:07d}", "1", nat, "T-NO").status_code == 401
    assert login(h2, cands[1], pins[cands[1]], nat, "T-B", p2.code).status_code == 200
    assert revoke(h1, p2.id).status_code == 200
    deadline = time.monotonic() + 10
    while login(h2, cands[2], pins[cands[2]], nat, "T-C", p2.code).status_code != 429:
        assert time.monotonic() < deadline, "the revocation never reached the other worker"
        time.sleep(0.1)
