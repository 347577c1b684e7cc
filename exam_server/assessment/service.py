"""The SKB on the server: plans, panels, interview slots, sheets, finalisation.

Every function takes the engine and does one thing in one transaction; the
rules themselves are ``assessment``'s (components, finalisation, scheduling,
agreement, the many-facet Rasch model). Every change is written to the audit
chain (``exam_server.audit``) in the same transaction, so a score stored is
a score audited. A refusal raises :class:`Refused` (HTTP status, code, a
message naming the field or the row) before anything is written.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assessment import scheduling as sch
from assessment.agreement import AgreementError, icc, krippendorff_alpha_ordinal
from assessment.components import (
    ComponentError,
    ComponentScore,
    SkbCaps,
    SkbPlan,
    parse_plan,
    quantize,
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
from exam_server import audit
from exam_server.auth import hash_password
from exam_server.db import writer
from exam_server.models import Attempt, Candidate, Exam, ExamSession, Formation, Staff
from exam_server.results.integration import SKB_ABSENT, SKB_PRESENT, SkbScore
from exam_server.results.rules import PolicyError, RankingPolicy

ASSESSOR = "assessor"


class Refused(Exception):
    """A refused request: nothing was stored."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _one(s: Session, model: Any, what: str, **where: Any) -> Any:
    stmt = select(model)
    for k, v in where.items():
        stmt = stmt.where(getattr(model, k) == v)
    row = s.exec(stmt).first()
    if row is None:
        shown = ", ".join(f"{k} {v}" for k, v in where.items())
        raise Refused(404, "not_found", f"no {what} with {shown}")
    return row


def caps_of_formation(s: Session, formation_id: int) -> SkbCaps:
    """The SKB caps of the ranking policy of the exam the formation's candidates
    sat (its ``skb`` section; the 2024 caps when it has none or nobody sat yet)."""
    row = s.exec(
        select(Exam.policy_json)
        .join(ExamSession, col(ExamSession.exam_id) == col(Exam.id))
        .join(Candidate, col(Candidate.session_id) == col(ExamSession.id))
        .where(Candidate.formation_id == formation_id)
    ).first()
    try:
        return RankingPolicy.of_exam(row).skb_rules
    except PolicyError as exc:
        raise Refused(409, "bad_policy", f"the exam's policy: {exc}") from None


# -- configuration --------------------------------------------------------------------------


def save_plan(engine: Engine, doc: Any, actor: str) -> SkbPlan:
    """Store a formation's SKB plan, refused unless it obeys the policy's caps."""
    if not isinstance(doc, dict) or not isinstance(doc.get("formation"), str):
        raise Refused(422, "bad_plan", "skb.formation: the formation's code is required")
    with Session(writer(engine)) as s:
        f = _one(s, Formation, "formation", code=doc["formation"])
        try:
            caps = caps_of_formation(s, f.id)
            plan = parse_plan(doc, caps)
        except ComponentError as exc:
            raise Refused(422, "bad_plan", str(exc)) from None
        row = s.exec(select(SkbPlanRow).where(SkbPlanRow.formation_id == f.id)).first()
        if (
            row is not None
            and s.exec(
                select(SkbComponentScore.id)
                .join(Candidate, col(Candidate.id) == col(SkbComponentScore.candidate_id))
                .where(Candidate.formation_id == f.id)
            ).first()
        ):
            raise Refused(409, "plan_in_use", f"formation {f.code} already has final scores")
        text = plan.model_dump_json()
        if row is None:
            s.add(SkbPlanRow(formation_id=f.id, plan_json=text, caps_version=caps.version))
        else:
            row.plan_json, row.caps_version = text, caps.version
        audit.append(
            s.connection(),
            "skb_plan",
            actor,
            data={"formation": f.code, "plan": json.loads(text), "caps": caps.version},
        )
        s.commit()
    return plan


def plan_of(s: Session, formation_id: int) -> SkbPlan:
    row = s.exec(select(SkbPlanRow).where(SkbPlanRow.formation_id == formation_id)).first()
    if row is None:
        raise Refused(409, "no_plan", "the formation has no SKB plan yet")
    return SkbPlan.model_validate_json(row.plan_json)


