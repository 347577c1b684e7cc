"""``GET /api/candidate/receipt``: the finished candidate's receipt with its
QR code, drawn once however often it is asked for.

Found by a review: the QR code (about 15 ms of a shared worker thread) was
drawn at every request; a finished candidate asking a hundred times at once
slowed every other candidate's acknowledgements from 3 to 170 ms."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from exam_server import receipts
from exam_server.testing import Terminal
from tests.conftest import ServerHandle


async def test_the_receipt_qr_is_drawn_once(
    live_server: ServerHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = live_server
    reg = h.seed.candidates[0]["registration_number"]
    token = h.login(reg, "T-R")
    t = await Terminal.open(h.ws_url, token, "T-R")
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=h.url, timeout=30) as c:
        # Before the finish there is no receipt.
        early = await c.get("/api/candidate/receipt", headers=auth)
        assert early.status_code == 404 and early.json()["error"] == "no_receipt"
        for n in range(1, len(t.state["map"]) + 1):
            await t.answer(n, 0)
        final = await t.request({"type": "finish", "confirm": True})
        await t.close()
        drawn: list[Any] = []
        real = receipts.qr_svg

        def counting(receipt: Any, scale: int = 4) -> str:
            drawn.append(receipt)
            return real(receipt, scale)

        # The server runs in this process (a thread): its endpoint calls this.
        monkeypatch.setattr(receipts, "qr_svg", counting)
        answers = await asyncio.gather(
            *(c.get("/api/candidate/receipt", headers=auth) for _ in range(30))
        )
        again = await c.get("/api/candidate/receipt", headers=auth)
    assert all(r.status_code == 200 for r in [*answers, again])
    bodies = {r.text for r in [*answers, again]}
    (body,) = bodies  # the same answer every time
    got = again.json()
    assert got["code"] == final["receipt"]["code"] and got["qr_svg"].startswith("<svg")
    assert len(drawn) == 1, body[:200]
