"""The item review over a real server refuses an item id no bank holds.

A mistyped id (``TIU-0O12`` for ``TIU-0012``) was flagged, and could then be
retired, with 200 answers: the page said the item was taken out while the
leaked item stayed in every exam's selection. Now 404 naming the field, and
nothing is recorded; only administrators review items."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select

from exam_server.audit.chain import AUDIT
from exam_server.testing import small_bank
from tests.conftest import ServerHandle


def test_an_unknown_item_is_not_flagged(live_server: ServerHandle) -> None:
    h = live_server
    review = f"{h.url}/api/admin/forensics/items/review"
    admin = h.headers("admin")
    real = small_bank()[0].item_ids[3]
    typo = real[:-1] + "X"
    r = httpx.post(
        review, headers=admin, json={"item_id": typo, "status": "flagged", "reason": "x"}
    )
    assert r.status_code == 404, r.text
    assert r.json()["errors"] == [{"field": "item_id"}]
    assert typo in r.json()["message"]
    queue = httpx.get(f"{h.url}/api/admin/forensics/items", headers=admin).json()["items"]
    assert all(row["item_id"] != typo for row in queue)
    with h.db.connect() as conn:
        flagged = select(func.count()).where(AUDIT.c.kind == "item_flagged")
        assert conn.execute(flagged).scalar_one() == 0
    retire = httpx.post(
        review, headers=admin, json={"item_id": typo, "status": "retired", "reason": "x"}
    )
    assert retire.status_code == 409  # never flagged: nothing to decide

    proctor = httpx.post(
        review,
        headers=h.headers("proctor"),
        json={"item_id": real, "status": "flagged", "reason": "beredar"},
    )
    assert proctor.status_code == 403
    ok = httpx.post(
        review, headers=admin, json={"item_id": real, "status": "flagged", "reason": "beredar"}
    )
    assert ok.status_code == 200, ok.text
    with h.db.connect() as conn:
        assert conn.execute(flagged).scalar_one() == 1