def add_assessor(
    engine: Engine, username: str, name: str, password: str, actor: str, scrypt_n: int = 2**14
) -> int:
    """An assessor's staff account (role ``assessor``; logs in like other staff)."""
    if len(password) < 10:
        raise Refused(422, "bad_field", "password: at least 10 characters")
    digest = hash_password(password, n=scrypt_n)
    with Session(writer(engine)) as s:
        if s.exec(select(Staff).where(Staff.username == username)).first() is not None:
            raise Refused(409, "exists", f"user {username} exists")
        st = Staff(username=username, name=name, role=ASSESSOR, password_hash=digest)
        s.add(st)
        s.flush()
        audit.append(s.connection(), "skb_assessor", actor, data={"username": username})
        s.commit()
        assert st.id is not None
        return st.id


def create_panel(
    engine: Engine,
    code: str,
    formation: str,
    component: str,
    members: Sequence[str],
    chair: str,
    actor: str,
) -> int:
    """A panel of assessors (usernames) for one assessed component; ``chair`` among them."""
    if chair not in members:
        raise Refused(422, "bad_field", f"chair {chair} must be one of the members")
    if len(set(members)) != len(members):
        raise Refused(422, "bad_field", "an assessor is listed twice")
    with Session(writer(engine)) as s:
        f = _one(s, Formation, "formation", code=formation)
        comp = _component(plan_of(s, f.id), component)
        if not comp.assessed:
            raise Refused(422, "bad_field", f"component {component} is not scored by assessors")
        if len(members) < comp.assessors:
            raise Refused(
                422,
                "bad_field",
                f"component {component} needs {comp.assessors} assessors, got {len(members)}",
            )
        if s.exec(select(SkbPanel).where(SkbPanel.code == code)).first() is not None:
            raise Refused(409, "exists", f"panel {code} exists")
        staff = []
        for u in members:
            st = _one(s, Staff, "assessor", username=u)
            if st.role != ASSESSOR:
                raise Refused(422, "bad_field", f"{u} is not an assessor")
            staff.append(st)
        panel = SkbPanel(code=code, formation_id=f.id, component=component)
        s.add(panel)
        s.flush()
        assert panel.id is not None
        for st in staff:
            s.add(SkbPanelMember(panel_id=panel.id, staff_id=st.id, chair=st.username == chair))
        audit.append(
            s.connection(),
            "skb_panel",
            actor,
            data={"panel": code, "formation": formation, "component": component,
                  "members": list(members), "chair": chair},
        )  # fmt: skip
        s.commit()
        return panel.id


def _component(plan: SkbPlan, code: str) -> Any:
    try:
        return plan.component(code)
    except ComponentError as exc:
        raise Refused(422, "bad_field", str(exc)) from None


# -- scheduling -----------------------------------------------------------------------------


def _booking(s: Session, slot: SkbSlot) -> sch.Booking:
    members = s.exec(
        select(Staff.username)
        .join(SkbPanelMember, col(SkbPanelMember.staff_id) == col(Staff.id))
        .where(SkbPanelMember.panel_id == slot.panel_id)
    ).all()
    cands = set()
    if slot.candidate_id is not None:
        cands.add(_one(s, Candidate, "candidate", id=slot.candidate_id).registration_number)
    assert slot.id is not None
    return sch.Booking(
        slot.id,
        dt.datetime.fromtimestamp(slot.starts_at, dt.UTC),
        dt.datetime.fromtimestamp(slot.ends_at, dt.UTC),
        frozenset(members),
        frozenset(cands),
    )


