"""Administrative verification (MS/TMS, a second person for a TMS, conflicts
of interest) and appeals (sanggah).

Part of the recruitment operations (:mod:`exam_server.recruitment.service`).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from exam_server import audit
from exam_server.db import writer
from exam_server.models import Attempt, Candidate, CheckIn, ExamSession
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
from exam_server.recruitment.registrations import grant_accounts
from exam_server.sites.models import SiteAttempt, SiteSessionKey
from recruitment.announcement import Schedule
from recruitment.delivery import appeal_window_text
from recruitment.models import (
    RecAccount,
    RecAgency,
    RecAppeal,
    RecConflict,
    RecFormation,
    RecNeed,
    RecNikGrant,
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


#: Days a void gives the NIK's owner to register late, at least (or until the
#: period's registration closes, when that is later).
GRANT_DAYS = 7


def default_grant_until(schedule: Schedule, now: float) -> dt.date:
    """The last day of the late registration a void gives by default: 7 days
    after the void, or the period's registration close if later."""
    return max(today(now) + dt.timedelta(days=GRANT_DAYS), schedule.registration_closes)


def _leave_session(s: Session, reg: RecRegistration) -> dict[str, Any]:
    """Take a scheduled registration's exam candidate out of its session (the
    row stays, ``session_id`` NULL: as :func:`exam_server.audit.chain.candidate_facts`
    knows, a candidate taken out of the session drops out of its ranking);
    refused when the exam has begun for them (an attempt, at the centre or a
    site, or a PIN issued at the site desk): that is the exam's business, the
    proctor voids the attempt. What it did, for the audit event."""
    if reg.candidate_id is None:
        return {}
    cand: Candidate = _get(s, Candidate, reg.candidate_id, lock=True)
    cid = cand.id
    started = (
        s.execute(select(col(Attempt.id)).where(col(Attempt.candidate_id) == cid)).first()
        or s.execute(
            select(col(SiteAttempt.attempt_id)).where(col(SiteAttempt.candidate_id) == cid)
        ).first()
    )
    if started is not None:
        raise Refused(
            "peserta ini sudah mengikuti ujian (ada attempt): pembatalannya urusan ujian, "
            "pengawas membatalkan attempt-nya",
            "this candidate has an exam attempt: voiding it is the exam's business "
            "(the proctor voids the attempt)",
        )
    if s.execute(select(col(CheckIn.id)).where(col(CheckIn.candidate_id) == cid)).first():
        raise Refused(
            "peserta ini sudah mendapat PIN di meja lokasi ujian: pembatalannya urusan ujian",
            "this candidate was issued a PIN at the site desk: voiding it is the exam's business",
        )
    # A session packaged for an exam site: the site holds the candidate and
    # may check them in or start their test before it syncs (found by a
    # review: the centre then dropped a candidate who was sitting the exam).
    if cand.session_id is not None and s.get(SiteSessionKey, cand.session_id) is not None:
        raise Refused(
            "sesi ujian peserta ini sudah dikirim ke lokasi ujian dalam paket: "
            "pembatalannya urusan ujian di lokasi itu",
            "this candidate's session was sent to an exam site in a package: voiding it "
            "is the exam's business there",
        )
    session_code = None
    if cand.session_id is not None:
        sess = s.get(ExamSession, cand.session_id)
        session_code = sess.code if sess is not None else None
    cand.session_id = None
    s.add(cand)
    return {"candidate": cid, "left_session": session_code}


#: The void form's result when the grant is for nobody (no other account had
#: a draft with the NIK, and staff named none).
GRANT_NOBODY = (
    "tidak ada akun yang mendapat pendaftaran susulan: tidak ada draf lain dengan NIK ini dan "
    "tidak ada email pemilik yang disebut",
    "no account got the late registration: no other draft had this NIK and no owner's "
    "e-mail was named",
)


def _granted(s: Session, reg: RecRegistration, owner_email: str) -> list[int]:
    """The accounts a void's late registration is for: those whose draft in
    the period holds the voided registration's NIK now (the owner who kept a
    draft ready), and the account whose e-mail the voiding staff named (who
    spoke with the owner); never the voided registration's own account.
    A named e-mail no account has, or the voided account's, is refused."""
    ids = set(
        s.execute(
            select(col(RecRegistration.account_id)).where(
                col(RecRegistration.period_id) == reg.period_id,
                col(RecRegistration.nik_hash) == reg.nik_hash,
                col(RecRegistration.status) == Status.DRAFT.value,
                col(RecRegistration.account_id) != reg.account_id,
            )
        ).scalars()
    )
    if owner_email:
        named = s.execute(
            select(col(RecAccount.id)).where(col(RecAccount.email) == owner_email)
        ).scalar()
        if named is None:
            raise Refused(
                "tidak ada akun dengan email pemilik NIK itu",
                "no account has the NIK owner's e-mail given",
            )
        if named == reg.account_id:
            raise Refused(
                "email itu milik akun pendaftaran yang dibatalkan",
                "that e-mail is the voided registration's account",
            )
        ids.add(int(named))
    return sorted(ids)


