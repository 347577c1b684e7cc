"""The final frame carries the pass/fail reason in Bahasa Indonesia and English,
also when a finished attempt is resumed from the database after a restart."""

from __future__ import annotations

from typing import Any

from exam_server.results import rules
from exam_server.testing import Terminal, ThreadServer
from tests.conftest import ServerHandle, make_settings


def _expected(final: dict[str, Any], category: str) -> dict[str, str]:
    points = {s["code"]: s["points"] for s in final["sections"]}
    policy = rules.RankingPolicy.default_2024()
    return {lang: rules.passes(policy, category, points, lang=lang)[1] for lang in ("id", "en")}


async def test_final_frame_has_both_reasons_and_keeps_them_after_restart(
    live_server: ServerHandle,
) -> None:
    h = live_server
    cand = h.seed.candidates[0]
    token = h.login(cand["registration_number"], "T-1")
    t = await Terminal.open(h.ws_url, token, "T-1")
    await t.answer(1, 2)
    final = await t.request({"type": "finish", "confirm": True})
    await t.close()
    assert final["type"] == "final" and final["v"] == 1
    reasons = final["pass_reasons"]
    assert reasons == _expected(final, cand["category"])
    assert reasons["id"] and reasons["en"] and reasons["id"] != reasons["en"]
    # Version-1 clients keep reading the English text where it always was.
    assert final["pass_reason"] == reasons["en"]

    # A new server process over the same database loads the finished attempt
    # from its stored row: the resumed final frame carries both texts too.
    h.server.stop()
    again = ThreadServer(make_settings(h.settings.database_url)).start()
    try:
        t = await Terminal.open(again.ws_url, token, "T-1")
        assert t.state["type"] == "state" and t.state["status"] == "finished"
        resumed = await t.next()
        await t.close()
    finally:
        again.stop()
    assert resumed["type"] == "final"
    assert resumed["pass_reasons"] == reasons and resumed["pass_reason"] == reasons["en"]
    assert resumed["passed"] == final["passed"] and resumed["total"] == final["total"]
