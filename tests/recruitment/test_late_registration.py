"""The owner of a NIK someone else submitted first is not locked out of the
period (the lock-out a reviewer reproduced after revision ``0022``): the
owner's draft is saved while the NIK is held, and their page says so; the
committee finds the fraud at verification, after the registration window
closed, and voids it; the void records a late registration for that NIK
(``rec_nik_grant``, revision ``0023_nik_grants``) until a day the voiding
staff set, so the owner submits after the window; anyone else, after that
day, is refused. A scheduled registration is voided only while its exam has
not begun for it, and then leaves its exam session. ``audit verify`` stays
clean. Each test failed on the code before (revision ``0022_nik_at_submit``).

A grant is for accounts, not for whoever types the NIK (revision
``0024_grant_accounts``, after a reviewer's repro: the squatter, told of the
void first, submitted again from a second account after the window and
locked the owner out again): the accounts whose draft held the NIK at the
void and the one the voiding staff named; nobody else, and nobody when there
is neither. Each granted account is told by e-mail. The tests from
``test_the_squatters_second_account_is_refused_the_owners_grant`` on failed
on the code before.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import Session, col

from exam_server.db import writer
from exam_server.models import Attempt, AuditEvent, Candidate
from exam_server.recruitment import service as svc
from exam_server.recruitment.demo import demo_nik, sample_pdf, sample_png
from recruitment.announcement import Schedule
from recruitment.documents import PNG
from recruitment.models import RecNikGrant, RecOutbox, RecPeriod, RecRegistration
from recruitment.registry import NoRegistry
from seleksi.cli import main
from tests.browser_checks import expect_patiently, serious_violations
from tests.recruitment.conftest import (
    PASSWORDS,
    RecServer,
    recruitment_problems,
    staff_client,
)

TAKEN_EN = "this NIK is held by another registration already submitted in this period"
DAY = 86400.0


def _account(rec: RecServer, email: str) -> int:
    db = rec.handle.db
    account = svc.signup(db, email, email.split("@")[0], "x", lambda i: "", time.time())
    assert account is not None
    svc.verify_email(db, account, time.time())
    return account


def _period(rec: RecServer) -> svc.PeriodView:
    period = svc.current_period(rec.handle.db)
    assert period is not None
    return period


def _save(
    rec: RecServer, account: int, nik: str, name: str, born: dt.date, sex: str, now: float
) -> int:
    """Save the account's registration (with every document) at ``now``."""
    db, period = rec.handle.db, _period(rec)
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


def _submit(rec: RecServer, account: int, now: float) -> Any:
    return svc.submit_registration(rec.handle.db, _period(rec), account, rec.config.key, now)


def _close_registration(rec: RecServer, closes: dt.date) -> None:
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


def _void_events(db: Any) -> list[dict[str, Any]]:
    with Session(db) as s:
        rows = s.execute(
            select(AuditEvent).where(col(AuditEvent.kind) == "rec_void").order_by(AuditEvent.id)  # type: ignore[arg-type]
        ).scalars()
        return [json.loads(e.data_json) for e in rows]