def create_slots(
    engine: Engine,
    panel_code: str,
    windows: Sequence[tuple[dt.datetime, dt.datetime]],
    minutes: int,
    gap_minutes: int,
    meeting_url: str,
    zone: str,
    actor: str,
) -> list[int]:
    """Slots filling the panel's availability; refused when one of its assessors
    would sit in two panels at once."""
    try:
        sch.zone(zone)
        times = sch.generate_slots([sch.Window(a, b) for a, b in windows], minutes, gap_minutes)
    except sch.ScheduleError as exc:
        raise Refused(422, "bad_schedule", str(exc)) from None
    if not meeting_url.startswith("https://"):
        raise Refused(422, "bad_field", "meeting_url must be an https:// link")
    with Session(writer(engine)) as s:
        panel = _one(s, SkbPanel, "panel", code=panel_code)
        others = [_booking(s, x) for x in s.exec(select(SkbSlot)).all()]
        new_rows = []
        for i, (a, b) in enumerate(times):
            row = SkbSlot(
                panel_id=panel.id,
                starts_at=a.timestamp(),
                ends_at=b.timestamp(),
                meeting_url=f"{meeting_url.rstrip('/')}/{panel_code}-{i + 1}",
                zone=zone,
            )
            s.add(row)
            s.flush()
            new = _booking(s, row)
            problems = sch.conflicts(new, others)
            if problems:
                raise Refused(409, "conflict", "; ".join(problems))
            others.append(new)
            new_rows.append(row)
        audit.append(
            s.connection(),
            "skb_slots",
            actor,
            data={"panel": panel_code, "slots": [[r.starts_at, r.ends_at] for r in new_rows]},
        )
        s.commit()
        return [r.id for r in new_rows if r.id is not None]


def called_to_skb(engine: Engine, formation_id: int) -> set[str]:
    """The formation's candidates the SKD ranking calls to the SKB (within the cut),
    by the same rules as the publication; refused while the SKD is not final."""
    from exam_server.results.from_db import SourceError, load_outcomes
    from exam_server.results.ranking import rank_skd

    with Session(engine) as s:
        exams = s.exec(
            select(Exam.code, Exam.policy_json)
            .join(ExamSession, col(ExamSession.exam_id) == col(Exam.id))
            .join(Candidate, col(Candidate.session_id) == col(ExamSession.id))
            .where(Candidate.formation_id == formation_id)
            .distinct()
        ).all()
    called: set[str] = set()
    for code, policy_json in exams:
        try:
            formations, outcomes = load_outcomes(engine, code)
            skd = rank_skd(RankingPolicy.of_exam(policy_json), formations, outcomes)
        except (SourceError, ValueError) as exc:
            msg = f"the SKD of exam {code} is not final: {exc}"
            raise Refused(409, "skd_not_final", msg) from None
        called |= {
            e.registration_number
            for f in skd.formations
            for e in f.entries
            if e.meaning == "in_cut"
        }
    return called


def assign_slot(
    engine: Engine, slot_id: int, registration_number: str, actor: str, now: float = 0.0
) -> None:
    """Put a candidate called to the SKB into an empty slot of their formation's
    panel (one slot per candidate per component)."""
    with Session(engine) as s:
        slot_panel = _one(s, SkbPanel, "panel", id=_one(s, SkbSlot, "slot", id=slot_id).panel_id)
        formation_id = slot_panel.formation_id
    if registration_number not in called_to_skb(engine, formation_id):
        raise Refused(
            422,
            "not_called",
            f"candidate {registration_number} is not called to the SKB of this formation",
        )
    with Session(writer(engine)) as s:
        slot = _one(s, SkbSlot, "slot", id=slot_id)
        panel = _one(s, SkbPanel, "panel", id=slot.panel_id)
        cand = _one(s, Candidate, "candidate", registration_number=registration_number)
        if cand.formation_id != panel.formation_id:
            raise Refused(
                422, "wrong_formation", f"candidate {registration_number} is not in this formation"
            )
        if slot.candidate_id is not None:
            raise Refused(409, "conflict", f"slot {slot_id} is already taken")
        same_component = s.exec(
            select(SkbSlot)
            .join(SkbPanel, col(SkbPanel.id) == col(SkbSlot.panel_id))
            .where(SkbPanel.component == panel.component, SkbSlot.candidate_id == cand.id)
        ).all()
        slot.candidate_id = cand.id
        problems = sch.conflicts(_booking(s, slot), [_booking(s, x) for x in same_component])
        if problems:
            raise Refused(409, "conflict", "; ".join(problems))
        audit.append(
            s.connection(),
            "skb_assign",
            actor,
            data={"slot": slot_id, "registration_number": registration_number},
        )
        _notify(s, cand, slot, "skb_schedule", now)
        s.commit()


