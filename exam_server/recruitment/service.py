"""Recruitment's database operations: one function per thing a person does.

Every function runs one transaction (``Session(writer(engine))``) and writes
its change to the audit chain (``exam_server.audit.append``) in that same
transaction; the rules come from the ``recruitment`` package (state machines,
eligibility, NIK, documents, scheduling). The flow ends in the exam server's
own tables: an approved need becomes ``exam_formation`` rows
(``exam_server.scheduling.create_formations``), scheduling writes
``exam_candidate`` rows into ``exam_session``. Times are epoch seconds from
the caller's clock; "today" is the date in Western Indonesia (WIB), where the
periods' dates are announced.

No function logs or stores a NIK: it is checked, hashed and given to the
registry adapter, then dropped.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import case, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from exam_server import audit
from exam_server.auth import hash_password, verify_password
from exam_server.db import writer
from exam_server.exams import ExamData, exam_policy
from exam_server.models import Candidate, Exam, ExamSession, Formation, Room, Site
from exam_server.recruitment import forms as f
from exam_server.recruitment.forms import CODE_RE, FieldError, FormError
from exam_server.scheduling import SetupError, create_exam, create_formations
from recruitment import announcement as ann
from recruitment import documents as docs
from recruitment import eligibility as elig
from recruitment.models import (
    RecAccount,
    RecAnnouncement,
    RecAppeal,
    RecConflict,
    RecDocument,
    RecFormation,
    RecNeed,
    RecOutbox,
    RecPeriod,
    RecRegistration,
    RecSlot,
    RecStaff,
    RecVerification,
)
from recruitment.nik import NikError, nik_hash, parse_nik
from recruitment.receipts import Finding, make_receipt
from recruitment.registry import RegistryAdapter
from recruitment.scheduling import UNPLACED, assign
from recruitment.states import (
    NeedStatus,
    Status,
    check_second_person,
    step,
    step_need,
)

WIB = ZoneInfo("Asia/Jakarta")
STAFF_ROLES = ("operator", "approver", "verifier", "admin")


class NotFound(LookupError):
    pass


class Refused(ValueError):
    """An action refused, with the reason in Bahasa Indonesia and English."""

    def __init__(self, text_id: str, text_en: str) -> None:
        super().__init__(f"{text_id} / {text_en}")
        self.text_id = text_id
        self.text_en = text_en


def today(now: float) -> dt.date:
    return dt.datetime.fromtimestamp(now, WIB).date()


def _get(s: Session, model: Any, ident: int, *, lock: bool = False) -> Any:
    """The row, or :class:`NotFound`. lock: ``SELECT … FOR UPDATE`` (PostgreSQL;
    SQLite's writer transactions hold the database lock already), so two
    requests moving the same registration or need through its states queue up
    and the second sees the first's result."""
    row = s.get(model, ident, with_for_update=lock)
    if row is None:
        raise NotFound(f"no {model.__tablename__} {ident}")
    return row


# -- periods and staff --------------------------------------------------------------------


@dataclass(frozen=True)
class PeriodView:
    id: int
    code: str
    name: str
    agency: str
    rules: elig.EligibilityRules
    schedule: ann.Schedule
    exam_code: str


def _view(p: RecPeriod) -> PeriodView:
    assert p.id is not None
    return PeriodView(
        p.id,
        p.code,
        p.name,
        p.agency,
        elig.EligibilityRules.from_json(p.rules_json),
        ann.Schedule.model_validate_json(p.schedule_json),
        p.exam_code,
    )


def create_period(
    engine: Engine,
    code: str,
    name: str,
    agency: str,
    schedule: ann.Schedule,
    rules: elig.EligibilityRules | None = None,
    exam_code: str = "",
    actor: str = "admin",
) -> int:
    if not CODE_RE.match(code):
        raise ValueError(f"period code {code!r}: 1-30 letters, digits, '.', '_' or '-'")
    rules = rules or elig.EligibilityRules.default_2024()
    with Session(writer(engine)) as s:
        p = RecPeriod(
            code=code,
            name=name,
            agency=agency,
            rules_json=rules.to_json(),
            schedule_json=schedule.model_dump_json(),
            exam_code=exam_code,
        )
        s.add(p)
        s.flush()
        audit.append(
            s.connection(), "rec_period", actor, data={"period": code, "rules": rules.version}
        )
        s.commit()
        assert p.id is not None
        return p.id


def set_schedule(
    engine: Engine, period_id: int, schedule: ann.Schedule, actor: str, now: float
) -> None:
    """Change a period's dates (audited with the old and new schedule). The
    public sees it when the announcement is published again, with what changed."""
    with Session(writer(engine)) as s:
        period: RecPeriod = _get(s, RecPeriod, period_id, lock=True)
        old = json.loads(period.schedule_json)
        period.schedule_json = schedule.model_dump_json()
        s.add(period)
        s.flush()
        audit.append(
            s.connection(),
            "rec_schedule_change",
            actor,
            data={"period": period.code, "old": old, "new": schedule.model_dump(mode="json")},
            at=now,
        )
        s.commit()


def current_period(engine: Engine) -> PeriodView | None:
    """The newest period (the pages serve one period at a time)."""
    with Session(engine) as s:
        p = s.execute(select(RecPeriod).order_by(col(RecPeriod.id).desc())).scalars().first()
        return _view(p) if p is not None else None


def period_by_code(engine: Engine, code: str) -> PeriodView:
    with Session(engine) as s:
        p = s.execute(select(RecPeriod).where(col(RecPeriod.code) == code)).scalars().first()
        if p is None:
            raise NotFound(f"no period {code}")
        return _view(p)


def create_staff(
    engine: Engine, username: str, name: str, role: str, password: str, scrypt_n: int = 2**14
) -> int:
    if role not in STAFF_ROLES:
        raise ValueError(f"role must be one of {STAFF_ROLES}")
    if not CODE_RE.match(username):
        raise ValueError("username: 1-30 letters, digits, '.', '_' or '-'")
    if len(password) < 10:
        raise ValueError("password: at least 10 characters")
    digest = hash_password(password, n=scrypt_n)
    with Session(writer(engine)) as s:
        st = RecStaff(username=username, name=name, role=role, password_hash=digest)
        s.add(st)
        s.flush()
        audit.append(
            s.connection(), "rec_staff", "admin", data={"username": username, "role": role}
        )
        s.commit()
        assert st.id is not None
        return st.id


def staff_list(engine: Engine) -> list[dict[str, str]]:
    with Session(engine) as s:
        rows = s.execute(select(RecStaff).order_by(col(RecStaff.username))).scalars()
        return [{"username": r.username, "role": r.role, "name": r.name} for r in rows]


def set_staff_password(engine: Engine, username: str, password_hash: str) -> None:
    """Replace an agency account's password (audited; :class:`NotFound` if none)."""
    with Session(writer(engine)) as s:
        st = s.execute(select(RecStaff).where(col(RecStaff.username) == username)).scalars().first()
        if st is None:
            raise NotFound(f"no recruitment account {username}")
        st.password_hash = password_hash
        s.add(st)
        s.flush()
        audit.append(s.connection(), "rec_staff_password", "admin", data={"username": username})
        s.commit()


def staff_login(engine: Engine, username: str, password: str, dummy_hash: str) -> RecStaff | None:
    """The account if the password is right (a hash is computed either way:
    the time does not tell whether the username exists). Blocking (scrypt)."""
    with Session(engine) as s:
        st = s.execute(select(RecStaff).where(col(RecStaff.username) == username)).scalars().first()
        ok = verify_password(password, st.password_hash if st else dummy_hash)
        return st if st is not None and ok else None


def staff_by_id(engine: Engine, staff_id: int) -> RecStaff | None:
    with Session(engine) as s:
        return s.get(RecStaff, staff_id)


# -- needs → formations -------------------------------------------------------------------


def parse_need(form: dict[str, Any], rules: elig.EligibilityRules) -> dict[str, Any]:
    """A need's fields from a form; :class:`FormError` naming each bad field."""
    err = FormError()
    code = f.text(form, "code", err, max_len=30)
    if code and not CODE_RE.match(code):
        err.add(
            "code",
            "kode: huruf, angka, '.', '_' atau '-'",
            "code: letters, digits, '.', '_' or '-'",
        )
    out: dict[str, Any] = {
        "code": code,
        "unit": f.text(form, "unit", err),
        "position": f.text(form, "position", err),
        "location": f.text(form, "location", err),
        "education_level": f.choice(form, "education_level", err, rules.education_levels),
        "max_age": f.integer(form, "max_age", err, 18, 70),
        "other_requirements": f.text(form, "other_requirements", err, max_len=2000, required=False),
    }
    majors_text = f.text(form, "majors", err, max_len=2000, required=False)
    out["majors"] = [m.strip() for m in majors_text.replace("\n", ";").split(";") if m.strip()]
    allocation: dict[str, int] = {}
    for cat in rules.categories:
        raw = str(form.get(f"alloc_{cat}", "") or "0").strip() or "0"
        try:
            n = int(raw)
        except ValueError:
            err.add(f"alloc_{cat}", "harus bilangan bulat", "must be a whole number")
            continue
        if n < 0 or n > 10_000:
            err.add(f"alloc_{cat}", "antara 0 dan 10000", "between 0 and 10000")
        elif n:
            allocation[cat] = n
    if not allocation and not any(e.field.startswith("alloc_") for e in err.errors):
        err.add("alloc_general", "paling sedikit satu formasi", "at least one opening")
    out["allocation"] = allocation
    out["openings"] = sum(allocation.values())
    err.raise_if_any()
    return out


def create_need(
    engine: Engine, period_id: int, actor: str, fields: dict[str, Any], now: float
) -> int:
    with Session(writer(engine)) as s:
        need = RecNeed(
            period_id=period_id,
            code=fields["code"],
            unit=fields["unit"],
            position=fields["position"],
            location=fields["location"],
            openings=fields["openings"],
            education_level=fields["education_level"],
            majors_json=json.dumps(fields["majors"], ensure_ascii=False),
            max_age=fields["max_age"],
            other_requirements=fields["other_requirements"],
            allocation_json=json.dumps(fields["allocation"], sort_keys=True),
            status=NeedStatus.DRAFT,
            created_by=actor,
            updated_at=now,
        )
        s.add(need)
        try:
            s.flush()
        except IntegrityError:
            s.rollback()
            raise FormError(
                [_fe("code", "kode kebutuhan sudah dipakai", "this need code is taken")]
            ) from None
        audit.append(
            s.connection(), "rec_need_create", actor, data={"need": need.id, **fields}, at=now
        )
        s.commit()
        assert need.id is not None
        return need.id


def update_need(
    engine: Engine, need_id: int, actor: str, fields: dict[str, Any], now: float
) -> None:
    """Change a draft or returned need (its code stays); audited with the new fields."""
    with Session(writer(engine)) as s:
        need: RecNeed = _get(s, RecNeed, need_id, lock=True)
        if need.status not in (NeedStatus.DRAFT, NeedStatus.RETURNED):
            raise Refused(
                "hanya kebutuhan draf atau yang dikembalikan dapat diubah",
                "only a draft or returned need can be changed",
            )
        if fields["code"] != need.code:
            raise FormError([_fe("code", "kode tidak dapat diubah", "the code cannot change")])
        need.unit, need.position, need.location = (
            fields["unit"],
            fields["position"],
            fields["location"],
        )
        need.openings, need.education_level = fields["openings"], fields["education_level"]
        need.majors_json = json.dumps(fields["majors"], ensure_ascii=False)
        need.max_age, need.other_requirements = fields["max_age"], fields["other_requirements"]
        need.allocation_json = json.dumps(fields["allocation"], sort_keys=True)
        need.updated_at = now
        s.add(need)
        s.flush()
        audit.append(
            s.connection(), "rec_need_update", actor, data={"need": need_id, **fields}, at=now
        )
        s.commit()


def need_form_values(need: dict[str, Any], rules: elig.EligibilityRules) -> dict[str, str]:
    """A need (as :func:`needs` gives it) as the text of its form, to edit it."""
    values = {
        k: str(need[k])
        for k in ("code", "unit", "position", "location", "education_level", "max_age")
    }
    values["other_requirements"] = need["other_requirements"]
    values["majors"] = "; ".join(need["majors"])
    for cat in rules.categories:
        values[f"alloc_{cat}"] = str(need["allocation"].get(cat, 0))
    values["need_id"] = str(need["id"])
    return values


def _fe(field: str, text_id: str, text_en: str) -> FieldError:
    return FieldError(field, text_id, text_en)


def submit_need(engine: Engine, need_id: int, actor: str, now: float) -> None:
    with Session(writer(engine)) as s:
        need: RecNeed = _get(s, RecNeed, need_id, lock=True)
        need.status = step_need(need.status, "submit")
        need.submitted_by, need.updated_at = actor, now
        s.add(need)
        s.flush()
        audit.append(s.connection(), "rec_need_submit", actor, data={"need": need_id}, at=now)
        s.commit()


def formation_code(need_code: str, category: str) -> str:
    return f"{need_code}-{category.upper()}"


def decide_need(
    engine: Engine, need_id: int, actor: str, approve: bool, reason: str, now: float
) -> list[str]:
    """Approve (making one exam formation per allocated category; returns their
    codes) or return a submitted need with a reason. The approver must not be
    the account that submitted it."""
    with Session(engine) as s:
        need: RecNeed = _get(s, RecNeed, need_id)
        period: RecPeriod = _get(s, RecPeriod, need.period_id)
        step_need(need.status, "approve" if approve else "return")
        check_second_person(need.submitted_by, actor)
        allocation: dict[str, int] = json.loads(need.allocation_json)
    if not approve and not reason.strip():
        raise Refused("alasan pengembalian wajib diisi", "a reason for returning is required")
    codes = [formation_code(need.code, c) for c in sorted(allocation)]
    if approve:
        # The exam server's own import makes the formations (its rules for codes
        # and openings); a re-run after a failure finds them made and goes on.
        with Session(engine) as s:
            existing = set(
                s.execute(
                    select(col(Formation.code)).where(col(Formation.code).in_(codes))
                ).scalars()
            )
        rows = [
            {
                "code": formation_code(need.code, c),
                "agency": period.agency,
                "position": need.position,
                "location": need.location,
                "openings": n,
            }
            for c, n in sorted(allocation.items())
            if formation_code(need.code, c) not in existing
        ]
        if rows:
            try:
                create_formations(engine, rows)
            except SetupError as exc:
                raise Refused(
                    f"formasi tidak dapat dibuat: {exc}", f"formations cannot be made: {exc}"
                ) from None
    with Session(writer(engine)) as s:
        need = _get(s, RecNeed, need_id, lock=True)
        need.status = step_need(need.status, "approve" if approve else "return")
        need.decided_by, need.decision_reason, need.updated_at = actor, reason.strip(), now
        s.add(need)
        if approve:
            ids = dict(
                s.execute(
                    select(col(Formation.code), col(Formation.id)).where(
                        col(Formation.code).in_(codes)
                    )
                ).all()
            )
            for c, n in sorted(allocation.items()):
                s.add(
                    RecFormation(
                        need_id=need_id,
                        formation_id=ids[formation_code(need.code, c)],
                        category=c,
                        openings=n,
                    )
                )
        s.flush()
        audit.append(
            s.connection(),
            "rec_need_approve" if approve else "rec_need_return",
            actor,
            reason=reason.strip(),
            data={"need": need_id, "formations": codes if approve else []},
            at=now,
        )
        s.commit()
    return codes if approve else []


def needs(engine: Engine, period_id: int) -> list[dict[str, Any]]:
    with Session(engine) as s:
        rows = s.execute(
            select(RecNeed).where(col(RecNeed.period_id) == period_id).order_by(col(RecNeed.code))
        ).scalars()
        return [
            {
                **r.model_dump(),
                "majors": json.loads(r.majors_json),
                "allocation": json.loads(r.allocation_json),
            }
            for r in rows
        ]


def formations(engine: Engine, period_id: int) -> list[dict[str, Any]]:
    """The period's formations as announced (approved needs × categories)."""
    with Session(engine) as s:
        rows = s.execute(
            select(RecFormation, RecNeed, Formation)
            .join(RecNeed, col(RecNeed.id) == col(RecFormation.need_id))
            .join(Formation, col(Formation.id) == col(RecFormation.formation_id))
            .where(col(RecNeed.period_id) == period_id)
            .order_by(col(Formation.code))
        ).all()
        return [
            {
                "id": rf.id,
                "code": f.code,
                "unit": n.unit,
                "position": n.position,
                "location": n.location,
                "category": rf.category,
                "openings": rf.openings,
                "education_level": n.education_level,
                "majors": json.loads(n.majors_json),
                "max_age": n.max_age,
                "other_requirements": n.other_requirements,
            }
            for rf, n, f in rows
        ]


def requirement_of(formation: dict[str, Any]) -> elig.Requirement:
    return elig.Requirement(
        education_level=formation["education_level"],
        majors=tuple(formation["majors"]),
        max_age=formation["max_age"],
        category=formation["category"],
    )


# -- announcements ------------------------------------------------------------------------


def publish_announcement(
    engine: Engine, period_id: int, key: Ed25519PrivateKey, actor: str, now: float
) -> int:
    """Sign and keep a new version of the period's announcement if anything
    changed since the last one; returns the version (the last one when nothing changed)."""
    with Session(engine) as s:
        period: RecPeriod = _get(s, RecPeriod, period_id)
        pv = _view(period)
    forms = [{k: v for k, v in f.items() if k != "id"} for f in formations(engine, period_id)]
    doc = ann.build_document(
        {"code": pv.code, "name": pv.name, "agency": pv.agency, "rules_version": pv.rules.version},
        pv.schedule,
        forms,
    )
    with Session(writer(engine)) as s:
        last = (
            s.execute(
                select(RecAnnouncement)
                .where(col(RecAnnouncement.period_id) == period_id)
                .order_by(col(RecAnnouncement.version).desc())
            )
            .scalars()
            .first()
        )
        old = json.loads(last.document_json) if last is not None else None
        if old == json.loads(json.dumps(doc)):
            assert last is not None
            return last.version
        data, signature, fp = ann.sign(doc, key)
        version = (last.version if last else 0) + 1
        s.add(
            RecAnnouncement(
                period_id=period_id,
                version=version,
                published_at=now,
                published_by=actor,
                document_json=data.decode("utf-8"),
                signature=signature,
                key_fingerprint=fp,
                changes_json=json.dumps(ann.changes(old, doc), ensure_ascii=False),
            )
        )
        s.flush()
        audit.append(
            s.connection(),
            "rec_announce",
            actor,
            data={
                "period": pv.code,
                "version": version,
                "sha256": hashlib.sha256(data).hexdigest(),
            },
            at=now,
        )
        s.commit()
        return version


@dataclass(frozen=True)
class VersionInfo:
    version: int
    published_at: float


def announcement_versions(engine: Engine, period_id: int) -> list[VersionInfo]:
    """Every published version's number and time, newest first (no documents)."""
    with Session(engine) as s:
        rows = s.execute(
            select(col(RecAnnouncement.version), col(RecAnnouncement.published_at))
            .where(col(RecAnnouncement.period_id) == period_id)
            .order_by(col(RecAnnouncement.version).desc())
        ).all()
        return [VersionInfo(int(v), float(t)) for v, t in rows]


def announcement(
    engine: Engine, period_id: int, version: int | None = None
) -> RecAnnouncement | None:
    """One published version (None: the newest), or None if there is none."""
    with Session(engine) as s:
        q = select(RecAnnouncement).where(col(RecAnnouncement.period_id) == period_id)
        if version is not None:
            q = q.where(col(RecAnnouncement.version) == version)
        return s.execute(q.order_by(col(RecAnnouncement.version).desc()).limit(1)).scalars().first()


# -- outbox -------------------------------------------------------------------------------


def enqueue(s: Session, to: str, subject: str, body: str, kind: str, now: float) -> None:
    """Store a message in the caller's transaction (sent later by ``outbox.send_pending``)."""
    s.add(RecOutbox(to_addr=to, subject=subject[:300], body=body, kind=kind, created_at=now))


@dataclass(frozen=True)
class OutboxStatus:
    unsent: int  # stored, not yet accepted by the SMTP server
    failing: list[dict[str, Any]]  # the latest refused messages: to, subject, attempts, error


def outbox_status(engine: Engine, limit: int = 10) -> OutboxStatus:
    with Session(engine) as s:
        unsent = s.execute(
            select(func.count()).select_from(RecOutbox).where(col(RecOutbox.sent_at).is_(None))
        ).scalar_one()
        rows = s.execute(
            select(RecOutbox)
            .where(col(RecOutbox.sent_at).is_(None), col(RecOutbox.last_error) != "")
            .order_by(col(RecOutbox.id).desc())
            .limit(limit)
        ).scalars()
        failing = [
            {"to": r.to_addr, "subject": r.subject, "attempts": r.attempts, "error": r.last_error}
            for r in rows
        ]
        return OutboxStatus(int(unsent), failing)


# -- candidate accounts -------------------------------------------------------------------


def signup(
    engine: Engine,
    email: str,
    name: str,
    password_hash: str,
    verify_link: Callable[[int], str],
    now: float,
) -> int | None:
    """A new account and its verification message; None if the email is taken
    (the page says the same either way: it does not tell who has an account)."""
    with Session(writer(engine)) as s:
        if (
            s.execute(select(col(RecAccount.id)).where(col(RecAccount.email) == email)).first()
            is not None
        ):
            return None
        acc = RecAccount(email=email, name=name, password_hash=password_hash, created_at=now)
        s.add(acc)
        try:
            s.flush()
        except IntegrityError:
            s.rollback()
            return None
        assert acc.id is not None
        _verification_message(s, email, name, verify_link(acc.id), now)
        audit.append(
            s.connection(), "rec_signup", f"account:{acc.id}", data={"account": acc.id}, at=now
        )
        s.commit()
        return acc.id


def _verification_message(s: Session, email: str, name: str, link: str, now: float) -> None:
    enqueue(
        s,
        email,
        "Verifikasi email pendaftaran / Verify your registration email",
        f"Yth. {name},\n\nBuka tautan ini untuk memverifikasi email Anda:\n{link}\n\n"
        f"Open this link to verify your email:\n{link}\n",
        "verify_email",
        now,
    )


#: A new verification link is sent at most this often (seconds) per account.
RESEND_SECONDS = 600.0


def resend_verification(
    engine: Engine, account_id: int, verify_link: Callable[[int], str], now: float
) -> bool:
    """A new link for an account not yet verified (its owner logged in with the
    right password), unless one went out in the last ``RESEND_SECONDS``."""
    with Session(writer(engine)) as s:
        acc: RecAccount = _get(s, RecAccount, account_id, lock=True)
        if acc.email_verified_at is not None:
            return False
        recent = s.execute(
            select(col(RecOutbox.id)).where(
                col(RecOutbox.to_addr) == acc.email,
                col(RecOutbox.kind) == "verify_email",
                col(RecOutbox.created_at) > now - RESEND_SECONDS,
            )
        ).first()
        if recent is not None:
            return False
        _verification_message(s, acc.email, acc.name, verify_link(account_id), now)
        s.commit()
        return True


def verify_email(engine: Engine, account_id: int, now: float) -> None:
    with Session(writer(engine)) as s:
        acc: RecAccount = _get(s, RecAccount, account_id, lock=True)
        if acc.email_verified_at is None:
            acc.email_verified_at = now
            s.add(acc)
            s.flush()
            audit.append(s.connection(), "rec_email_verified", f"account:{account_id}", at=now)
        s.commit()


def password_fingerprint(password_hash: str) -> str:
    """A short digest of the stored hash, put in password-reset links: once the
    password changes, every link made before stops working (single use)."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def request_password_reset(
    engine: Engine, email: str, reset_link: Callable[[int, str], str], now: float
) -> None:
    """Email a reset link if ``email`` has an account (the page says the same
    either way)."""
    with Session(writer(engine)) as s:
        acc = s.execute(select(RecAccount).where(col(RecAccount.email) == email)).scalars().first()
        if acc is None or acc.id is None:
            return
        link = reset_link(acc.id, password_fingerprint(acc.password_hash))
        enqueue(
            s,
            acc.email,
            "Atur ulang kata sandi / Reset your password",
            f"Yth. {acc.name},\n\nBuka tautan ini (berlaku satu jam) untuk membuat kata sandi "
            f"baru:\n{link}\n\nOpen this link (valid for one hour) to choose a new password:"
            f"\n{link}\n\nAbaikan bila Anda tidak memintanya. / Ignore it if you did not ask.\n",
            "password_reset",
            now,
        )
        audit.append(s.connection(), "rec_reset_requested", f"account:{acc.id}", at=now)
        s.commit()


def reset_password(
    engine: Engine, account_id: int, fingerprint: str, password_hash: str, now: float
) -> bool:
    """Set a new password if the link's fingerprint still matches (False: the
    link was used already or the password changed since)."""
    with Session(writer(engine)) as s:
        acc = s.get(RecAccount, account_id, with_for_update=True)
        if acc is None or not hmac.compare_digest(
            password_fingerprint(acc.password_hash), fingerprint
        ):
            return False
        acc.password_hash = password_hash
        # The link reached the mailbox: the address is the person's.
        acc.email_verified_at = acc.email_verified_at or now
        s.add(acc)
        s.flush()
        audit.append(s.connection(), "rec_password_reset", f"account:{account_id}", at=now)
        s.commit()
        return True


def account_login(engine: Engine, email: str, password: str, dummy_hash: str) -> RecAccount | None:
    """Blocking (scrypt); a hash is computed whether or not the email exists."""
    with Session(engine) as s:
        acc = s.execute(select(RecAccount).where(col(RecAccount.email) == email)).scalars().first()
        ok = verify_password(password, acc.password_hash if acc else dummy_hash)
        return acc if acc is not None and ok else None


def account(engine: Engine, account_id: int) -> RecAccount | None:
    with Session(engine) as s:
        return s.get(RecAccount, account_id)


# -- registration -------------------------------------------------------------------------


def registration_of(engine: Engine, period_id: int, account_id: int) -> RecRegistration | None:
    with Session(engine) as s:
        return (
            s.execute(
                select(RecRegistration).where(
                    col(RecRegistration.period_id) == period_id,
                    col(RecRegistration.account_id) == account_id,
                )
            )
            .scalars()
            .first()
        )


def documents_of(engine: Engine, registration_id: int) -> dict[str, RecDocument]:
    with Session(engine) as s:
        rows = s.execute(
            select(RecDocument).where(col(RecDocument.registration_id) == registration_id)
        ).scalars()
        return {d.kind: d for d in rows}


def parse_registration(
    form: dict[str, Any],
    period: PeriodView,
    forms: list[dict[str, Any]],
    locations: Sequence[str],
    now: float,
) -> dict[str, Any]:
    """The registration fields of a form, checked (NIK structure, dates,
    choices); :class:`FormError` naming each bad field. The NIK is returned
    only to be hashed and checked by the caller."""
    err = FormError()
    out: dict[str, Any] = {
        "name": f.text(form, "name", err),
        "birth_date": f.date(form, "birth_date", err),
        "sex": f.choice(form, "sex", err, ("M", "F")),
        "education_level": f.choice(form, "education_level", err, period.rules.education_levels),
        "major": f.text(form, "major", err),
        "formation": f.choice(form, "formation", err, [x["code"] for x in forms]),
        "test_location": f.choice(form, "test_location", err, locations),
        "accommodation": f.choice(
            form, "accommodation", err, list(period.rules.accommodations), required=False
        ),
    }
    nik_text = form.get("nik") if isinstance(form.get("nik"), str) else ""
    try:
        nik = parse_nik(str(nik_text), today(now))
    except NikError as exc:
        err.add("nik", exc.text_id, exc.text_en)
    else:
        if out["birth_date"] is not None and nik.birth_date != out["birth_date"]:
            err.add(
                "birth_date",
                "tidak sesuai tanggal lahir dalam NIK",
                "does not match the birth date in the NIK",
            )
        if out["sex"] and nik.sex != out["sex"]:
            err.add(
                "sex", "tidak sesuai jenis kelamin dalam NIK", "does not match the sex in the NIK"
            )
    err.raise_if_any()
    out["nik"] = str(nik_text)
    return out


def save_registration(
    engine: Engine,
    period: PeriodView,
    account_id: int,
    fields: dict[str, Any],
    nik_key: bytes,
    registry: RegistryAdapter,
    now: float,
) -> int:
    """Create or update the account's draft registration; refused once submitted,
    outside the registration window, or when the NIK is already registered in
    the period (by another account)."""
    if not period.schedule.registration_open(today(now)):
        raise Refused("pendaftaran tidak sedang dibuka", "registration is not open")
    h = nik_hash(nik_key, period.code, fields["nik"])
    identity = registry.check(fields["nik"], fields["name"], fields["birth_date"])
    forms = {f["code"]: f for f in formations(engine, period.id)}
    chosen = forms[fields["formation"]]
    values = {
        "nik_hash": h,
        "name": fields["name"],
        "birth_date": fields["birth_date"].isoformat(),
        "sex": fields["sex"],
        "education_level": fields["education_level"],
        "major": fields["major"],
        "category": chosen["category"],
        "rec_formation_id": chosen["id"],
        "test_location": fields["test_location"],
        "accommodation": fields["accommodation"],
        "identity_json": json.dumps(identity.to_dict()),
        "updated_at": now,
    }
    with Session(writer(engine)) as s:
        reg = (
            s.execute(
                select(RecRegistration).where(
                    col(RecRegistration.period_id) == period.id,
                    col(RecRegistration.account_id) == account_id,
                )
            )
            .scalars()
            .first()
        )
        other = s.execute(
            select(col(RecRegistration.account_id)).where(
                col(RecRegistration.period_id) == period.id, col(RecRegistration.nik_hash) == h
            )
        ).scalar()
        if other is not None and other != account_id:
            raise FormError(
                [
                    _fe(
                        "nik",
                        "NIK ini sudah terdaftar pada periode ini",
                        "this NIK is already registered in this period",
                    )
                ]
            )
        if reg is None:
            reg = RecRegistration(period_id=period.id, account_id=account_id, **values)
        else:
            if reg.status != Status.DRAFT:
                raise Refused(
                    "pendaftaran sudah dikirim dan dibekukan",
                    "the registration is submitted and frozen",
                )
            for k, v in values.items():
                setattr(reg, k, v)
        s.add(reg)
        try:
            s.flush()
        except IntegrityError:
            # Another request inserted first: the same NIK by another account,
            # or this account's own registration from a second tab.
            s.rollback()
            taken = s.execute(
                select(col(RecRegistration.account_id)).where(
                    col(RecRegistration.period_id) == period.id,
                    col(RecRegistration.nik_hash) == h,
                )
            ).scalar()
            if taken is not None and taken != account_id:
                raise FormError(
                    [
                        _fe(
                            "nik",
                            "NIK ini sudah terdaftar pada periode ini",
                            "this NIK is already registered in this period",
                        )
                    ]
                ) from None
            raise Refused(
                "pendaftaran ini baru saja disimpan dari halaman lain; muat ulang lalu simpan lagi",
                "this registration was just saved from another page; reload and save again",
            ) from None
        audit.append(
            s.connection(),
            "rec_registration_save",
            f"account:{account_id}",
            data={"registration": reg.id, "formation": chosen["code"], "identity_ok": identity.ok},
            at=now,
        )
        s.commit()
        assert reg.id is not None
        return reg.id


def upload_document(
    engine: Engine,
    store: docs.DocumentStore,
    period: PeriodView,
    registration_id: int,
    actor: str,
    kind: str,
    data: bytes,
    now: float,
    *,
    appeal: bool = False,
) -> RecDocument:
    """Check (type from the bytes, size) and store one document; a refused file
    stores nothing. A draft's documents can be replaced; after submit, only an
    appeal document can be added (``appeal``)."""
    if appeal:
        kind_rule = elig.DocumentKind(
            title_id="Dokumen sanggah", title_en="Appeal document", media=(docs.PDF,), max_kb=2048
        )
    else:
        if kind not in period.rules.documents:
            raise Refused("jenis dokumen tidak dikenal", "unknown document kind")
        kind_rule = period.rules.documents[kind]
    with Session(engine) as s:
        reg: RecRegistration = _get(s, RecRegistration, registration_id)
        wanted = Status.TMS if appeal else Status.DRAFT
        if reg.status != wanted:
            raise Refused(
                "dokumen tidak dapat diubah pada status ini",
                "documents cannot be changed in this state",
            )
    try:
        media = docs.check_upload(data, kind_rule.media, kind_rule.max_kb * 1024)
        data = docs.strip_metadata(data, media)
    except docs.DocumentError as exc:
        raise Refused(exc.text_id, exc.text_en) from None
    stored = store.put(data, media)
    with Session(writer(engine)) as s:
        row = (
            s.execute(
                select(RecDocument).where(
                    col(RecDocument.registration_id) == registration_id,
                    col(RecDocument.kind) == kind,
                )
            )
            .scalars()
            .first()
        )
        if row is None:
            row = RecDocument(registration_id=registration_id, kind=kind, sha256="", media_type="")
        row.sha256, row.media_type, row.size, row.uploaded_at = (
            stored.sha256,
            stored.media_type,
            stored.size,
            now,
        )
        s.add(row)
        s.flush()
        audit.append(
            s.connection(),
            "rec_document",
            actor,
            data={
                "registration": registration_id,
                "kind": kind,
                "sha256": stored.sha256,
                "size": stored.size,
            },
            at=now,
        )
        s.commit()
        s.refresh(row)
        return row


def eligibility_of(
    engine: Engine,
    period: PeriodView,
    reg: RecRegistration,
    forms: list[dict[str, Any]] | None = None,
    have: frozenset[str] | None = None,
) -> list[elig.Check]:
    """The registration's checks (``forms``/``have``: the period's formations
    and the kinds uploaded, when the caller has them already)."""
    by_id = {f["id"]: f for f in (forms if forms is not None else formations(engine, period.id))}
    if have is None:
        have = frozenset(documents_of(engine, reg.id or 0))
    applicant = elig.Applicant(
        birth_date=dt.date.fromisoformat(reg.birth_date),
        education_level=reg.education_level,
        major=reg.major,
        category=reg.category,
        accommodation=reg.accommodation,
        documents=have,
    )
    return elig.evaluate(period.rules, requirement_of(by_id[reg.rec_formation_id]), applicant)


@dataclass(frozen=True)
class CandidateView:
    """Everything the candidate's page shows, read in one go."""

    account: RecAccount | None
    registration: RecRegistration | None
    formations: list[dict[str, Any]]
    documents: dict[str, RecDocument]
    checks: list[elig.Check]
    verification: RecVerification | None
    appeal: RecAppeal | None
    locations: list[str]


