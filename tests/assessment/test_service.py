"""The SKB on the server, end to end without the browser: plan, panel, slots,
declarations, blind sheets, refusals with nothing stored, adjudication, the
final integration published and verified, everything in the audit chain."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from assessment.models import SkbComponentScore, SkbDeclaration, SkbSheet
from exam_server import audit
from exam_server.assessment import service as svc
from exam_server.db import create_schema, make_engine
from exam_server.models import AuditEvent, Exam, Staff
from exam_server.results import publication as pub
from exam_server.results.from_db import load_outcomes
from exam_server.results.integration import integrate
from exam_server.results.ranking import rank_skd
from exam_server.results.rules import RankingPolicy
from tests.assessment import skb_cases as cases
from tests.results.results_cases import KEY

ADMIN = "admin:admin"


@pytest.mark.postgres
def test_the_panel_day_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    """The same day on PostgreSQL (the production database)."""
    e = make_engine(postgres_url)
    try:
        create_schema(e)
        cases.populate(e)
        test_a_panel_scores_blind_adjudicates_and_the_ranking_is_published_and_verified(e, tmp_path)
    finally:
        e.dispose()


def staff_id(engine: Engine, username: str) -> int:
    with Session(engine) as s:
        return int(s.execute(select(Staff.id).where(Staff.username == username)).scalar_one())


def counts(engine: Engine) -> tuple[int, int, int]:
    """Sheets, final scores and audit events: a refusal changes none of them."""
    with Session(engine) as s:
        return tuple(  # type: ignore[return-value]
            int(s.execute(select(func.count()).select_from(t)).scalar_one())
            for t in (SkbSheet, SkbComponentScore, AuditEvent)
        )


def set_up(engine: Engine, margin: int = 30) -> dict[str, int]:
    svc.save_plan(engine, cases.plan(margin), ADMIN)
    for u in cases.ASSESSORS:
        svc.add_assessor(engine, u, u.title(), cases.PASSWORD, ADMIN, scrypt_n=2**8)
    svc.create_panel(engine, "P1", cases.FORMATION, "WWN", list(cases.ASSESSORS), "asesor1", ADMIN)
    start = cases.SLOT_START
    slots = svc.create_slots(
        engine, "P1", [(start, start + dt.timedelta(hours=3))], 30, 10,
        "https://meet.example.org/skb", "WITA", ADMIN,
    )  # fmt: skip
    for slot, regno in zip(slots, cases.CALLED, strict=False):
        svc.assign_slot(engine, slot, regno, ADMIN)
    return {u: staff_id(engine, u) for u in cases.ASSESSORS}


def sheet(a: int, b: int) -> dict[str, int]:
    return {"komunikasi": a, "integritas": b}


def test_a_panel_scores_blind_adjudicates_and_the_ranking_is_published_and_verified(
    engine: Engine, tmp_path: Path
) -> None:
    ids = set_up(engine)
    a1, a2, a3 = (ids[u] for u in cases.ASSESSORS)
    now = 1_747_000_000.0
    for who in (a1, a2, a3):
        for regno in cases.CALLED:
            svc.declare(engine, who, "P1", regno, False, "", now)

    # Blind: asesor2 sees only their own sheet until all three are in.
    svc.submit_sheet(engine, a1, "P1", "R001", sheet(4, 4), now)
    svc.submit_sheet(engine, a2, "P1", "R001", sheet(3, 4), now)
    row = svc.assessor_view(engine, a2)["panels"][0]["slots"][0]
    assert row["registration_number"] == "R001" and row["mine"]["score"] == "83.333"
    assert "sheets" not in row and row["submitted"] == 2
    assert row["local_id"] == "Senin, 12 Mei 2025 09.00 WITA"
    out = svc.submit_sheet(engine, a3, "P1", "R001", sheet(4, 3), now)
    assert out["state"] == "final"
    row = svc.assessor_view(engine, a2)["panels"][0]["slots"][0]
    assert [x["score"] for x in row["sheets"]] == ["100.000", "83.333", "83.333"]
    assert row["final"] == "88.889"

    # R002: an assessor changes their sheet before the score is final (audited).
    svc.submit_sheet(engine, a1, "P1", "R002", sheet(2, 2), now)
    svc.submit_sheet(engine, a1, "P1", "R002", sheet(3, 2), now)
    svc.submit_sheet(engine, a2, "P1", "R002", sheet(3, 3), now)
    assert svc.submit_sheet(engine, a3, "P1", "R002", sheet(3, 2), now)["state"] == "final"

    # R003: the assessors disagree by more than 30 points: the chair adjudicates.
    svc.submit_sheet(engine, a1, "P1", "R003", sheet(1, 1), now)
    svc.submit_sheet(engine, a2, "P1", "R003", sheet(4, 4), now)
    assert svc.submit_sheet(engine, a3, "P1", "R003", sheet(2, 3), now)["state"] == "adjudication"
    chair = svc.chair_view(engine, a1, "P1")
    assert chair["adjudication"] == ["R003"]
    assert {r["assessor"] for r in chair["severity"]["assessors"]} == set(cases.ASSESSORS)
    with pytest.raises(svc.Refused, match="only the chair"):
        svc.adjudicate(engine, a2, "P1", "R003", 50, "discussed", now)
    svc.adjudicate(engine, a1, "P1", "R003", "55", "recording reviewed by the panel", now)

    for regno, cat in (("R001", 80), ("R002", 70), ("R003", 90)):
        svc.record_cat_score(engine, regno, "CAT", cat, ADMIN, now)
    scores = svc.skb_scores(engine)
    assert scores["R001"].points == Decimal("83.556")  # 0.6 * 80 + 0.4 * 88.889
    assert [c.code for c in scores["R001"].components] == ["CAT", "WWN"]

    formations, outcomes = load_outcomes(engine, cases.EXAM)
    policy = RankingPolicy.default_2024()
    skd = rank_skd(policy, formations, outcomes)
    final = integrate(policy, skd, scores)
    exam = pub.ExamInfo(id=cases.EXAM, title="SKD uji", published_at="2025-06-01")
    files = dict(pub.publish(exam, policy, skd, KEY, final).files)
    doc = json.loads(next(v for k, v in files.items() if k.startswith("final/")))
    line = next(e for e in doc["entries"] if e["registration_number"] == "R001")
    assert line["skb"] == 83.556 and line["code"] == "P/L"
    assert line["skb_components"] == [
        {"code": "CAT", "weight": 60, "score": 80, "minimum": None, "kind": "cat"},
        {"code": "WWN", "weight": 40, "score": 88.889, "minimum": 20, "kind": "interview"},
    ]
    assert pub.verify_publication(files, KEY.public_key()).ok

    # A tampered breakdown no longer adds up: verify re-applies the SKB rule.
    path = next(k for k in files if k.startswith("final/") and k.endswith(".json"))
    tampered = files[path].replace(b'"score":88.889', b'"score":98.889')
    assert tampered != files[path]
    report = pub.verify_publication({**files, path: tampered}, KEY.public_key())
    assert not report.ok
    assert any("weighted sum" in p for p in report.problems), report.problems

    # The same through `seleksi results verify`, as anyone would run it (also
    # recomputing from the database).
    from seleksi.cli import main

    folder = tmp_path / "pub"
    pub.write_publication(folder, files)
    db = (
        str(engine.url).removeprefix("sqlite:///")
        if engine.dialect.name == "sqlite"
        else str(engine.url.render_as_string(hide_password=False))
    )
    assert main(["results", "verify", str(folder), "--db", db, "--exam", cases.EXAM]) == 0
    pub.write_publication(folder, {path: tampered})
    assert main(["results", "verify", str(folder)]) != 0

    # Every sheet, change, declaration and final score is in an intact audit chain.
    with Session(engine) as s:
        kinds = [e.kind for e in s.execute(select(AuditEvent)).scalars()]
    assert kinds.count("skb_sheet") == 9 and kinds.count("skb_sheet_change") == 1
    assert kinds.count("skb_final") == 6 and kinds.count("skb_declaration") == 9
    assert audit.verify(engine, scores=False).ok


def test_bad_input_is_refused_with_nothing_stored(engine: Engine) -> None:
    ids = set_up(engine)
    a1, a2, a3 = (ids[u] for u in cases.ASSESSORS)
    now = 1_747_000_000.0
    before = counts(engine)
    with pytest.raises(svc.Refused, match="'integritas': 5 is not one of the rubric's levels"):
        svc.submit_sheet(engine, a1, "P1", "R001", sheet(3, 5), now)
    with pytest.raises(svc.Refused, match="R004 has no slot with panel P1"):
        svc.submit_sheet(engine, a1, "P1", "R004", sheet(3, 3), now)
    with pytest.raises(svc.Refused, match="has no slot"):
        svc.submit_sheet(engine, a1, "P1", "NOBODY", sheet(3, 3), now)
    assert counts(engine) == before

    for who in (a1, a2, a3):
        svc.submit_sheet(engine, who, "P1", "R001", sheet(3, 3), now)
    # Scoring without declaring first affirms no conflict; recorded with the sheet.
    with Session(engine) as s:
        notes = [d.note for d in s.execute(select(SkbDeclaration)).scalars()]
    assert notes == ["no conflict, affirmed by submitting the sheet"] * 3
    with pytest.raises(svc.Refused, match="declare before scoring"):
        svc.declare(engine, a1, "P1", "R001", True, "", now)
    before = counts(engine)
    with pytest.raises(svc.Refused, match="is final; a change is no longer accepted"):
        svc.submit_sheet(engine, a2, "P1", "R001", sheet(4, 4), now)
    assert counts(engine) == before


def test_recusal_and_conflicts(engine: Engine) -> None:
    ids = set_up(engine)
    a1, a2, a3 = (ids[u] for u in cases.ASSESSORS)
    now = 1_747_000_000.0
    svc.declare(engine, a3, "P1", "R002", True, "tetangga / neighbour", now)
    with pytest.raises(svc.Refused, match="declared a conflict of interest"):
        svc.submit_sheet(engine, a3, "P1", "R002", sheet(3, 3), now)
    with pytest.raises(svc.Refused, match="fewer than 2 assessors"):
        svc.declare(engine, a2, "P1", "R002", True, "", now)
    svc.submit_sheet(engine, a1, "P1", "R002", sheet(3, 3), now)
    assert svc.submit_sheet(engine, a2, "P1", "R002", sheet(3, 2), now)["state"] == "final"

    # A candidate holds one interview slot; a slot holds one candidate.
    with pytest.raises(svc.Refused, match="candidate R001 already has slot"):
        svc.assign_slot(engine, 4, "R001", ADMIN)
    with pytest.raises(svc.Refused, match="slot 1 is already taken"):
        svc.assign_slot(engine, 1, "R003", ADMIN)
    # An assessor cannot sit in two panels at once.
    svc.add_assessor(engine, "asesor4", "Asesor4", cases.PASSWORD, ADMIN, scrypt_n=2**8)
    svc.create_panel(engine, "P2", cases.FORMATION, "WWN", ["asesor1", "asesor2", "asesor4"],
                     "asesor4", ADMIN)  # fmt: skip
    start = cases.SLOT_START + dt.timedelta(minutes=15)
    with pytest.raises(svc.Refused, match="assessor asesor1 is already in slot 1"):
        svc.create_slots(engine, "P2", [(start, start + dt.timedelta(hours=1))], 30, 0,
                         "https://meet.example.org/skb", "WIB", ADMIN)  # fmt: skip


def test_a_plan_over_the_caps_is_refused(engine: Engine) -> None:
    doc = cases.plan()
    doc["components"][0]["weight"] = 40
    doc["components"][1]["weight"] = 60
    with pytest.raises(svc.Refused, match="CAT field test weighs 40%"):
        svc.save_plan(engine, doc, ADMIN)


def test_the_exams_policy_document_sets_the_caps(engine: Engine) -> None:
    """A later year's policy carries its own ``skb`` section; the 2024 one has none."""
    assert "skb" not in RankingPolicy.default_2024().to_dict()
    doc = RankingPolicy.default_2024().to_dict()
    doc["version"] = "2025.1"
    doc["skb"] = {"version": "2025.1", "cat_min_weight": 70, "others_max_weight": 30}
    policy = RankingPolicy.from_dict(doc)
    assert RankingPolicy.from_json(policy.to_json()) == policy
    with Session(engine) as s:
        s.execute(update(Exam).values(policy_json=policy.to_json()))
        s.commit()
    with pytest.raises(svc.Refused, match="weigh 40% together, the policy allows at most 30%"):
        svc.save_plan(engine, cases.plan(), ADMIN)
    doc["skb"]["cat_min_weight"] = 170
    with pytest.raises(ValueError, match=r"policy\.skb\.cat_min_weight"):
        RankingPolicy.from_dict(doc)