def test_the_owner_registers_after_the_window_once_the_squatter_is_voided(
    rec_server: RecServer,
) -> None:
    """The reviewer's scenario, with no registry configured."""
    db = rec_server.handle.db
    now = time.time()
    born = dt.date(1993, 6, 7)
    nik = demo_nik(born, "F", 951)
    attacker = _account(rec_server, "penyerobot.late@contoh.id")
    owner = _account(rec_server, "pemilik.late@contoh.id")
    later = _account(rec_server, "orang.lain.late@contoh.id")
    stranger = _account(rec_server, "nik.lain.late@contoh.id")

    # In the window: the attacker submits first.
    squat = _save(rec_server, attacker, nik, "Siapa Saja", born, "F", now)
    assert _submit(rec_server, attacker, now).status == "submitted"
    # The owner's draft is saved while the NIK is held (before: refused)...
    mine = _save(rec_server, owner, nik, "Ratna Sari", born, "F", now)
    view = svc.candidate_view(db, _period(rec_server), owner, now)
    assert view.registration is not None and view.registration.id == mine
    assert view.nik_held and view.late_until is None
    # (their page says the NIK is held: contact the committee); the submit is
    # refused, in both languages.
    with pytest.raises(svc.Refused) as exc:
        _submit(rec_server, owner, now)
    assert exc.value.text_en.startswith(TAKEN_EN) and "hubungi panitia" in exc.value.text_id

    # Verification happens after the registration window closed.
    _close_registration(rec_server, svc.today(now) - dt.timedelta(days=1))
    with pytest.raises(svc.Refused) as exc:
        _submit(rec_server, owner, now)
    assert exc.value.text_en == "registration is not open"

    # A verifier voids the squatter from its page, giving the owner 3 days.
    until = svc.today(now) + dt.timedelta(days=3)
    v, token = staff_client(rec_server, "verifikator1", PASSWORDS["verifier"])
    try:
        page = v.get(f"/recruitment/staff/reg/{squat}").text
        assert 'name="grant_until"' in page
        r = v.post(
            f"/recruitment/staff/reg/{squat}/void",
            data={
                "csrf": token,
                "reason": "NIK milik Ratna Sari",
                "grant_until": until.isoformat(),
            },
        )
        # The result names the accounts the grant is for: the owner's draft.
        assert r.status_code == 200, r.text
        assert "pemilik.late@contoh.id" in r.text
    finally:
        v.close()
    with Session(db) as s:
        grant = s.execute(
            select(RecNikGrant).where(col(RecNikGrant.registration_id) == squat)
        ).scalar_one()
        squat_row = s.get(RecRegistration, squat)
        assert squat_row is not None and squat_row.status == "void"
        assert grant.until == until.isoformat() and grant.granted_by == "verifikator1"
        assert grant.nik_hash == squat_row.nik_hash
    event = _void_events(db)[-1]
    assert event["registration"] == squat
    assert event["grant_until"] == until.isoformat()
    assert event["nik_hash"] == grant.nik_hash
    assert event["grant_accounts"] == [owner] and json.loads(grant.accounts_json) == [owner]

    # The owner's page shows the late registration; another NIK gets none.
    view = svc.candidate_view(db, _period(rec_server), owner, now)
    assert not view.nik_held and view.late_until == until
    with pytest.raises(svc.Refused) as exc:
        _save(rec_server, stranger, demo_nik(born, "F", 952), "Lain Lagi", born, "F", now)
    assert exc.value.text_en == "registration is not open"

    # The owner submits after the window, within the grant.
    assert _submit(rec_server, owner, now + DAY).status == "submitted"
    # Someone else with that NIK after the grant's last day: refused.
    after = now + 5 * DAY
    with pytest.raises(svc.Refused) as exc:
        _save(rec_server, later, nik, "Ratna Sari", born, "F", after)
    assert exc.value.text_en == "registration is not open"
    assert recruitment_problems(db) == []


def test_the_default_grant_and_a_grant_in_the_past(rec_server: RecServer) -> None:
    """Without a date the grant runs 7 days after the void (or to the
    registration close if later); a date before today is refused."""
    db = rec_server.handle.db
    now = time.time()
    born = dt.date(1991, 1, 2)
    nik = demo_nik(born, "M", 953)
    # The window is open again for this one.
    _close_registration(rec_server, svc.today(now) + dt.timedelta(days=20))
    fraud = _account(rec_server, "penipu.late@contoh.id")
    reg = _save(rec_server, fraud, nik, "Nama Palsu", born, "M", now)
    _submit(rec_server, fraud, now)
    with pytest.raises(svc.Refused) as exc:
        svc.void_registration(
            db, reg, "admin-rekrutmen", "NIK orang lain", now, svc.today(now) - dt.timedelta(1)
        )
    assert exc.value.text_en == "the late registration's last day cannot be before today"
    svc.void_registration(db, reg, "admin-rekrutmen", "NIK orang lain", now)
    assert (
        _void_events(db)[-1]["grant_until"] == (svc.today(now) + dt.timedelta(days=20)).isoformat()
    )
    _close_registration(rec_server, svc.today(now) - dt.timedelta(days=1))
    assert svc.default_grant_until(_period(rec_server).schedule, now) == svc.today(
        now
    ) + dt.timedelta(days=7)
    assert recruitment_problems(db) == []


