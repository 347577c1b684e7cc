"""End to end: a real uvicorn server driven by the real ``websockets`` client.

Tests about time run the server on a :class:`~exam_server.clock.ManualClock`:
they move it and run the sweep (``ThreadServer.sweep``) instead of sleeping.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from exam_server.clock import ManualClock
from exam_server.context import context
from exam_server.testing import Terminal, wait_until
from tests.conftest import ServerHandle


def reg(h: ServerHandle, i: int = 0) -> str:
    return str(h.seed.candidates[i]["registration_number"])


def db_responses(h: ServerHandle, attempt_id: int) -> list[tuple[Any, ...]]:
    with h.db.connect() as c:
        return list(
            c.exec_driver_sql(
                "SELECT seq, kind, number, option, flagged FROM exam_response "
                "WHERE attempt_id = ? ORDER BY seq",
                (attempt_id,),
            ).all()
        )


def attempt_row(h: ServerHandle, attempt_id: int) -> dict[str, Any]:
    with h.db.connect() as c:
        row = c.exec_driver_sql("SELECT * FROM exam_attempt WHERE id = ?", (attempt_id,))
        return dict(row.mappings().one())


async def test_whole_linear_attempt(live_server: ServerHandle) -> None:
    h = live_server
    token = h.login(reg(h))
    t = await Terminal.open(h.ws_url, token, "T-1")
    st = t.state
    assert st["type"] == "state" and st["mode"] == "linear" and st["status"] == "running"
    assert st["n_items"] == 10 and len(st["map"]) == 10
    assert 595 < st["remaining_seconds"] <= 600
    # No key or points ever reach the terminal.
    text = json.dumps(st)
    assert "points" not in text and "key" not in text and "category" not in st["current"]
    for number in range(1, 11):
        (ack,) = await t.answer(number, number % 5)
        assert ack == {"v": 1, "type": "ack", "seq": number, "duplicate": False, "number": number}
    # Change an answer, flag an item doubtful, navigate back to it.
    (ack,) = await t.answer(3, 0)
    assert ack["seq"] == 11
    t.seq += 1
    flag = await t.request({"type": "flag", "seq": t.seq, "number": 4, "flagged": True})
    assert flag["type"] == "ack" and flag["seq"] == 12
    item = await t.request({"type": "navigate", "number": 4})
    assert item["type"] == "item" and item["number"] == 4 and item["flagged"] is True
    assert item["answer"] == 4
    state = await t.request({"type": "state"})
    assert [m["answered"] for m in state["map"]] == [True] * 10
    assert state["map"][3]["flagged"] is True and state["last_seq"] == 12
    refused = await t.request({"type": "finish"})
    assert refused["type"] == "error" and refused["code"] == "confirm_required"
    final = await t.request({"type": "finish", "confirm": True})
    assert final["type"] == "final" and [s["code"] for s in final["sections"]] == [
        "TWK",
        "TIU",
        "TKP",
    ]
    assert final["total"] == pytest.approx(sum(s["points"] for s in final["sections"]))
    assert final["passed"] is False and "general" in final["pass_reason"]
    after = await t.request({"type": "answer", "seq": 13, "number": 1, "option": 1})
    assert after["code"] == "attempt_finished"
    await t.close()
    rows = db_responses(h, st["attempt_id"])
    assert [r[0] for r in rows] == list(range(1, 13))
    row = attempt_row(h, st["attempt_id"])
    assert row["status"] == "finished" and row["total_points"] == pytest.approx(final["total"])
    assert json.loads(row["score_json"])["sections"][0]["code"] == "TWK"


async def test_whole_adaptive_attempt(server_factory: Any) -> None:
    h = server_factory(mode="adaptive")
    t = await Terminal.open(h.ws_url, h.login(reg(h)), "T-1")
    assert t.state["mode"] == "adaptive" and len(t.state["map"]) == 1
    current = t.state["current"]
    assert current["number"] == 1
    nav = await t.request({"type": "navigate", "number": 1})
    assert nav["code"] == "not_allowed"
    seen = []
    final = None
    for _ in range(10):
        seen.append(current["subtest"])
        frames = await t.answer(current["number"], 1)
        assert frames[0]["type"] == "ack" and not frames[0]["duplicate"]
        if frames[1]["type"] == "final":
            final = frames[1]
            break
        current = frames[1]
        assert current["type"] == "item" and current["number"] == frames[0]["number"] + 1
        # The answered item cannot be answered again, the next one not skipped.
        again = await t.request(
            {"type": "answer", "seq": t.seq + 1, "number": current["number"] - 1, "option": 2}
        )
        assert again["code"] == "already_answered"
        ahead = await t.request(
            {"type": "answer", "seq": t.seq + 1, "number": current["number"] + 1, "option": 2}
        )
        assert ahead["code"] == "not_presented"
    assert final is not None and final["reason"] == "complete"
    assert seen == ["TWK"] * 3 + ["TIU"] * 3 + ["TKP"] * 4
    assert all(s["max_points"] > 0 for s in final["sections"])
    await t.close()


async def dropped(h: ServerHandle, attempt_id: int) -> None:
    """Wait until the server has noticed that the attempt's socket ended (a
    real socket event, not time passing)."""
    attempts = context(h.app).attempts

    def noticed() -> bool:
        la = attempts.live.get(attempt_id)
        return la is None or la.conn is None

    await wait_until(noticed, what="the server noticing the closed socket")


async def test_reconnect_resumes_exactly(server_factory: Any) -> None:
    clock = ManualClock(time.time())
    h = server_factory(clock=clock)  # grace 2 s (tests.conftest.make_settings)
    token = h.login(reg(h))
    t = await Terminal.open(h.ws_url, token, "T-1")
    for n in (1, 2, 3):
        await t.answer(n, 2)
    await t.request({"type": "navigate", "number": 5})
    remaining_before = (await t.request({"type": "state"}))["remaining_seconds"]
    await t.ws.close()
    await dropped(h, t.state["attempt_id"])
    clock.advance(1.5)  # away for less than the grace
    await h.server.sweep()
    t2 = await Terminal.open(h.ws_url, token, "T-1")
    st = t2.state
    assert st["last_seq"] == 3
    assert [m["answered"] for m in st["map"]][:4] == [True, True, True, False]
    assert st["current"]["number"] == 5
    # Within the grace period the clock kept running: the 1.5 s away were
    # counted, no more and no less.
    assert st["remaining_seconds"] == pytest.approx(remaining_before - 1.5, abs=1e-6)
    assert st["clock_running"] is True
    (ack,) = await t2.answer(4, 1)
    assert ack["seq"] == 4 and not ack["duplicate"]
    await t2.close()


async def test_clock_stops_after_grace_and_restarts(server_factory: Any) -> None:
    clock = ManualClock(time.time())
    h = server_factory(clock=clock, grace_seconds=30.0)
    token = h.login(reg(h))
    t = await Terminal.open(h.ws_url, token, "T-1")
    aid = t.state["attempt_id"]
    await t.answer(1, 1)
    before = (await t.request({"type": "state"}))["remaining_seconds"]
    await t.ws.close()  # a clean close: the terminal was there when it closed
    await dropped(h, aid)
    clock.advance(29.0)
    await h.server.sweep()
    assert attempt_row(h, aid)["running_since"] is not None  # inside the grace: runs on
    clock.advance(3600.0)  # the terminal is gone for far longer than the grace
    await h.server.sweep()
    row = attempt_row(h, aid)
    assert row["running_since"] is None and row["status"] == "running"
    assert row["remaining_at_start"] == pytest.approx(before - 30.0, abs=1e-6)
    t2 = await Terminal.open(h.ws_url, token, "T-1")
    # Only the grace period was counted, not the hour down; the clock runs again.
    assert t2.state["remaining_seconds"] == pytest.approx(before - 30.0, abs=1e-6)
    assert t2.state["clock_running"] is True
    clock.advance(5.0)
    st = await t2.request({"type": "state"})
    assert st["remaining_seconds"] == pytest.approx(before - 35.0, abs=1e-6)
    await t2.close()


async def test_second_terminal_refused_until_release(live_server: ServerHandle) -> None:
    h = live_server
    r0 = reg(h)
    t1 = await Terminal.open(h.ws_url, h.login(r0, "T-A"), "T-A")
    await t1.answer(1, 3)
    pins = h.seed.pins()
    login = {
        "registration_number": r0,
        "pin": pins[r0],
        "session_token": h.seed.session_token,
        "terminal_id": "T-B",
    }
    refused = httpx.post(h.url + "/api/candidate/login", json=login)
    assert refused.status_code == 409 and refused.json()["error"] == "terminal_locked"
    aid = t1.state["attempt_id"]
    # A proctor must give a reason.
    no_reason = httpx.post(
        f"{h.url}/api/proctor/attempts/{aid}/release", json={}, headers=h.headers()
    )
    assert no_reason.status_code == 422
    rel = httpx.post(
        f"{h.url}/api/proctor/attempts/{aid}/release",
        json={"reason": "terminal A froze"},
        headers=h.headers(),
    )
    assert rel.status_code == 200 and rel.json()["terminal_released"] is True
    # The old terminal is told and disconnected.
    msg = await t1.recv()
    assert msg["type"] == "error" and msg["code"] == "replaced"
    ok = httpx.post(h.url + "/api/candidate/login", json=login)
    assert ok.status_code == 200
    t2 = await Terminal.open(h.ws_url, ok.json()["token"], "T-B")
    assert t2.state["last_seq"] == 1 and t2.state["map"][0]["answered"] is True
    # Terminal A's old token no longer works.
    with pytest.raises(ConnectionClosed):
        stale = await Terminal.open(h.ws_url, t1_token(h, r0), "T-A")
        assert stale.state["code"] == "wrong_terminal"
        await stale.recv()
    await t2.close()
    audit = httpx.get(
        f"{h.url}/api/proctor/sessions/{h.seed.session_id}/audit", headers=h.headers()
    ).json()
    kinds = [e["kind"] for e in audit]
    assert "second_login" in kinds and "release" in kinds
    assert any(e["kind"] == "release" and e["reason"] == "terminal A froze" for e in audit)


async def test_refused_second_logins_are_recorded_once_a_minute(server_factory: Any) -> None:
    """A candidate with their own PIN tried from other terminal ids 300 times a
    second: every try wrote an audit row and raised a proctor alert (6,000 of
    each in 20 s, found by a review). Each is still refused; one is recorded
    a minute per attempt, the next with how many were refused meanwhile."""
    clock = ManualClock(time.time())
    h = server_factory(clock=clock)
    r0 = reg(h)
    t1 = await Terminal.open(h.ws_url, h.login(r0, "T-A"), "T-A")
    login = {
        "registration_number": r0,
        "pin": h.seed.pins()[r0],
        "session_token": h.seed.session_token,
    }
    async with httpx.AsyncClient(base_url=h.url) as c:
        tries = [
            await c.post("/api/candidate/login", json={**login, "terminal_id": f"T-X{i}"})
            for i in range(20)
        ]
        assert {(r.status_code, r.json()["error"]) for r in tries} == {(409, "terminal_locked")}
        clock.advance(61.0)
        again = await c.post("/api/candidate/login", json={**login, "terminal_id": "T-Y"})
        assert again.status_code == 409
        audit = (
            await c.get(f"/api/proctor/sessions/{h.seed.session_id}/audit", headers=h.headers())
        ).json()
    seconds = [e for e in audit if e["kind"] == "second_login"]
    assert len(seconds) == 2
    first, later = (e["data"] for e in seconds)
    assert first["terminal_id"] == "T-X0" and "repeats" not in first
    assert later["terminal_id"] == "T-Y" and later["repeats"] == 19
    (ack,) = await t1.answer(1, 0)  # the candidate's own terminal is untouched
    assert ack["type"] == "ack"
    await t1.close()


def t1_token(h: ServerHandle, r0: str) -> str:
    # Re-sign a token for terminal A the way the server would have issued it.
    from exam_server.auth import CandidateClaims, TokenSigner

    signer = TokenSigner(h.settings.secret_key, 3600, 3600)
    with h.db.connect() as c:
        aid, cid = c.exec_driver_sql(
            "SELECT a.id, a.candidate_id FROM exam_attempt a JOIN exam_candidate c "
            "ON c.id = a.candidate_id WHERE c.registration_number = ?",
            (r0,),
        ).one()
    return signer.candidate_token(CandidateClaims(cid, aid, h.seed.session_id, "T-A", r0))


async def test_duplicate_out_of_order_and_forged_frames(live_server: ServerHandle) -> None:
    h = live_server
    t = await Terminal.open(h.ws_url, h.login(reg(h)), "T-1")
    aid = t.state["attempt_id"]
    await t.answer(1, 2)
    dup = await t.request({"type": "answer", "seq": 1, "number": 1, "option": 4})
    assert dup == {"v": 1, "type": "ack", "seq": 1, "duplicate": True}
    skip = await t.request({"type": "answer", "seq": 5, "number": 2, "option": 4})
    assert skip["code"] == "out_of_order" and skip["ref"] == 5
    foreign = await t.request({"type": "answer", "seq": 2, "number": 11, "option": 1})
    assert foreign["code"] == "not_presented"
    bad_opt = await t.request({"type": "answer", "seq": 2, "number": 2, "option": 7})
    assert bad_opt["code"] == "bad_option"
    for raw, code in [
        ("not json", "bad_json"),
        ("[1,2]", "bad_frame"),
        ('{"type": "answer", "seq": "1", "number": 1, "option": 1}', "bad_field"),
        ('{"type": "answer", "seq": 2, "number": 1}', "missing_field"),
        ('{"type": "grade", "seq": 2}', "unknown_type"),
        ('{"type": "state", "v": 99}', "unsupported_version"),
        ('{"type": "hello", "token": "x", "terminal_id": "T-1"}', "already_authenticated"),
        ("x" * 5000, "too_large"),
    ]:
        err = await t.request(raw)
        assert err["type"] == "error" and err["code"] == code, raw[:40]
    await t.ws.send(b"\x00\x01binary")
    assert (await t.next())["code"] == "bad_frame"
    # Only the one real answer was stored, with its first option.
    assert db_responses(h, aid) == [(1, "answer", 1, 2, 0)]
    # Above the transport limit the connection is closed with 1009 (too big).
    await t.send("y" * 70_000)
    with pytest.raises(ConnectionClosed) as closed:
        await t.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    # The attempt is intact and resumes.
    t2 = await Terminal.open(h.ws_url, h.login(reg(h)), "T-1")
    assert t2.state["last_seq"] == 1
    await t2.close()


async def test_tokens_expired_tampered_and_unauthenticated(server_factory: Any) -> None:
    clock = ManualClock(time.time())
    h = server_factory(candidate_token_seconds=1.0, clock=clock)
    token = h.login(reg(h))
    from websockets.asyncio.client import connect

    async def hello(tok: str, terminal: str = "T-1") -> tuple[dict[str, Any], int | None]:
        async with connect(h.ws_url) as ws:
            await ws.send(json.dumps({"type": "hello", "token": tok, "terminal_id": terminal}))
            first = json.loads(await ws.recv())
            try:
                await asyncio.wait_for(ws.recv(), 5)
            except ConnectionClosed as exc:
                return first, exc.rcvd.code if exc.rcvd else None
            return first, None

    payload, sig = token.rsplit(".", 1)
    tampered = payload.replace(payload[5], "A" if payload[5] != "A" else "B") + "." + sig
    first, code = await hello(tampered)
    assert first["code"] == "bad_token" and code == 1008
    first, code = await hello(token, "T-OTHER")
    assert first["code"] == "wrong_terminal" and code == 1008
    async with connect(h.ws_url) as ws:
        await ws.send(json.dumps({"type": "answer", "seq": 1, "number": 1, "option": 1}))
        assert json.loads(await ws.recv())["code"] == "not_authenticated"
    # Tokens are dated by the server's clock: read them 5 s later.
    clock.advance(5.0)
    first, code = await hello(token)
    assert first["code"] == "expired_token" and code == 1008
    # A staff token is not a candidate token (different salt), and vice versa.
    first, _ = await hello(h.staff("proctor"))
    assert first["code"] == "bad_token"
    r = httpx.get(
        f"{h.url}/api/proctor/sessions/{h.seed.session_id}/attempts",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 401


async def test_deadline_ends_the_attempt(server_factory: Any) -> None:
    clock = ManualClock(time.time())
    h = server_factory(time_limit_seconds=60.0, clock=clock)
    t = await Terminal.open(h.ws_url, h.login(reg(h)), "T-1")
    assert t.state["remaining_seconds"] == 60.0
    await t.answer(1, 1)
    clock.advance(59.0)
    await h.server.sweep()
    frames = await t.answer(2, 1)  # one second left: still taken
    assert frames[0]["type"] == "ack", frames
    clock.advance(1.0)
    await h.server.sweep()
    final = await t.next()
    assert final["type"] == "final" and final["reason"] == "time_up"
    late = await t.request({"type": "answer", "seq": 3, "number": 3, "option": 1})
    assert late["code"] == "attempt_finished"
    row = attempt_row(h, t.state["attempt_id"])
    assert row["status"] == "finished" and row["finish_reason"] == "time_up"
    await t.close()
    # A proctor's extension carries the candidate past the design's limit.
    t = await Terminal.open(h.ws_url, h.login(reg(h, 1), "T-2"), "T-2")
    r = httpx.post(
        f"{h.url}/api/proctor/attempts/{t.state['attempt_id']}/extend",
        json={"reason": "late start", "seconds": 30},
        headers=h.headers(),
    )
    assert r.status_code == 200 and r.json()["remaining_seconds"] == 90.0
    await t.answer(1, 1)
    clock.advance(70.0)  # past the design's 60 s, inside the extension
    await h.server.sweep()
    frames = await t.answer(2, 1)
    assert frames[0]["type"] == "ack", frames
    clock.advance(20.0)
    await h.server.sweep()
    final = await t.next()
    assert final["type"] == "final" and final["reason"] == "time_up"
    await t.close()


async def test_wrong_pins_are_rate_limited(server_factory: Any) -> None:
    h = server_factory(login_failures_per_candidate=3)
    r0 = reg(h)
    body = {
        "registration_number": r0,
        "pin": "000000",
        "session_token": h.seed.session_token,
        "terminal_id": "T-9",
    }
    if h.seed.pins()[r0] == "000000":
        body["pin"] = "111111"
    codes = [httpx.post(h.url + "/api/candidate/login", json=body).status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    body["pin"] = h.seed.pins()[r0]
    assert httpx.post(h.url + "/api/candidate/login", json=body).status_code == 429
    # Another candidate at another terminal is unaffected.
    assert h.login(reg(h, 1), "T-2")


async def test_origin_checked_and_flood_limited(server_factory: Any) -> None:
    h = server_factory(messages_per_second=5.0, message_burst=5)
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus

    with pytest.raises(InvalidStatus):
        async with connect(h.ws_url, origin="http://evil.example"):  # type: ignore[arg-type]
            pass
    host = h.url.removeprefix("http://")
    async with connect(h.ws_url, origin=f"http://{host}") as ws:  # type: ignore[arg-type]
        for _ in range(20):
            await ws.send('{"type": "ping"}')
        codes = [json.loads(await ws.recv()).get("code") for _ in range(20)]
    assert codes.count("rate_limited") >= 10 and codes.count(None) >= 5


async def test_proctor_pause_resume_extend(server_factory: Any) -> None:
    clock = ManualClock(time.time())
    h = server_factory(clock=clock)
    t = await Terminal.open(h.ws_url, h.login(reg(h)), "T-1")
    aid = t.state["attempt_id"]
    base = f"{h.url}/api/proctor/attempts/{aid}"
    r = httpx.post(base + "/pause", json={"reason": "toilet break"}, headers=h.headers())
    assert r.status_code == 200 and r.json()["status"] == "paused"
    tf = await t.recv()
    assert tf["type"] == "time" and tf["status"] == "paused" and tf["clock_running"] is False
    refused = await t.request({"type": "answer", "seq": 1, "number": 1, "option": 1})
    assert refused["code"] == "attempt_paused"
    paused_left = tf["remaining_seconds"]
    clock.advance(300.0)  # a long break
    await h.server.sweep()
    r = httpx.post(base + "/resume", json={"reason": "back"}, headers=h.headers())
    assert r.json()["status"] == "running" and r.json()["deadline"] is not None
    r = httpx.post(
        base + "/extend", json={"reason": "power cut", "seconds": 120}, headers=h.headers()
    )
    assert r.status_code == 200
    st = await t.request({"type": "state"})
    # Paused time was not counted; the extension was added.
    assert st["remaining_seconds"] == pytest.approx(paused_left + 120, abs=1e-6)
    # An admin token cannot act as a proctor (roles are separate).
    forbidden = httpx.post(base + "/pause", json={"reason": "x"}, headers=h.headers("admin"))
    assert forbidden.status_code == 403
    r = httpx.post(base + "/void", json={"reason": "stand-in candidate"}, headers=h.headers())
    assert r.json()["status"] == "void"
    msgs = []
    with pytest.raises(ConnectionClosed):
        while True:
            msgs.append(await t.recv())
    assert any(m.get("code") == "attempt_void" for m in msgs)
    assert attempt_row(h, aid)["status"] == "void"