def candidate_view(engine: Engine, period: PeriodView, account_id: int) -> CandidateView:
    reg = registration_of(engine, period.id, account_id)
    forms = formations(engine, period.id)
    docs_ = documents_of(engine, reg.id) if reg is not None and reg.id is not None else {}
    checks = eligibility_of(engine, period, reg, forms, frozenset(docs_)) if reg else []
    rid = reg.id if reg is not None else None
    return CandidateView(
        account=account(engine, account_id),
        registration=reg,
        formations=forms,
        documents=docs_,
        checks=checks,
        verification=last_verification(engine, rid) if rid is not None else None,
        appeal=appeal_of(engine, rid) if rid is not None else None,
        locations=test_locations(engine, period.id),
    )


def registration_number(period_code: str, registration_id: int) -> str:
    return f"{period_code}-{registration_id:07d}"


def submit_registration(
    engine: Engine, period: PeriodView, account_id: int, key: Ed25519PrivateKey, now: float
) -> RecRegistration:
    """Freeze the draft: every rule must pass; issues the registration number
    and a signed receipt. Submitting again returns the same registration
    (idempotent: a double click or a resent form changes nothing)."""
    reg = registration_of(engine, period.id, account_id)
    if reg is None:
        raise Refused("belum ada pendaftaran", "there is no registration yet")
    if reg.status != Status.DRAFT:
        return reg
    if not period.schedule.registration_open(today(now)):
        raise Refused("pendaftaran tidak sedang dibuka", "registration is not open")
    checks = eligibility_of(engine, period, reg)
    if elig.verdict(checks) is not True:
        bad = [c for c in checks if c.ok is not True]
        raise Refused(
            "belum memenuhi syarat: " + "; ".join(c.text_id for c in bad),
            "requirements not met: " + "; ".join(c.text_en for c in bad),
        )
    assert reg.id is not None
    docs_now = documents_of(engine, reg.id)
    number = registration_number(period.code, reg.id)
    frozen = {
        "registration_number": number,
        "period": period.code,
        "name": reg.name,
        "birth_date": reg.birth_date,
        "education_level": reg.education_level,
        "major": reg.major,
        "category": reg.category,
        "formation_id": reg.rec_formation_id,
        "test_location": reg.test_location,
        "accommodation": reg.accommodation,
        "documents": {k: d.sha256 for k, d in sorted(docs_now.items())},
        "rules_version": period.rules.version,
        "submitted_at": now,
    }
    data, receipt = make_receipt(frozen, key)
    with Session(writer(engine)) as s:
        row: RecRegistration = _get(s, RecRegistration, reg.id, lock=True)
        if row.status != Status.DRAFT:  # submitted meanwhile by another request
            # Detached as loaded (a rollback would expire it; the session's
            # close then ends the transaction and releases the row lock).
            s.expunge(row)
            return row
        row.status = step(row.status, "submit")
        row.registration_number = number
        row.submitted_at = now
        row.submitted_json = data.decode("utf-8")
        row.receipt = json.dumps(receipt, ensure_ascii=False)
        row.updated_at = now
        s.add(row)
        acc: RecAccount = _get(s, RecAccount, account_id)
        enqueue(
            s,
            acc.email,
            f"Pendaftaran {number} diterima / Registration {number} received",
            f"Nomor pendaftaran / registration number: {number}\n"
            "Pendaftaran Anda telah dikirim dan akan diverifikasi.\n"
            "Your registration is submitted and will be verified.\n",
            "submitted",
            now,
        )
        s.flush()
        audit.append(
            s.connection(),
            "rec_submit",
            f"account:{account_id}",
            data={
                "registration": reg.id,
                "number": number,
                "sha256": hashlib.sha256(data).hexdigest(),
            },
            at=now,
        )
        s.commit()
        s.refresh(row)
        return row