def _email_of(s: Session, candidate_id: int) -> str | None:
    """The candidate's address from their recruitment account (None: registered
    another way, e.g. imported by CSV)."""
    from recruitment.models import RecAccount, RecRegistration

    return s.exec(
        select(RecAccount.email)
        .join(RecRegistration, col(RecRegistration.account_id) == col(RecAccount.id))
        .where(RecRegistration.candidate_id == candidate_id)
    ).first()


def schedule_message(cand: Candidate, slot: SkbSlot, kind: str) -> tuple[str, str]:
    """The subject and body of a schedule or reminder message (Indonesian first)."""
    start = dt.datetime.fromtimestamp(slot.starts_at, dt.UTC)
    when_id = sch.local_text(start, slot.zone, "id")
    when_en = sch.local_text(start, slot.zone, "en")
    if kind == "skb_reminder":
        subject = "Pengingat wawancara SKB / SKB interview reminder"
        lead_id, lead_en = "Pengingat: wawancara SKB Anda", "Reminder: your SKB interview is"
    else:
        subject = "Jadwal wawancara SKB / SKB interview schedule"
        lead_id, lead_en = "Wawancara SKB Anda dijadwalkan", "Your SKB interview is scheduled for"
    body = (
        f"Yth. {cand.name} ({cand.registration_number}),\n\n{lead_id} {when_id}.\n"
        f"Tautan pertemuan: {slot.meeting_url}\n\n"
        f"Dear {cand.name} ({cand.registration_number}),\n\n{lead_en} {when_en}.\n"
        f"Meeting link: {slot.meeting_url}\n"
    )
    return subject, body


def _notify(s: Session, cand: Candidate, slot: SkbSlot, kind: str, now: float) -> bool:
    """Queue the message in the recruitment outbox, in the caller's transaction."""
    assert cand.id is not None
    to = _email_of(s, cand.id)
    if to is None:
        return False
    from exam_server.recruitment.service import enqueue

    subject, body = schedule_message(cand, slot, kind)
    enqueue(s, to, subject, body, kind, now)
    return True


def free_slots(s: Session, cand: Candidate, component: str) -> list[SkbSlot]:
    """Empty slots of the candidate's formation for ``component``, soonest first."""
    return list(
        s.exec(
            select(SkbSlot)
            .join(SkbPanel, col(SkbPanel.id) == col(SkbSlot.panel_id))
            .where(
                SkbPanel.formation_id == cand.formation_id,
                SkbPanel.component == component,
                col(SkbSlot.candidate_id).is_(None),
            )
            .order_by(col(SkbSlot.starts_at))
        ).all()
    )


def reschedule(engine: Engine, registration_number: str, slot_id: int, now: float) -> None:
    """A candidate moves their interview to an empty slot of the same component,
    until the plan's notice before the booked one; audited, and the new time goes
    to the outbox."""
    with Session(writer(engine)) as s:
        cand = _one(s, Candidate, "candidate", registration_number=registration_number)
        new = _one(s, SkbSlot, "slot", id=slot_id)
        new_panel = _one(s, SkbPanel, "panel", id=new.panel_id)
        old = s.exec(
            select(SkbSlot)
            .join(SkbPanel, col(SkbPanel.id) == col(SkbSlot.panel_id))
            .where(SkbSlot.candidate_id == cand.id, SkbPanel.component == new_panel.component)
        ).first()
        if old is None:
            raise Refused(409, "no_slot", "you have no interview of that component to move")
        if new.candidate_id is not None or new_panel.formation_id != cand.formation_id:
            raise Refused(409, "conflict", f"slot {slot_id} is not free for you")
        comp = plan_of(s, new_panel.formation_id).component(new_panel.component)
        notice = comp.reschedule_notice_hours
        at = dt.datetime.fromtimestamp
        if not sch.may_reschedule(at(now, dt.UTC), at(old.starts_at, dt.UTC), notice) or (
            not sch.may_reschedule(at(now, dt.UTC), at(new.starts_at, dt.UTC), notice)
        ):
            raise Refused(
                409,
                "too_late",
                f"an interview can be moved until {notice} hours before it (both the booked "
                "and the new one)",
            )
        old.candidate_id, old.reminded_at = None, None
        s.flush()
        new.candidate_id, new.reminded_at = cand.id, None
        same = s.exec(
            select(SkbSlot)
            .join(SkbPanel, col(SkbPanel.id) == col(SkbSlot.panel_id))
            .where(SkbPanel.component == new_panel.component, SkbSlot.candidate_id == cand.id)
        ).all()
        problems = sch.conflicts(_booking(s, new), [_booking(s, x) for x in same])
        if problems:
            raise Refused(409, "conflict", "; ".join(problems))
        audit.append(
            s.connection(),
            "skb_reschedule",
            f"candidate:{registration_number}",
            data={"from": old.id, "to": new.id},
            at=now,
        )
        _notify(s, cand, new, "skb_schedule", now)
        s.commit()


