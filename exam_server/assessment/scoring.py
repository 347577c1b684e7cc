"""Scoring: declarations, blind rubric sheets, finalisation and adjudication,
the CAT field test's scores. Every score and change is audited in the same
transaction; a refusal stores nothing."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assessment.components import (
    ComponentError,
    quantize,
)
from assessment.finalisation import finalise
from assessment.models import (
    SkbComponentScore,
    SkbDeclaration,
    SkbSheet,
    SkbSlot,
)
from exam_server import audit
from exam_server.assessment.common import (
    PanelCtx,
    Refused,
    component_of,
    final_row,
    one,
    panel_ctx,
    plan_of,
    recused_ids,
    sheets_of,
    staff_actor,
)
from exam_server.db import writer
from exam_server.models import Attempt, Candidate, Exam, ExamSession, Staff


def candidate_in_panel(s: Session, pc: PanelCtx, registration_number: str) -> Candidate:
    cand = s.exec(
        select(Candidate).where(Candidate.registration_number == registration_number)
    ).first()
    slot = None
    if cand is not None:
        slot = s.exec(
            select(SkbSlot).where(SkbSlot.panel_id == pc.id, SkbSlot.candidate_id == cand.id)
        ).first()
    if cand is None or slot is None:
        raise Refused(
            422,
            "not_in_slot",
            f"candidate {registration_number} has no slot with panel {pc.panel.code}",
        )
    return cand


def declare(
    engine: Engine,
    staff_id: int,
    panel_code: str,
    registration_number: str,
    conflict: bool,
    note: str,
    now: float,
) -> None:
    """An assessor's conflict-of-interest declaration; a conflict recuses them."""
    with Session(writer(engine)) as s:
        pc = panel_ctx(s, panel_code, lock=True)
        member = pc.members.get(staff_id)
        if member is None:
            raise Refused(403, "not_on_panel", f"you are not on panel {panel_code}")
        cand = candidate_in_panel(s, pc, registration_number)
        assert cand.id is not None
        if s.exec(
            select(SkbSheet.id).where(
                SkbSheet.panel_id == pc.id,
                SkbSheet.staff_id == staff_id,
                SkbSheet.candidate_id == cand.id,
            )
        ).first():
            raise Refused(409, "already_scored", "declare before scoring: a sheet is in")
        if s.exec(
            select(SkbDeclaration.id).where(
                SkbDeclaration.panel_id == pc.id,
                SkbDeclaration.staff_id == staff_id,
                SkbDeclaration.candidate_id == cand.id,
            )
        ).first():
            raise Refused(409, "already_declared", "you have already declared for this candidate")
        if conflict and len(pc.members) - len(recused_ids(s, pc.id, cand.id)) - 1 < 2:
            raise Refused(
                409,
                "too_few_assessors",
                "recusal would leave fewer than 2 assessors: the panel needs a substitute",
            )
        s.add(
            SkbDeclaration(
                panel_id=pc.id,
                staff_id=staff_id,
                candidate_id=cand.id,
                conflict=conflict,
                note=note,
                at=now,
            )
        )
        actor = staff_actor(s, staff_id)
        audit.append(
            s.connection(),
            "skb_declaration",
            actor,
            data={"panel": panel_code, "registration_number": registration_number,
                  "conflict": conflict},
            reason=note,
            at=now,
        )  # fmt: skip
        if conflict:  # fewer sheets are awaited now: the others may be complete
            _try_finalise(s, pc, cand, actor, now)
        s.commit()


def submit_sheet(
    engine: Engine,
    staff_id: int,
    panel_code: str,
    registration_number: str,
    points: Any,
    now: float,
) -> dict[str, Any]:
    """Store (or change, until the component is final) an assessor's rubric sheet.

    Refused: not on the panel, recused, a candidate without a slot with the
    panel, a level the rubric does not have, a change after finalisation."""
    with Session(writer(engine)) as s:
        pc = panel_ctx(s, panel_code, lock=True)
        if staff_id not in pc.members:
            raise Refused(403, "not_on_panel", f"you are not on panel {panel_code}")
        cand = candidate_in_panel(s, pc, registration_number)
        assert cand.id is not None
        if staff_id in recused_ids(s, pc.id, cand.id):
            raise Refused(403, "recused", "you declared a conflict of interest: you do not score")
        if final_row(s, cand.id, pc.panel.component) is not None:
            raise Refused(
                409,
                "finalised",
                f"the {pc.panel.component} score of {registration_number} is final; "
                "a change is no longer accepted",
            )
        comp = pc.plan.component(pc.panel.component)
        assert comp.rubric is not None
        if not isinstance(points, dict):
            raise Refused(422, "bad_sheet", "points must be an object {criterion: level}")
        try:
            score = comp.rubric.score(points)
        except ComponentError as exc:
            raise Refused(422, "bad_sheet", str(exc)) from None
        actor = staff_actor(s, staff_id)
        _declared_with_sheet(s, pc, staff_id, cand, panel_code, actor, now)
        sheet = s.exec(
            select(SkbSheet).where(
                SkbSheet.panel_id == pc.id,
                SkbSheet.staff_id == staff_id,
                SkbSheet.candidate_id == cand.id,
            )
        ).first()
        data: dict[str, Any] = {
            "panel": panel_code,
            "registration_number": registration_number,
            "points": points,
            "score": str(score),
        }
        if sheet is None:
            sheet = SkbSheet(
                panel_id=pc.id,
                staff_id=staff_id,
                candidate_id=cand.id,
                points_json=json.dumps(points, sort_keys=True),
                score=str(score),
                submitted_at=now,
            )
            s.add(sheet)
            kind = "skb_sheet"
        else:
            data["was"] = {"points": json.loads(sheet.points_json), "score": sheet.score}
            sheet.points_json = json.dumps(points, sort_keys=True)
            sheet.score, sheet.submitted_at = str(score), now
            kind = "skb_sheet_change"
        s.flush()
        audit.append(s.connection(), kind, actor, data=data, at=now)
        state = _try_finalise(s, pc, cand, actor, now)
        s.commit()
        return {"score": str(score), "state": state}