def _scheduled(db: Any) -> list[RecRegistration]:
    with Session(db) as s:
        return list(
            s.execute(
                select(RecRegistration)
                .where(col(RecRegistration.status) == "scheduled")
                .order_by(col(RecRegistration.id))
            ).scalars()
        )


def test_a_scheduled_registration_is_voided_out_of_its_session(rec_server: RecServer) -> None:
    """A scheduled squatter leaves its exam session in the void's transaction
    (audited); one whose exam has begun (an attempt) is refused, unchanged."""
    db = rec_server.handle.db
    now = time.time()
    regs = _scheduled(db)
    assert len(regs) >= 1
    reg = regs[0]
    assert reg.id is not None and reg.candidate_id is not None
    with Session(writer(db)) as s:
        cand = s.get(Candidate, reg.candidate_id)
        assert cand is not None and cand.session_id is not None
        session_id = cand.session_id
        # The exam has begun for this candidate: refused, nothing changes.
        s.add(Attempt(session_id=session_id, candidate_id=reg.candidate_id, status="running"))
        s.commit()
    with pytest.raises(svc.Refused) as exc:
        svc.void_registration(db, reg.id, "admin-rekrutmen", "NIK orang lain", now)
    assert "the proctor voids the attempt" in exc.value.text_en
    with Session(writer(db)) as s:
        row = s.get(RecRegistration, reg.id)
        assert row is not None and row.status == "scheduled"
        cand = s.get(Candidate, reg.candidate_id)
        assert cand is not None and cand.session_id == session_id
        assert (
            s.execute(select(RecNikGrant).where(col(RecNikGrant.registration_id) == reg.id)).first()
            is None
        )
        for a in s.execute(
            select(Attempt).where(col(Attempt.candidate_id) == reg.candidate_id)
        ).scalars():
            s.delete(a)
        s.commit()
    # Its session sent to an exam site in a package: the site may check the
    # candidate in before it syncs; refused, nothing changes (found by a review).
    from exam_server.models import Site
    from exam_server.sites.models import SiteSessionKey

    with Session(writer(db)) as s:
        site = s.execute(select(Site)).scalars().first()
        assert site is not None and site.id is not None
        s.add(SiteSessionKey(session_id=session_id, site_id=site.id, key_b64="x"))
        s.commit()
    with pytest.raises(svc.Refused) as exc:
        svc.void_registration(db, reg.id, "admin-rekrutmen", "NIK orang lain", now)
    assert "sent to an exam site" in exc.value.text_en
    with Session(writer(db)) as s:
        key = s.get(SiteSessionKey, session_id)
        assert key is not None and s.get(Candidate, reg.candidate_id).session_id == session_id  # type: ignore[union-attr]
        s.delete(key)
        s.commit()
    # Before the exam: voided, out of the session, the NIK granted.
    voided = svc.void_registration(db, reg.id, "admin-rekrutmen", "NIK orang lain", now)
    assert voided.status == "void"
    with Session(db) as s:
        cand = s.get(Candidate, reg.candidate_id)
        assert cand is not None and cand.session_id is None
        assert s.execute(
            select(RecNikGrant).where(col(RecNikGrant.registration_id) == reg.id)
        ).first()
    event = _void_events(db)[-1]
    assert event["was"] == "scheduled" and event["candidate"] == reg.candidate_id
    assert event["left_session"]
    assert svc.card_of(db, reg.id) is None
    assert recruitment_problems(db) == []


def _grant_mail(db: Any, email: str) -> list[RecOutbox]:
    with Session(db) as s:
        return list(
            s.execute(
                select(RecOutbox).where(
                    col(RecOutbox.to_addr) == email, col(RecOutbox.kind) == "late_registration"
                )
            ).scalars()
        )