# -- verification -------------------------------------------------------------------------


def _recused_ids(staff: str) -> Any:
    """The registrations ``staff`` declared a conflict with (a subquery)."""
    return select(col(RecConflict.registration_id)).where(col(RecConflict.staff) == staff)


@dataclass(frozen=True)
class Queue:
    waiting: int  # every submitted registration the verifier may decide on
    oldest: list[dict[str, Any]]  # the first ``limit`` of them, oldest first


def verification_queue(engine: Engine, period_id: int, staff: str, limit: int = 50) -> Queue:
    """Submitted registrations the verifier may decide on (recused ones left out)."""
    where = (
        col(RecRegistration.period_id) == period_id,
        col(RecRegistration.status) == Status.SUBMITTED,
        col(RecRegistration.id).not_in(_recused_ids(staff)),
    )
    with Session(engine) as s:
        waiting = s.execute(
            select(func.count()).select_from(RecRegistration).where(*where)
        ).scalar_one()
        rows = s.execute(
            select(RecRegistration)
            .where(*where)
            .order_by(col(RecRegistration.submitted_at))
            .limit(limit)
        ).scalars()
        oldest = [
            {"id": r.id, "number": r.registration_number, "name": r.name, "category": r.category}
            for r in rows
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
        _get(s, RecRegistration, registration_id)
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
                data={"registration": registration_id},
                at=now,
            )
        s.commit()