def test_a_policy_on_fair_scores_ranks_on_the_models_scores(engine: Engine) -> None:
    doc = RankingPolicy.default_2024().to_dict()
    doc["skb"] = {"version": "2025.1", "cat_min_weight": 50, "others_max_weight": 50,
                  "score_basis": "fair"}  # fmt: skip
    with Session(engine) as s:
        s.execute(update(Exam).values(policy_json=RankingPolicy.from_dict(doc).to_json()))
        s.commit()
    ids = set_up(engine)
    now = 1_747_000_000.0
    marks = {"R001": (4, 4, 3, 4, 4, 3), "R002": (2, 3, 3, 2, 2, 2), "R003": (3, 2, 3, 3, 2, 3)}
    for regno, m in marks.items():
        for k, who in enumerate(cases.ASSESSORS):
            svc.submit_sheet(engine, ids[who], "P1", regno, sheet(m[2 * k], m[2 * k + 1]), now)
        svc.record_cat_score(engine, regno, "CAT", 75, ADMIN, now)
    with Session(engine) as s:
        fair = svc.fair_scores(s, 1, "WWN")
        rows = s.execute(select(SkbComponentScore)).scalars().all()
    raw = {r.candidate_id: Decimal(r.score) for r in rows if r.component == "WWN"}
    assert fair.keys() == raw.keys() and fair != raw
    # The model keeps the candidates' order here (everyone met the same three assessors).
    assert sorted(fair, key=fair.__getitem__) == sorted(raw, key=raw.__getitem__)
    scores = svc.skb_scores(engine)
    assert scores["R001"].components[1].score == fair[1]
    formations, outcomes = load_outcomes(engine, cases.EXAM)
    policy = RankingPolicy.from_dict(doc)
    final = integrate(policy, rank_skd(policy, formations, outcomes), scores)
    assert final.formations[0].entries[0].registration_number == "R001"