def send_reminders(engine: Engine, now: float, hours_before: float = 24.0) -> dict[str, int]:
    """Queue one reminder for every booked slot starting within ``hours_before``
    (run it every few minutes: a slot is reminded once)."""
    queued = no_address = 0
    with Session(writer(engine)) as s:
        due = s.exec(
            select(SkbSlot).where(
                col(SkbSlot.candidate_id).is_not(None),
                col(SkbSlot.reminded_at).is_(None),
                SkbSlot.starts_at > now,
                SkbSlot.starts_at <= now + hours_before * 3600,
            )
        ).all()
        for slot in due:
            cand = _one(s, Candidate, "candidate", id=slot.candidate_id)
            if _notify(s, cand, slot, "skb_reminder", now):
                queued += 1
            else:
                no_address += 1
            slot.reminded_at = now
        if due:
            audit.append(
                s.connection(),
                "skb_reminders",
                "system",
                data={"queued": queued, "no_address": no_address},
                at=now,
            )
        s.commit()
    return {"queued": queued, "no_address": no_address}


# -- scoring --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PanelCtx:
    panel: SkbPanel
    plan: SkbPlan
    members: dict[int, SkbPanelMember]  # by staff id

    @property
    def id(self) -> int:
        assert self.panel.id is not None
        return self.panel.id


def _panel_ctx(s: Session, panel_code: str) -> PanelCtx:
    panel = _one(s, SkbPanel, "panel", code=panel_code)
    members = {
        m.staff_id: m
        for m in s.exec(select(SkbPanelMember).where(SkbPanelMember.panel_id == panel.id)).all()
    }
    return PanelCtx(panel, plan_of(s, panel.formation_id), members)


def _candidate_in_panel(s: Session, pc: PanelCtx, registration_number: str) -> Candidate:
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


def _final_row(s: Session, candidate_id: int, component: str) -> SkbComponentScore | None:
    return s.exec(
        select(SkbComponentScore).where(
            SkbComponentScore.candidate_id == candidate_id,
            SkbComponentScore.component == component,
        )
    ).first()


def _recused(s: Session, panel_id: int, candidate_id: int) -> set[int]:
    return set(
        s.exec(
            select(SkbDeclaration.staff_id).where(
                SkbDeclaration.panel_id == panel_id,
                SkbDeclaration.candidate_id == candidate_id,
                SkbDeclaration.conflict == True,  # noqa: E712  (SQL expression)
            )
        ).all()
    )


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
        pc = _panel_ctx(s, panel_code)
        member = pc.members.get(staff_id)
        if member is None:
            raise Refused(403, "not_on_panel", f"you are not on panel {panel_code}")
        cand = _candidate_in_panel(s, pc, registration_number)
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
        if conflict and len(pc.members) - len(_recused(s, pc.id, cand.id)) - 1 < 2:
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
        actor = _staff_actor(s, staff_id)
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


def _staff_actor(s: Session, staff_id: int) -> str:
    st = _one(s, Staff, "staff", id=staff_id)
    return f"{st.role}:{st.username}"


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
        pc = _panel_ctx(s, panel_code)
        if staff_id not in pc.members:
            raise Refused(403, "not_on_panel", f"you are not on panel {panel_code}")
        cand = _candidate_in_panel(s, pc, registration_number)
        assert cand.id is not None
        if staff_id in _recused(s, pc.id, cand.id):
            raise Refused(403, "recused", "you declared a conflict of interest: you do not score")
        if _final_row(s, cand.id, pc.panel.component) is not None:
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
        actor = _staff_actor(s, staff_id)
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


def _sheets(s: Session, panel_id: int, candidate_id: int) -> list[SkbSheet]:
    return list(
        s.exec(
            select(SkbSheet).where(
                SkbSheet.panel_id == panel_id, SkbSheet.candidate_id == candidate_id
            )
        ).all()
    )


