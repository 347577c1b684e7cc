"""Deadline reminders: before registration closes, every applicant whose
registration is still a draft gets one message per lead time, through the
outbox (rules in ``recruitment.delivery``).

Idempotent: each reminder carries the outbox key ``deadline:<registration>:<lead>``
(unique), so running this again — every tick of the server's background
sender, from several server processes, or ``seleksi recruitment remind`` —
never queues the same reminder twice. A registration submitted before a lead
time's point gets no more reminders.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from exam_server.db import writer
from exam_server.recruitment.outbox import enqueue_once
from recruitment import announcement as ann
from recruitment.delivery import (
    due_lead,
    lead_key,
    reminder_message,
    submission_deadline,
)
from recruitment.models import RecAccount, RecOutbox, RecPeriod, RecRegistration
from recruitment.states import Status


def queue_reminders(engine: Engine, now: float, lead_days: Sequence[float]) -> int:
    """Queue the reminders due at ``now`` (epoch seconds) for every period;
    returns how many were new. lead_days: e.g. (3, 1); empty: none."""
    if not lead_days:
        return 0
    with Session(engine) as s:
        periods = list(s.execute(select(RecPeriod)).scalars())
    due: list[tuple[RecPeriod, float, float]] = []
    for p in periods:
        deadline = submission_deadline(
            ann.Schedule.model_validate_json(p.schedule_json).registration_closes
        )
        lead = due_lead(deadline, now, lead_days)
        if lead is not None:
            due.append((p, deadline, lead))
    if not due:
        return 0
    queued = 0
    with Session(writer(engine)) as s:
        for p, deadline, lead in due:
            drafts = s.execute(
                select(col(RecRegistration.id), col(RecRegistration.name), col(RecAccount.email))
                .join(RecAccount, col(RecAccount.id) == col(RecRegistration.account_id))
                .where(
                    col(RecRegistration.period_id) == p.id,
                    col(RecRegistration.status) == Status.DRAFT.value,
                )
                .order_by(col(RecRegistration.id))
            ).all()
            keys = {lead_key(int(rid), lead): (name, email) for rid, name, email in drafts}
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
            for key, (name, email) in keys.items():
                if key in have:
                    continue
                subject, body = reminder_message(name, p.name, deadline, now)
                rows.append(
                    {
                        "to_addr": email,
                        "subject": subject,
                        "body": body,
                        "kind": "deadline_reminder",
                        "created_at": now,
                        "dedupe_key": key,
                    }
                )
            enqueue_once(s, rows)
            queued += len(rows)
        s.commit()
    return queued
