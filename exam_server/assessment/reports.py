"""What the pages and the publication read: the admin's, assessor's and chair's
views, agreement, the many-facet Rasch model of a component, and the SKB
records for the final integration (the candidate's page:
:mod:`exam_server.assessment.candidate_page`)."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assessment.agreement import AgreementError, icc, icc_oneway, krippendorff_alpha_ordinal
from assessment.components import (
    ComponentScore,
    SkbPlan,
    skb_total,
)
from assessment.finalisation import finalise
from assessment.mfrm import ManyFacetRasch, MfrmError, Ratings
from assessment.models import (
    SkbComponentScore,
    SkbDeclaration,
    SkbPanel,
    SkbPanelMember,
    SkbPlanRow,
    SkbSheet,
    SkbSlot,
)
from exam_server.assessment.common import (
    PanelCtx,
    Refused,
    caps_of_formation,
    final_row,
    one,
    panel_ctx,
    plan_of,
    policy_of_formation,
    recused_ids,
    sheets_of,
    slot_dict,
)
from exam_server.assessment.schedule import called_to_skb
from exam_server.models import Candidate, Formation, Staff
from exam_server.results.integration import SKB_ABSENT, SKB_PRESENT, SkbScore, skb_points


def admin_view(engine: Engine) -> dict[str, Any]:
    """What the administrator's SKB page lists: plans, panels with their members and
    slots, and each panel's formation's candidates who have no slot yet."""
    with Session(engine) as s:
        plans = []
        for row in s.exec(select(SkbPlanRow)).all():
            f = one(s, Formation, "formation", id=row.formation_id)
            plans.append({"formation": f.code, "caps": row.caps_version,
                          "plan": json.loads(row.plan_json)})  # fmt: skip
        panels = []
        for panel in s.exec(select(SkbPanel).order_by(col(SkbPanel.code))).all():
            f = one(s, Formation, "formation", id=panel.formation_id)
            members = [
                {"username": st.username, "chair": m.chair}
                for m, st in s.exec(
                    select(SkbPanelMember, Staff)
                    .join(Staff, col(Staff.id) == col(SkbPanelMember.staff_id))
                    .where(SkbPanelMember.panel_id == panel.id)
                ).all()
            ]
            slots = []
            for slot in s.exec(
                select(SkbSlot).where(SkbSlot.panel_id == panel.id).order_by(col(SkbSlot.starts_at))
            ).all():
                who = (
                    one(s, Candidate, "candidate", id=slot.candidate_id).registration_number
                    if slot.candidate_id is not None
                    else None
                )
                slots.append(slot_dict(slot) | {"registration_number": who})
            booked = set(
                s.exec(
                    select(SkbSlot.candidate_id)
                    .join(SkbPanel, col(SkbPanel.id) == col(SkbSlot.panel_id))
                    .where(
                        SkbPanel.component == panel.component,
                        col(SkbSlot.candidate_id).is_not(None),
                    )
                ).all()
            )
            try:
                called = called_to_skb(engine, panel.formation_id)
            except Refused:
                called = set()
            waiting = [
                c.registration_number
                for c in s.exec(
                    select(Candidate)
                    .where(Candidate.formation_id == panel.formation_id)
                    .order_by(col(Candidate.registration_number))
                ).all()
                if c.id not in booked and c.registration_number in called
            ]
            panels.append({"panel": panel.code, "formation": f.code, "component": panel.component,
                           "members": members, "slots": slots, "unscheduled": waiting,
                           "adjudication": _for_the_admin(s, panel.code)})  # fmt: skip
        return {"plans": plans, "panels": panels}


def _for_the_admin(s: Session, panel_code: str) -> list[dict[str, Any]]:
    """The panel's candidates awaiting adjudication whose chair is recused from
    them: the administrator adjudicates them (the chair's page does not show
    them: the chair learns nothing of a candidate they are recused from)."""
    pc = panel_ctx(s, panel_code)
    chairs = {k for k, m in pc.members.items() if m.chair}
    out = []
    for slot in s.exec(
        select(SkbSlot)
        .where(SkbSlot.panel_id == pc.id, col(SkbSlot.candidate_id).is_not(None))
        .order_by(col(SkbSlot.starts_at))
    ).all():
        assert slot.candidate_id is not None
        if not chairs & recused_ids(s, pc.id, slot.candidate_id):
            continue
        row = candidate_state(s, pc, one(s, Candidate, "candidate", id=slot.candidate_id), None)
        if row["state"] == "adjudication":
            out.append(row | {"chair_recused": True})
    return out


def assessor_view(engine: Engine, staff_id: int) -> dict[str, Any]:
    """An assessor's panels: slots, candidates, the rubric, their own sheets; the
    others' sheets only once every expected sheet of that candidate is in."""
    with Session(engine) as s:
        out = []
        for m in s.exec(select(SkbPanelMember).where(SkbPanelMember.staff_id == staff_id)).all():
            panel = one(s, SkbPanel, "panel", id=m.panel_id)
            pc = panel_ctx(s, panel.code)
            comp = pc.plan.component(panel.component)
            rows = []
            slots = s.exec(
                select(SkbSlot).where(SkbSlot.panel_id == panel.id).order_by(col(SkbSlot.starts_at))
            ).all()
            for slot in slots:
                row: dict[str, Any] = slot_dict(slot)
                if slot.candidate_id is not None:
                    cand = one(s, Candidate, "candidate", id=slot.candidate_id)
                    row |= candidate_state(s, pc, cand, staff_id)
                rows.append(row)
            out.append(
                {
                    "panel": panel.code,
                    "component": json.loads(comp.model_dump_json()),
                    "chair": m.chair,
                    "slots": rows,
                }
            )
        return {"panels": out}