def _try_finalise(s: Session, pc: PanelCtx, cand: Candidate, actor: str, now: float) -> str:
    """``waiting`` (sheets missing), ``adjudication`` (spread over the margin) or
    ``final`` (stored, audited)."""
    assert cand.id is not None
    expected = set(pc.members) - _recused(s, pc.id, cand.id)
    sheets = [x for x in _sheets(s, pc.id, cand.id) if x.staff_id in expected]
    if {x.staff_id for x in sheets} != expected:
        return "waiting"
    comp = pc.plan.component(pc.panel.component)
    out = finalise([Decimal(x.score) for x in sheets], comp.finalisation)
    if out.needs_adjudication:
        return "adjudication"
    assert out.score is not None
    _store_final(s, cand, pc.panel.component, out.score, "panel", actor, now,
                 {"rule": comp.finalisation.rule, "spread": str(out.spread)})  # fmt: skip
    return "final"


def _store_final(
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
    than the margin; only then, and only once."""
    with Session(writer(engine)) as s:
        pc = _panel_ctx(s, panel_code)
        member = pc.members.get(staff_id)
        if member is None or not member.chair:
            raise Refused(403, "not_chair", f"only the chair of panel {panel_code} adjudicates")
        cand = _candidate_in_panel(s, pc, registration_number)
        assert cand.id is not None
        if _final_row(s, cand.id, pc.panel.component) is not None:
            raise Refused(409, "finalised", "the score is already final")
        expected = set(pc.members) - _recused(s, pc.id, cand.id)
        sheets = [x for x in _sheets(s, pc.id, cand.id) if x.staff_id in expected]
        comp = pc.plan.component(pc.panel.component)
        if {x.staff_id for x in sheets} != expected or not finalise(
            [Decimal(x.score) for x in sheets], comp.finalisation
        ).needs_adjudication:
            raise Refused(409, "no_adjudication", "this candidate is not awaiting adjudication")
        value = _score_value(score)
        if not reason.strip():
            raise Refused(422, "bad_field", "reason: the adjudication needs a reason")
        actor = _staff_actor(s, staff_id)
        _store_final(s, cand, pc.panel.component, value, "adjudicated", actor, now,
                     {"reason": reason, "sheets": [x.score for x in sheets]})  # fmt: skip
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
        cand = _one(s, Candidate, "candidate", registration_number=registration_number)
        if cand.formation_id is None:
            raise Refused(422, "wrong_formation", f"{registration_number} has no formation")
        comp = _component(plan_of(s, cand.formation_id), component)
        if comp.assessed:
            raise Refused(422, "bad_field", f"component {component} is scored by assessors")
        if _final_row(s, cand.id, component) is not None:
            raise Refused(409, "finalised", f"the {component} score is already recorded")
        _store_final(s, cand, component, value, "cat", actor, now, {})
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
        exam = _one(s, Exam, "exam", code=exam_code)
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
            if _final_row(s, cand.id or 0, component) is not None:
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
            _store_final(s, cand, component, score, "cat", actor, now,
                         {"exam": exam_code, "attempt": attempt.id})  # fmt: skip
            stored += 1
        s.commit()
    return {"stored": stored, "kept": kept}


# -- reading --------------------------------------------------------------------------------


def admin_view(engine: Engine) -> dict[str, Any]:
    """What the administrator's SKB page lists: plans, panels with their members and
    slots, and each panel's formation's candidates who have no slot yet."""
    with Session(engine) as s:
        plans = []
        for row in s.exec(select(SkbPlanRow)).all():
            f = _one(s, Formation, "formation", id=row.formation_id)
            plans.append({"formation": f.code, "caps": row.caps_version,
                          "plan": json.loads(row.plan_json)})  # fmt: skip
        panels = []
        for panel in s.exec(select(SkbPanel).order_by(col(SkbPanel.code))).all():
            f = _one(s, Formation, "formation", id=panel.formation_id)
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
                    _one(s, Candidate, "candidate", id=slot.candidate_id).registration_number
                    if slot.candidate_id is not None
                    else None
                )
                slots.append(_slot_dict(slot) | {"registration_number": who})
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
                           "members": members, "slots": slots, "unscheduled": waiting})  # fmt: skip
        return {"plans": plans, "panels": panels}


def assessor_view(engine: Engine, staff_id: int) -> dict[str, Any]:
    """An assessor's panels: slots, candidates, the rubric, their own sheets; the
    others' sheets only once every expected sheet of that candidate is in."""
    with Session(engine) as s:
        out = []
        for m in s.exec(select(SkbPanelMember).where(SkbPanelMember.staff_id == staff_id)).all():
            panel = _one(s, SkbPanel, "panel", id=m.panel_id)
            pc = _panel_ctx(s, panel.code)
            comp = pc.plan.component(panel.component)
            rows = []
            slots = s.exec(
                select(SkbSlot).where(SkbSlot.panel_id == panel.id).order_by(col(SkbSlot.starts_at))
            ).all()
            for slot in slots:
                row: dict[str, Any] = _slot_dict(slot)
                if slot.candidate_id is not None:
                    cand = _one(s, Candidate, "candidate", id=slot.candidate_id)
                    row |= _candidate_state(s, pc, cand, staff_id)
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


def _slot_dict(slot: SkbSlot) -> dict[str, Any]:
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


def _candidate_state(
    s: Session, pc: PanelCtx, cand: Candidate, viewer: int | None
) -> dict[str, Any]:
    assert cand.id is not None
    recused = _recused(s, pc.id, cand.id)
    expected = set(pc.members) - recused
    sheets = {x.staff_id: x for x in _sheets(s, pc.id, cand.id)}
    complete = expected <= set(sheets)
    final = _final_row(s, cand.id, pc.panel.component)
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
            {"assessor": _one(s, Staff, "staff", id=k).username, "score": sheets[k].score}
            for k in sorted(expected)
        ]
    return d


