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