def test_schedule_reminders_and_moves_go_to_the_outbox(engine: Engine) -> None:
    from recruitment.models import RecOutbox

    cases.link_account(engine, 1, "ani@example.org")  # R001 registered online
    set_up(engine)
    start = cases.SLOT_START.timestamp()
    with Session(engine) as s:
        sent = s.execute(select(RecOutbox)).scalars().all()
    assert [(m.to_addr, m.kind) for m in sent] == [("ani@example.org", "skb_schedule")]
    assert "Senin, 12 Mei 2025 09.00 WITA" in sent[0].body
    assert "Monday 12 May 2025 09:00 WITA" in sent[0].body
    assert "https://meet.example.org/skb/P1-1" in sent[0].body

    # Moving: the fourth slot is free; allowed until 24 hours before either slot.
    view = svc.candidate_view(engine, "R001", start - 48 * 3600)
    assert [x["slot"] for x in view["interviews"][0]["free"]] == [4]
    # The link is the booked candidate's: a free slot's (which someone else
    # may book) is not shown.
    assert view["interviews"][0]["meeting_url"] == "https://meet.example.org/skb/P1-1"
    assert "meeting_url" not in view["interviews"][0]["free"][0]
    with pytest.raises(svc.Refused, match="until 24 hours before"):
        svc.reschedule(engine, "R001", 4, start - 3600)
    with pytest.raises(svc.Refused, match="slot 2 is not free"):
        svc.reschedule(engine, "R001", 2, start - 48 * 3600)
    svc.reschedule(engine, "R001", 4, start - 48 * 3600)
    view = svc.candidate_view(engine, "R001", start - 48 * 3600)
    assert view["interviews"][0]["slot"] == 4
    assert view["interviews"][0]["meeting_url"] == "https://meet.example.org/skb/P1-4"
    assert view["interviews"][0]["local_id"] == "Senin, 12 Mei 2025 11.00 WITA"

    # Reminders: once per slot, for interviews within the next 24 hours.
    assert svc.send_reminders(engine, start - 30 * 3600) == {"queued": 0, "no_address": 0}
    assert svc.send_reminders(engine, start - 3600) == {"queued": 1, "no_address": 2}
    assert svc.send_reminders(engine, start - 60) == {"queued": 0, "no_address": 0}
    with Session(engine) as s:
        kinds = [m.kind for m in s.execute(select(RecOutbox)).scalars()]
    assert kinds == ["skb_schedule", "skb_schedule", "skb_reminder"]


