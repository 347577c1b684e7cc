"""End to end: candidates sit a real (small) exam on the real server, a proctor voids one
attempt, one candidate never comes; the results are ranked from the database, published,
verified, recomputed byte for byte, and shown on the public page."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from starlette.applications import Starlette
from starlette.testclient import TestClient

from exam_server import models as m
from exam_server import scheduling as sch
from exam_server.db import writer
from exam_server.results import publication as pub
from exam_server.results.from_db import SourceError, load_outcomes
from exam_server.results.outcomes import CandidateOutcome, Formation
from exam_server.results.pages import routes
from exam_server.results.ranking import rank_skd
from exam_server.results.rules import RankingPolicy
from exam_server.testing import Terminal
from tests.results.results_cases import KEY


def small_policy(max_points: dict[str, float]) -> RankingPolicy:
    """The 2024 rules scaled to the small test form (10 items instead of 110)."""
    doc = RankingPolicy.default_2024().to_dict()
    doc["version"] = "2024.1-small"
    for s in doc["subtests"]:
        s["max_points"] = max_points[s["code"]]
    total = sum(max_points.values())
    # The 2024 lines as fractions of each maximum (65/150, 80/175, 166/225; 311/550, …).
    frac = {"TWK": 65 / 150, "TIU": 80 / 175, "TKP": 166 / 225}
    doc["categories"]["general"]["minimums"] = {
        k: round(v * max_points[k]) for k, v in frac.items()
    }
    for c in ("cumlaude", "diaspora", "disability", "papua"):
        cat = doc["categories"][c]
        cat["total"] = round(cat["total"] / 550 * total)
        cat["minimums"] = {"TIU": round(cat["minimums"]["TIU"] / 175 * max_points["TIU"])}
    return RankingPolicy.from_dict(doc)


async def load(h: Any) -> tuple[list[Formation], list[CandidateOutcome]]:
    # Off the test's event loop, which also runs the terminals' websocket clients.
    return await asyncio.to_thread(load_outcomes, h.db, h.seed.exam_code)


async def test_demo_exam_publishes_verifies_and_shows(
    server_factory: Callable[..., Any], tmp_path: Path
) -> None:
    h = server_factory(n_candidates=8)
    regs = [str(c["registration_number"]) for c in h.seed.candidates]
    rng = random.Random(11)
    max_points: dict[str, float] = {}
    for i, reg in enumerate(regs[:7]):
        t = await Terminal.open(h.ws_url, h.login(reg, f"T-{i}"), f"T-{i}")
        n_items = t.state["n_items"]
        answered = n_items if i < 6 else 2
        for number in range(1, answered + 1):
            # Candidate 0 answers option 0 throughout; the others at random.
            await t.answer(number, 0 if i == 0 else rng.randrange(4))
        if i < 6:
            final = await t.request({"type": "finish", "confirm": True})
            assert final["type"] == "final"
            max_points = {s["code"]: s["max_points"] for s in final["sections"]}
        else:
            # The proctor voids candidate 6's attempt, with a reason.
            r = httpx.post(
                f"{h.url}/api/proctor/attempts/{t.state['attempt_id']}/void",
                json={"reason": "joki (stand-in) confirmed by face check"},
                headers=h.headers("proctor"),
                timeout=30,
            )
            assert r.status_code == 200, r.text
        await t.close()
    # regs[7] never comes. Before the session is closed, results are refused.
    with pytest.raises(SourceError, match="has not come yet and session SESI-1 is still open"):
        await load(h)
    sch.mark_session_closed(h.db, h.seed.session_id, "admin:test", "end of the session")

    formations, outcomes = await load(h)
    by = {o.registration_number: o for o in outcomes}
    assert [by[r].status for r in regs] == ["finished"] * 6 + ["voided", "absent"]
    # The proctor's free-text reason stays internal: the publication gets the code only.
    assert by[regs[6]].status_note == ""
    policy = small_policy(max_points)
    skd = rank_skd(policy, formations, outcomes)
    codes = {e.registration_number: e.code for f in skd.formations for e in f.entries}
    assert codes[regs[6]] == "DIS" and codes[regs[7]] == "TH"
    assert {codes[r] for r in regs[:6]} <= {"P/L", "P", "TL"}

    exam = pub.ExamInfo(h.seed.exam_code, "SKD CPNS (demo)", "2024-11-30")
    p = pub.publish(exam, policy, skd, KEY)
    out = tmp_path / "publication"
    pub.write_publication(out, p.files)
    files = pub.read_publication(out)
    report = pub.verify_publication(files, KEY.public_key())
    assert report.ok, report.problems
    assert pub.recompute(files, *(await load(h))) == []

    # Every candidate can prove their entry against the root on the page.
    page = TestClient(Starlette(routes=routes(out)))
    index = page.get("/results/")
    assert f'id="merkle-root">{p.root}<' in index.text
    proofs = page.get(f"/results/proof/{regs[0]}").json()["proofs"]
    assert pub.verify_proof(proofs[0], p.root)
    found = page.get("/results/search", params={"regno": regs[6], "lang": "en"})
    assert ">DIS</span>" in found.text and "attempt voided by the proctor" in found.text
    assert "joki" not in found.text and "stand-in" not in found.text  # the free text stays internal

    # One stored response is changed in the database: recomputing no longer matches.
    resp = m.Response.__table__
    with writer(h.db).begin() as conn:  # reads, then writes while the server writes
        attempt_id = conn.exec_driver_sql(
            "SELECT a.id FROM exam_attempt a JOIN exam_candidate c ON c.id = a.candidate_id "
            "WHERE c.registration_number = ?",
            (regs[0],),
        ).scalar_one()
        conn.execute(
            update(resp)  # type: ignore[arg-type]
            .where(resp.c.attempt_id == attempt_id, resp.c.seq == 1)  # type: ignore[attr-defined]
            .values(option=3)
        )
    diffs = pub.recompute(files, *(await load(h)))
    assert any(f"{regs[0]} responses_hash" in d for d in diffs), diffs