def registration_for_staff(engine: Engine, registration_id: int, staff: str) -> RecRegistration:
    with Session(engine) as s:
        reg: RecRegistration = _get(s, RecRegistration, registration_id)
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
        reg: RecRegistration = _get(s, RecRegistration, registration_id, lock=True)
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
        reg: RecRegistration = _get(s, RecRegistration, v.registration_id, lock=True)
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
            data={"registration": reg.id, "verification": verification_id, "agree": agree},
            at=now,
        )
        s.commit()


def _notify_status(s: Session, reg: RecRegistration, now: float) -> None:
    from recruitment.states import STATUS_TEXT

    acc: RecAccount = _get(s, RecAccount, reg.account_id)
    tid, ten = STATUS_TEXT[Status(reg.status)]
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
    The TMS's own verifier may not answer the appeal against it."""
    if not answer.strip():
        raise Refused("jawaban sanggah wajib diisi", "an answer is required")
    with Session(writer(engine)) as s:
        ap: RecAppeal = _get(s, RecAppeal, appeal_id, lock=True)
        if ap.outcome is not None:
            raise Refused(
                "sanggah ini sudah dijawab (final)", "this appeal is already answered (final)"
            )
        reg: RecRegistration = _get(s, RecRegistration, ap.registration_id, lock=True)
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
            check_second_person(tms.verifier, staff)
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
            data={"appeal": appeal_id, "registration": reg.id, "outcome": ap.outcome},
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
                col(RecPeriod.agency),
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
            .join(RecPeriod, col(RecPeriod.id) == col(RecRegistration.period_id))
            .group_by(col(RecPeriod.agency))
            .order_by(col(RecPeriod.agency))
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


