"""What the SKB service modules share: the refusal, look-ups, a panel's context."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from assessment import scheduling as sch
from assessment.components import (
    ComponentError,
    SkbCaps,
    SkbPlan,
)
from assessment.models import (
    SkbComponentScore,
    SkbDeclaration,
    SkbPanel,
    SkbPanelMember,
    SkbPlanRow,
    SkbSheet,
    SkbSlot,
)
from exam_server.models import Candidate, Exam, ExamSession, Staff
from exam_server.results.rules import PolicyError, RankingPolicy

ASSESSOR = "assessor"


class Refused(Exception):
    """A refused request: nothing was stored."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def one(s: Session, model: Any, what: str, **where: Any) -> Any:
    stmt = select(model)
    for k, v in where.items():
        stmt = stmt.where(getattr(model, k) == v)
    row = s.exec(stmt).first()
    if row is None:
        shown = ", ".join(f"{k} {v}" for k, v in where.items())
        raise Refused(404, "not_found", f"no {what} with {shown}")
    return row


def policy_of_formation(s: Session, formation_id: int) -> RankingPolicy:
    """The ranking policy of the exam the formation's candidates sat (the 2024
    document when nobody has sat yet)."""
    row = s.exec(
        select(Exam.policy_json)
        .join(ExamSession, col(ExamSession.exam_id) == col(Exam.id))
        .join(Candidate, col(Candidate.session_id) == col(ExamSession.id))
        .where(Candidate.formation_id == formation_id)
    ).first()
    try:
        return RankingPolicy.of_exam(row)
    except PolicyError as exc:
        raise Refused(409, "bad_policy", f"the exam's policy: {exc}") from None


def caps_of_formation(s: Session, formation_id: int) -> SkbCaps:
    """The SKB caps of the formation's ranking policy (its ``skb`` section; the
    2024 caps when it has none)."""
    return policy_of_formation(s, formation_id).skb_rules


def plan_of(s: Session, formation_id: int) -> SkbPlan:
    row = s.exec(select(SkbPlanRow).where(SkbPlanRow.formation_id == formation_id)).first()
    if row is None:
        raise Refused(409, "no_plan", "the formation has no SKB plan yet")
    return SkbPlan.model_validate_json(row.plan_json)


def component_of(plan: SkbPlan, code: str) -> Any:
    try:
        return plan.component(code)
    except ComponentError as exc:
        raise Refused(422, "bad_field", str(exc)) from None


def booking(s: Session, slot: SkbSlot) -> sch.Booking:
    members = s.exec(
        select(Staff.username)
        .join(SkbPanelMember, col(SkbPanelMember.staff_id) == col(Staff.id))
        .where(SkbPanelMember.panel_id == slot.panel_id)
    ).all()
    cands = set()
    if slot.candidate_id is not None:
        cands.add(one(s, Candidate, "candidate", id=slot.candidate_id).registration_number)
    assert slot.id is not None
    return sch.Booking(
        slot.id,
        dt.datetime.fromtimestamp(slot.starts_at, dt.UTC),
        dt.datetime.fromtimestamp(slot.ends_at, dt.UTC),
        frozenset(members),
        frozenset(cands),
    )


@dataclass(frozen=True)
class PanelCtx:
    panel: SkbPanel
    plan: SkbPlan
    members: dict[int, SkbPanelMember]  # by staff id

    @property
    def id(self) -> int:
        assert self.panel.id is not None
        return self.panel.id


def panel_ctx(s: Session, panel_code: str, *, lock: bool = False) -> PanelCtx:
    """The panel, its plan and members. ``lock``: hold the panel's row until the
    transaction ends, so that two assessors' last sheets, declarations and the
    chair's adjudication on one panel queue up: on PostgreSQL each would
    otherwise not see the other's uncommitted sheet, and nobody would finalise.
    (The audit chain's head lock, taken by every write, queues them too; this
    lock states the rule here rather than leaning on how the audit is kept.)"""
    stmt = select(SkbPanel).where(SkbPanel.code == panel_code)
    panel = s.exec(stmt.with_for_update() if lock else stmt).first()
    if panel is None:
        raise Refused(404, "not_found", f"no panel with code {panel_code}")
    members = {
        m.staff_id: m
        for m in s.exec(select(SkbPanelMember).where(SkbPanelMember.panel_id == panel.id)).all()
    }
    return PanelCtx(panel, plan_of(s, panel.formation_id), members)


def final_row(s: Session, candidate_id: int, component: str) -> SkbComponentScore | None:
    return s.exec(
        select(SkbComponentScore).where(
            SkbComponentScore.candidate_id == candidate_id,
            SkbComponentScore.component == component,
        )
    ).first()


def recused_ids(s: Session, panel_id: int, candidate_id: int) -> set[int]:
    return set(
        s.exec(
            select(SkbDeclaration.staff_id).where(
                SkbDeclaration.panel_id == panel_id,
                SkbDeclaration.candidate_id == candidate_id,
                SkbDeclaration.conflict == True,  # noqa: E712  (SQL expression)
            )
        ).all()
    )


def staff_actor(s: Session, staff_id: int) -> str:
    st = one(s, Staff, "staff", id=staff_id)
    return f"{st.role}:{st.username}"


def sheets_of(s: Session, panel_id: int, candidate_id: int) -> list[SkbSheet]:
    return list(
        s.exec(
            select(SkbSheet).where(
                SkbSheet.panel_id == panel_id, SkbSheet.candidate_id == candidate_id
            )
        ).all()
    )


def slot_dict(slot: SkbSlot) -> dict[str, Any]:
    start = dt.datetime.fromtimestamp(slot.starts_at, dt.UTC)
    return {
        "slot": slot.id,
        "starts_at": start.isoformat(),
        "ends_at": dt.datetime.fromtimestamp(slot.ends_at, dt.UTC).isoformat(),
        "zone": slot.zone,
        "local_id": sch.local_text(start, slot.zone, "id"),
        "local_en": sch.local_text(start, slot.zone, "en"),
        "meeting_url": slot.meeting_url,
    }
