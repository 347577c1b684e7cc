"""Voiding a fraudulent registration (someone else's NIK), and the late
registration it gives the NIK's owner.

A verifier of the registration's agency, or an admin, voids it with a
reason: its NIK is free again (``docs/recruitment.md``, *One NIK, one
submitted registration*); a scheduled one leaves its exam session unless the
exam has begun for it; a grant (``rec_nik_grant``) lets the accounts it
names register after the window. Part of the recruitment operations
(:mod:`exam_server.recruitment.service`).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from exam_server import audit
from exam_server.db import writer
from exam_server.models import Attempt, Candidate, CheckIn, ExamSession
from exam_server.recruitment.accounts import enqueue
from exam_server.recruitment.periods import (
    Refused,
    _get,
    agency_code,
    authorise,
    today,
)
from exam_server.recruitment.registrations import grant_accounts
from exam_server.recruitment.verification import _agency_of, _recused
from exam_server.sites.models import SiteAttempt, SiteSessionKey
from recruitment.announcement import Schedule
from recruitment.models import (
    RecAccount,
    RecNikGrant,
    RecPeriod,
    RecRegistration,
)
from recruitment.states import (
    Status,
    step,
)

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


def _draft_holders(s: Session, reg: RecRegistration) -> list[int]:
    """The accounts whose draft in the period holds ``reg``'s NIK now, other
    than ``reg``'s own account (the owner who kept a draft ready while the
    NIK was held)."""
    return sorted(
        set(
            s.execute(
                select(col(RecRegistration.account_id)).where(
                    col(RecRegistration.period_id) == reg.period_id,
                    col(RecRegistration.nik_hash) == reg.nik_hash,
                    col(RecRegistration.status) == Status.DRAFT.value,
                    col(RecRegistration.account_id) != reg.account_id,
                )
            ).scalars()
        )
    )


def _granted(s: Session, reg: RecRegistration, owner_email: str) -> list[int]:
    """The accounts a void's late registration is for: the account whose
    e-mail the voiding staff named (who spoke with the owner), alone; when
    they named none, the draft holders (:func:`_draft_holders`). Never the
    voided registration's own account. Refused: a named e-mail no account
    has, the voided account's, or an account that already has a registration
    in the period past its draft (it cannot register this NIK: one
    registration per account and period; naming it would leave the grant
    unusable and the owner out, found by a review).

    Why the named account alone: a squatter who saved a draft with the NIK
    from a spare account before the void would otherwise be granted too,
    submit first, and hold the NIK again (found by a review); staff who know
    the owner close that by naming them. A wrong name is put right with
    :func:`change_grant`."""
    if not owner_email:
        return _draft_holders(s, reg)
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
    own = s.execute(
        select(col(RecRegistration.status)).where(
            col(RecRegistration.period_id) == reg.period_id,
            col(RecRegistration.account_id) == named,
            col(RecRegistration.status).not_in((Status.DRAFT.value, Status.VOID.value)),
        )
    ).first()
    if own is not None:
        raise Refused(
            "akun itu sudah punya pendaftaran yang dikirim di periode ini: akun itu tidak dapat "
            "mendaftar dengan NIK ini",
            "that account already has a submitted registration in this period: it cannot "
            "register with this NIK",
        )
    return [int(named)]


def draft_holders_of(engine: Engine, registration_id: int) -> list[str]:
    """The e-mails of the accounts whose draft holds the registration's NIK
    now: what a void names when staff give no owner, and leaves out when
    they do (shown on the staff page before the void)."""
    with Session(engine) as s:
        reg: RecRegistration = _get(s, RecRegistration, registration_id)
        ids = _draft_holders(s, reg)
        return _emails(s, ids)


def _emails(s: Session, account_ids: list[int]) -> list[str]:
    if not account_ids:
        return []
    return list(
        s.execute(
            select(col(RecAccount.email))
            .where(col(RecAccount.id).in_(account_ids))
            .order_by(col(RecAccount.email))
        ).scalars()
    )


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


def _check_until(grant_until: dt.date | None, now: float) -> None:
    """A late registration's last day given by staff is not in the past."""
    if grant_until is not None and grant_until < today(now):
        raise Refused(
            "batas pendaftaran susulan tidak boleh sebelum hari ini",
            "the late registration's last day cannot be before today",
        )