def add_slot(
    engine: Engine,
    period_id: int,
    session_code: str,
    location: str,
    extended: bool = False,
    actor: str = "admin",
) -> int:
    """Open an exam session to the period's candidates choosing ``location``.

    extended: the session is for candidates with the ``extra_time``
    accommodation; its exam must then give more time than the period's exam
    (``extended_exam`` makes such a copy)."""
    with Session(writer(engine)) as s:
        row = s.execute(
            select(ExamSession, Exam)
            .join(Exam, col(Exam.id) == col(ExamSession.exam_id))
            .where(col(ExamSession.code) == session_code)
        ).first()
        if row is None:
            raise NotFound(f"no session {session_code}")
        sess, exam = row
        period: RecPeriod = _get(s, RecPeriod, period_id)
        base = s.execute(select(Exam).where(col(Exam.code) == period.exam_code)).scalars().first()
        if extended and base is not None:
            longer = ExamData.from_row(exam).time_limit_seconds
            if longer <= ExamData.from_row(base).time_limit_seconds:
                raise Refused(
                    f"ujian sesi {session_code} tidak memberi tambahan waktu",
                    f"session {session_code}'s exam gives no extra time",
                )
        slot = RecSlot(
            period_id=period_id, session_id=sess.id or 0, location=location, extended=extended
        )
        s.add(slot)
        s.flush()
        audit.append(
            s.connection(),
            "rec_slot",
            actor,
            session_id=sess.id,
            data={"period": period.code, "location": location, "extended": extended},
        )
        s.commit()
        assert slot.id is not None
        return slot.id