def _declared_with_sheet(
    s: Session,
    pc: PanelCtx,
    staff_id: int,
    cand: Candidate,
    panel_code: str,
    actor: str,
    now: float,
) -> None:
    """An assessor who scores without having declared affirms no conflict by
    submitting (the page always asks first): the declaration is recorded and
    audited with the sheet, so every sheet has one."""
    assert cand.id is not None
    if s.exec(
        select(SkbDeclaration.id).where(
            SkbDeclaration.panel_id == pc.id,
            SkbDeclaration.staff_id == staff_id,
            SkbDeclaration.candidate_id == cand.id,
        )
    ).first():
        return
    note = "no conflict, affirmed by submitting the sheet"
    s.add(SkbDeclaration(panel_id=pc.id, staff_id=staff_id, candidate_id=cand.id,
                         conflict=False, note=note, at=now))  # fmt: skip
    audit.append(
        s.connection(),
        "skb_declaration",
        actor,
        data={"panel": panel_code, "registration_number": cand.registration_number,
              "conflict": False},
        reason=note,
        at=now,
    )  # fmt: skip


def _try_finalise(s: Session, pc: PanelCtx, cand: Candidate, actor: str, now: float) -> str:
    """``waiting`` (sheets missing), ``adjudication`` (spread over the margin) or
    ``final`` (stored, audited)."""
    assert cand.id is not None
    expected = set(pc.members) - recused_ids(s, pc.id, cand.id)
    sheets = [x for x in sheets_of(s, pc.id, cand.id) if x.staff_id in expected]
    if {x.staff_id for x in sheets} != expected:
        return "waiting"
    comp = pc.plan.component(pc.panel.component)
    out = finalise([Decimal(x.score) for x in sheets], comp.finalisation)
    if out.needs_adjudication:
        return "adjudication"
    assert out.score is not None
    store_final(s, cand, pc.panel.component, out.score, "panel", actor, now,
                 {"rule": comp.finalisation.rule, "spread": str(out.spread)})  # fmt: skip
    return "final"


def store_final(
    s: Session,
    cand: Candidate,
    component: str,
    score: Decimal,
    source: str,
    actor: str,
    now: float,
    extra: dict[str, Any],
) -> None:
    assert cand.id is not None
    s.add(
        SkbComponentScore(
            candidate_id=cand.id,
            component=component,
            score=str(score),
            source=source,
            by=actor,
            at=now,
        )
    )
    audit.append(
        s.connection(),
        "skb_final",
        actor,
        data={"registration_number": cand.registration_number, "component": component,
              "score": str(score), "source": source, **extra},
        at=now,
    )  # fmt: skip