def _squatted(rec: RecServer, tag: str, seq: int) -> tuple[str, dt.date, int, int]:
    """In an open window a squatter submits a NIK first: the NIK, its birth
    date, the squatter's account and registration."""
    now = time.time()
    _close_registration(rec, svc.today(now) + dt.timedelta(days=20))
    born = dt.date(1990, 3, 4)
    nik = demo_nik(born, "M", seq)
    squatter = _account(rec, f"penyerobot.{tag}@contoh.id")
    squat = _save(rec, squatter, nik, "Siapa Saja", born, "M", now)
    assert _submit(rec, squatter, now).status == "submitted"
    return nik, born, squatter, squat


def test_the_squatters_second_account_is_refused_the_owners_grant(
    rec_server: RecServer,
) -> None:
    """The reviewer's repro: the squatter submits first, the owner saves a
    draft, the window closes, the squatter is voided with a grant. The
    squatter's second account (made before or after the void) is refused
    after the window; the owner submits; the owner is told by e-mail."""
    db = rec_server.handle.db
    now = time.time()
    nik, born, squatter, squat = _squatted(rec_server, "dua", 961)
    owner = _account(rec_server, "pemilik.dua@contoh.id")
    _save(rec_server, owner, nik, "Agus Salim", born, "M", now)
    second = _account(rec_server, "penyerobot.kedua@contoh.id")
    _close_registration(rec_server, svc.today(now) - dt.timedelta(days=1))

    until = svc.today(now) + dt.timedelta(days=3)
    svc.void_registration(db, squat, "admin-rekrutmen", "NIK milik Agus Salim", now, until)
    third = _account(rec_server, "penyerobot.ketiga@contoh.id")

    # After the window, within the grant: the squatter's other accounts are
    # refused (before: saved and submitted, and the owner got 'NIK held').
    for other in (second, third, squatter):
        view = svc.candidate_view(db, _period(rec_server), other, now + DAY)
        assert not view.late_running and view.late_until is None
        with pytest.raises(svc.Refused) as exc:
            _save(rec_server, other, nik, "Agus Salim", born, "M", now + DAY)
        assert exc.value.text_en == "registration is not open"
    view = svc.candidate_view(db, _period(rec_server), owner, now + DAY)
    assert view.late_running and view.late_until == until
    assert _submit(rec_server, owner, now + DAY).status == "submitted"
    event = _void_events(db)[-1]
    assert event["registration"] == squat and event["grant_accounts"] == [owner]
    assert nik not in json.dumps(event)
    assert svc.granted_to(db, squat) == ["pemilik.dua@contoh.id"]

    # The owner was told, Bahasa Indonesia first, until when.
    (mail,) = _grant_mail(db, "pemilik.dua@contoh.id")
    assert mail.body.index("bebas lagi") < mail.body.index("free again")
    assert until.isoformat() in mail.body
    assert _grant_mail(db, "penyerobot.dua@contoh.id") == []
    assert recruitment_problems(db) == []


def test_the_owners_account_named_by_staff_gets_the_grant(rec_server: RecServer) -> None:
    """The owner had no draft (refused, they gave up); the verifier who spoke
    with them names their account's e-mail on the void form: that account
    registers late, and no other."""
    db = rec_server.handle.db
    now = time.time()
    nik, born, _squatter, squat = _squatted(rec_server, "tiga", 962)
    owner = _account(rec_server, "pemilik.tiga@contoh.id")
    other = _account(rec_server, "orang.lain.tiga@contoh.id")
    _close_registration(rec_server, svc.today(now) - dt.timedelta(days=1))

    v, token = staff_client(rec_server, "verifikator1", PASSWORDS["verifier"])
    try:
        assert 'name="owner_email"' in v.get(f"/recruitment/staff/reg/{squat}").text
        form = {"csrf": token, "reason": "NIK milik pelapor", "owner_email": "tidak.ada@contoh.id"}
        r = v.post(f"/recruitment/staff/reg/{squat}/void", data=form)
        assert r.status_code == 409 and "tidak ada akun dengan email" in r.text
        form["owner_email"] = " Pemilik.Tiga@contoh.id "
        r = v.post(f"/recruitment/staff/reg/{squat}/void", data=form)
        assert r.status_code == 200, r.text
        assert "pemilik.tiga@contoh.id" in r.text
    finally:
        v.close()
    assert _void_events(db)[-1]["grant_accounts"] == [owner]
    with pytest.raises(svc.Refused) as exc:
        _save(rec_server, other, nik, "Budi", born, "M", now)
    assert exc.value.text_en == "registration is not open"
    _save(rec_server, owner, nik, "Budi Utomo", born, "M", now)
    assert _submit(rec_server, owner, now).status == "submitted"
    assert len(_grant_mail(db, "pemilik.tiga@contoh.id")) == 1
    assert recruitment_problems(db) == []


