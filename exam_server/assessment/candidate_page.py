"""What a candidate's SKB page shows: their interviews (time in their zone,
their own meeting link), the free slots they may choose or move to (by time
alone), and — once announced — their SKB breakdown as published."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from assessment import scheduling as sch
from assessment.components import ComponentError, SkbPlan
from assessment.models import SkbPanel, SkbPlanRow, SkbSlot
from exam_server.assessment.common import Refused, one, plan_of, slot_dict
from exam_server.assessment.schedule import called_to_skb, free_slots
from exam_server.models import Candidate


def offered_slot(slot: SkbSlot) -> dict[str, Any]:
    """A free slot as a candidate may see it: its time, not its meeting link
    (each slot has its own; the link is the booked candidate's, given once
    the slot is theirs)."""
    out = slot_dict(slot)
    del out["meeting_url"]
    return out


def candidate_view(
    engine: Engine,
    registration_number: str,
    now: float,
    published: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A candidate's interviews (time in their zone, the link), the slots they may
    choose, and — once announced — their SKB breakdown: ``published`` is their
    line of the signed final ranking (nothing is shown before the announcement)."""
    with Session(engine) as s:
        cand = one(s, Candidate, "candidate", registration_number=registration_number)
        slots = []
        for slot in s.exec(select(SkbSlot).where(SkbSlot.candidate_id == cand.id)).all():
            panel = one(s, SkbPanel, "panel", id=slot.panel_id)
            comp = plan_of(s, panel.formation_id).component(panel.component)
            at = dt.datetime.fromtimestamp
            movable = sch.may_reschedule(
                at(now, dt.UTC), at(slot.starts_at, dt.UTC), comp.reschedule_notice_hours
            )
            choices = [
                offered_slot(x)
                for x in free_slots(s, cand, panel.component)
                if sch.may_reschedule(
                    at(now, dt.UTC), at(x.starts_at, dt.UTC), comp.reschedule_notice_hours
                )
            ]
            slots.append(
                {
                    "component": panel.component,
                    "component_name_id": comp.name_id,
                    "component_name_en": comp.name_en,
                    **slot_dict(slot),
                    "notice_hours": comp.reschedule_notice_hours,
                    "free": choices if movable else [],
                }
            )
        # Components whose slots candidates choose themselves, not chosen yet.
        to_choose = []
        have = {x["component"] for x in slots}
        plan_row = s.exec(
            select(SkbPlanRow).where(SkbPlanRow.formation_id == cand.formation_id)
        ).first()
        open_comps = [
            c
            for c in (
                SkbPlan.model_validate_json(plan_row.plan_json).components if plan_row else ()
            )
            if c.assessed and c.candidates_choose and c.code not in have
        ]
        if open_comps and cand.formation_id is not None:
            try:
                called = cand.registration_number in called_to_skb(engine, cand.formation_id)
            except Refused:
                called = False
            for comp in open_comps if called else []:
                at = dt.datetime.fromtimestamp
                to_choose.append(
                    {
                        "component": comp.code,
                        "component_name_id": comp.name_id,
                        "component_name_en": comp.name_en,
                        "free": [
                            offered_slot(x)
                            for x in free_slots(s, cand, comp.code)
                            if sch.may_reschedule(
                                at(now, dt.UTC),
                                at(x.starts_at, dt.UTC),
                                comp.reschedule_notice_hours,
                            )
                        ],
                    }
                )
        breakdown = None
        if published is not None and published.get("skb_components"):
            breakdown = {
                "total": str(published["skb"]),
                "final": None if published.get("final") is None else str(published["final"]),
                "code": published.get("code"),
                "components": [
                    {str(k): None if v is None else str(v) for k, v in c.items()}
                    | dict(_names(s, cand, str(c["code"])))
                    for c in published["skb_components"]
                ],
            }
        return {
            "registration_number": cand.registration_number,
            "name": cand.name,
            "interviews": slots,
            "to_choose": to_choose,
            "skb": breakdown,
        }


def _names(s: Session, cand: Candidate, code: str) -> dict[str, str | None]:
    assert cand.formation_id is not None
    try:
        comp = plan_of(s, cand.formation_id).component(code)
    except (Refused, ComponentError):  # published under a plan since replaced
        return {"name_id": code, "name_en": code}
    return {"name_id": comp.name_id, "name_en": comp.name_en}
