"""Reminders through the outbox (rules in ``recruitment.delivery``):

* **deadline** — before registration closes, every applicant whose
  registration is still a draft gets one message per lead time;
* **appeal** — while the appeal window (masa sanggah) is open, every
  registration found TMS that has not appealed gets one message per lead time
  before the window closes, with the same lead times.

Idempotent: each reminder carries a unique outbox key
(``deadline:<registration>:<lead>``, ``appeal:<registration>:<lead>``), so
running this again — every tick of the server's background sender, from
several server processes, or ``seleksi recruitment remind`` — never queues
the same reminder twice. A registration submitted (or an appeal filed)
before a lead time's point gets no more reminders.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from exam_server.db import writer
from exam_server.recruitment.outbox import enqueue_once
from recruitment import announcement as ann
from recruitment.delivery import (
    appeal_lead_due,
    appeal_lead_key,
    appeal_reminder_message,
    due_lead,
    end_of_day,
    lead_key,
    reminder_message,
    submission_deadline,
)
from recruitment.models import RecAccount, RecOutbox, RecPeriod, RecRegistration
from recruitment.states import Status

#: (name, registration number) → (subject, body) of one reminder
Message = Callable[[str, str], tuple[str, str]]


def queue_reminders(engine: Engine, now: float, lead_days: Sequence[float]) -> int:
    """Queue the deadline and appeal reminders due at ``now`` (epoch seconds)
    for every period; returns how many were new. lead_days: e.g. (3, 1);
    empty: none."""
    if not lead_days:
        return 0
    with Session(engine) as s:
        periods = list(s.execute(select(RecPeriod)).scalars())
    # (period, status the reminder is for, lead, outbox kind, key, message)
    due: list[tuple[RecPeriod, Status, float, str, Callable[[int, float], str], Message]] = []
    for p in periods:
        schedule = ann.Schedule.model_validate_json(p.schedule_json)
        closes = submission_deadline(schedule.registration_closes)
        lead = due_lead(closes, now, lead_days)
        if lead is not None:
            due.append(
                (
                    p,
                    Status.DRAFT,
                    lead,
                    "deadline_reminder",
                    lead_key,
                    _deadline_message(p.name, closes, now),
                )
            )
        lead = appeal_lead_due(schedule.appeal_opens, schedule.appeal_closes, now, lead_days)
        if lead is not None:
            window_end = end_of_day(schedule.appeal_closes)
            due.append(
                (
                    p,
                    Status.TMS,
                    lead,
                    "appeal_reminder",
                    appeal_lead_key,
                    _appeal_message(p.name, window_end, now),
                )
            )
    if not due:
        return 0
    queued = 0
    with Session(writer(engine)) as s:
        for p, status, lead, kind, key_of, message in due:
            found = s.execute(
                select(
                    col(RecRegistration.id),
                    col(RecRegistration.name),
                    col(RecRegistration.registration_number),
                    col(RecAccount.email),
                )
                .join(RecAccount, col(RecAccount.id) == col(RecRegistration.account_id))
                .where(
                    col(RecRegistration.period_id) == p.id,
                    col(RecRegistration.status) == status.value,
                )
                .order_by(col(RecRegistration.id))
            ).all()
            keys = {
                key_of(int(rid), lead): (name, regno or "", email)
                for rid, name, regno, email in found
            }
            if not keys:
                continue
            have = set(
                s.execute(
                    select(col(RecOutbox.dedupe_key)).where(
                        col(RecOutbox.dedupe_key).in_(list(keys))
                    )
                ).scalars()
            )
            rows = []
            for key, (name, regno, email) in keys.items():
                if key in have:
                    continue
                subject, body = message(name, regno)
                rows.append(
                    {
                        "to_addr": email,
                        "subject": subject,
                        "body": body,
                        "kind": kind,
                        "created_at": now,
                        "dedupe_key": key,
                    }
                )
            enqueue_once(s, rows)
            queued += len(rows)
        s.commit()
    return queued


def _deadline_message(period_name: str, deadline: float, now: float) -> Message:
    return lambda name, regno: reminder_message(name, period_name, deadline, now)


def _appeal_message(period_name: str, deadline: float, now: float) -> Message:
    return lambda name, regno: appeal_reminder_message(name, regno, period_name, deadline, now)
