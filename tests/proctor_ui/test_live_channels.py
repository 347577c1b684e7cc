"""The proctor and board channels and the focus report, over a real server."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import text
from websockets.typing import Origin

from exam_server import audit
from exam_server.context import context
from exam_server.events import LiveEvent
from exam_server.proctoring.grid import TerminalGrid, TerminalRow
from exam_server.testing import Terminal
from tests.proctor_ui.live_server import PASSWORD, LiveServer
from tests.proctor_ui.test_board import BOARD_FIELDS


def ws_url(live: LiveServer, path: str) -> str:
    return live.url.replace("http://", "ws://") + path


async def recv(ws: Any, kind: str | None = None, limit: int = 50) -> dict[str, Any]:
    """The next frame (of ``kind``, skipping others such as ticks)."""
    for _ in range(limit):
        msg = json.loads(await ws.recv())
        if kind is None or msg["type"] == kind:
            return msg
    raise AssertionError(f"no {kind} frame")


async def staff_token(client: httpx.AsyncClient, username: str = "pengawas") -> str:
    r = await client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    r.raise_for_status()
    return str(r.json()["token"])


async def candidate_login(client: httpx.AsyncClient, live: LiveServer, i: int) -> dict[str, Any]:
    cand = live.seed.candidates[i]
    r = await client.post(
        "/api/candidate/login",
        json={
            "registration_number": cand["registration_number"],
            "pin": cand["pin"],
            "session_token": live.seed.session_token,
            "terminal_id": f"T-test-{i}",
        },
    )
    r.raise_for_status()
    return r.json()


async def test_proctor_channel_needs_a_staff_token(live: LiveServer) -> None:
    path = ws_url(live, f"/ws/proctor/{live.seed.session_id}")
    async with websockets.connect(path) as ws:
        await ws.send("{not json")
        assert (await recv(ws))["code"] == "bad_json"
        await ws.send(json.dumps({"type": "snapshot"}))
        assert (await recv(ws))["code"] == "not_authenticated"
        await ws.send(json.dumps({"type": "auth", "token": "forged.token.value"}))
        assert (await recv(ws))["code"] == "bad_token"
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_candidate_token_is_not_a_proctor_token(live: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live.url) as client:
        login = await candidate_login(client, live, 2)
    async with websockets.connect(ws_url(live, f"/ws/proctor/{live.seed.session_id}")) as ws:
        await ws.send(json.dumps({"type": "auth", "token": login["token"]}))
        assert (await recv(ws))["code"] == "bad_token"


async def test_proctor_sees_report_alert_and_board_publishes_no_more_than_scores(
    live: LiveServer,
) -> None:
    sid = live.seed.session_id
    async with httpx.AsyncClient(base_url=live.url) as client:
        token = await staff_token(client)
        login = await candidate_login(client, live, 1)
        regno = login["registration_number"]
        async with websockets.connect(ws_url(live, f"/ws/proctor/{sid}")) as proctor:
            await proctor.send(json.dumps({"type": "auth", "token": token}))
            snap = await recv(proctor, "snapshot")
            assert snap["session"]["token"] == live.seed.session_token
            assert {r["registration_number"] for r in snap["terminals"]} >= {regno}

            # Reports need the candidate's own token and a known kind.
            r = await client.post("/api/candidate/report", json={"kind": "focus_lost"})
            assert r.status_code == 401
            auth = {"Authorization": f"Bearer {login['token']}"}
            r = await client.post("/api/candidate/report", json={"kind": "tea"}, headers=auth)
            assert r.status_code == 422 and r.json()["error"] == "bad_field"
            r = await client.post(
                "/api/candidate/report", json={"kind": "fullscreen_exit"}, headers=auth
            )
            assert r.status_code == 200

            for _ in range(20):
                update = await recv(proctor, "update")
                alerts = [i for i in update["incidents"] if i["kind"] == "alert"]
                if alerts:
                    break
            assert alerts[0]["registration_number"] == regno
            assert alerts[0]["data"]["code"] == "fullscreen_exit"
            row = next(t for t in update["terminals"] if t["registration_number"] == regno)
            assert row["alerts"] == 1

            # The same candidate at another terminal is refused and alerted.
            cand = live.seed.candidates[1]
            r = await client.post(
                "/api/candidate/login",
                json={
                    "registration_number": regno,
                    "pin": cand["pin"],
                    "session_token": live.seed.session_token,
                    "terminal_id": "T-intruder",
                },
            )
            assert r.status_code == 409 and r.json()["error"] == "terminal_locked"
            second: list[dict[str, Any]] = []
            for _ in range(20):
                update = await recv(proctor, "update")
                second = [
                    i
                    for i in update["incidents"]
                    if i["kind"] == "alert" and i["data"]["code"] == "second_login"
                ]
                if second:
                    break
            assert second[0]["data"]["severity"] == "critical"

        # Alerts are in the audit log: a console opened later shows them.
        for _ in range(50):
            async with websockets.connect(ws_url(live, f"/ws/proctor/{sid}")) as late:
                await late.send(json.dumps({"type": "auth", "token": token}))
                snap = await recv(late, "snapshot")
            row = next(t for t in snap["terminals"] if t["registration_number"] == regno)
            if row["alerts"] == 2:
                break
            await asyncio.sleep(0.1)  # the alert's commit runs in the background
        assert row["alerts"] == 2 and row["last_alert"]["code"] == "second_login"
        actors = {i["actor"] for i in snap["incidents"] if i["kind"] == "alert"}
        assert actors == {"detector:focus", "detector:second_login"}
        # …and the hash chain still verifies with them in it.
        report = audit.verify(context(live.app).engine)
        assert report.ok, report.problems

    async with websockets.connect(ws_url(live, f"/ws/board/{sid}")) as board:
        snap = await recv(board, "snapshot")
        assert "token" not in snap["session"]
        assert snap["rows"], "the logged-in candidate is on the board"
        for row in snap["rows"]:
            assert set(row) == BOARD_FIELDS


def test_grid_follows_the_events_of_an_attempt() -> None:
    grid = TerminalGrid(1)
    grid.add(TerminalRow("R1", "Ayu", candidate_id=1, n_items=3))

    def ev(kind: str, **data: Any) -> None:
        grid.apply(LiveEvent(kind, 1, 9, "R1", 100.0, data))

    ev("login", terminal_id="T1")
    assert grid.rows["R1"].status == "waiting" and grid.rows["R1"].attempt_id == 9
    ev("connect", terminal_id="T1", deadline_at=1000.0)
    ev("answer", number=1, option=2, flagged=True)
    ev("answer", number=2, option=0)
    ev("answer", number=2, option=-1)  # cleared
    row = grid.rows["R1"].to_dict()
    assert (row["status"], row["answered"], row["doubtful"]) == ("working", 1, 1)
    assert row["deadline_at"] == 1000.0
    ev("disconnect", grace_seconds=30.0)
    assert grid.rows["R1"].status == "disconnected"
    assert grid.rows["R1"].clock_stops_at == 130.0  # the event came at 100 s
    ev("pause", reason="toilet", actor="proctor:p", deadline_at=None, remaining=500.0)
    assert grid.rows["R1"].status == "paused" and grid.rows["R1"].remaining == 500.0
    ev("resume", reason="back", connected=False)
    assert grid.rows["R1"].status == "disconnected"
    ev("finish")
    ev("connect")  # a late reconnect does not revive a finished attempt
    assert grid.rows["R1"].status == "finished"
    kinds = [(i["kind"], i["reason"]) for i in grid.incidents]
    assert kinds == [("pause", "toilet"), ("resume", "back")]


@pytest.mark.parametrize("channel", ["proctor", "board"])
async def test_channels_refuse_a_foreign_origin(live: LiveServer, channel: str) -> None:
    path = ws_url(live, f"/ws/{channel}/{live.seed.session_id}")
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(path, origin=Origin("http://evil.example")) as ws:
            await ws.recv()
    assert refused.value.response.status_code == 403
    # The page's own origin is fine.
    async with websockets.connect(path, origin=Origin(live.url)) as ws:
        if channel == "board":
            assert (await recv(ws))["type"] == "snapshot"


async def test_live_endpoints_are_in_the_openapi_schema(live: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live.url) as client:
        paths = (await client.get("/api/openapi.json")).json()["paths"]
    assert {"/api/candidate/report", "/api/live/sessions", "/api/live/board-sessions"} <= set(paths)
    assert paths["/api/live/sessions"]["get"]["security"] == [{"bearer": []}]


async def test_grid_keeps_the_time_left_of_a_finished_attempt(server_factory: Any) -> None:
    """One rule for remaining time (exam_server.clock): a finished attempt
    keeps the time that was left when it ended, on the grid as in the
    database (the grid used to show 0)."""
    h = server_factory(time_limit_seconds=600.0)
    reg = h.seed.candidates[0]["registration_number"]
    t = await Terminal.open(h.ws_url, h.login(reg, "T-grid"), "T-grid")
    await t.answer(1, 0)
    final = await t.request({"type": "finish", "confirm": True})
    assert final["type"] != "error", final
    await t.close()
    path = h.url.replace("http://", "ws://") + f"/ws/proctor/{h.seed.session_id}"
    async with websockets.connect(path) as ws:
        await ws.send(json.dumps({"type": "auth", "token": h.staff("proctor")}))
        snap = await recv(ws, "snapshot")
    row = next(r for r in snap["terminals"] if r["registration_number"] == reg)
    with h.db.connect() as conn:
        stored = conn.execute(
            text("SELECT remaining_at_start FROM exam_attempt WHERE id = :a"),
            {"a": row["attempt_id"]},
        ).scalar_one()
    assert row["status"] == "finished" and row["deadline_at"] is None
    assert 500.0 < stored < 600.0
    assert row["remaining"] == pytest.approx(stored)