def recused_row(cand: Candidate) -> dict[str, Any]:
    """A candidate's row as an assessor recused from them sees it, on every page:
    who, and that they are recused; nothing of the scoring (no state, count of
    sheets, sheet or final score), whatever it is and however it changes. The
    public learns the final score from the publication; the recused assessor
    learns it there too, like anyone."""
    return {
        "registration_number": cand.registration_number,
        "name": cand.name,
        "state": "recused",
        "submitted": None,
        "expected": None,
        "final": None,
        "recused": True,
        "declared": True,
    }


def candidate_state(
    s: Session, pc: PanelCtx, cand: Candidate, viewer: int | None
) -> dict[str, Any]:
    """A candidate's scoring on the panel as ``viewer`` (a staff id; None: the
    administrator's report) sees it: blind until every expected sheet is in,
    and nothing at all for a viewer recused from the candidate
    (:func:`recused_row`)."""
    assert cand.id is not None
    recused = recused_ids(s, pc.id, cand.id)
    if viewer is not None and viewer in recused:
        return recused_row(cand)
    expected = set(pc.members) - recused
    sheets = {x.staff_id: x for x in sheets_of(s, pc.id, cand.id)}
    complete = expected <= set(sheets)
    final = final_row(s, cand.id, pc.panel.component)
    declared = s.exec(
        select(SkbDeclaration.id).where(
            SkbDeclaration.panel_id == pc.id,
            SkbDeclaration.candidate_id == cand.id,
            SkbDeclaration.staff_id == (viewer or -1),
        )
    ).first()
    state = "final" if final else "waiting"
    if not final and complete:
        comp = pc.plan.component(pc.panel.component)
        state = (
            "adjudication"
            if finalise(
                [Decimal(sheets[k].score) for k in expected], comp.finalisation
            ).needs_adjudication
            else "waiting"
        )
    d: dict[str, Any] = {
        "registration_number": cand.registration_number,
        "name": cand.name,
        "state": state,
        "submitted": len(expected & set(sheets)),
        "expected": len(expected),
        "final": final.score if final else None,
        "recused": viewer in recused if viewer is not None else False,
        "declared": declared is not None,
    }
    if viewer is not None and viewer in sheets:
        mine = sheets[viewer]
        d["mine"] = {"points": json.loads(mine.points_json), "score": mine.score}
    # Blind until every expected sheet is in: nobody sees another's score before.
    if complete:
        d["sheets"] = [
            {"assessor": one(s, Staff, "staff", id=k).username, "score": sheets[k].score}
            for k in sorted(expected)
        ]
    return d


def chair_view(engine: Engine, staff_id: int, panel_code: str) -> dict[str, Any]:
    """The chair's page: :func:`panel_report`, for the panel's chair only."""
    with Session(engine) as s:
        member = panel_ctx(s, panel_code).members.get(staff_id)
    if member is None or not member.chair:
        raise Refused(403, "not_chair", f"only the chair of panel {panel_code} sees this")
    return panel_report(engine, panel_code, viewer=staff_id)