def _notify_grant(s: Session, account_ids: list[int], until: dt.date, now: float) -> None:
    """Tell each account a late registration is for (in its period, with its
    NIK) until when it may register: the NIK is free again."""
    day = until.isoformat()
    for account_id in account_ids:
        acc: RecAccount = _get(s, RecAccount, account_id)
        enqueue(
            s,
            acc.email,
            "NIK Anda bebas lagi: pendaftaran susulan / Your NIK is free again: late registration",
            "Panitia seleksi membatalkan pendaftaran lain yang memakai NIK Anda. NIK itu bebas "
            f"lagi: Anda boleh menyimpan dan mengirim pendaftaran dengan NIK itu dari akun ini "
            f"sampai {day} (termasuk), walaupun masa pendaftaran sudah ditutup.\n"
            "The selection committee voided another registration made with your NIK. The NIK "
            "is free again: you may save and submit a registration with it from this account "
            f"until {day} (inclusive), even though the registration period has closed.\n",
            "late_registration",
            now,
        )


def void_registration(
    engine: Engine,
    registration_id: int,
    staff: str,
    reason: str,
    now: float,
    grant_until: dt.date | None = None,
    owner_email: str = "",
) -> RecRegistration:
    """Void a submitted registration the committee found fraudulent (made with
    someone else's NIK): it leaves every queue and no longer holds its NIK,
    and the NIK gets a late registration (:class:`RecNikGrant`) until
    ``grant_until`` (default :func:`default_grant_until`; not in the past)
    for the accounts :func:`_granted` names (the drafts holding the NIK now,
    and the account of ``owner_email``, which staff may give), so the NIK's
    owner can save and submit theirs even after the window closed; nobody
    else may use it, and with no such account it lets nobody register
    (:func:`granted_to` tells the page). Each granted account is told by
    e-mail. A verifier of its agency (not recused) or an admin (a national
    one for any agency) does it, with a reason; audited as ``rec_void``
    (with the NIK hash, the grant's last day and its account ids). Its
    frozen form, number and receipt stay as evidence. A scheduled
    registration leaves its exam session in the same transaction, unless its
    exam has begun (:func:`_leave_session` refuses)."""
    reason = reason.strip()
    owner_email = owner_email.strip().lower()
    if not reason:
        raise Refused("alasan pembatalan wajib diisi", "a reason for voiding is required")
    if grant_until is not None and grant_until < today(now):
        raise Refused(
            "batas pendaftaran susulan tidak boleh sebelum hari ini",
            "the late registration's last day cannot be before today",
        )
    with Session(writer(engine)) as s:
        reg: RecRegistration = _get(s, RecRegistration, registration_id, lock=True)
        agency_id = _agency_of(s, reg)
        authorise(s, staff, "void", agency_id)
        if _recused(s, registration_id, staff):
            raise Refused(
                "Anda direkusal dari pendaftaran ini", "you are recused from this registration"
            )
        was = reg.status
        reg.status = step(reg.status, "void")
        granted = _granted(s, reg, owner_email)
        left = _leave_session(s, reg) if was == Status.SCHEDULED else {}
        reg.updated_at = now
        s.add(reg)
        period: RecPeriod = _get(s, RecPeriod, reg.period_id)
        until = grant_until or default_grant_until(
            Schedule.model_validate_json(period.schedule_json), now
        )
        s.add(
            RecNikGrant(
                period_id=reg.period_id,
                nik_hash=reg.nik_hash,
                registration_id=registration_id,
                until=until.isoformat(),
                granted_by=staff,
                granted_at=now,
                accounts_json=json.dumps(granted),
            )
        )
        acc: RecAccount = _get(s, RecAccount, reg.account_id)
        enqueue(
            s,
            acc.email,
            f"Pendaftaran {reg.registration_number} dibatalkan / Registration voided",
            f"{reg.registration_number}: pendaftaran ini dibatalkan oleh panitia seleksi.\n"
            f"{reg.registration_number}: this registration was voided by the selection "
            "committee.\n"
            f"Alasan / reason: {reason}\n",
            "status:void",
            now,
        )
        _notify_grant(s, granted, until, now)
        s.flush()
        audit.append(
            s.connection(),
            "rec_void",
            staff,
            reason=reason,
            data={
                "registration": registration_id,
                "agency": agency_code(s, agency_id),
                "number": reg.registration_number,
                "was": was,
                "reason": reason,
                "nik_hash": reg.nik_hash,
                "grant_until": until.isoformat(),
                # Who may use the grant (account ids; empty: nobody).
                "grant_accounts": granted,
                **({} if granted else {"grant_nobody": True}),
                **left,
            },
            at=now,
        )
        s.commit()
        s.refresh(reg)
        return reg


def granted_to(engine: Engine, registration_id: int) -> list[str]:
    """The e-mails of the accounts the late registration given when the
    registration was voided is for (empty: for nobody, or no grant)."""
    with Session(engine) as s:
        grant = s.execute(
            select(RecNikGrant).where(col(RecNikGrant.registration_id) == registration_id)
        ).scalar()
        if grant is None:
            return []
        ids = grant_accounts(grant)
        if not ids:
            return []
        return list(
            s.execute(
                select(col(RecAccount.email))
                .where(col(RecAccount.id).in_(ids))
                .order_by(col(RecAccount.email))
            ).scalars()
        )


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
