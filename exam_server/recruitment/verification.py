"""Administrative verification (MS/TMS, a second person for a TMS, conflicts
of interest) and appeals (sanggah).

Part of the recruitment operations (:mod:`exam_server.recruitment.service`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from exam_server import audit
from exam_server.db import writer
from exam_server.recruitment.accounts import enqueue, registration_of
from exam_server.recruitment.periods import (
    PeriodView,
    Refused,
    _get,
    agency_code,
    authorise,
    in_scope_where,
    today,
)
from recruitment.announcement import Schedule
from recruitment.delivery import appeal_window_text
from recruitment.models import (
    RecAccount,
    RecAgency,
    RecAppeal,
    RecConflict,
    RecFormation,
    RecNeed,
    RecPeriod,
    RecRegistration,
    RecVerification,
)
from recruitment.states import (
    Status,
    check_second_person,
    step,
)


def _recused_ids(staff: str) -> Any:
    """The registrations ``staff`` declared a conflict with (a subquery)."""
    return select(col(RecConflict.registration_id)).where(col(RecConflict.staff) == staff)


def _agency_of(s: Session, reg: RecRegistration) -> int:
    """The agency whose formation the registration is for (its need's)."""
    return int(
        s.execute(
            select(col(RecNeed.agency_id))
            .join(RecFormation, col(RecFormation.need_id) == col(RecNeed.id))
            .where(col(RecFormation.id) == reg.rec_formation_id)
        ).scalar_one()
    )


def _in_scope(s: Session, staff: str) -> Any:
    """The registrations ``staff`` may see (a condition; all for a national account)."""
    agency_ids = select(col(RecFormation.id)).join(
        RecNeed, col(RecNeed.id) == col(RecFormation.need_id)
    )
    where = in_scope_where(s, staff, col(RecNeed.agency_id))
    if not where:
        return col(RecRegistration.id).is_not(None)
    return col(RecRegistration.rec_formation_id).in_(agency_ids.where(*where))


def _verifiable(
    s: Session, registration_id: int, staff: str, *, lock: bool = False
) -> tuple[RecRegistration, str]:
    """The registration if ``staff`` may verify it (another agency's:
    ``NotFound``, as if it did not exist), and its agency's code for the audit."""
    reg: RecRegistration = _get(s, RecRegistration, registration_id, lock=lock)
    agency = _agency_of(s, reg)
    authorise(s, staff, "verify", agency)
    return reg, agency_code(s, agency)


@dataclass(frozen=True)
class Queue:
    waiting: int  # every submitted registration the verifier may decide on
    oldest: list[dict[str, Any]]  # the first ``limit`` of them, oldest first


def verification_queue(engine: Engine, period_id: int, staff: str, limit: int = 50) -> Queue:
    """Submitted registrations the verifier may decide on (their agency's;
    recused ones left out)."""
    with Session(engine) as s:
        where = (
            col(RecRegistration.period_id) == period_id,
            col(RecRegistration.status) == Status.SUBMITTED,
            col(RecRegistration.id).not_in(_recused_ids(staff)),
            _in_scope(s, staff),
        )
        waiting = s.execute(
            select(func.count()).select_from(RecRegistration).where(*where)
        ).scalar_one()
        rows = s.execute(
            select(RecRegistration, col(RecAgency.code))
            .join(RecFormation, col(RecFormation.id) == col(RecRegistration.rec_formation_id))
            .join(RecNeed, col(RecNeed.id) == col(RecFormation.need_id))
            .join(RecAgency, col(RecAgency.id) == col(RecNeed.agency_id))
            .where(*where)
            .order_by(col(RecRegistration.submitted_at))
            .limit(limit)
        ).all()
        oldest = [
            {
                "id": r.id,
                "number": r.registration_number,
                "name": r.name,
                "category": r.category,
                "agency": agency,
            }
            for r, agency in rows
        ]
        return Queue(int(waiting), oldest)


def _recused(s: Session, registration_id: int, staff: str) -> bool:
    return (
        s.execute(
            select(col(RecConflict.id)).where(
                col(RecConflict.registration_id) == registration_id, col(RecConflict.staff) == staff
            )
        ).first()
        is not None
    )


def declare_conflict(
    engine: Engine, registration_id: int, staff: str, reason: str, now: float
) -> None:
    with Session(writer(engine)) as s:
        _, agency = _verifiable(s, registration_id, staff)
        if not _recused(s, registration_id, staff):
            s.add(
                RecConflict(
                    registration_id=registration_id, staff=staff, reason=reason, declared_at=now
                )
            )
            s.flush()
            audit.append(
                s.connection(),
                "rec_conflict",
                staff,
                reason=reason,
                data={"registration": registration_id, "agency": agency},
                at=now,
            )
        s.commit()


def registration_for_staff(engine: Engine, registration_id: int, staff: str) -> RecRegistration:
    """The registration for a verifier's page; another agency's is ``NotFound``."""
    with Session(engine) as s:
        reg, _ = _verifiable(s, registration_id, staff)
        if _recused(s, registration_id, staff):
            raise Refused(
                "Anda menyatakan konflik kepentingan atas pendaftaran ini",
                "you declared a conflict of interest with this registration",
            )
        return reg


def decide_registration(
    engine: Engine,
    period: PeriodView,
    registration_id: int,
    staff: str,
    decision: str,
    reason_code: str,
    note: str,
    now: float,
) -> None:
    """MS or TMS (TMS needs a reason code of the period's rules and waits for a
    second person)."""
    if decision not in ("MS", "TMS"):
        raise Refused("keputusan harus MS atau TMS", "the decision must be MS or TMS")
    if decision == "TMS" and reason_code not in period.rules.reason_codes:
        raise Refused("kode alasan TMS wajib dipilih", "a TMS reason code is required")
    with Session(writer(engine)) as s:
        reg, agency = _verifiable(s, registration_id, staff, lock=True)
        if _recused(s, registration_id, staff):
            raise Refused(
                "Anda direkusal dari pendaftaran ini", "you are recused from this registration"
            )
        reg.status = step(reg.status, "ms" if decision == "MS" else "tms")
        reg.updated_at = now
        s.add(reg)
        s.add(
            RecVerification(
                registration_id=registration_id,
                verifier=staff,
                decision=decision,
                reason_code=reason_code if decision == "TMS" else "",
                note=note,
                decided_at=now,
            )
        )
        if decision == "MS":
            _notify_status(s, reg, now)
        s.flush()
        audit.append(
            s.connection(),
            "rec_verify",
            staff,
            reason=note,
            data={
                "registration": registration_id,
                "agency": agency,
                "decision": decision,
                "reason_code": reason_code,
            },
            at=now,
        )
        s.commit()


def pending_tms(engine: Engine, period_id: int, staff: str) -> list[dict[str, Any]]:
    """TMS decisions waiting for a second person (not the verifier's own, not recused)."""
    with Session(engine) as s:
        rows = s.execute(
            select(RecVerification, RecRegistration)
            .join(RecRegistration, col(RecRegistration.id) == col(RecVerification.registration_id))
            .where(
                col(RecRegistration.period_id) == period_id,
                col(RecRegistration.status) == Status.TMS_PROPOSED,
                col(RecVerification.approved).is_(None),
                col(RecVerification.decision) == "TMS",
                col(RecVerification.verifier) != staff,
                col(RecRegistration.id).not_in(_recused_ids(staff)),
                _in_scope(s, staff),
            )
            .order_by(col(RecVerification.decided_at))
        ).all()
        return [
            {
                "id": v.id,
                "registration_id": r.id,
                "number": r.registration_number,
                "name": r.name,
                "verifier": v.verifier,
                "reason_code": v.reason_code,
                "note": v.note,
            }
            for v, r in rows
        ]


def approve_tms(engine: Engine, verification_id: int, staff: str, agree: bool, now: float) -> None:
    with Session(writer(engine)) as s:
        v: RecVerification = _get(s, RecVerification, verification_id, lock=True)
        reg, agency = _verifiable(s, v.registration_id, staff, lock=True)
        check_second_person(v.verifier, staff)
        if v.approved is not None:
            raise Refused("keputusan ini sudah diperiksa", "this decision was already reviewed")
        if _recused(s, reg.id or 0, staff):
            raise Refused(
                "Anda direkusal dari pendaftaran ini", "you are recused from this registration"
            )
        reg.status = step(reg.status, "approve_tms" if agree else "reject_tms")
        reg.updated_at = now
        v.approved, v.approved_by, v.approved_at = agree, staff, now
        s.add(reg)
        s.add(v)
        if agree:
            _notify_status(s, reg, now)
        s.flush()
        audit.append(
            s.connection(),
            "rec_tms_review",
            staff,
            data={
                "registration": reg.id,
                "agency": agency,
                "verification": verification_id,
                "agree": agree,
            },
            at=now,
        )
        s.commit()


def _notify_status(s: Session, reg: RecRegistration, now: float) -> None:
    from recruitment.states import STATUS_TEXT

    acc: RecAccount = _get(s, RecAccount, reg.account_id)
    tid, ten = STATUS_TEXT[Status(reg.status)]
    if reg.status == Status.TMS.value:
        # Until when an appeal can be filed: said with the decision, not
        # only in the reminders before the window closes.
        period: RecPeriod = _get(s, RecPeriod, reg.period_id)
        schedule = Schedule.model_validate_json(period.schedule_json)
        wid, wen = appeal_window_text(schedule.appeal_opens, schedule.appeal_closes)
        tid, ten = f"{tid}. {wid}", f"{ten}. {wen}"
    enqueue(
        s,
        acc.email,
        f"Status pendaftaran {reg.registration_number} / Registration status",
        f"{reg.registration_number}: {tid}\n{reg.registration_number}: {ten}\n",
        f"status:{reg.status}",
        now,
    )


def last_verification(engine: Engine, registration_id: int) -> RecVerification | None:
    with Session(engine) as s:
        return (
            s.execute(
                select(RecVerification)
                .where(col(RecVerification.registration_id) == registration_id)
                .order_by(col(RecVerification.id).desc())
            )
            .scalars()
            .first()
        )


# -- appeals ------------------------------------------------------------------------------


def file_appeal(
    engine: Engine, period: PeriodView, account_id: int, reason: str, now: float
) -> int:
    if not period.schedule.appeal_open(today(now)):
        raise Refused("masa sanggah tidak sedang dibuka", "the appeal window is not open")
    if not reason.strip() or len(reason) > 4000:
        raise Refused(
            "alasan sanggah wajib diisi (paling banyak 4000 karakter)",
            "an appeal reason is required (at most 4000 characters)",
        )
    reg = registration_of(engine, period.id, account_id)
    if reg is None:
        raise Refused("belum ada pendaftaran", "there is no registration")
    with Session(writer(engine)) as s:
        row: RecRegistration = _get(s, RecRegistration, reg.id or 0, lock=True)
        existing = (
            s.execute(select(RecAppeal).where(col(RecAppeal.registration_id) == row.id))
            .scalars()
            .first()
        )
        if existing is not None:  # a resent form: the same appeal
            s.rollback()
            assert existing.id is not None
            return existing.id
        row.status = step(row.status, "appeal")
        row.updated_at = now
        due = now + period.schedule.appeal_answer_days * 86400.0
        ap = RecAppeal(
            registration_id=row.id or 0, reason=reason.strip(), filed_at=now, answer_due_at=due
        )
        s.add(row)
        s.add(ap)
        s.flush()
        audit.append(
            s.connection(),
            "rec_appeal",
            f"account:{account_id}",
            reason=reason.strip(),
            data={"registration": row.id, "appeal": ap.id},
            at=now,
        )
        s.commit()
        assert ap.id is not None
        return ap.id


def open_appeals(engine: Engine, period_id: int, staff: str) -> list[dict[str, Any]]:
    with Session(engine) as s:
        rows = s.execute(
            select(RecAppeal, RecRegistration)
            .join(RecRegistration, col(RecRegistration.id) == col(RecAppeal.registration_id))
            .where(
                col(RecRegistration.period_id) == period_id,
                col(RecAppeal.outcome).is_(None),
                col(RecRegistration.id).not_in(_recused_ids(staff)),
                _in_scope(s, staff),
            )
            .order_by(col(RecAppeal.answer_due_at))
        ).all()
        return [
            {
                "id": a.id,
                "registration_id": r.id,
                "number": r.registration_number,
                "name": r.name,
                "reason": a.reason,
                "due": a.answer_due_at,
            }
            for a, r in rows
        ]


def answer_appeal(
    engine: Engine, appeal_id: int, staff: str, accept: bool, answer: str, now: float
) -> None:
    """The final answer: accepted (the registration becomes MS) or rejected (TMS final).
    Neither the verifier who proposed the TMS nor the one who confirmed it may
    answer the appeal against it."""
    if not answer.strip():
        raise Refused("jawaban sanggah wajib diisi", "an answer is required")
    with Session(writer(engine)) as s:
        ap: RecAppeal = _get(s, RecAppeal, appeal_id, lock=True)
        # Scope first: another agency's appeal answers as a missing one (404),
        # whatever its state.
        reg, agency = _verifiable(s, ap.registration_id, staff, lock=True)
        if ap.outcome is not None:
            raise Refused(
                "sanggah ini sudah dijawab (final)", "this appeal is already answered (final)"
            )
        if _recused(s, reg.id or 0, staff):
            raise Refused(
                "Anda direkusal dari pendaftaran ini", "you are recused from this registration"
            )
        tms = (
            s.execute(
                select(RecVerification)
                .where(
                    col(RecVerification.registration_id) == reg.id,
                    col(RecVerification.decision) == "TMS",
                )
                .order_by(col(RecVerification.id).desc())
            )
            .scalars()
            .first()
        )
        if tms is not None:
            # The TMS appealed against was decided by two people: the verifier
            # who proposed it and the one who confirmed it. Neither answers.
            check_second_person(tms.verifier, staff)
            check_second_person(tms.approved_by or "", staff)
        reg.status = step(reg.status, "accept_appeal" if accept else "reject_appeal")
        reg.updated_at = now
        ap.outcome = "accepted" if accept else "rejected"
        ap.answer, ap.answered_by, ap.answered_at = answer.strip(), staff, now
        s.add(reg)
        s.add(ap)
        _notify_status(s, reg, now)
        s.flush()
        audit.append(
            s.connection(),
            "rec_appeal_answer",
            staff,
            reason=answer.strip(),
            data={
                "appeal": appeal_id,
                "registration": reg.id,
                "agency": agency,
                "outcome": ap.outcome,
            },
            at=now,
        )
        s.commit()


def appeal_of(engine: Engine, registration_id: int) -> RecAppeal | None:
    with Session(engine) as s:
        return (
            s.execute(select(RecAppeal).where(col(RecAppeal.registration_id) == registration_id))
            .scalars()
            .first()
        )


def appeal_stats(engine: Engine) -> list[dict[str, Any]]:
    """Per agency: appeals filed, answered, accepted, answered after their
    deadline, and the mean hours to answer (public; one aggregate query)."""
    answered = col(RecAppeal.answered_at).is_not(None)
    with Session(engine) as s:
        rows = s.execute(
            select(
                col(RecAgency.name),
                func.count(),
                func.count(col(RecAppeal.answered_at)),
                func.sum(case((col(RecAppeal.outcome) == "accepted", 1), else_=0)),
                func.sum(
                    case(
                        (answered & (col(RecAppeal.answered_at) > col(RecAppeal.answer_due_at)), 1),
                        else_=0,
                    )
                ),
                func.avg(case((answered, col(RecAppeal.answered_at) - col(RecAppeal.filed_at)))),
            )
            .join(RecRegistration, col(RecRegistration.id) == col(RecAppeal.registration_id))
            .join(RecFormation, col(RecFormation.id) == col(RecRegistration.rec_formation_id))
            .join(RecNeed, col(RecNeed.id) == col(RecFormation.need_id))
            .join(RecAgency, col(RecAgency.id) == col(RecNeed.agency_id))
            .group_by(col(RecAgency.name))
            .order_by(col(RecAgency.name))
        ).all()
    return [
        {
            "agency": agency,
            "filed": int(filed),
            "answered": int(n_answered),
            "accepted": int(accepted or 0),
            "late": int(late or 0),
            "mean_hours": round(float(mean) / 3600.0, 1) if mean is not None else None,
        }
        for agency, filed, n_answered, accepted, late, mean in rows
    ]


# -- scheduling ---------------------------------------------------------------------------