def chair_view(engine: Engine, staff_id: int, panel_code: str) -> dict[str, Any]:
    """The chair's page: :func:`panel_report`, for the panel's chair only."""
    with Session(engine) as s:
        member = _panel_ctx(s, panel_code).members.get(staff_id)
    if member is None or not member.chair:
        raise Refused(403, "not_chair", f"only the chair of panel {panel_code} sees this")
    return panel_report(engine, panel_code)


def panel_report(engine: Engine, panel_code: str) -> dict[str, Any]:
    """A panel's candidates and their states, the adjudication queue, agreement
    (ICC, alpha) and the severities of the component's model."""
    with Session(engine) as s:
        pc = _panel_ctx(s, panel_code)
        cands = [
            _one(s, Candidate, "candidate", id=x.candidate_id)
            for x in s.exec(
                select(SkbSlot)
                .where(SkbSlot.panel_id == pc.id, col(SkbSlot.candidate_id).is_not(None))
                .order_by(col(SkbSlot.starts_at))
            ).all()
        ]
        rows = [_candidate_state(s, pc, c, None) for c in cands]
        fair = fair_scores(s, pc.panel.formation_id, pc.panel.component)
        for row, cand in zip(rows, cands, strict=True):
            row["fair"] = str(fair[cand.id]) if cand.id in fair else None
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
            "agreement": _agreement(s, pc, cands),
            "severity": _severity(s, pc),
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


def _agreement(s: Session, pc: PanelCtx, cands: list[Candidate]) -> dict[str, Any]:
    sheets = s.exec(select(SkbSheet).where(SkbSheet.panel_id == pc.id)).all()
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
    # who never met a candidate) in its stride; the ICC's two-way table cannot.
    panels = s.exec(
        select(SkbPanel.id).where(
            SkbPanel.formation_id == pc.panel.formation_id,
            SkbPanel.component == pc.panel.component,
        )
    ).all()
    every = s.exec(select(SkbSheet).where(col(SkbSheet.panel_id).in_(panels))).all()
    cand_ids = sorted({x.candidate_id for x in every})
    staff_ids = sorted({x.staff_id for x in every})
    try:
        whole = _score_matrix(every, cand_ids, staff_ids)
        out["component_alpha"] = krippendorff_alpha_ordinal(whole, n_boot=1000).as_dict()
        out["component_panels"] = len(panels)
    except AgreementError as exc:
        out["component_alpha_note"] = str(exc)
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


