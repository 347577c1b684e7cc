"""Retiring an item reaches the tests assembled before the decision (issue 21).

A real server, a linear exam whose session is open: every candidate's form
was assembled when the server took the session up. One candidate has
started and answered the first item; the others have not logged in. An
admin retires an item that the started candidate holds unanswered and
some prepared forms hold too. Then:

* every prepared form that held it holds a parallel item instead (same
  subtest, content area, model and points per option; not retired), each
  change in the audit chain; the answer says how many;
* the started candidate keeps it (counted as started and unanswered), may
  answer it, and that answer is scored;
* a candidate of a patched form logs in and is never shown the item;
* ``seleksi audit verify`` still verifies every chain and score.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from cat_engine.state import TestState
from exam_server.attempts.storage import read_state
from exam_server.db import make_engine
from exam_server.demo import SeedSummary, seed_exam
from exam_server.forensics.load import ATTEMPT
from exam_server.models import AuditEvent, Candidate
from exam_server.testing import (
    Terminal,
    ThreadServer,
    candidate_login,
    small_bank,
    small_design,
    staff_token,
)
from forensics.parallel import points_signature
from seleksi.cli import main
from tests.conftest import (
    ADMIN_PASSWORD,
    PROCTOR_PASSWORD,
    TEST_SCRYPT_N,
    TEST_SECRET,
    make_settings,
)

N_CANDIDATES = 8


def _states(engine: Engine) -> dict[str, tuple[int, TestState]]:
    """registration number → (attempt id, stored engine state), for every attempt."""
    bank, _ = small_bank()
    cand = Candidate.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        rows = conn.execute(
            select(ATTEMPT.c.id, cand.c.registration_number).join(
                cand, cand.c.id == ATTEMPT.c.candidate_id
            )
        ).all()
        return {str(reg): (int(a), read_state(conn, int(a), bank)) for a, reg in rows}


def _seed(engine: Engine, mode: str, n: int) -> SeedSummary:
    """An exam on the small bank with an open session of ``n`` candidates."""
    bank, public = small_bank()
    return seed_exam(
        engine,
        TEST_SECRET,
        design=small_design(mode),
        bank=bank,
        items=public,
        n_candidates=n,
        scrypt_n=TEST_SCRYPT_N,
        admin_password=ADMIN_PASSWORD,
        proctor_password=PROCTOR_PASSWORD,
    )


def _await_forms(engine: Engine, n: int) -> None:
    """Until a running server has assembled the ``n`` tests of the open session."""
    end = time.monotonic() + 30
    while len(_states(engine)) < n and time.monotonic() < end:
        time.sleep(0.1)
    assert len(_states(engine)) == n


def _items(state: TestState) -> list[str]:
    return [i for sec in state.sections for i in sec.item_ids]


def _shown_id(frame: dict[str, object]) -> str:
    """The item id a terminal was shown (the small bank's stems name it)."""
    stem = str(frame["stem"])
    return stem.split(" ", 1)[1].split(":", 1)[0]


async def _sit_all(t: Terminal, answer_first: bool = True) -> list[str]:
    """Go through every item of a linear test (answering option 0), finish;
    returns the item ids shown, in order."""
    shown: list[str] = []
    for number in range(1, int(t.state["n_items"]) + 1):
        frame = await t.request({"type": "navigate", "number": number})
        assert frame["type"] == "item", frame
        shown.append(_shown_id(frame))
        if number > 1 or answer_first:
            replies = await t.answer(number, 0)
            assert replies[0]["type"] == "ack", replies
    final = await t.request({"type": "finish", "confirm": True})
    assert final["type"] == "final", final
    return shown


def _login(server: ThreadServer, seed: SeedSummary, k: int, terminal: str) -> str:
    reg = seed.candidates[k]["registration_number"]
    r = candidate_login(server.url, reg, seed.pins()[reg], seed.session_token, terminal)
    assert r.status_code == 200, r.text
    return str(r.json()["token"])


async def test_retiring_an_item_patches_prepared_forms_and_counts_started_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'retire.db'}"
    engine = make_engine(url)
    bank, _ = small_bank()
    seed = _seed(engine, "linear", N_CANDIDATES)
    cand_ids = [str(c["registration_number"]) for c in seed.candidates]
    server = ThreadServer(make_settings(url)).start()
    try:
        _await_forms(engine, N_CANDIDATES)  # assembled in the background at start

        # Candidate 0 starts and answers the first item.
        started = await Terminal.open(server.ws_url, _login(server, seed, 0, "T-0"), "T-0")
        replies = await started.answer(1, 0)
        assert replies[0]["type"] == "ack", replies

        # The item to retire: one candidate 0 holds unanswered that the most
        # prepared forms hold too.
        before = _states(engine)
        own = _items(before[cand_ids[0]][1])[1:]
        holders = {iid: [c for c in cand_ids[1:] if iid in _items(before[c][1])] for iid in own}
        retired = max(own, key=lambda iid: (len(holders[iid]), iid))
        patched = holders[retired]
        assert patched, "no prepared form shares an item with candidate 0"

        admin = {"Authorization": "Bearer " + staff_token(server.url, "admin", ADMIN_PASSWORD)}
        review = server.url + "/api/admin/forensics/items/review"
        r = httpx.post(
            review,
            headers=admin,
            json={"item_id": retired, "status": "flagged", "reason": "reported leaked"},
        )
        assert r.status_code == 200, r.text
        r = httpx.post(
            review,
            headers=admin,
            json={"item_id": retired, "status": "retired", "reason": "key seen for sale"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["forms"] == {
            "prepared_patched": len(patched),
            "prepared_kept": 0,
            "started_unanswered": 1,
        }

        after = _states(engine)
        # The started test keeps the item; untouched forms stay as they were.
        assert _items(after[cand_ids[0]][1]) == _items(before[cand_ids[0]][1])
        for c in cand_ids[1:]:
            old, new = _items(before[c][1]), _items(after[c][1])
            if c not in patched:
                assert new == old
                continue
            assert retired not in new and len(new) == len(old)
            pos = old.index(retired)
            assert new[:pos] + new[pos + 1 :] == old[:pos] + old[pos + 1 :]
            o, n = bank.index_of(retired), bank.index_of(new[pos])
            assert bank.subtest[n] == bank.subtest[o]
            assert bank.content_area[n] == bank.content_area[o]
            assert bank.params.model[n] == bank.params.model[o]
            assert points_signature(bank, n) == points_signature(bank, o)

        # Each change is in the audit chain, with the places it changed.
        with engine.connect() as conn:
            events = conn.execute(
                select(AuditEvent.attempt_id, AuditEvent.data_json).where(  # type: ignore[call-overload]
                    AuditEvent.kind == "form_patched"
                )
            ).all()
        assert sorted(int(a) for a, _ in events) == sorted(after[c][0] for c in patched)
        for _, data in events:
            swaps = json.loads(data)["swaps"]
            assert [s["old"] for s in swaps] == [retired]

        # A patched candidate logs in and is never shown the retired item.
        k = cand_ids.index(patched[0])
        t = await Terminal.open(server.ws_url, _login(server, seed, k, "T-1"), "T-1")
        shown = await _sit_all(t)
        await t.close()
        assert retired not in shown
        assert shown == _items(after[patched[0]][1])

        # The started candidate is still given it; the answer stands.
        shown0 = await _sit_all(started, answer_first=False)
        await started.close()
        assert retired in shown0
        with engine.connect() as conn:
            status = conn.execute(
                select(ATTEMPT.c.status).where(ATTEMPT.c.id == before[cand_ids[0]][0])
            ).scalar_one()
        assert status == "finished"
        final0 = _states(engine)[cand_ids[0]][1]
        for sec in final0.sections:
            if retired in sec.item_ids:
                assert sec.answered[sec.item_ids.index(retired)]
    finally:
        server.stop()
        engine.dispose()
    capsys.readouterr()
    assert main(["audit", "verify", "--db", url]) == 0
    out = capsys.readouterr().out
    assert "OK: every chain verifies" in out


def _prepared_exam(url: str, mode: str, n: int) -> SeedSummary:
    """An exam with an open session whose ``n`` tests a server has prepared (then stopped)."""
    engine = make_engine(url)
    seed = _seed(engine, mode, n)
    server = ThreadServer(make_settings(url)).start()
    try:
        _await_forms(engine, n)
    finally:
        server.stop()
    engine.dispose()
    return seed


async def test_an_adaptive_first_item_retired_before_the_login_is_replaced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every prepared adaptive test starts on the same item (maximum information
    at the prior); retired before anyone logs in, each gets a parallel first
    item, and the candidate starts there."""
    url = f"sqlite:///{tmp_path / 'adaptive.db'}"
    seed = _prepared_exam(url, "adaptive", 3)
    engine = make_engine(url)
    before = _states(engine)
    firsts = {_items(st)[0] for _, st in before.values()}
    assert len(firsts) == 1
    first = firsts.pop()
    server = ThreadServer(make_settings(url)).start()
    try:
        admin = {"Authorization": "Bearer " + staff_token(server.url, "admin", ADMIN_PASSWORD)}
        review = server.url + "/api/admin/forensics/items/review"
        for status in ("flagged", "retired"):
            r = httpx.post(
                review, headers=admin, json={"item_id": first, "status": status, "reason": "leak"}
            )
            assert r.status_code == 200, r.text
        assert r.json()["forms"] == {
            "prepared_patched": 3,
            "prepared_kept": 0,
            "started_unanswered": 0,
        }
        t = await Terminal.open(server.ws_url, _login(server, seed, 0, "T-0"), "T-0")
        frame = t.state["current"]
        assert isinstance(frame, dict)
        shown = [_shown_id(frame)]
        while True:
            replies = await t.answer(int(frame["number"]), 0)
            assert replies[0]["type"] == "ack", replies
            if len(replies) < 2 or replies[1].get("type") != "item":
                break
            frame = replies[1]
            shown.append(_shown_id(frame))
        final = await t.request({"type": "finish", "confirm": True})
        await t.close()
        assert final["type"] == "final", final
        assert first not in shown
        reg = seed.candidates[0]["registration_number"]
        assert shown[0] == _items(_states(engine)[reg][1])[0]
    finally:
        server.stop()
        engine.dispose()
    capsys.readouterr()
    assert main(["audit", "verify", "--db", url]) == 0
    assert "OK: every chain verifies" in capsys.readouterr().out


def test_the_command_line_retirement_patches_the_stored_forms(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``seleksi forensics --retire`` with no server running: the prepared
    forms in the database are patched and the command says how many."""
    db = tmp_path / "cli.db"
    url = f"sqlite:///{db}"
    _prepared_exam(url, "linear", 4)
    engine = make_engine(url)
    try:
        before = _states(engine)
        counts: dict[str, int] = {}
        for _, st in before.values():
            for iid in _items(st):
                counts[iid] = counts.get(iid, 0) + 1
        item = max(counts, key=lambda i: (counts[i], i))
        capsys.readouterr()
        assert main(["forensics", "--db", str(db), "--flag", item, "--reason", "leak"]) == 0
        assert main(["forensics", "--db", str(db), "--retire", item, "--reason", "leak"]) == 0
        out = capsys.readouterr().out
        assert (
            f"tests prepared and not started: {counts[item]} got a parallel item in its place, "
            "0 keep it" in out
        ), out
        assert "started tests that hold it unanswered: 0" in out
        after = _states(engine)
        assert all(item not in _items(st) for _, st in after.values())
    finally:
        engine.dispose()
    assert main(["audit", "verify", "--db", str(db)]) == 0


async def test_a_server_holding_prepared_forms_gives_the_form_another_process_patched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A server holds prepared forms in memory (it patched them itself for a
    first retirement, through the admin API) when ``seleksi forensics
    --retire`` — another process: the command line, or another worker —
    patches them in the database for a second one. A candidate of such a form
    then logs in on that server and is shown the form as stored, with
    neither retired item."""
    db = tmp_path / "running.db"
    url = f"sqlite:///{db}"
    engine = make_engine(url)
    seed = _seed(engine, "linear", 4)
    server = ThreadServer(make_settings(url)).start()
    try:
        _await_forms(engine, 4)
        before = _states(engine)
        reg = str(seed.candidates[0]["registration_number"])
        first = _items(before[reg][1])[0]
        admin = {"Authorization": "Bearer " + staff_token(server.url, "admin", ADMIN_PASSWORD)}
        for status in ("flagged", "retired"):
            r = httpx.post(
                server.url + "/api/admin/forensics/items/review",
                headers=admin,
                json={"item_id": first, "status": status, "reason": "leak"},
            )
            assert r.status_code == 200, r.text
        assert r.json()["forms"]["prepared_patched"] >= 1
        second = _items(_states(engine)[reg][1])[0]  # now the form's first item
        assert second != first
        for act in ("--flag", "--retire"):
            assert main(["forensics", "--db", str(db), act, second, "--reason", "leak"]) == 0
        stored = _items(_states(engine)[reg][1])
        assert first not in stored and second not in stored
        t = await Terminal.open(server.ws_url, _login(server, seed, 0, "T-9"), "T-9")
        shown = await _sit_all(t)
        await t.close()
        assert first not in shown and second not in shown
        assert shown == stored
    finally:
        server.stop()
        engine.dispose()
    capsys.readouterr()
    assert main(["audit", "verify", "--db", url]) == 0
    assert "OK: every chain verifies" in capsys.readouterr().out