def panel_report(engine: Engine, panel_code: str, viewer: int | None = None) -> dict[str, Any]:
    """A panel's candidates and their states, the adjudication queue, agreement
    (ICC, alpha) and the severities of the component's model.

    Blind like the sheets: everything derived from scores — a candidate's fair
    score, the agreement, the model's severities — is computed from the sheets
    of candidates whose expected sheets are all in (:func:`complete_ids`), so
    the chair, an assessor too, learns nothing of a colleague's sheet for a
    candidate they have still to score. ``chair_recused``: the chair declared a
    conflict for the candidate, so an administrator adjudicates them.

    ``viewer``: the staff id the page is for (the chair's page; None: the
    administrator's ``seleksi skb report``). A candidate the viewer declared a
    conflict with shows only :func:`recused_row` (not in the queue either),
    and their sheets count in nothing derived on the page: the viewer learns
    nothing of their scoring."""
    with Session(engine) as s:
        pc = panel_ctx(s, panel_code)
        cands = [
            one(s, Candidate, "candidate", id=x.candidate_id)
            for x in s.exec(
                select(SkbSlot)
                .where(SkbSlot.panel_id == pc.id, col(SkbSlot.candidate_id).is_not(None))
                .order_by(col(SkbSlot.starts_at))
            ).all()
        ]
        hidden = recused_by(s, viewer, pc.panel.formation_id, pc.panel.component)
        rows = [
            recused_row(c) if c.id in hidden else candidate_state(s, pc, c, None) for c in cands
        ]
        complete = complete_ids(s, pc.panel.formation_id, pc.panel.component) - hidden
        fair = fair_scores(s, pc.panel.formation_id, pc.panel.component, only=complete)
        chairs = {k for k, m in pc.members.items() if m.chair}
        for row, cand in zip(rows, cands, strict=True):
            assert cand.id is not None
            row["fair"] = str(fair[cand.id]) if cand.id in complete and cand.id in fair else None
            row["chair_recused"] = bool(chairs & recused_ids(s, pc.id, cand.id))
        return {
            "score_basis": caps_of_formation(s, pc.panel.formation_id).score_basis,
            "panel": panel_code,
            "component": pc.panel.component,
            "component_name_id": pc.plan.component(pc.panel.component).name_id,
            "component_name_en": pc.plan.component(pc.panel.component).name_en,
            "candidates": rows,
            "adjudication": [
                r["registration_number"] for r in rows if r["state"] == "adjudication"
            ],
            "agreement": _agreement(s, pc, [c for c in cands if c.id in complete], complete),
            "severity": _severity(s, pc, complete),
        }


def _score_matrix(sheets: Sequence[SkbSheet], cand_ids: list[int], staff_ids: list[int]) -> Any:
    """Sheet scores as ``(candidates, assessors)``, ``nan`` where none (recusal)."""
    c_pos = {c: k for k, c in enumerate(cand_ids)}
    a_pos = {a: k for k, a in enumerate(staff_ids)}
    x = np.full((len(cand_ids), len(staff_ids)), np.nan)
    for sh in sheets:
        if sh.candidate_id in c_pos and sh.staff_id in a_pos:
            x[c_pos[sh.candidate_id], a_pos[sh.staff_id]] = float(sh.score)
    return x


def recused_by(s: Session, staff_id: int | None, formation_id: int, component: str) -> set[int]:
    """The candidates (ids) ``staff_id`` declared a conflict with on any panel of
    the formation's component (none for None)."""
    if staff_id is None:
        return set()
    return set(
        s.exec(
            select(SkbDeclaration.candidate_id)
            .join(SkbPanel, col(SkbPanel.id) == col(SkbDeclaration.panel_id))
            .where(
                SkbDeclaration.staff_id == staff_id,
                SkbDeclaration.conflict == True,  # noqa: E712  (SQL expression)
                SkbPanel.formation_id == formation_id,
                SkbPanel.component == component,
            )
        ).all()
    )


def complete_ids(s: Session, formation_id: int, component: str) -> set[int]:
    """The candidates (ids) of the formation's component, on every panel of it,
    whose expected (not recused) assessors have all submitted their sheets."""
    out: set[int] = set()
    for panel_id in s.exec(
        select(SkbPanel.id).where(
            SkbPanel.formation_id == formation_id, SkbPanel.component == component
        )
    ).all():
        members = set(
            s.exec(select(SkbPanelMember.staff_id).where(SkbPanelMember.panel_id == panel_id)).all()
        )
        given: dict[int, set[int]] = {}
        for cid, sid in s.exec(
            select(SkbSheet.candidate_id, SkbSheet.staff_id).where(SkbSheet.panel_id == panel_id)
        ).all():
            given.setdefault(cid, set()).add(sid)
        recused: dict[int, set[int]] = {}
        for cid, sid in s.exec(
            select(SkbDeclaration.candidate_id, SkbDeclaration.staff_id).where(
                SkbDeclaration.panel_id == panel_id,
                SkbDeclaration.conflict == True,  # noqa: E712  (SQL expression)
            )
        ).all():
            recused.setdefault(cid, set()).add(sid)
        out |= {c for c, got in given.items() if members - recused.get(c, set()) <= got}
    return out


