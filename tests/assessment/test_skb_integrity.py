"""The SKB's records cannot be changed or read unfairly: `seleksi audit verify`
reports final scores and sheets edited in the database; a chair who declared
a conflict does not adjudicate that candidate; the chair sees no score of a
candidate whose sheets are not all in."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from assessment.models import SkbComponentScore
from exam_server import audit
from exam_server.assessment import service as svc
from exam_server.models import AuditEvent
from tests.assessment import skb_cases as cases
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