def _voider(s: Session, registration_id: int, staff: str) -> tuple[RecRegistration, int]:
    """The registration (locked) and its agency, once ``staff`` may void it
    (and change its grant): a verifier of its agency not recused from it, or
    an admin (a national one for any agency)."""
    reg: RecRegistration = _get(s, RecRegistration, registration_id, lock=True)
    agency_id = _agency_of(s, reg)
    authorise(s, staff, "void", agency_id)
    if _recused(s, registration_id, staff):
        raise Refused(
            "Anda direkusal dari pendaftaran ini", "you are recused from this registration"
        )
    return reg, agency_id


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
    for the accounts :func:`_granted` names: the account of ``owner_email``
    alone (staff who spoke with the owner), or, when staff name none, the
    accounts whose draft holds the NIK now. So the NIK's owner can save and
    submit theirs even after the window closed; nobody else may use it, and
    with no such account it lets nobody register (:func:`granted_to` tells
    the page; :func:`change_grant` puts a wrong one right). Each granted
    account is told by e-mail. A verifier of its agency (not recused) or an
    admin (a national one for any agency) does it, with a reason; audited as
    ``rec_void`` (with the NIK hash, the grant's last day and its account
    ids). Its frozen form, number and receipt stay as evidence. A scheduled
    registration leaves its exam session in the same transaction, unless its
    exam has begun (:func:`_leave_session` refuses)."""
    reason = reason.strip()
    owner_email = owner_email.strip().lower()
    if not reason:
        raise Refused("alasan pembatalan wajib diisi", "a reason for voiding is required")
    _check_until(grant_until, now)
    with Session(writer(engine)) as s:
        reg, agency_id = _voider(s, registration_id, staff)
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
        return [] if grant is None else _emails(s, grant_accounts(grant))


def grant_of(engine: Engine, registration_id: int) -> dict[str, Any] | None:
    """A voided registration's late registration as its staff page shows it:
    ``emails`` (whom it is for; empty: nobody) and ``until`` (its last day,
    YYYY-MM-DD); None without one."""
    with Session(engine) as s:
        grant = s.execute(
            select(RecNikGrant).where(col(RecNikGrant.registration_id) == registration_id)
        ).scalar()
        if grant is None:
            return None
        return {"emails": _emails(s, grant_accounts(grant)), "until": grant.until}


#: The audit event of a changed late registration (:func:`change_grant`).
GRANT_CHANGE = "rec_grant_change"


def change_grant(
    engine: Engine,
    registration_id: int,
    staff: str,
    reason: str,
    now: float,
    grant_until: dt.date | None = None,
    owner_email: str = "",
) -> list[str]:
    """Put right the late registration a void gave (staff named the wrong
    account, or the owner needs more days): its accounts become the named
    account alone, or the draft holders now when none is named
    (:func:`_granted`'s rule), and its last day ``grant_until`` (default:
    :func:`default_grant_until` from now; not in the past). Who may void may
    do it, with a reason; audited as ``rec_grant_change`` (the accounts and
    last day before and after). Each account it is now for is told by
    e-mail. Returns their e-mails."""
    reason = reason.strip()
    owner_email = owner_email.strip().lower()
    if not reason:
        raise Refused("alasan perubahan wajib diisi", "a reason for the change is required")
    _check_until(grant_until, now)
    with Session(writer(engine)) as s:
        reg, agency_id = _voider(s, registration_id, staff)
        grant = s.execute(
            select(RecNikGrant).where(col(RecNikGrant.registration_id) == registration_id)
        ).scalar()
        if reg.status != Status.VOID.value or grant is None:
            raise Refused(
                "pendaftaran ini tidak dibatalkan dengan pendaftaran susulan",
                "this registration was not voided with a late registration",
            )
        period: RecPeriod = _get(s, RecPeriod, reg.period_id)
        until = grant_until or default_grant_until(
            Schedule.model_validate_json(period.schedule_json), now
        )
        before, before_until = grant_accounts(grant), grant.until
        granted = _granted(s, reg, owner_email)
        grant.accounts_json = json.dumps(granted)
        grant.until = until.isoformat()
        s.add(grant)
        _notify_grant(s, granted, until, now)
        s.flush()
        audit.append(
            s.connection(),
            GRANT_CHANGE,
            staff,
            reason=reason,
            data={
                "registration": registration_id,
                "agency": agency_code(s, agency_id),
                "number": reg.registration_number,
                "nik_hash": reg.nik_hash,
                "from_accounts": before,
                "from_until": before_until,
                "grant_accounts": granted,
                "grant_until": until.isoformat(),
                **({} if granted else {"grant_nobody": True}),
            },
            at=now,
        )
        s.commit()
        return _emails(s, granted)