def extended_exam(engine: Engine, exam_code: str, new_code: str, factor: float = 1.3) -> int:
    """A copy of an exam whose time limit is ``factor`` times longer (the SKD's
    100 minutes become 130 for blind candidates): same items, design, ranking
    policy and options otherwise, made by ``exam_server.scheduling.create_exam``."""
    if not 1.0 < factor <= 3.0:
        raise ValueError("factor must be in (1, 3]")
    with Session(engine) as s:
        row = s.execute(select(Exam).where(col(Exam.code) == exam_code)).scalars().first()
        if row is None:
            raise NotFound(f"no exam {exam_code}")
        data = ExamData.from_row(row)
    design = dataclasses.replace(data.design, time_limit_seconds=data.time_limit_seconds * factor)
    return create_exam(
        engine,
        new_code,
        f"{data.name} (+{round((factor - 1) * 100)}%)",
        design,
        data.bank,
        list(data.items),
        data.policy,
        data.options,
    )


def test_locations(engine: Engine, period_id: int) -> list[str]:
    """The test locations a candidate may choose: those with a session open to the period."""
    with Session(engine) as s:
        rows = s.execute(
            select(col(RecSlot.location)).where(col(RecSlot.period_id) == period_id).distinct()
        ).scalars()
        return sorted(rows)