def test_the_field_tests_scores_come_from_its_exam(engine: Engine) -> None:
    """The CAT field test is an exam on the server: its finished attempts give the
    component's score (points over the maximum); a voided attempt gives none."""
    from exam_server import models as m

    svc.save_plan(engine, cases.plan(), ADMIN)
    with Session(engine) as s:
        s.add(m.Exam(id=2, code="SKB-CAT", name="Tes bidang", design_json="{}",
                     bank_json="{}", items_json="[]"))  # fmt: skip
        s.flush()
        s.add(m.ExamSession(id=2, code="S2", exam_id=2, room_id=1, status="closed"))
        s.flush()
        for aid, cid, status, pts in ((11, 1, "finished", 320.0), (12, 2, "void", None),
                                      (13, 3, "finished", 200.0)):  # fmt: skip
            score = (
                None
                if pts is None
                else json.dumps(
                    {
                        "sections": [{"code": "BID", "points": pts, "max_points": 500.0}],
                        "total": pts,
                    }
                )
            )
            s.add(m.Attempt(id=aid, session_id=2, candidate_id=cid, status=status,
                            state_json="{}", score_json=score))  # fmt: skip
        s.commit()
    assert svc.import_cat_scores(engine, "SKB-CAT", "CAT", ADMIN, 1.0) == {"stored": 2, "kept": 0}
    assert svc.import_cat_scores(engine, "SKB-CAT", "CAT", ADMIN, 2.0) == {"stored": 0, "kept": 2}
    with Session(engine) as s:
        rows = s.execute(select(SkbComponentScore)).scalars().all()
    assert sorted((r.candidate_id, r.score, r.source) for r in rows) == [
        (1, "64.000", "cat"),
        (3, "40.000", "cat"),
    ]
    with pytest.raises(svc.Refused, match="scored by assessors"):
        svc.import_cat_scores(engine, "SKB-CAT", "WWN", ADMIN, 3.0)