def test_a_named_owner_alone_gets_the_grant_not_a_spare_draft(rec_server: RecServer) -> None:
    """A review's repro: the squatter saved a draft with the NIK from a spare
    account before the void. Staff who spoke with the owner name the owner's
    account: the grant is for it alone, so the spare account is refused
    after the window and cannot hold the NIK again (before: granted too, it
    submitted first and the owner got 'NIK held'). Without a named owner the
    drafts holding the NIK still get it (``test_the_squatters_second_...``)."""
    db = rec_server.handle.db
    now = time.time()
    nik, born, _squatter, squat = _squatted(rec_server, "enam", 965)
    spare = _account(rec_server, "cadangan.enam@contoh.id")
    _save(rec_server, spare, nik, "Agus Salim", born, "M", now)
    owner = _account(rec_server, "pemilik.enam@contoh.id")
    _close_registration(rec_server, svc.today(now) - dt.timedelta(days=1))
    svc.void_registration(
        db, squat, "admin-rekrutmen", "NIK milik pelapor", now, None, "pemilik.enam@contoh.id"
    )
    assert _void_events(db)[-1]["grant_accounts"] == [owner]
    assert svc.granted_to(db, squat) == ["pemilik.enam@contoh.id"]
    with pytest.raises(svc.Refused) as exc:
        _submit(rec_server, spare, now + DAY)
    assert exc.value.text_en == "registration is not open"
    _save(rec_server, owner, nik, "Agus Salim", born, "M", now + DAY)
    assert _submit(rec_server, owner, now + DAY).status == "submitted"
    assert _grant_mail(db, "cadangan.enam@contoh.id") == []
    assert recruitment_problems(db) == []


def test_a_grant_for_nobody_lets_nobody_register(rec_server: RecServer) -> None:
    """No other draft had the NIK and staff named no account: the void's
    grant is for nobody (the event and the result page say so); any account
    with that NIK is refused after the window."""
    db = rec_server.handle.db
    now = time.time()
    nik, born, _squatter, squat = _squatted(rec_server, "empat", 963)
    _close_registration(rec_server, svc.today(now) - dt.timedelta(days=1))
    v, token = staff_client(rec_server, "verifikator1", PASSWORDS["verifier"])
    try:
        r = v.post(
            f"/recruitment/staff/reg/{squat}/void",
            data={"csrf": token, "reason": "NIK orang lain"},
        )
        assert r.status_code == 200, r.text
        assert "Tidak ada akun yang mendapat pendaftaran susulan" in r.text
    finally:
        v.close()
    event = _void_events(db)[-1]
    assert event["grant_accounts"] == [] and event["grant_nobody"] is True
    assert svc.granted_to(db, squat) == []
    anyone = _account(rec_server, "siapa.pun.empat@contoh.id")
    assert not svc.candidate_view(db, _period(rec_server), anyone, now).late_running
    with pytest.raises(svc.Refused) as exc:
        _save(rec_server, anyone, nik, "Siapa Pun", born, "M", now)
    assert exc.value.text_en == "registration is not open"
    assert recruitment_problems(db) == []