@dataclass(frozen=True)
class ScheduleResult:
    placed: int
    unplaced: list[str]


def schedule(engine: Engine, period: PeriodView, actor: str, now: float) -> ScheduleResult:
    """Place every MS registration in a session (``recruitment.scheduling.assign``,
    sessions of a location earliest first, capacity = the room's seats minus
    those already placed) and write its ``exam_candidate`` row with category and
    formation: the exam server's lists come from here, with no CSV."""
    with Session(writer(engine)) as s:
        regs = list(
            s.execute(
                select(RecRegistration)
                .where(
                    col(RecRegistration.period_id) == period.id,
                    col(RecRegistration.status) == Status.MS,
                )
                .order_by(col(RecRegistration.registration_number))
            ).scalars()
        )
        slots = s.execute(
            select(RecSlot, ExamSession, Room, Exam)
            .join(ExamSession, col(ExamSession.id) == col(RecSlot.session_id))
            .join(Room, col(Room.id) == col(ExamSession.room_id))
            .join(Exam, col(Exam.id) == col(ExamSession.exam_id))
            .where(col(RecSlot.period_id) == period.id)
            .order_by(col(ExamSession.starts_at), col(ExamSession.code))
        ).all()
        taken: dict[int | None, int] = dict(
            s.execute(
                select(col(Candidate.session_id), func.count())
                .where(col(Candidate.session_id).is_not(None))
                .group_by(col(Candidate.session_id))
            ).all()
        )
        locations = sorted({r.test_location for r in regs} | {sl.location for sl, *_ in slots})
        loc_id = {name: i for i, name in enumerate(locations)}
        extra = {k for k in period.rules.accommodations if k == "extra_time"}
        place = assign(
            np.array([loc_id[r.test_location] for r in regs], dtype=np.int64),
            np.array([r.accommodation in extra for r in regs], dtype=bool),
            np.array([loc_id[sl.location] for sl, *_ in slots], dtype=np.int64),
            np.array([sl.extended for sl, *_ in slots], dtype=bool),
            np.array(
                [max(0, room.capacity - taken.get(sess.id, 0)) for _, sess, room, _ in slots],
                dtype=np.int64,
            ),
        )
        rf_to_formation = dict(
            s.execute(select(col(RecFormation.id), col(RecFormation.formation_id))).all()
        )
        unplaced: list[str] = []
        placed = 0
        for reg, k in zip(regs, place.tolist(), strict=True):
            if k == UNPLACED:
                unplaced.append(reg.registration_number or "")
                continue
            _slot, sess, _room, exam = slots[k]
            if reg.category not in exam_policy(exam).categories:
                raise Refused(
                    f"kategori {reg.category} tidak ada dalam aturan ujian {exam.code}",
                    f"category {reg.category} is not in exam {exam.code}'s policy",
                )
            cand = Candidate(
                registration_number=reg.registration_number or "",
                name=reg.name,
                category=reg.category,
                formation_id=rf_to_formation[reg.rec_formation_id],
                session_id=sess.id,
                birth_date=reg.birth_date,
            )
            s.add(cand)
            s.flush()
            reg.candidate_id = cand.id
            reg.status = step(reg.status, "schedule")
            reg.updated_at = now
            s.add(reg)
            acc: RecAccount = _get(s, RecAccount, reg.account_id)
            starts = dt.datetime.fromtimestamp(sess.starts_at, WIB).strftime("%Y-%m-%d %H:%M WIB")
            enqueue(
                s,
                acc.email,
                f"Jadwal ujian {reg.registration_number} / Exam schedule",
                f"{reg.registration_number}: sesi/session {sess.code}, {starts}.\n"
                "Cetak kartu ujian Anda di halaman pendaftaran. / "
                "Print your exam card from the registration page.\n",
                "schedule",
                now,
            )
            placed += 1
        audit.append(
            s.connection(),
            "rec_schedule",
            actor,
            data={"period": period.code, "placed": placed, "unplaced": len(unplaced)},
            at=now,
        )
        s.commit()
        return ScheduleResult(placed, unplaced)


