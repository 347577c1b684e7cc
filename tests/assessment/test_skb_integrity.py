"""The SKB's records cannot be changed or read unfairly: `seleksi audit verify`
reports final scores and sheets edited in the database; a chair who declared
a conflict does not adjudicate that candidate; the chair sees no score of a
candidate whose sheets are not all in."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from assessment.models import SkbComponentScore
from exam_server import audit
from exam_server.assessment import service as svc
from exam_server.clock import ManualClock
from exam_server.models import AuditEvent
from exam_server.testing import staff_token
from tests.assessment import skb_cases as cases
from tests.assessment.conftest import forged, receipt, schedule, start_server
from tests.assessment.test_service import ADMIN, counts, set_up, sheet


def test_an_edited_skb_score_or_sheet_is_reported_by_audit_verify(engine: Engine) -> None:
    """Final component scores and assessors' sheets are checked against their
    chained events: raising them in the database is reported, by whom and
    for whom; removing a final score is reported too."""
    ids = set_up(engine)
    now = 1_747_000_000.0
    for who in ids.values():
        svc.submit_sheet(engine, who, "P1", "R001", sheet(3, 3), now)
    svc.record_cat_score(engine, "R001", "CAT", 80, ADMIN, now)
    assert audit.verify(engine, scores=False).ok
    with engine.begin() as c:
        c.exec_driver_sql("UPDATE skb_component_score SET score = '100.000'")
        c.exec_driver_sql(
            "UPDATE skb_sheet SET score = '100.000', points_json = ? WHERE staff_id = ?",
            (json.dumps(sheet(4, 4), sort_keys=True), ids["asesor2"]),
        )
    problems = audit.verify(engine, scores=False).problems
    assert any(
        p.startswith("SKB WWN of R001: final score is 100.000 (panel) stored, ") for p in problems
    ), problems
    assert any(
        p.startswith("SKB CAT of R001: final score is 100.000 (cat) stored, 80") for p in problems
    ), problems
    assert [p for p in problems if p.startswith("SKB sheet of")] == [
        "SKB sheet of asesor2 for R001 on panel P1: score 100.000 and points stored differ "
        "from its last event (score 66.667)"
    ]
    with engine.begin() as c:
        c.exec_driver_sql("DELETE FROM skb_component_score WHERE component = 'CAT'")
    problems = audit.verify(engine, scores=False).problems
    assert any(p.startswith("SKB CAT of R001: the skb_final event's score 80") for p in problems)


def test_a_chair_recused_for_a_candidate_does_not_adjudicate_them(engine: Engine) -> None:
    """The chair declared a conflict with R001, whose two other assessors differ
    by more than the margin: the chair's adjudication is refused like their sheet;
    the administrator adjudicates R001 instead (audited, naming the recused
    chair), and nobody else: the chair adjudicates R002."""
    from exam_server.scheduling import create_staff

    ids = set_up(engine)
    a1, a2, a3 = (ids[u] for u in cases.ASSESSORS)
    admin_id = create_staff(engine, "admin", "Admin", "admin", "admin-password-x", 2**8)
    now = 1_747_000_000.0
    svc.declare(engine, a1, "P1", "R001", True, "sepupu / cousin", now)
    svc.submit_sheet(engine, a2, "P1", "R001", sheet(1, 1), now)
    assert svc.submit_sheet(engine, a3, "P1", "R001", sheet(4, 4), now)["state"] == "adjudication"
    row = svc.chair_view(engine, a1, "P1")["candidates"][0]
    assert row["registration_number"] == "R001" and row["chair_recused"] is True

    before = counts(engine)
    with pytest.raises(svc.Refused, match="declared a conflict of interest") as exc:
        svc.adjudicate(engine, a1, "P1", "R001", 100, "saya yang menentukan", now)
    assert (exc.value.status, exc.value.code) == (403, "recused")
    with pytest.raises(svc.Refused, match="only the chair"):
        svc.adjudicate(engine, a2, "P1", "R001", 50, "discussed", now)
    with pytest.raises(svc.Refused, match="needs a reason"):
        svc.adjudicate(engine, admin_id, "P1", "R001", 50, " ", now)
    assert counts(engine) == before

    svc.adjudicate(engine, admin_id, "P1", "R001", "60", "recording reviewed; chair recused", now)
    row = svc.assessor_view(engine, a2)["panels"][0]["slots"][0]
    assert (row["state"], row["final"]) == ("final", "60.000")
    with Session(engine) as s:
        ev = s.execute(select(AuditEvent).where(AuditEvent.kind == "skb_final")).scalar_one()
        final = s.execute(select(SkbComponentScore)).scalar_one()
    data = json.loads(ev.data_json)
    assert ev.actor == "admin:admin" and (final.source, final.by) == ("adjudicated", "admin:admin")
    assert data["reason"] == "recording reviewed; chair recused"
    assert data["recused_chair"] == ["assessor:asesor1"] and data["sheets"] == ["0.000", "100.000"]

    # R002: the chair is not recused; the administrator may not take their place.
    for who, m in ((a1, 1), (a2, 4), (a3, 4)):
        svc.submit_sheet(engine, who, "P1", "R002", sheet(m, m), now)
    with pytest.raises(svc.Refused, match="only adjudicates a candidate the chair is recused"):
        svc.adjudicate(engine, admin_id, "P1", "R002", 70, "stepping in", now)
    svc.adjudicate(engine, a1, "P1", "R002", 70, "discussed", now)
    assert audit.verify(engine, scores=False).ok


def test_the_chair_sees_no_score_of_a_candidate_still_being_scored(engine: Engine) -> None:
    """Blind until all sheets are in, on the chair's page too: R002's first two
    sheets (the chair's still to come) change nothing the page shows — no fair
    score for R002, the same agreement, severities and fair scores of the others."""
    ids = set_up(engine)
    a1, a2, a3 = (ids[u] for u in cases.ASSESSORS)
    now = 1_747_000_000.0
    for regno, marks in (("R001", (4, 4, 3, 4, 4, 3)), ("R003", (2, 2, 1, 2, 3, 2))):
        for k, who in enumerate((a1, a2, a3)):
            svc.submit_sheet(engine, who, "P1", regno, sheet(marks[2 * k], marks[2 * k + 1]), now)
    before = svc.chair_view(engine, a1, "P1")
    assert before["severity"].get("assessors"), before["severity"]
    svc.submit_sheet(engine, a2, "P1", "R002", sheet(1, 1), now)
    svc.submit_sheet(engine, a3, "P1", "R002", sheet(4, 4), now)
    after = svc.chair_view(engine, a1, "P1")
    rows = {r["registration_number"]: r for r in after["candidates"]}
    assert rows["R002"]["state"] == "waiting" and rows["R002"]["submitted"] == 2
    assert rows["R002"]["fair"] is None and "sheets" not in rows["R002"]
    assert rows["R001"]["fair"] is not None and rows["R003"]["fair"] is not None
    assert after["agreement"] == before["agreement"]
    assert after["agreement"]["candidates"] == 2
    assert after["severity"] == before["severity"]
    assert [r["fair"] for r in after["candidates"]] == [r["fair"] for r in before["candidates"]]
    # The chair's sheet completes R002: now it counts everywhere.
    svc.submit_sheet(engine, a1, "P1", "R002", sheet(2, 3), now)
    done = svc.chair_view(engine, a1, "P1")
    assert all(r["fair"] is not None for r in done["candidates"])
    assert done["agreement"]["candidates"] == 3 and done["severity"] != before["severity"]


def test_a_recused_assessor_learns_nothing_of_that_candidates_scoring(tmp_path: Path) -> None:
    """On a real server: asesor2 declared a conflict with R001, the chair asesor1
    with R002. Whatever happens to their scoring — sheets in, a final score, a
    disagreement the administrator adjudicates — every page and API either of
    them reaches (``/api/skb/me``; the chair's ``/api/skb/chair``, with its
    queue, agreement, severities and fair scores) stays what it was when they
    declared: not a sheet, a count, a state or a final score of the candidate
    they are recused from. The administrator's page lists R002 awaiting their
    adjudication, with the sheets."""
    srv = start_server(tmp_path)
    try:
        admin_token = schedule(srv)
        tok = {u: staff_token(srv.url, u, cases.PASSWORD) for u in cases.ASSESSORS}

        def post(path: str, body: dict[str, Any], token: str) -> None:
            r = httpx.post(srv.url + path, json=body, timeout=30,
                           headers={"Authorization": f"Bearer {token}"})  # fmt: skip
            assert r.status_code == 201, r.text

        def get(path: str, token: str) -> Any:
            r = httpx.get(srv.url + path, timeout=30,
                          headers={"Authorization": f"Bearer {token}"})  # fmt: skip
            assert r.status_code == 200, r.text
            return r.json()

        def score(regno: str, marks: dict[str, int]) -> None:
            for u, m in marks.items():
                post("/api/skb/sheets", {"panel": "P1", "registration_number": regno,
                     "points": {"komunikasi": m, "integritas": m}}, tok[u])  # fmt: skip

        def rows(view: Any, regno: str) -> list[Any]:
            """Every row about ``regno`` anywhere in a page (slots, candidates)."""
            text = json.dumps(view)
            found = [x for x in _dicts(view) if x.get("registration_number") == regno]
            assert found or regno not in text, (regno, text)
            return found

        for u, regno in (("asesor2", "R001"), ("asesor1", "R002")):
            post("/api/skb/declarations", {"panel": "P1", "registration_number": regno,
                 "conflict": True, "note": "keluarga"}, tok[u])  # fmt: skip
        score("R003", {"asesor1": 3, "asesor2": 3, "asesor3": 3})  # complete: on every page

        def views() -> dict[str, Any]:
            return {"me2": get("/api/skb/me", tok["asesor2"]),
                    "me1": get("/api/skb/me", tok["asesor1"]),
                    "chair": get("/api/skb/chair?panel=P1", tok["asesor1"])}  # fmt: skip

        before = views()
        mine = rows(before["me2"], "R001")
        assert [x["recused"] for x in mine] == [True]
        chair_row = rows(before["chair"], "R002")
        assert [(x["recused"], x["chair_recused"]) for x in chair_row] == [(True, True)]

        score("R001", {"asesor1": 3, "asesor3": 3})  # final at once (no spread)
        mid = views()
        score("R002", {"asesor2": 1, "asesor3": 4})  # beyond the margin: adjudication
        during = views()
        admin_page = get("/api/skb/admin", admin_token)
        (waiting,) = admin_page["panels"][0]["adjudication"]
        assert waiting["registration_number"] == "R002" and waiting["chair_recused"] is True
        assert [x["score"] for x in waiting["sheets"]] == ["0.000", "100.000"]
        post("/api/skb/adjudications", {"panel": "P1", "registration_number": "R002",
             "score": 55, "reason": "ketua mengundurkan diri"}, admin_token)  # fmt: skip
        after = views()
        assert get("/api/skb/admin", admin_token)["panels"][0]["adjudication"] == []

        for regno, who in (("R001", "me2"), ("R002", "me1"), ("R002", "chair")):
            for later in (mid, during, after):
                assert rows(later[who], regno) == rows(before[who], regno), (regno, who)
        # Nothing on the chair's page moved with R002's sheets and final score:
        # the queue, the agreement, the severities, the other candidates' rows
        # and fair scores (R001's sheets, in since ``mid``, count as usual).
        assert after["chair"] == during["chair"] == mid["chair"]
        assert mid["chair"]["adjudication"] == []
        assert mid["chair"]["agreement"]["candidates"] == 2
        # The colleagues see R001 and R002 as usual.
        other = {x["registration_number"]: x for x in rows(after["me2"], "R002")}
        assert other["R002"]["final"] == "55.000" and len(other["R002"]["sheets"]) == 2
        (r001,) = rows(after["me1"], "R001")
        assert r001["final"] == "66.667" and len(r001["sheets"]) == 2
    finally:
        srv.stop()


def _dicts(x: Any) -> list[dict[str, Any]]:
    """Every dict inside a JSON value."""
    if isinstance(x, dict):
        return [x, *(d for v in x.values() for d in _dicts(v))]
    if isinstance(x, list):
        return [d for v in x for d in _dicts(v)]
    return []


def test_nobody_keeps_a_candidate_off_the_page_by_sending_forged_receipts(
    tmp_path: Path,
) -> None:
    """Found by a review: the page also counted failures per registration
    number over every address, so anyone who knew a number (they are on
    the published lists) sent about 14 wrong tries, then one each time the
    wait ran out, and kept the owner out of their interview page from any
    address. A signed receipt cannot be guessed, so that count is gone: the
    forger at one address, or at an address per try, waits; the owner at
    their own address is let in at once. A forger still waits at one
    address, as every login does."""
    clock = ManualClock(time.time())
    srv = start_server(tmp_path, clock, trusted_proxies=("127.0.0.1",))
    try:
        schedule(srv)
        addresses = (f"10.{k // 250}.{k % 250}.7" for k in range(1, 1000))
        forgeries = (forged("R002", k) for k in range(1000))

        def lookup(regno: str, code: str, source: str) -> httpx.Response:
            return httpx.post(srv.url + "/api/skb/candidate", timeout=30,
                              json={"registration_number": regno, "receipt": code},
                              headers={"X-Forwarded-For": source})  # fmt: skip

        # An address a try: every forgery checked and refused, nothing held.
        assert [lookup("R002", next(forgeries), next(addresses)).status_code
                for _ in range(30)] == [401] * 30  # fmt: skip
        # One address: five free, then it waits.
        at_one = [lookup("R002", next(forgeries), "10.200.0.7").status_code for _ in range(8)]
        assert at_one[:5] == [401] * 5 and set(at_one[5:]) == {429}
        own = receipt(srv, "R002")
        r = lookup("R002", own, "10.99.0.1")  # the owner, at home, in the middle of it
        assert r.status_code == 200, r.text
        assert r.json()["interviews"][0]["zone"] == "WITA"
        assert lookup("R002", next(forgeries), "10.200.0.7").status_code == 429
    finally:
        srv.stop()