def component_model(s: Session, formation_id: int, component: str) -> ComponentModel:
    comp = plan_of(s, formation_id).component(component)
    assert comp.rubric is not None
    criteria = [c.code for c in comp.rubric.criteria]
    panels = s.exec(
        select(SkbPanel.id).where(
            SkbPanel.formation_id == formation_id, SkbPanel.component == component
        )
    ).all()
    sheets = s.exec(select(SkbSheet).where(col(SkbSheet.panel_id).in_(panels))).all()
    cand_ids = sorted({x.candidate_id for x in sheets})
    staff_ids = sorted({x.staff_id for x in sheets})
    if len(staff_ids) < 2 or len(cand_ids) < 2:
        note = "the model needs sheets from at least 2 assessors on 2 candidates"
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
        model = ManyFacetRasch().fit(
            Ratings.of(c_idx, i_idx, a_idx, pts, len(cand_ids), len(criteria), len(staff_ids))
        )
    except (MfrmError, np.linalg.LinAlgError) as exc:
        return ComponentModel(None, cand_ids, staff_ids, f"the model cannot be fitted: {exc}")
    return ComponentModel(model, cand_ids, staff_ids)


def _severity(s: Session, pc: PanelCtx) -> dict[str, Any]:
    cm = component_model(s, pc.panel.formation_id, pc.panel.component)
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


def fair_scores(s: Session, formation_id: int, component: str) -> dict[int, Decimal]:
    """Each scored candidate's severity-adjusted component score (0–100) by id:
    the model's fair total over the criteria on the rubric's scale. Empty when
    the model cannot be fitted (then the raw finalised scores stand)."""
    cm = component_model(s, formation_id, component)
    if cm.model is None:
        return {}
    rubric = plan_of(s, formation_id).component(component).rubric
    assert rubric is not None
    totals = cm.model.fair_totals()
    return {cid: rubric.scaled(float(totals[k])) for k, cid in enumerate(cm.candidates)}


def candidate_view(engine: Engine, registration_number: str, now: float) -> dict[str, Any]:
    """A candidate's interviews (time in their zone, the link) and, once final,
    their SKB breakdown."""
    with Session(engine) as s:
        cand = _one(s, Candidate, "candidate", registration_number=registration_number)
        slots = []
        for slot in s.exec(select(SkbSlot).where(SkbSlot.candidate_id == cand.id)).all():
            panel = _one(s, SkbPanel, "panel", id=slot.panel_id)
            comp = plan_of(s, panel.formation_id).component(panel.component)
            at = dt.datetime.fromtimestamp
            movable = sch.may_reschedule(
                at(now, dt.UTC), at(slot.starts_at, dt.UTC), comp.reschedule_notice_hours
            )
            choices = [
                _slot_dict(x)
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
                    **_slot_dict(slot),
                    "notice_hours": comp.reschedule_notice_hours,
                    "free": choices if movable else [],
                }
            )
        scores = skb_scores(engine, only=[cand.registration_number])
        rec = scores.get(cand.registration_number)
        return {
            "registration_number": cand.registration_number,
            "name": cand.name,
            "interviews": slots,
            "skb": None
            if rec is None or rec.points is None
            else {
                "total": str(rec.points),
                "components": [
                    {k: str(v) if v is not None else None for k, v in c.as_dict().items()}
                    | _names(s, cand, c.code)
                    for c in rec.components
                ],
            },
        }


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
                )
                for c in plan.components
            )
            out[cand.registration_number] = SkbScore(
                cand.registration_number, SKB_PRESENT, skb_total(parts), "", components=parts
            )
    return out


def _counted(row: SkbComponentScore, fair: dict[int, Decimal] | None) -> Decimal:
    """The score a component counts with: the fair one when the policy ranks on fair
    scores and the panel finalised it (an adjudicated score is the chair's own)."""
    if fair is not None and row.source == "panel" and row.candidate_id in fair:
        return fair[row.candidate_id]
    return Decimal(row.score)


def _names(s: Session, cand: Candidate, code: str) -> dict[str, str]:
    assert cand.formation_id is not None
    comp = plan_of(s, cand.formation_id).component(code)
    return {"name_id": comp.name_id, "name_en": comp.name_en}