def _agreement(
    s: Session, pc: PanelCtx, cands: list[Candidate], only: Collection[int]
) -> dict[str, Any]:
    """ICC and alpha on the sheets of the candidates in ``only`` (complete)."""
    sheets = [
        x
        for x in s.exec(select(SkbSheet).where(SkbSheet.panel_id == pc.id)).all()
        if x.candidate_id in only
    ]
    x = _score_matrix(sheets, [c.id or 0 for c in cands], sorted(pc.members))
    out: dict[str, Any] = {"candidates": int((~np.isnan(x)).any(axis=1).sum())}
    try:
        out["icc"] = icc(x).as_dict()
    except AgreementError as exc:
        out["icc_note"] = str(exc)
    try:
        out["alpha"] = krippendorff_alpha_ordinal(x, n_boot=1000).as_dict()
    except AgreementError as exc:
        out["alpha_note"] = str(exc)
    # Across every panel of the component: alpha takes the missing cells (assessors
    # who never met a candidate) in its stride; the two-way ICC's table cannot,
    # the one-way ICC reads each candidate's scores from their own assessors.
    panels = s.exec(
        select(SkbPanel.id).where(
            SkbPanel.formation_id == pc.panel.formation_id,
            SkbPanel.component == pc.panel.component,
        )
    ).all()
    every = [
        x
        for x in s.exec(select(SkbSheet).where(col(SkbSheet.panel_id).in_(panels))).all()
        if x.candidate_id in only
    ]
    cand_ids = sorted({x.candidate_id for x in every})
    staff_ids = sorted({x.staff_id for x in every})
    whole = _score_matrix(every, cand_ids, staff_ids)
    out["component_panels"] = len(panels)
    try:
        out["component_alpha"] = krippendorff_alpha_ordinal(whole, n_boot=1000).as_dict()
    except AgreementError as exc:
        out["component_alpha_note"] = str(exc)
    try:
        out["component_icc"] = icc_oneway(whole).as_dict()
    except AgreementError as exc:
        out["component_icc_note"] = str(exc)
    return out


@dataclass(frozen=True)
class ComponentModel:
    """The many-facet Rasch model fitted on every sheet of one component in one
    formation (all its panels: severities are comparable across panels that
    share candidates or assessors); ``note`` says why there is no model."""

    model: ManyFacetRasch | None
    candidates: list[int]  # candidate ids, the model's candidate order
    assessors: list[int]  # staff ids, the model's assessor order
    note: str = ""


def component_model(
    s: Session, formation_id: int, component: str, only: Collection[int] | None = None
) -> ComponentModel:
    """The model on every sheet of the component, or on those of the candidates
    in ``only`` (the panel report's: candidates whose sheets are all in)."""
    comp = plan_of(s, formation_id).component(component)
    assert comp.rubric is not None
    criteria = [c.code for c in comp.rubric.criteria]
    panels = s.exec(
        select(SkbPanel.id).where(
            SkbPanel.formation_id == formation_id, SkbPanel.component == component
        )
    ).all()
    sheets = [
        x
        for x in s.exec(select(SkbSheet).where(col(SkbSheet.panel_id).in_(panels))).all()
        if only is None or x.candidate_id in only
    ]
    cand_ids = sorted({x.candidate_id for x in sheets})
    staff_ids = sorted({x.staff_id for x in sheets})
    if len(staff_ids) < 2 or len(cand_ids) < 2:
        note = "the model needs sheets from at least 2 assessors on 2 candidates"
        if only is not None:
            note += " whose sheets are all in"
        return ComponentModel(None, cand_ids, staff_ids, note)
    c_pos = {c: k for k, c in enumerate(cand_ids)}
    a_pos = {a: k for k, a in enumerate(staff_ids)}
    c_idx, i_idx, a_idx, pts = [], [], [], []
    for sh in sheets:
        p = json.loads(sh.points_json)
        for i, code in enumerate(criteria):
            c_idx.append(c_pos[sh.candidate_id])
            i_idx.append(i)
            a_idx.append(a_pos[sh.staff_id])
            pts.append(float(p[code]))
    try:
        # Criteria sharing their levels share the thresholds (rating scale); a rubric
        # whose criteria have their own levels gets them per criterion (partial credit).
        shared = all(c.points == comp.rubric.criteria[0].points for c in comp.rubric.criteria)
        model = ManyFacetRasch(form="rating_scale" if shared else "partial_credit").fit(
            Ratings.of(c_idx, i_idx, a_idx, pts, len(cand_ids), len(criteria), len(staff_ids))
        )
    except (MfrmError, np.linalg.LinAlgError) as exc:
        return ComponentModel(None, cand_ids, staff_ids, f"the model cannot be fitted: {exc}")
    return ComponentModel(model, cand_ids, staff_ids)


