"""Proctors act only on the sessions of the rooms they supervise; admins on any."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
import websockets

from exam_server.auth import StaffClaims, TokenSigner
from tests.conftest import ServerHandle
from tests.exam_server.test_admin_api import new_proctor, new_session_in_r2


def _room_b_session(h: ServerHandle) -> tuple[int, int, int]:
    """A second session in room R2 with one prepared attempt: (session, room, attempt)."""
    admin = h.headers("admin")
    sid, room = new_session_in_r2(h, "SESI-B")
    csv = (
        "registration_number,name,category,formation_code,session_code\n"
        "B-001,Tono,general,F-PERAWAT,SESI-B\n"
    )
    r = httpx.post(h.url + "/api/admin/candidates/import", content=csv, headers=admin)
    assert r.status_code == 201
    assert httpx.post(f"{h.url}/api/admin/sessions/{sid}/prepare", headers=admin).status_code == 202
    deadline = time.monotonic() + 20
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        rows = httpx.get(f"{h.url}/api/admin/sessions/{sid}/attempts", headers=admin).json()
        if rows:
            break
        time.sleep(0.1)
    assert rows, "the session's attempt was not prepared"
    return sid, room, rows[0]["attempt_id"]


def _own_attempt(h: ServerHandle) -> int:
    rows = httpx.get(
        f"{h.url}/api/admin/sessions/{h.seed.session_id}/attempts", headers=h.headers("admin")
    ).json()
    if not rows:  # attempts are made at login or by preparation
        h.login(h.seed.candidates[0]["registration_number"])
        rows = httpx.get(
            f"{h.url}/api/admin/sessions/{h.seed.session_id}/attempts",
            headers=h.headers("admin"),
        ).json()
    return int(rows[0]["attempt_id"])


def test_proctor_of_room_a_cannot_act_on_room_b(live_server: ServerHandle) -> None:
    h = live_server
    sid_b, room_b, attempt_b = _room_b_session(h)
    proctor_a = h.headers("proctor")  # the demo proctor: room R1 only
    reason = {"reason": "checking"}

    def refused(method: str, path: str, body: dict[str, Any] | None = None) -> None:
        r = httpx.request(method, h.url + path, json=body, headers=proctor_a)
        assert r.status_code == 403, (path, r.status_code, r.text)
        assert r.json()["error"] == "forbidden"

    refused("POST", f"/api/sessions/{sid_b}/open")
    refused("POST", f"/api/sessions/{sid_b}/close", reason)
    refused("POST", f"/api/proctor/sessions/{sid_b}/checkin", {"registration_number": "B-001"})
    refused("GET", f"/api/proctor/sessions/{sid_b}/attempts")
    refused("GET", f"/api/proctor/sessions/{sid_b}/audit")
    refused("POST", f"/api/proctor/sessions/{sid_b}/pause", reason)
    for action in ("pause", "resume", "release", "void", "note"):
        refused("POST", f"/api/proctor/attempts/{attempt_b}/{action}", reason)
    refused("POST", f"/api/proctor/attempts/{attempt_b}/extend", {"reason": "x", "seconds": 60})
    # Nothing happened to B's attempt.
    row = httpx.get(f"{h.url}/api/admin/attempts/{attempt_b}", headers=h.headers("admin")).json()
    assert row["status"] != "void"

    # The proctor of room B may act there, and not on room A's attempt.
    proctor_b = new_proctor(h, "pengawas-b", [room_b])
    r = httpx.post(f"{h.url}/api/proctor/attempts/{attempt_b}/note", json=reason, headers=proctor_b)
    assert r.status_code == 200, r.text
    r = httpx.post(
        f"{h.url}/api/proctor/attempts/{_own_attempt(h)}/note", json=reason, headers=proctor_b
    )
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    # The demo proctor still runs their own room.
    r = httpx.post(
        f"{h.url}/api/proctor/attempts/{_own_attempt(h)}/note", json=reason, headers=proctor_a
    )
    assert r.status_code == 200, r.text

    # The console's session list shows a proctor only their rooms' sessions.
    listed = httpx.get(h.url + "/api/live/sessions", headers=proctor_a).json()
    assert [r["id"] for r in listed] == [h.seed.session_id]
    listed = httpx.get(h.url + "/api/live/sessions", headers=proctor_b).json()
    assert [r["id"] for r in listed] == [sid_b]
    listed = httpx.get(h.url + "/api/live/sessions", headers=h.headers("admin")).json()
    assert {r["id"] for r in listed} == {h.seed.session_id, sid_b}

    # The admin is unrestricted.
    r = httpx.post(f"{h.url}/api/sessions/{sid_b}/open", headers=h.headers("admin"))
    assert r.status_code == 200 and len(r.json()["token"]) == 6
    # An unknown id is still 404 for a proctor.
    r = httpx.post(f"{h.url}/api/proctor/attempts/{2**40}/note", json=reason, headers=proctor_a)
    assert r.status_code == 404


def test_admin_sets_a_proctors_rooms(live_server: ServerHandle) -> None:
    h = live_server
    sid_b, room_b, _ = _room_b_session(h)
    admin = h.headers("admin")
    proctor = new_proctor(h, "pengawas-x", [])
    path = f"{h.url}/api/proctor/sessions/{sid_b}/attempts"
    assert httpx.get(path, headers=proctor).status_code == 403
    # An unknown room refuses the account, which is then not created.
    body = {"username": "pengawas-z", "role": "proctor", "password": "rahasia-123"}
    r = httpx.post(h.url + "/api/admin/staff", json=dict(body, room_ids=[2**40]), headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "room_ids[0]"
    assert httpx.post(h.url + "/api/admin/staff", json=body, headers=admin).status_code == 201
    staff_id = httpx.post(
        h.url + "/api/admin/staff",
        json={"username": "pengawas-y", "role": "proctor", "password": "rahasia-123"},
        headers=admin,
    ).json()["id"]
    bad = httpx.put(
        f"{h.url}/api/admin/staff/{staff_id}/rooms", json={"room_ids": [2**40]}, headers=admin
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "room_ids[0]"
    bad = httpx.put(
        f"{h.url}/api/admin/staff/{staff_id}/rooms", json={"room_ids": "R2"}, headers=admin
    )
    assert bad.status_code == 422
    ok = httpx.put(
        f"{h.url}/api/admin/staff/{staff_id}/rooms", json={"room_ids": [room_b]}, headers=admin
    )
    assert ok.status_code == 200 and ok.json()["room_ids"] == [room_b]
    # A new login's token carries the rooms too.
    login = httpx.post(
        h.url + "/api/auth/login", json={"username": "pengawas-y", "password": "rahasia-123"}
    ).json()
    assert login["room_ids"] == [room_b]
    r = httpx.get(path, headers={"Authorization": f"Bearer {login['token']}"})
    assert r.status_code == 200


def test_a_room_taken_from_a_proctor_is_out_of_reach_without_a_new_login(
    live_server: ServerHandle,
) -> None:
    """The token carries the rooms of its login, but the rooms in force are
    the current ones (read by every worker every few seconds): a room taken
    away is refused to the token already held, a room given works in it."""
    h = live_server
    sid_b, room_b, _ = _room_b_session(h)
    admin = h.headers("admin")
    staff_id = httpx.post(
        h.url + "/api/admin/staff",
        json={"username": "pengawas-w", "role": "proctor", "password": "rahasia-123",
              "room_ids": [room_b]},
        headers=admin,
    ).json()["id"]  # fmt: skip
    token = httpx.post(
        h.url + "/api/auth/login", json={"username": "pengawas-w", "password": "rahasia-123"}
    ).json()["token"]
    path = f"{h.url}/api/proctor/sessions/{sid_b}/attempts"
    held = {"Authorization": f"Bearer {token}"}

    def status_within(want: int, seconds: float = 10.0) -> int:
        end = time.monotonic() + seconds
        while True:
            got = httpx.get(path, headers=held).status_code
            if got == want or time.monotonic() > end:
                return got
            time.sleep(0.1)

    assert status_within(200) == 200
    rooms = f"{h.url}/api/admin/staff/{staff_id}/rooms"
    assert httpx.put(rooms, json={"room_ids": []}, headers=admin).status_code == 200
    assert status_within(403) == 403  # the same token, no new login
    assert httpx.put(rooms, json={"room_ids": [room_b]}, headers=admin).status_code == 200
    assert status_within(200) == 200


def test_staff_token_carries_rooms_and_old_tokens_have_none() -> None:
    signer = TokenSigner("k" * 32, 60, 60)
    claims = signer.read_staff(signer.staff_token(StaffClaims(3, "p", "proctor", (4, 7))))
    assert claims.rooms == (4, 7) and claims.may_supervise(7) and not claims.may_supervise(5)
    assert StaffClaims(1, "a", "admin").may_supervise(99)
    # A token signed before room scopes (no "rm") is a proctor of no room.
    from itsdangerous import URLSafeTimedSerializer

    from exam_server.auth import STAFF_SALT

    old = URLSafeTimedSerializer("k" * 32, salt=STAFF_SALT).dumps(
        {"i": 3, "u": "p", "r": "proctor"}
    )
    assert signer.read_staff(str(old)).rooms == ()


@pytest.mark.timeout(30)
async def test_proctor_channel_of_another_room_is_refused(live_server: ServerHandle) -> None:
    h = live_server
    sid_b, _, _ = await _to_thread(_room_b_session, h)
    proctor_token = await _to_thread(h.staff, "proctor")
    async with websockets.connect(_proctor_ws(h, sid_b)) as ws:
        await ws.send(json.dumps({"type": "auth", "token": proctor_token}))
        frame = json.loads(await ws.recv())
        assert frame["type"] == "error" and frame["code"] == "forbidden"
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    # Their own room's channel works, and the admin may watch any room.
    for sid, token in (
        (h.seed.session_id, proctor_token),
        (sid_b, await _to_thread(h.staff, "admin")),
    ):
        async with websockets.connect(_proctor_ws(h, sid)) as ws:
            await ws.send(json.dumps({"type": "auth", "token": token}))
            assert json.loads(await ws.recv())["type"] == "snapshot"


async def _to_thread(fn: Any, *args: Any) -> Any:
    import asyncio

    return await asyncio.to_thread(fn, *args)


def _proctor_ws(h: ServerHandle, session_id: int) -> str:
    return h.url.replace("http://", "ws://") + f"/ws/proctor/{session_id}"


def test_a_demo_database_from_before_scopes_gives_its_proctor_the_demo_room(
    tmp_path: Any,
) -> None:
    from sqlalchemy import text

    from exam_server.admin import staff_rooms
    from exam_server.db import make_engine
    from exam_server.demo import seed_demo_exam
    from tests.conftest import TEST_SECRET, seed_small

    url = f"sqlite:///{tmp_path / 'old-demo.db'}"
    seed = seed_small(url, "linear", 2)
    engine = make_engine(url)
    try:
        with engine.begin() as c:  # what a database made before room scopes holds
            c.execute(text("DELETE FROM exam_staff_room"))
        again = seed_demo_exam(engine, TEST_SECRET, n_candidates=2)
        assert again.session_id == seed.session_id
        with engine.connect() as c:
            pid, room = c.execute(
                text(
                    "SELECT st.id, se.room_id FROM exam_staff st, exam_session se "
                    "WHERE st.username = 'pengawas' AND se.id = :sid"
                ),
                {"sid": seed.session_id},
            ).one()
        assert staff_rooms(engine, pid) == (room,)
    finally:
        engine.dispose()
