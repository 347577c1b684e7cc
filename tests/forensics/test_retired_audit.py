"""A test taken after an item was retired still verifies (``seleksi audit verify``).

The adaptive exam's first item is the same for everyone; once it is retired
the live selection starts elsewhere, which a replay from the seed alone
cannot repeat. The audit check then scores the stored state checked against
the chained answers (as for an exposure-capped exam) and says why, instead of
reporting the attempt as tampered with.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from cat_engine import engine as cat
from exam_server.db import make_engine
from exam_server.demo import seed_exam
from exam_server.scheduling import issue_pin
from exam_server.testing import (
    Terminal,
    ThreadServer,
    candidate_login,
    small_bank,
    small_design,
    staff_token,
)
from seleksi.cli import main
from tests.conftest import (
    ADMIN_PASSWORD,
    PROCTOR_PASSWORD,
    TEST_SCRYPT_N,
    TEST_SECRET,
    make_settings,
)


async def _sit(server: ThreadServer, token: str, terminal_id: str) -> dict[str, object]:
    t = await Terminal.open(server.ws_url, token, terminal_id)
    frame = t.state["current"]
    assert isinstance(frame, dict)
    while True:
        replies = await t.answer(int(frame["number"]), 0)
        assert replies[0]["type"] == "ack", replies
        if len(replies) < 2 or replies[1].get("type") != "item":
            break
        frame = replies[1]
    final = await t.request({"type": "finish", "confirm": True})
    await t.close()
    return final


def test_an_attempt_after_a_retirement_verifies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    engine = make_engine(url)
    bank, public = small_bank()
    design = small_design("adaptive")
    seed = seed_exam(
        engine,
        TEST_SECRET,
        design=design,
        bank=bank,
        items=public,
        n_candidates=1,
        scrypt_n=TEST_SCRYPT_N,
        admin_password=ADMIN_PASSWORD,
        proctor_password=PROCTOR_PASSWORD,
        open_session=False,
    )
    first = bank.item_ids[int(cat.start(design, bank, seed=1).current or 0)]
    server = ThreadServer(make_settings(url)).start()
    try:
        admin = {"Authorization": "Bearer " + staff_token(server.url, "admin", ADMIN_PASSWORD)}
        review = server.url + "/api/admin/forensics/items/review"
        for status, reason in (("flagged", "reported leaked"), ("retired", "leak confirmed")):
            r = httpx.post(
                review, headers=admin, json={"item_id": first, "status": status, "reason": reason}
            )
            assert r.status_code == 200, r.text
        r = httpx.post(f"{server.url}/api/sessions/{seed.session_id}/open", headers=admin)
        token = r.json()["token"]
        reg = seed.candidates[0]["registration_number"]
        pin = issue_pin(engine, TEST_SECRET, seed.session_id, reg, "proctor:test")
        login = candidate_login(server.url, reg, pin, token, "T-1")
        assert login.status_code == 200, login.text
        final = server.on_loop_sync(_sit(server, login.json()["token"], "T-1"))
        assert final["type"] == "final", final
    finally:
        server.stop()
        engine.dispose()
    capsys.readouterr()
    assert main(["audit", "verify", "--db", url]) == 0
    out = capsys.readouterr().out
    assert "OK: every chain verifies" in out
    assert "items were retired after a review" in out