def adjudicate(
    engine: Engine,
    staff_id: int,
    panel_code: str,
    registration_number: str,
    score: Any,
    reason: str,
    now: float,
) -> None:
    """The chair's score (0–100) for a candidate whose assessors differ by more
    than the margin; only then, and only once.

    A chair who declared a conflict of interest for the candidate does not
    adjudicate them (``recused``); for such a candidate an administrator
    (``staff_id`` of role ``admin``) adjudicates in the chair's stead, audited
    with the same ``skb_final`` event, its reason and the recused chair. An
    administrator adjudicates nobody else."""
    with Session(writer(engine)) as s:
        pc = panel_ctx(s, panel_code, lock=True)
        by_admin = one(s, Staff, "staff", id=staff_id).role == "admin"
        member = pc.members.get(staff_id)
        if not by_admin and (member is None or not member.chair):
            raise Refused(403, "not_chair", f"only the chair of panel {panel_code} adjudicates")
        cand = candidate_in_panel(s, pc, registration_number)
        assert cand.id is not None
        recused = recused_ids(s, pc.id, cand.id)
        chairs = {k for k, m in pc.members.items() if m.chair}
        if by_admin and not chairs & recused:
            raise Refused(
                403,
                "not_chair",
                f"the chair of panel {panel_code} adjudicates {registration_number}; an "
                "administrator only adjudicates a candidate the chair is recused from",
            )
        if not by_admin and staff_id in recused:
            raise Refused(
                403,
                "recused",
                "you declared a conflict of interest: you do not adjudicate; "
                "an administrator adjudicates this candidate",
            )
        if final_row(s, cand.id, pc.panel.component) is not None:
            raise Refused(409, "finalised", "the score is already final")
        expected = set(pc.members) - recused
        sheets = [x for x in sheets_of(s, pc.id, cand.id) if x.staff_id in expected]
        comp = pc.plan.component(pc.panel.component)
        if {x.staff_id for x in sheets} != expected or not finalise(
            [Decimal(x.score) for x in sheets], comp.finalisation
        ).needs_adjudication:
            raise Refused(409, "no_adjudication", "this candidate is not awaiting adjudication")
        value = _score_value(score)
        if not reason.strip():
            raise Refused(422, "bad_field", "reason: the adjudication needs a reason")
        actor = staff_actor(s, staff_id)
        extra: dict[str, Any] = {"reason": reason, "sheets": [x.score for x in sheets]}
        if by_admin:  # in the stead of the recused chair, named in the event
            extra["recused_chair"] = [staff_actor(s, k) for k in sorted(chairs & recused)]
        store_final(s, cand, pc.panel.component, value, "adjudicated", actor, now, extra)
        s.commit()


def _score_value(score: Any) -> Decimal:
    try:
        value = Decimal(str(score))
    except InvalidOperation:
        raise Refused(422, "bad_field", f"score: {score!r} is not a number") from None
    if isinstance(score, bool) or not value.is_finite() or not 0 <= value <= 100:
        raise Refused(422, "bad_field", f"score: {score!r} must be between 0 and 100")
    return quantize(value)


def record_cat_score(
    engine: Engine, registration_number: str, component: str, score: Any, actor: str, now: float
) -> None:
    """The CAT field test's component score (0–100) from the exam server."""
    value = _score_value(score)
    with Session(writer(engine)) as s:
        cand = one(s, Candidate, "candidate", registration_number=registration_number)
        if cand.formation_id is None:
            raise Refused(422, "wrong_formation", f"{registration_number} has no formation")
        comp = component_of(plan_of(s, cand.formation_id), component)
        if comp.assessed:
            raise Refused(422, "bad_field", f"component {component} is scored by assessors")
        if final_row(s, cand.id, component) is not None:
            raise Refused(409, "finalised", f"the {component} score is already recorded")
        store_final(s, cand, component, value, "cat", actor, now, {})
        s.commit()


def import_cat_scores(
    engine: Engine, exam_code: str, component: str, actor: str, now: float
) -> dict[str, int]:
    """The CAT field test's component scores from the exam server: for every
    candidate with a finished attempt at ``exam_code`` whose formation's plan has
    ``component`` (a ``cat`` one), points over the maximum × 100. Candidates who
    did not finish (absent, voided) get none, so their SKB is absent; a score
    already recorded is kept (``kept``)."""
    stored = kept = 0
    with Session(writer(engine)) as s:
        exam = one(s, Exam, "exam", code=exam_code)
        rows = s.exec(
            select(Candidate, Attempt)
            .join(Attempt, col(Attempt.candidate_id) == col(Candidate.id))
            .join(ExamSession, col(ExamSession.id) == col(Attempt.session_id))
            .where(ExamSession.exam_id == exam.id, Attempt.status == "finished")
        ).all()
        for cand, attempt in rows:
            if cand.formation_id is None:
                continue
            try:
                comp = plan_of(s, cand.formation_id).component(component)
            except (Refused, ComponentError):
                continue
            if comp.assessed:
                raise Refused(422, "bad_field", f"component {component} is scored by assessors")
            if final_row(s, cand.id or 0, component) is not None:
                kept += 1
                continue
            sections = json.loads(attempt.score_json or "{}").get("sections", [])
            top = sum(float(x.get("max_points") or 0) for x in sections)
            if top <= 0:
                raise Refused(
                    409, "no_max_points", f"attempt {attempt.id} has no maximum points to scale"
                )
            got = sum(float(x.get("points") or 0) for x in sections)
            score = quantize(Decimal(str(got)) / Decimal(str(top)) * 100)
            store_final(s, cand, component, score, "cat", actor, now,
                         {"exam": exam_code, "attempt": attempt.id})  # fmt: skip
            stored += 1
        s.commit()
    return {"stored": stored, "kept": kept}
