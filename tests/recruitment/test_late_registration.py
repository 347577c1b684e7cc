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
import time
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import Session, col

from exam_server.db import writer
from exam_server.models import Attempt, Candidate
from exam_server.recruitment import service as svc
from exam_server.recruitment.demo import demo_nik
from recruitment.models import RecNikGrant, RecRegistration
from tests.recruitment.conftest import (
    PASSWORDS,
    RecServer,
    recruitment_problems,
    staff_client,
)
from tests.recruitment.squatting import (
    DAY,
    close_registration,
    current_period,
    grant_mail,
    new_account,
    save_draft,
    squatted,
    submit_draft,
    void_events,
)

TAKEN_EN = "this NIK is held by another registration already submitted in this period"


def test_the_owner_registers_after_the_window_once_the_squatter_is_voided(
    rec_server: RecServer,
) -> None:
    """The reviewer's scenario, with no registry configured."""
    db = rec_server.handle.db
    now = time.time()
    born = dt.date(1993, 6, 7)
    nik = demo_nik(born, "F", 951)
    attacker = new_account(rec_server, "penyerobot.late@contoh.id")
    owner = new_account(rec_server, "pemilik.late@contoh.id")
    later = new_account(rec_server, "orang.lain.late@contoh.id")
    stranger = new_account(rec_server, "nik.lain.late@contoh.id")

    # In the window: the attacker submits first.
    squat = save_draft(rec_server, attacker, nik, "Siapa Saja", born, "F", now)
    assert submit_draft(rec_server, attacker, now).status == "submitted"
    # The owner's draft is saved while the NIK is held (before: refused)...
    mine = save_draft(rec_server, owner, nik, "Ratna Sari", born, "F", now)
    view = svc.candidate_view(db, current_period(rec_server), owner, now)
    assert view.registration is not None and view.registration.id == mine
    assert view.nik_held and view.late_until is None
    # (their page says the NIK is held: contact the committee); the submit is
    # refused, in both languages.
    with pytest.raises(svc.Refused) as exc:
        submit_draft(rec_server, owner, now)
    assert exc.value.text_en.startswith(TAKEN_EN) and "hubungi panitia" in exc.value.text_id

    # Verification happens after the registration window closed.
    close_registration(rec_server, svc.today(now) - dt.timedelta(days=1))
    with pytest.raises(svc.Refused) as exc:
        submit_draft(rec_server, owner, now)
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
    event = void_events(db)[-1]
    assert event["registration"] == squat
    assert event["grant_until"] == until.isoformat()
    assert event["nik_hash"] == grant.nik_hash
    assert event["grant_accounts"] == [owner] and json.loads(grant.accounts_json) == [owner]

    # The owner's page shows the late registration; another NIK gets none.
    view = svc.candidate_view(db, current_period(rec_server), owner, now)
    assert not view.nik_held and view.late_until == until
    with pytest.raises(svc.Refused) as exc:
        save_draft(rec_server, stranger, demo_nik(born, "F", 952), "Lain Lagi", born, "F", now)
    assert exc.value.text_en == "registration is not open"

    # The owner submits after the window, within the grant.
    assert submit_draft(rec_server, owner, now + DAY).status == "submitted"
    # Someone else with that NIK after the grant's last day: refused.
    after = now + 5 * DAY
    with pytest.raises(svc.Refused) as exc:
        save_draft(rec_server, later, nik, "Ratna Sari", born, "F", after)
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
    close_registration(rec_server, svc.today(now) + dt.timedelta(days=20))
    fraud = new_account(rec_server, "penipu.late@contoh.id")
    reg = save_draft(rec_server, fraud, nik, "Nama Palsu", born, "M", now)
    submit_draft(rec_server, fraud, now)
    with pytest.raises(svc.Refused) as exc:
        svc.void_registration(
            db, reg, "admin-rekrutmen", "NIK orang lain", now, svc.today(now) - dt.timedelta(1)
        )
    assert exc.value.text_en == "the late registration's last day cannot be before today"
    svc.void_registration(db, reg, "admin-rekrutmen", "NIK orang lain", now)
    assert (
        void_events(db)[-1]["grant_until"] == (svc.today(now) + dt.timedelta(days=20)).isoformat()
    )
    close_registration(rec_server, svc.today(now) - dt.timedelta(days=1))
    assert svc.default_grant_until(current_period(rec_server).schedule, now) == svc.today(
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
    event = void_events(db)[-1]
    assert event["was"] == "scheduled" and event["candidate"] == reg.candidate_id
    assert event["left_session"]
    assert svc.card_of(db, reg.id) is None
    assert recruitment_problems(db) == []


def test_the_squatters_second_account_is_refused_the_owners_grant(
    rec_server: RecServer,
) -> None:
    """The reviewer's repro: the squatter submits first, the owner saves a
    draft, the window closes, the squatter is voided with a grant. The
    squatter's second account (made before or after the void) is refused
    after the window; the owner submits; the owner is told by e-mail."""
    db = rec_server.handle.db
    now = time.time()
    nik, born, squatter, squat = squatted(rec_server, "dua", 961)
    owner = new_account(rec_server, "pemilik.dua@contoh.id")
    save_draft(rec_server, owner, nik, "Agus Salim", born, "M", now)
    second = new_account(rec_server, "penyerobot.kedua@contoh.id")
    close_registration(rec_server, svc.today(now) - dt.timedelta(days=1))

    until = svc.today(now) + dt.timedelta(days=3)
    svc.void_registration(db, squat, "admin-rekrutmen", "NIK milik Agus Salim", now, until)
    third = new_account(rec_server, "penyerobot.ketiga@contoh.id")

    # After the window, within the grant: the squatter's other accounts are
    # refused (before: saved and submitted, and the owner got 'NIK held').
    for other in (second, third, squatter):
        view = svc.candidate_view(db, current_period(rec_server), other, now + DAY)
        assert not view.late_running and view.late_until is None
        with pytest.raises(svc.Refused) as exc:
            save_draft(rec_server, other, nik, "Agus Salim", born, "M", now + DAY)
        assert exc.value.text_en == "registration is not open"
    view = svc.candidate_view(db, current_period(rec_server), owner, now + DAY)
    assert view.late_running and view.late_until == until
    assert submit_draft(rec_server, owner, now + DAY).status == "submitted"
    event = void_events(db)[-1]
    assert event["registration"] == squat and event["grant_accounts"] == [owner]
    assert nik not in json.dumps(event)
    assert svc.granted_to(db, squat) == ["pemilik.dua@contoh.id"]

    # The owner was told, Bahasa Indonesia first, until when.
    (mail,) = grant_mail(db, "pemilik.dua@contoh.id")
    assert mail.body.index("bebas lagi") < mail.body.index("free again")
    assert until.isoformat() in mail.body
    assert grant_mail(db, "penyerobot.dua@contoh.id") == []
    assert recruitment_problems(db) == []


def test_the_owners_account_named_by_staff_gets_the_grant(rec_server: RecServer) -> None:
    """The owner had no draft (refused, they gave up); the verifier who spoke
    with them names their account's e-mail on the void form: that account
    registers late, and no other."""
    db = rec_server.handle.db
    now = time.time()
    nik, born, _squatter, squat = squatted(rec_server, "tiga", 962)
    owner = new_account(rec_server, "pemilik.tiga@contoh.id")
    other = new_account(rec_server, "orang.lain.tiga@contoh.id")
    close_registration(rec_server, svc.today(now) - dt.timedelta(days=1))

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
    assert void_events(db)[-1]["grant_accounts"] == [owner]
    with pytest.raises(svc.Refused) as exc:
        save_draft(rec_server, other, nik, "Budi", born, "M", now)
    assert exc.value.text_en == "registration is not open"
    save_draft(rec_server, owner, nik, "Budi Utomo", born, "M", now)
    assert submit_draft(rec_server, owner, now).status == "submitted"
    assert len(grant_mail(db, "pemilik.tiga@contoh.id")) == 1
    assert recruitment_problems(db) == []


def test_a_grant_for_nobody_lets_nobody_register(rec_server: RecServer) -> None:
    """No other draft had the NIK and staff named no account: the void's
    grant is for nobody (the event and the result page say so); any account
    with that NIK is refused after the window."""
    db = rec_server.handle.db
    now = time.time()
    nik, born, _squatter, squat = squatted(rec_server, "empat", 963)
    close_registration(rec_server, svc.today(now) - dt.timedelta(days=1))
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
    event = void_events(db)[-1]
    assert event["grant_accounts"] == [] and event["grant_nobody"] is True
    assert svc.granted_to(db, squat) == []
    anyone = new_account(rec_server, "siapa.pun.empat@contoh.id")
    assert not svc.candidate_view(db, current_period(rec_server), anyone, now).late_running
    with pytest.raises(svc.Refused) as exc:
        save_draft(rec_server, anyone, nik, "Siapa Pun", born, "M", now)
    assert exc.value.text_en == "registration is not open"
    assert recruitment_problems(db) == []