def card_of(engine: Engine, registration_id: int) -> dict[str, Any] | None:
    """What the exam card shows: the session, room, site and start (None until scheduled)."""
    with Session(engine) as s:
        reg: RecRegistration = _get(s, RecRegistration, registration_id)
        if reg.candidate_id is None:
            return None
        row = s.execute(
            select(Candidate, ExamSession, Room, Site, Formation)
            .join(ExamSession, col(ExamSession.id) == col(Candidate.session_id))
            .join(Room, col(Room.id) == col(ExamSession.room_id))
            .join(Site, col(Site.id) == col(Room.site_id))
            .join(Formation, col(Formation.id) == col(Candidate.formation_id))
            .where(col(Candidate.id) == reg.candidate_id)
        ).first()
        if row is None:
            return None
        cand, sess, room, site, form = row
        return {
            "number": cand.registration_number,
            "name": cand.name,
            "category": cand.category,
            "formation": form.code,
            "position": form.position,
            "session": sess.code,
            "starts": dt.datetime.fromtimestamp(sess.starts_at, WIB).strftime("%Y-%m-%d %H:%M WIB"),
            "room": room.name,
            "site": site.name,
        }


def on_record(engine: Engine, finding: Finding) -> bool:
    """Whether what a valid receipt or card says is what this server holds:
    the registration submitted with exactly those bytes, or the candidate
    scheduled in that session."""
    if not finding.valid:
        return False
    with Session(engine) as s:
        if finding.kind == "receipt":
            stored = s.execute(
                select(col(RecRegistration.submitted_json)).where(
                    col(RecRegistration.registration_number) == finding.number
                )
            ).scalar()
            return stored is not None and stored.encode("utf-8") == finding.signed
        row = s.execute(
            select(col(ExamSession.code))
            .join(Candidate, col(Candidate.session_id) == col(ExamSession.id))
            .where(col(Candidate.registration_number) == finding.number)
        ).scalar()
        return row == finding.session


def registrations_by_status(engine: Engine, period_id: int) -> dict[str, int]:
    with Session(engine) as s:
        return dict(
            s.execute(
                select(col(RecRegistration.status), func.count())
                .where(col(RecRegistration.period_id) == period_id)
                .group_by(RecRegistration.status)
            ).all()
        )