def test_only_candidates_called_to_the_skb_get_a_slot(engine: Engine) -> None:
    set_up(engine)  # R001-R003 are within the 3x cut of the one opening
    with pytest.raises(svc.Refused, match="R004 is not called to the SKB"):
        svc.assign_slot(engine, 4, "R004", ADMIN)  # passed the SKD, outside the cut
    with pytest.raises(svc.Refused, match="R005 is not called"):
        svc.assign_slot(engine, 4, "R005", ADMIN)  # below the passing grade
    panel = svc.admin_view(engine)["panels"][0]
    assert panel["unscheduled"] == []
    assert [x["registration_number"] for x in panel["slots"]] == ["R001", "R002", "R003", None]


def test_the_command_line_reports_a_panel_and_sends_reminders(
    engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from seleksi.cli import main

    ids = set_up(engine)
    now = 1_747_000_000.0
    for k, who in enumerate(cases.ASSESSORS):
        for j, regno in enumerate(cases.CALLED):
            marks = sheet(1 + (j + k) % 3 + j % 2, 2 + j % 3)
            svc.submit_sheet(engine, ids[who], "P1", regno, marks, now)
    db = str(tmp_path / "skb.db")
    assert main(["skb", "report", "P1", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "panel P1 · Interview (WWN)" in out and "ICC(A,1)" in out and "alpha" in out
    assert "ICC(1)" in out and "ICC(k)" in out and "(every panel, one-way; 3 candidates" in out
    assert "asesor2" in out and "severity" in out
    assert main(["skb", "report", "P1", "--json", "--db", db]) == 0
    assert json.loads(capsys.readouterr().out)["panel"] == "P1"
    assert main(["skb", "report", "NOPE", "--db", db]) != 0
    assert main(["skb", "remind", "--db", db]) == 0  # 2025's interviews are past
    assert "0 reminder(s) queued" in capsys.readouterr().out


@pytest.mark.postgres
def test_the_last_two_sheets_at_once_still_finalise(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two assessors submit the last sheets of a candidate at the same moment on
    PostgreSQL: the score is final exactly once (the panel's row lock queues them)."""
    import threading

    from exam_server.assessment import scoring

    # Hold each submission just before it counts the sheets until the other one
    # is there too: were the two not queued (panel lock, audit head lock), both
    # would count two of three sheets and nobody would finalise; queued, the
    # second waits for the first's commit (the barrier times out, the first goes
    # on alone).
    gate = threading.Barrier(2, timeout=3)
    real = scoring._try_finalise

    def meeting(*args: Any) -> str:
        with contextlib.suppress(threading.BrokenBarrierError):
            gate.wait()
        return real(*args)

    monkeypatch.setattr(scoring, "_try_finalise", meeting)
    e = make_engine(postgres_url)
    try:
        create_schema(e)
        cases.populate(e)
        ids = set_up(e)
        now = 1_747_000_000.0
        svc.submit_sheet(e, ids["asesor3"], "P1", "R001", sheet(3, 3), now)
        barrier = threading.Barrier(2)
        states: list[str] = []

        def submit(who: str) -> None:
            barrier.wait()
            states.append(svc.submit_sheet(e, ids[who], "P1", "R001", sheet(3, 4), now)["state"])

        threads = [threading.Thread(target=submit, args=(u,)) for u in ("asesor1", "asesor2")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(states) == ["final", "waiting"]
        with Session(e) as s:
            finals = s.execute(select(SkbComponentScore)).scalars().all()
        assert [(f.candidate_id, f.score) for f in finals] == [(1, "77.778")]
    finally:
        e.dispose()


def test_where_the_plan_says_so_called_candidates_choose_their_slot(engine: Engine) -> None:
    doc = cases.plan()
    doc["components"][1]["candidates_choose"] = True
    svc.save_plan(engine, doc, ADMIN)
    for u in cases.ASSESSORS:
        svc.add_assessor(engine, u, u.title(), cases.PASSWORD, ADMIN, scrypt_n=2**8)
    svc.create_panel(engine, "P1", cases.FORMATION, "WWN", list(cases.ASSESSORS), "asesor1", ADMIN)
    start = cases.SLOT_START
    slots = svc.create_slots(engine, "P1", [(start, start + dt.timedelta(hours=1))], 30, 0,
                             "https://meet.example.org/skb", "WIT", ADMIN)  # fmt: skip
    before = start.timestamp() - 48 * 3600
    view = svc.candidate_view(engine, "R002", before)
    assert view["interviews"] == []
    assert [x["slot"] for x in view["to_choose"][0]["free"]] == slots
    assert all("meeting_url" not in x for x in view["to_choose"][0]["free"])
    svc.reschedule(engine, "R002", slots[1], before)
    view = svc.candidate_view(engine, "R002", before)
    assert view["interviews"][0]["local_id"] == "Senin, 12 Mei 2025 10.30 WIT"
    assert view["to_choose"] == []
    # Not called to the SKB (outside the cut): nothing to choose, and choosing is refused.
    assert svc.candidate_view(engine, "R004", before)["to_choose"] == []
    with pytest.raises(svc.Refused, match="no interview of that component"):
        svc.reschedule(engine, "R004", slots[0], before)
    # Too close to the interview.
    with pytest.raises(svc.Refused, match="until 24 hours before"):
        svc.reschedule(engine, "R001", slots[0], start.timestamp() - 3600)


def test_the_skb_total_is_put_on_the_policys_skb_scale(engine: Engine) -> None:
    """A policy whose SKB is out of 500 gets the components' 0-100 total × 5; the
    integration checks the sum on that scale."""
    doc = RankingPolicy.default_2024().to_dict()
    doc["final"]["skb_max_points"] = 500
    policy = RankingPolicy.from_dict(doc)
    with Session(engine) as s:
        s.execute(update(Exam).values(policy_json=policy.to_json()))
        s.commit()
    ids = set_up(engine)
    for who in cases.ASSESSORS:
        svc.submit_sheet(engine, ids[who], "P1", "R001", sheet(4, 3), 1.0)
    svc.record_cat_score(engine, "R001", "CAT", 80, ADMIN, 1.0)
    rec = svc.skb_scores(engine)["R001"]
    assert rec.points == Decimal("406.665")  # (0.6 * 80 + 0.4 * 83.333) * 5
    formations, outcomes = load_outcomes(engine, cases.EXAM)
    final = integrate(policy, rank_skd(policy, formations, outcomes), {"R001": rec},
                      missing_is_absent=True)  # fmt: skip
    line = next(e for e in final.formations[0].entries if e.registration_number == "R001")
    assert line.skb == Decimal("406.665")


def test_a_trimmed_mean_panel_with_a_recusal_still_finalises(engine: Engine) -> None:
    doc = cases.plan()
    doc["components"][1]["finalisation"] = {"rule": "trimmed_mean", "trim": 1,
                                            "adjudication_margin": 40}  # fmt: skip
    svc.save_plan(engine, doc, ADMIN)
    for u in cases.ASSESSORS:
        svc.add_assessor(engine, u, u.title(), cases.PASSWORD, ADMIN, scrypt_n=2**8)
    svc.create_panel(engine, "P1", cases.FORMATION, "WWN", list(cases.ASSESSORS), "asesor1", ADMIN)
    start = cases.SLOT_START
    slot = svc.create_slots(engine, "P1", [(start, start + dt.timedelta(minutes=30))], 30, 0,
                            "https://meet.example.org/skb", "WIB", ADMIN)[0]  # fmt: skip
    svc.assign_slot(engine, slot, "R001", ADMIN)
    a1, a2, a3 = (staff_id(engine, u) for u in cases.ASSESSORS)
    svc.declare(engine, a3, "P1", "R001", True, "saudara / relative", 1.0)
    svc.submit_sheet(engine, a1, "P1", "R001", sheet(2, 3), 1.0)
    out = svc.submit_sheet(engine, a2, "P1", "R001", sheet(4, 3), 1.0)
    assert out["state"] == "final"
    with Session(engine) as s:
        row = s.execute(select(SkbComponentScore)).scalars().one()
    assert row.score == "66.666"  # the median of 50 and 83.333 (half to even)
