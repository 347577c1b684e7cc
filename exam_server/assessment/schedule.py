"""Interview scheduling on the server: slots, who is called and who sits when,
moves, and the messages to the outbox (``assessment.scheduling`` holds the rules)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assessment import scheduling as sch
from assessment.models import (
    SkbPanel,
    SkbPanelMember,
    SkbSlot,
)
from exam_server import audit
from exam_server.assessment.common import Refused, booking, one, plan_of
from exam_server.db import writer
from exam_server.models import Candidate, Exam, ExamSession, Staff
from exam_server.results.rules import RankingPolicy


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
        panel = one(s, SkbPanel, "panel", code=panel_code)
        # Conflicts are per assessor: hold the members' rows so that two panels'
        # slots for one assessor cannot both pass the check (PostgreSQL).
        lock_rows(s, Staff, _member_ids(s, panel.id))
        others = [booking(s, x) for x in s.exec(select(SkbSlot)).all()]
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
            new = booking(s, row)
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
        slot_panel = one(s, SkbPanel, "panel", id=one(s, SkbSlot, "slot", id=slot_id).panel_id)
        formation_id = slot_panel.formation_id
    if registration_number not in called_to_skb(engine, formation_id):
        raise Refused(
            422,
            "not_called",
            f"candidate {registration_number} is not called to the SKB of this formation",
        )
    with Session(writer(engine)) as s:
        slot = one(s, SkbSlot, "slot", id=slot_id)
        panel = one(s, SkbPanel, "panel", id=slot.panel_id)
        cand = one(s, Candidate, "candidate", registration_number=registration_number)
        lock_rows(s, Candidate, [cand.id])  # one slot per component: queue the candidate
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
        problems = sch.conflicts(booking(s, slot), [booking(s, x) for x in same_component])
        if problems:
            raise Refused(409, "conflict", "; ".join(problems))
        audit.append(
            s.connection(),
            "skb_assign",
            actor,
            data={"slot": slot_id, "registration_number": registration_number},
        )
        notify(s, cand, slot, "skb_schedule", now)
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


def notify(s: Session, cand: Candidate, slot: SkbSlot, kind: str, now: float) -> bool:
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
    until the plan's notice before the booked one — or, where the plan lets
    candidates choose, takes their first slot; audited, and the new time goes to
    the outbox."""
    with Session(writer(engine)) as s:
        cand = one(s, Candidate, "candidate", registration_number=registration_number)
        lock_rows(s, Candidate, [cand.id])  # one slot per component: queue the candidate
        new = one(s, SkbSlot, "slot", id=slot_id)
        new_panel = one(s, SkbPanel, "panel", id=new.panel_id)
        old = s.exec(
            select(SkbSlot)
            .join(SkbPanel, col(SkbPanel.id) == col(SkbSlot.panel_id))
            .where(SkbSlot.candidate_id == cand.id, SkbPanel.component == new_panel.component)
        ).first()
        if new.candidate_id is not None or new_panel.formation_id != cand.formation_id:
            raise Refused(409, "conflict", f"slot {slot_id} is not free for you")
        comp = plan_of(s, new_panel.formation_id).component(new_panel.component)
        if old is None and not (
            comp.candidates_choose
            and registration_number in called_to_skb(engine, new_panel.formation_id)
        ):
            raise Refused(409, "no_slot", "you have no interview of that component to move")
        notice = comp.reschedule_notice_hours
        when = [new.starts_at] + ([old.starts_at] if old is not None else [])
        current = dt.datetime.fromtimestamp(now, dt.UTC)
        if not all(
            sch.may_reschedule(current, dt.datetime.fromtimestamp(t, dt.UTC), notice) for t in when
        ):
            raise Refused(
                409,
                "too_late",
                f"an interview can be moved until {notice} hours before it (both the booked "
                "and the new one)",
            )
        if old is not None:
            old.candidate_id, old.reminded_at = None, None
            s.flush()
        new.candidate_id, new.reminded_at = cand.id, None
        same = s.exec(
            select(SkbSlot)
            .join(SkbPanel, col(SkbPanel.id) == col(SkbSlot.panel_id))
            .where(SkbPanel.component == new_panel.component, SkbSlot.candidate_id == cand.id)
        ).all()
        problems = sch.conflicts(booking(s, new), [booking(s, x) for x in same])
        if problems:
            raise Refused(409, "conflict", "; ".join(problems))
        audit.append(
            s.connection(),
            "skb_reschedule",
            f"candidate:{registration_number}",
            data={"from": old.id if old is not None else None, "to": new.id},
            at=now,
        )
        notify(s, cand, new, "skb_schedule", now)
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
            cand = one(s, Candidate, "candidate", id=slot.candidate_id)
            if notify(s, cand, slot, "skb_reminder", now):
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


def _member_ids(s: Session, panel_id: int) -> list[int]:
    return list(
        s.exec(select(SkbPanelMember.staff_id).where(SkbPanelMember.panel_id == panel_id)).all()
    )


def lock_rows(s: Session, model: Any, ids: list[Any]) -> None:
    """``SELECT … FOR UPDATE`` the rows (a no-op on SQLite, whose writers are serial)."""
    s.exec(select(model.id).where(col(model.id).in_(ids)).with_for_update()).all()
