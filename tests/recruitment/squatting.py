"""What the tests of voids and late registrations share: accounts, saved and
submitted registrations, a squatter who submits someone's NIK first, the
registration window moved, the void events and the grant e-mails."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from exam_server.db import writer
from exam_server.models import AuditEvent
from exam_server.recruitment import service as svc
from exam_server.recruitment.demo import demo_nik, sample_pdf, sample_png
from recruitment.announcement import Schedule
from recruitment.documents import PNG
from recruitment.models import RecOutbox, RecPeriod, RecRegistration
from recruitment.registry import NoRegistry
from tests.recruitment.conftest import RecServer

DAY = 86400.0


def new_account(rec: RecServer, email: str) -> int:
    db = rec.handle.db
    account = svc.signup(db, email, email.split("@")[0], "x", lambda i: "", time.time())
    assert account is not None
    svc.verify_email(db, account, time.time())
    return account


def current_period(rec: RecServer) -> svc.PeriodView:
    period = svc.current_period(rec.handle.db)
    assert period is not None
    return period


def save_draft(
    rec: RecServer, account: int, nik: str, name: str, born: dt.date, sex: str, now: float
) -> int:
    """Save the account's registration (with every document) at ``now``."""
    db, period = rec.handle.db, current_period(rec)
    fields = {
        "nik": nik,
        "name": name,
        "birth_date": born,
        "sex": sex,
        "education_level": "S1",
        "major": "Psikologi",
        "formation": "ANALIS-SDM-GENERAL",
        "test_location": svc.test_locations(db, period.id)[0],
        "accommodation": "",
    }
    reg = svc.save_registration(db, period, account, fields, rec.config.nik_key, NoRegistry(), now)
    for kind in period.rules.documents_for("general"):
        media = period.rules.documents[kind].media
        data = sample_png() if PNG in media and kind == "photo" else sample_pdf(kind)
        svc.upload_document(
            db, rec.config.store, period, reg, f"account:{account}", kind, data, now
        )
    return reg


def submit_draft(rec: RecServer, account: int, now: float) -> Any:
    return svc.submit_registration(rec.handle.db, current_period(rec), account, rec.config.key, now)


def close_registration(rec: RecServer, closes: dt.date) -> None:
    """Move the period's registration close to ``closes`` (the window shut
    before verification found the fraud)."""
    with Session(writer(rec.handle.db)) as s:
        p = s.execute(select(RecPeriod).order_by(col(RecPeriod.id).desc())).scalars().first()
        assert p is not None
        schedule = json.loads(p.schedule_json)
        schedule["registration_opens"] = min(
            dt.date.fromisoformat(schedule["registration_opens"]), closes
        ).isoformat()
        schedule["registration_closes"] = closes.isoformat()
        p.schedule_json = Schedule.model_validate(schedule).model_dump_json()
        s.add(p)
        s.commit()


def void_events(db: Any) -> list[dict[str, Any]]:
    with Session(db) as s:
        rows = s.execute(
            select(AuditEvent).where(col(AuditEvent.kind) == "rec_void").order_by(AuditEvent.id)  # type: ignore[arg-type]
        ).scalars()
        return [json.loads(e.data_json) for e in rows]


def grant_mail(db: Any, email: str) -> list[RecOutbox]:
    with Session(db) as s:
        return list(
            s.execute(
                select(RecOutbox).where(
                    col(RecOutbox.to_addr) == email, col(RecOutbox.kind) == "late_registration"
                )
            ).scalars()
        )


def squatted(rec: RecServer, tag: str, seq: int) -> tuple[str, dt.date, int, int]:
    """In an open window a squatter submits a NIK first: the NIK, its birth
    date, the squatter's account and registration."""
    now = time.time()
    close_registration(rec, svc.today(now) + dt.timedelta(days=20))
    born = dt.date(1990, 3, 4)
    nik = demo_nik(born, "M", seq)
    squatter = new_account(rec, f"penyerobot.{tag}@contoh.id")
    squat = save_draft(rec, squatter, nik, "Siapa Saja", born, "M", now)
    assert submit_draft(rec, squatter, now).status == "submitted"
    return nik, born, squatter, squat


def reg_status(db: Any, reg_id: int) -> str:
    with Session(db) as s:
        reg = s.get(RecRegistration, reg_id)
        assert reg is not None
        return str(reg.status)