def _severity(s: Session, pc: PanelCtx, only: Collection[int]) -> dict[str, Any]:
    cm = component_model(s, pc.panel.formation_id, pc.panel.component, only)
    if cm.model is None:
        return {"note": cm.note}
    model = cm.model
    names = {
        st.id: st.username
        for st in s.exec(select(Staff).where(col(Staff.id).in_(cm.assessors))).all()
    }
    return {
        "assessors": [
            {
                "assessor": names[sid],
                "severity": round(float(model.severity_[k]), 3),
                "se": round(float(model.severity_se_[k]), 3),
                "infit": round(float(model.assessor_infit_[k]), 2),
                "outfit": round(float(model.assessor_outfit_[k]), 2),
            }
            for k, sid in enumerate(cm.assessors)
        ],
        "reliability": round(model.severity_reliability_, 3),
        "converged": model.converged_,
    }


def fair_scores(
    s: Session, formation_id: int, component: str, only: Collection[int] | None = None
) -> dict[int, Decimal]:
    """Each scored candidate's severity-adjusted component score (0–100) by id:
    the model's fair total over the criteria on the rubric's scale. Empty when
    the model cannot be fitted (then the raw finalised scores stand). ``only``:
    as :func:`component_model`."""
    cm = component_model(s, formation_id, component, only)
    if cm.model is None:
        return {}
    rubric = plan_of(s, formation_id).component(component).rubric
    assert rubric is not None
    totals = cm.model.fair_totals()
    return {cid: rubric.scaled(float(totals[k])) for k, cid in enumerate(cm.candidates)}


def skb_scores(engine: Engine, only: Sequence[str] | None = None) -> dict[str, SkbScore]:
    """SKB records for the final integration: a candidate with every component of
    their formation's plan final is present with the weighted total and the
    breakdown; one with some component missing is absent (``note`` says which).
    Under a policy whose ``score_basis`` is ``fair``, assessed components finalised
    by the panel count with the many-facet Rasch model's fair score."""
    out: dict[str, SkbScore] = {}
    with Session(engine) as s:
        plans = {
            r.formation_id: SkbPlan.model_validate_json(r.plan_json)
            for r in s.exec(select(SkbPlanRow)).all()
        }
        fair: dict[int, dict[str, dict[int, Decimal]]] = {
            fid: {c.code: fair_scores(s, fid, c.code) for c in plan.components if c.assessed}
            for fid, plan in plans.items()
            if caps_of_formation(s, fid).score_basis == "fair"
        }
        stmt = select(Candidate).where(col(Candidate.formation_id).in_(list(plans)))
        if only is not None:
            stmt = stmt.where(col(Candidate.registration_number).in_(list(only)))
        for cand in s.exec(stmt).all():
            assert cand.formation_id is not None
            plan = plans[cand.formation_id]
            finals = {
                r.component: r
                for r in s.exec(
                    select(SkbComponentScore).where(SkbComponentScore.candidate_id == cand.id)
                ).all()
            }
            if not finals:
                continue
            missing = [c.code for c in plan.components if c.code not in finals]
            if missing:
                out[cand.registration_number] = SkbScore(
                    cand.registration_number,
                    SKB_ABSENT,
                    None,
                    f"no final score for {', '.join(missing)}",
                )
                continue

            parts = tuple(
                ComponentScore(
                    c.code,
                    c.weight,
                    _counted(finals[c.code], fair.get(cand.formation_id, {}).get(c.code)),
                    c.minimum,
                    c.kind,
                )
                for c in plan.components
            )
            points = skb_points(policy_of_formation(s, cand.formation_id), skb_total(parts))
            out[cand.registration_number] = SkbScore(
                cand.registration_number, SKB_PRESENT, points, "", components=parts
            )
    return out


def _counted(row: SkbComponentScore, fair: dict[int, Decimal] | None) -> Decimal:
    """The score a component counts with: the fair one when the policy ranks on fair
    scores and the panel finalised it (an adjudicated score is the chair's own)."""
    if fair is not None and row.source == "panel" and row.candidate_id in fair:
        return fair[row.candidate_id]
    return Decimal(row.score)
