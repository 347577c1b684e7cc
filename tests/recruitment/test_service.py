"""The flow's ends: the exam server's tables it writes, the outbox over SMTP."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time

import pytest
from sqlalchemy import select, text
from sqlmodel import Session, col

from exam_server import scheduling as sch
from exam_server.exams import ExamData
from exam_server.models import AuditEvent, Candidate, Exam, ExamSession, Formation
from exam_server.recruitment import outbox
from exam_server.recruitment import service as svc
from exam_server.recruitment.demo import demo_nik
from recruitment.models import RecOutbox
from tests.recruitment.conftest import Mailbox, RecServer


def test_scheduled_candidates_are_in_the_exam_servers_lists(rec_server: RecServer) -> None:
    """Approved needs are exam formations; scheduled registrations are exam
    candidates with their category and formation, in a session of the chosen
    location; the candidate with extra time sits the longer exam."""
    db = rec_server.handle.db
    with Session(db) as s:
        codes = set(s.execute(select(col(Formation.code))).scalars())
        rows = s.execute(
            select(Candidate, ExamSession, Exam, Formation)
            .join(ExamSession, col(ExamSession.id) == col(Candidate.session_id))
            .join(Exam, col(Exam.id) == col(ExamSession.exam_id))
            .join(Formation, col(Formation.id) == col(Candidate.formation_id))
            .where(col(Candidate.registration_number).like("CASN-DEMO-%"))
        ).all()
        kinds = [e.kind for e in s.execute(select(AuditEvent)).scalars()]
    assert {"PRANATA-KOMP-GENERAL", "PRANATA-KOMP-CUMLAUDE", "ANALIS-SDM-PAPUA"} <= codes
    assert not any(c.startswith("DOKTER") for c in codes)  # still awaiting approval
    seen = {
        c.name: (c.category, sess.code, f.code, ExamData.from_row(e).time_limit_seconds)
        for c, sess, e, f in rows
    }
    base = seen["Gita Maharani"][3]
    assert seen["Gita Maharani"][:3] == ("general", "REK-BAN-1", "ANALIS-SDM-GENERAL")
    assert seen["Hadi Wibowo"][:3] == ("disability", "REK-JAK-X", "PRANATA-KOMP-DISABILITY")
    assert seen["Hadi Wibowo"][3] == pytest.approx(base * 1.3)
    assert {
        "rec_need_approve",
        "rec_announce",
        "rec_submit",
        "rec_tms_review",
        "rec_appeal",
        "rec_schedule",
    } <= set(kinds)


def test_extended_slot_needs_an_exam_with_more_time(rec_server: RecServer) -> None:
    db = rec_server.handle.db
    period = svc.current_period(db)
    assert period is not None
    sch.create_session(db, "REK-PLAIN", period.exam_code, "TILOK-01", "R2", time.time())
    with pytest.raises(svc.Refused, match="no extra time"):
        svc.add_slot(db, period.id, "REK-PLAIN", "Jakarta", extended=True)


def test_nik_never_reaches_the_database_or_audit(rec_server: RecServer) -> None:

    nik = demo_nik(dt.date(1998, 3, 14), "F", 1)  # the demo's first person
    with rec_server.handle.db.connect() as conn:
        for (table,) in conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'")):
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                assert nik not in " ".join(str(v) for v in row), table


def test_outbox_sends_by_smtp_and_keeps_refused_messages(rec_server: RecServer) -> None:
    db = rec_server.handle.db
    box: Mailbox = rec_server.mail
    box.received.clear()
    assert rec_server.config.smtp is not None
    with Session(db) as s:
        s.execute(RecOutbox.__table__.delete())  # type: ignore[attr-defined]
        svc.enqueue(s, "ok@contoh.id", "Status", "isi / body", "status", 1.0)
        svc.enqueue(s, "bounce@contoh.id", "Status", "isi", "status", 1.0)
        s.commit()

    async def refuse_bounce(server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        if address.startswith("bounce"):
            return "550 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    box.handle_RCPT = refuse_bounce  # type: ignore[attr-defined]
    try:
        d = outbox.send_pending(db, rec_server.config.smtp, now=5.0)
    finally:
        del box.handle_RCPT  # type: ignore[attr-defined]
    assert (d.claimed, d.sent, d.failed, d.retry) == (2, 1, 1, 0)
    assert [m[0] for m in box.received] == ["ok@contoh.id"] and box.received[0][
        2
    ].strip() == "isi / body"
    with Session(db) as s:
        rows = {r.to_addr: r for r in s.execute(select(RecOutbox)).scalars()}
    assert rows["ok@contoh.id"].sent_at == 5.0 and rows["ok@contoh.id"].status == "sent"
    bounce = rows["bounce@contoh.id"]
    # A 5xx reply is permanent: failed with the error, never tried on its own again.
    assert bounce.sent_at is None and bounce.status == "failed" and "550" in bounce.last_error
    assert outbox.send_pending(db, rec_server.config.smtp, now=6.0).claimed == 0
    # Staff send it again (audited); now the server takes it, and nothing goes twice.
    assert svc.send_again(db, [bounce.id or 0], "admin-rekrutmen", 7.0) == 1
    assert outbox.send_pending(db, rec_server.config.smtp, now=7.0).sent == 1
    assert [m[0] for m in box.received] == ["ok@contoh.id", "bounce@contoh.id"]


def test_windows_are_enforced(rec_server: RecServer) -> None:
    """Registration, submission and appeals only inside their windows (WIB dates)."""
    db = rec_server.handle.db
    period = svc.current_period(db)
    assert period is not None
    after = dt.datetime.combine(
        period.schedule.appeal_closes + dt.timedelta(days=1), dt.time(9), svc.WIB
    ).timestamp()
    account = svc.signup(db, "telat@contoh.id", "Telat", "x", lambda i: "", time.time())
    assert account is not None
    fields = {
        "nik": demo_nik(dt.date(1995, 2, 3), "M", 77),
        "name": "Telat",
        "sex": "M",
        "birth_date": dt.date(1995, 2, 3),
        "education_level": "S1",
        "major": "Psikologi",
        "formation": "ANALIS-SDM-GENERAL",
        "test_location": "Bandung",
        "accommodation": "",
    }
    cfg = rec_server.config
    with pytest.raises(svc.Refused, match="not open"):
        svc.save_registration(db, period, account, fields, cfg.nik_key, cfg.registry, after)
    dedi = svc.account_login(db, "dedi@contoh.id", "candidate-pass-1", "")  # the demo's TMS
    assert dedi is not None and dedi.id is not None
    with pytest.raises(svc.Refused, match="appeal window is not open"):
        svc.file_appeal(db, period, dedi.id, "alasan", after)


def test_recusal_and_appeal_statistics(rec_server: RecServer) -> None:
    db = rec_server.handle.db
    period = svc.current_period(db)
    assert period is not None
    queue = svc.verification_queue(db, period.id, "verifikator1", limit=1)
    assert queue.waiting == 2 and len(queue.oldest) == 1
    first = queue.oldest[0]["id"]
    svc.declare_conflict(db, first, "verifikator1", "saudara", time.time())
    after = svc.verification_queue(db, period.id, "verifikator1")
    assert after.waiting == 1 and first not in [r["id"] for r in after.oldest]
    with pytest.raises(svc.Refused, match="recused"):
        svc.decide_registration(db, period, first, "verifikator1", "MS", "", "", time.time())
    assert svc.verification_queue(db, period.id, "verifikator2").waiting == 2
    # Eka's appeal (the demo's), answered a day after its seven-day deadline.
    (appeal,) = svc.open_appeals(db, period.id, "verifikator3")
    row = svc.appeal_of(db, appeal["registration_id"])
    assert row is not None
    svc.answer_appeal(db, appeal["id"], "verifikator3", True, "Diterima", row.filed_at + 8 * 86400)
    (stats,) = svc.appeal_stats(db)
    assert stats == {
        "agency": "Kementerian Contoh (demo)",
        "filed": 1,
        "answered": 1,
        "accepted": 1,
        "late": 1,
        "mean_hours": 192.0,
    }


def test_offline_registry_from_the_configuration(rec_server: RecServer, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    """SELEKSI_RECRUITMENT_REGISTRY_EXTRACT puts the offline adapter in place;
    the identity found is stored with the registration as booleans only."""
    from exam_server.recruitment.config import RecruitmentConfig

    tmp = tmp_path_factory.mktemp("registry")
    nik = demo_nik(dt.date(1994, 6, 7), "F", 55)
    extract = tmp / "dukcapil.csv"
    extract.write_text(f"nik,name,birth_date\n{nik},SARI PUSPITA,1994-06-07\n")
    settings = dataclasses.replace(
        rec_server.handle.settings,
        extra={**rec_server.handle.settings.extra, "recruitment_registry_extract": str(extract)},
    )
    cfg = RecruitmentConfig.from_settings(settings)
    db = rec_server.handle.db
    period = svc.current_period(db)
    assert period is not None
    account = svc.signup(db, "sari@contoh.id", "Sari", "x", lambda i: "", time.time())
    assert account is not None
    fields = {
        "nik": nik,
        "name": "Sari Puspita",
        "sex": "F",
        "birth_date": dt.date(1994, 6, 7),
        "education_level": "S1",
        "major": "Psikologi",
        "formation": "ANALIS-SDM-GENERAL",
        "test_location": "Bandung",
        "accommodation": "",
    }
    reg_id = svc.save_registration(
        db, period, account, fields, cfg.nik_key, cfg.registry, time.time()
    )
    reg = svc.registration_for_staff(db, reg_id, "verifikator2")
    identity = json.loads(reg.identity_json)
    assert identity == {
        "found": True,
        "name_matches": True,
        "birth_date_matches": True,
        "source": "offline-extract",
        "ok": True,
    }
    assert nik not in reg.identity_json


def test_exam_card_code_is_checked_against_the_schedule(rec_server: RecServer) -> None:
    from recruitment.receipts import card_code, check_text

    db, key = rec_server.handle.db, rec_server.config.key
    with Session(db) as s:
        (number,) = s.execute(
            select(col(Candidate.registration_number)).where(col(Candidate.name) == "Gita Maharani")
        ).one()
    good = check_text(card_code(number, "REK-BAN-1", key), key.public_key())
    assert good.valid and svc.on_record(db, good)
    moved = check_text(card_code(number, "REK-JAK-1", key), key.public_key())
    assert moved.valid and not svc.on_record(db, moved)  # signed, but not where she sits