def test_the_command_line_void_names_the_owner_and_the_last_day(
    rec_server: RecServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """``seleksi recruitment void`` does what the staff page's form does:
    ``--owner-email`` grants that account the late registration and
    ``--late-until`` sets its last day; it prints whom the grant names. A bad
    date names the option, and nothing is voided."""
    db = rec_server.handle.db
    url = rec_server.handle.settings.database_url
    now = time.time()
    nik, born, _squatter, squat = _squatted(rec_server, "lima", 964)
    owner = _account(rec_server, "pemilik.lima@contoh.id")
    _close_registration(rec_server, svc.today(now) - dt.timedelta(days=1))
    with Session(db) as s:
        reg = s.get(RecRegistration, squat)
        assert reg is not None and reg.registration_number
        number = reg.registration_number
    argv = ["recruitment", "void", number, "--as", "verifikator1", "--db", url]
    argv += ["--reason", "NIK milik pelapor (surat 3/2024)"]
    with pytest.raises(SystemExit):
        main([*argv, "--late-until", "31-12-2030"])
    assert "not a date (YYYY-MM-DD)" in capsys.readouterr().err
    assert _reg_status(db, squat) == "submitted"
    until = svc.today(now) + dt.timedelta(days=9)
    more = ["--owner-email", "Pemilik.Lima@contoh.id", "--late-until", until.isoformat()]
    assert main([*argv, *more]) == 0
    out = capsys.readouterr().out
    assert f"voided {number}" in out and "only for: pemilik.lima@contoh.id" in out
    event = _void_events(db)[-1]
    assert event["grant_accounts"] == [owner] and event["grant_until"] == until.isoformat()
    _save(rec_server, owner, nik, "Lima Utomo", born, "M", now)
    assert _submit(rec_server, owner, now).status == "submitted"
    assert recruitment_problems(db) == []


def _reg_status(db: Any, reg_id: int) -> str:
    with Session(db) as s:
        reg = s.get(RecRegistration, reg_id)
        assert reg is not None
        return str(reg.status)


def test_a_wrong_owner_is_refused_or_put_right(
    rec_server: RecServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A review's repro: naming an account that already submitted in the
    period left the grant unusable and the owner out; naming a stranger left
    the owner out for good (a void cannot be done twice). Now the first is
    refused before anything changes, the staff page lists the draft holders a
    named owner leaves out, and the grant can be changed (page or command
    line, audited as ``rec_grant_change``); ``audit verify`` catches a grant
    edited past those events."""
    db = rec_server.handle.db
    url = rec_server.handle.settings.database_url
    now = time.time()
    nik, born, _squatter, squat = _squatted(rec_server, "tujuh", 966)
    owner = _account(rec_server, "pemilik.tujuh@contoh.id")
    _save(rec_server, owner, nik, "Tujuh Utomo", born, "M", now)
    stranger = _account(rec_server, "orang.asing.tujuh@contoh.id")
    other = _account(rec_server, "sudah.daftar.tujuh@contoh.id")
    _save(rec_server, other, demo_nik(born, "F", 967), "Sudah Daftar", born, "F", now)
    assert _submit(rec_server, other, now).status == "submitted"
    _close_registration(rec_server, svc.today(now) - dt.timedelta(days=1))
    v, token = staff_client(rec_server, "verifikator1", PASSWORDS["verifier"])
    try:
        page = v.get(f"/recruitment/staff/reg/{squat}").text
        assert "pemilik.tujuh@contoh.id" in page  # the draft holder, before the void
        # An account with a submitted registration cannot use a grant: refused.
        form = {"csrf": token, "reason": "NIK milik pelapor"}
        form["owner_email"] = "sudah.daftar.tujuh@contoh.id"
        r = v.post(f"/recruitment/staff/reg/{squat}/void", data=form)
        assert r.status_code == 409 and "sudah punya pendaftaran yang dikirim" in r.text
        assert _reg_status(db, squat) == "submitted"
        # A stranger named by mistake: the result says whom it left out.
        form["owner_email"] = "orang.asing.tujuh@contoh.id"
        r = v.post(f"/recruitment/staff/reg/{squat}/void", data=form)
        assert r.status_code == 200, r.text
        assert "orang.asing.tujuh@contoh.id" in r.text
        assert "Tidak termasuk akun yang drafnya memakai NIK ini: pemilik.tujuh@contoh.id" in r.text
        page = v.get(f"/recruitment/staff/reg/{squat}").text
        assert 'id="grant-now"' in page and "/grant" in page
        # Put right on the page: the draft holder (no e-mail named) gets it.
        r = v.post(
            f"/recruitment/staff/reg/{squat}/grant",
            data={"csrf": token, "reason": "email pemilik salah ketik"},
        )
        assert r.status_code == 200, r.text
        assert "hanya bagi: pemilik.tujuh@contoh.id" in r.text
    finally:
        v.close()
    assert svc.granted_to(db, squat) == ["pemilik.tujuh@contoh.id"]
    with pytest.raises(svc.Refused):
        _save(rec_server, stranger, nik, "Orang Asing", born, "M", now + DAY)
    assert len(_grant_mail(db, "pemilik.tujuh@contoh.id")) == 1
    assert recruitment_problems(db) == []
    # The command line does the same, and says whom.
    with Session(db) as s:
        reg = s.get(RecRegistration, squat)
        assert reg is not None and reg.registration_number
        number = reg.registration_number
    until = svc.today(now) + dt.timedelta(days=5)
    argv = ["recruitment", "grant", number, "--as", "verifikator1", "--db", url]
    argv += ["--reason", "pemilik minta waktu", "--late-until", until.isoformat()]
    assert main([*argv, "--owner-email", "pemilik.tujuh@contoh.id"]) == 0
    assert "only for: pemilik.tujuh@contoh.id" in capsys.readouterr().out
    with Session(db) as s:
        events = s.execute(
            select(AuditEvent).where(col(AuditEvent.kind) == "rec_grant_change")
        ).scalars()
        changes = [json.loads(e.data_json) for e in events]
    assert [c["grant_accounts"] for c in changes] == [[owner], [owner]]
    assert changes[0]["from_accounts"] == [stranger] and changes[-1]["grant_until"] == str(until)
    assert recruitment_problems(db) == []
    # A grant edited past its events is reported.
    with Session(writer(db)) as s:
        grant = s.execute(
            select(RecNikGrant).where(col(RecNikGrant.registration_id) == squat)
        ).scalar_one()
        grant.accounts_json = json.dumps([stranger])
        s.add(grant)
        s.commit()
    (problem,) = recruitment_problems(db)
    assert f"grant of registration {squat}" in problem and "accounts" in problem
    _owner_back(db, squat, owner)
    _save(rec_server, owner, nik, "Tujuh Utomo", born, "M", now + DAY)
    assert _submit(rec_server, owner, now + DAY).status == "submitted"


def _owner_back(db: Any, squat: int, owner: int) -> None:
    with Session(writer(db)) as s:
        grant = s.execute(
            select(RecNikGrant).where(col(RecNikGrant.registration_id) == squat)
        ).scalar_one()
        grant.accounts_json = json.dumps([owner])
        s.add(grant)
        s.commit()


@pytest.mark.browser
def test_the_grant_box_as_a_verifier_sees_it(rec_server: RecServer, browser: Any) -> None:
    """Runs after the tests above (they voided registrations with grants): in
    chromium, a voided registration's page shows whom its late registration
    is for and the form that changes it, and axe finds no serious or
    critical violation."""
    with Session(rec_server.handle.db) as s:
        grant = (
            s.execute(select(RecNikGrant).order_by(col(RecNikGrant.id).desc())).scalars().first()
        )
        assert grant is not None
    expect = expect_patiently()
    page = browser.new_page()
    try:
        page.goto(f"{rec_server.url}/recruitment/staff/login")
        page.fill("#who", "verifikator1")
        page.fill("#password", PASSWORDS["verifier"])
        page.click("form button[type=submit]")
        page.wait_for_url(re.compile(r".*/recruitment/staff$"))
        page.goto(f"{rec_server.url}/recruitment/staff/reg/{grant.registration_id}")
        expect(page.locator("#grant-now")).to_contain_text(grant.until)
        expect(
            page.get_by_label("Alasan perubahan (mis. email pemilik salah ketik)")
        ).to_be_visible()
        expect(page.get_by_role("button", name="Ubah pendaftaran susulan")).to_be_visible()
        assert serious_violations(page) == []
    finally:
        page.close()
