"""A disabled staff account loses the access its tokens gave, within seconds:
REST calls and the proctor channel refuse a token it already holds, and the
same token works again once the account is enabled."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import websockets

from exam_server.scheduling import create_staff, set_staff_disabled
from tests.conftest import ServerHandle


async def _status(h: ServerHandle, token: str) -> tuple[int, str]:
    r = await asyncio.to_thread(
        httpx.get, f"{h.url}/api/admin/exams", headers={"Authorization": f"Bearer {token}"}
    )
    return r.status_code, r.json().get("error", "") if r.status_code != 200 else ""


async def _until(check: Callable[[], Any], want: Any, seconds: float = 10.0) -> Any:
    """Poll an async check until it gives ``want`` (the refresh runs every 0.2 s)."""
    got = None
    for _ in range(int(seconds / 0.05)):
        got = await check()
        if got == want:
            return got
        await asyncio.sleep(0.05)
    return got


async def test_a_disabled_accounts_token_is_refused_and_works_again_when_enabled(
    server_factory: Callable[..., ServerHandle],
) -> None:
    h = server_factory(staff_refresh_seconds=0.2)
    admin = await asyncio.to_thread(h.staff, "admin")
    proctor = await asyncio.to_thread(h.staff, "proctor")
    assert await _status(h, admin) == (200, "")

    # Another administrator first: the last enabled one cannot be disabled.
    await asyncio.to_thread(
        create_staff, h.db, "admin2", "Admin Dua", "admin", "sandi-admin-dua", 2**10
    )
    user = h.seed.admin[0]
    await asyncio.to_thread(set_staff_disabled, h.db, user, True)
    assert await _until(lambda: _status(h, admin), (401, "account_disabled")) == (
        401,
        "account_disabled",
    )
    # Another account is not touched.
    ws_url = h.url.replace("http://", "ws://") + f"/ws/proctor/{h.seed.session_id}"
    async with websockets.connect(ws_url) as ws:
        await ws.send(json.dumps({"type": "auth", "token": proctor}))
        assert json.loads(await ws.recv())["type"] == "snapshot"

    await asyncio.to_thread(set_staff_disabled, h.db, user, False)
    assert await _until(lambda: _status(h, admin), (200, "")) == (200, "")


async def test_a_disabled_proctor_cannot_open_the_live_channel(
    server_factory: Callable[..., ServerHandle],
) -> None:
    h = server_factory(staff_refresh_seconds=0.2)
    proctor = await asyncio.to_thread(h.staff, "proctor")
    await asyncio.to_thread(set_staff_disabled, h.db, h.seed.proctor[0], True)
    ws_url = h.url.replace("http://", "ws://") + f"/ws/proctor/{h.seed.session_id}"

    async def refused() -> str:
        async with websockets.connect(ws_url) as ws:
            await ws.send(json.dumps({"type": "auth", "token": proctor}))
            frame = json.loads(await ws.recv())
            if frame["type"] != "error":
                return frame["type"]
            with pytest.raises(websockets.ConnectionClosed):
                await ws.recv()
            return str(frame["code"])

    assert await _until(refused, "account_disabled") == "account_disabled"


def test_a_change_this_worker_made_counts_at_once_and_no_earlier_read_undoes_it(
    tmp_path: Any,
) -> None:
    """An admin gives a proctor a room on this worker: the proctor uses it at
    once (a fresh login was refused for up to a refresh interval before), and
    a read of the table that began before the change cannot put the old rooms
    back when it ends; a read that began after it takes over."""
    from sqlalchemy import create_engine, text

    from exam_server.revocation import DisabledStaff

    engine = create_engine(f"sqlite:///{tmp_path}/staff.db")
    with engine.begin() as c:
        c.execute(text("CREATE TABLE exam_staff (id INTEGER PRIMARY KEY, disabled BOOLEAN)"))
        c.execute(text("CREATE TABLE exam_staff_room (staff_id INTEGER, room_id INTEGER)"))
        c.execute(text("INSERT INTO exam_staff VALUES (7, 0)"))
    staff = DisabledStaff(engine, interval=60)
    staff.refresh()
    assert staff.rooms_of(7) == () and 7 not in staff
    real_connect = engine.connect

    def connect_then_change() -> Any:
        # The read has begun; the endpoint's change lands before it reads.
        staff.note_rooms(7, (3,))
        staff.note_disabled(7, True)
        return real_connect()

    engine.connect = connect_then_change  # type: ignore[method-assign]
    try:
        staff.refresh()  # reads the table as it was: the notes stand
    finally:
        engine.connect = real_connect  # type: ignore[method-assign]
    assert staff.rooms_of(7) == (3,) and 7 in staff
    # A read that begins after the change takes over (here the table was not
    # written, so the change goes: what the database says wins from then on).
    staff.refresh()
    assert staff.rooms_of(7) == () and 7 not in staff
    engine.dispose()
