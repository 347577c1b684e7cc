"""Late registrations named and changed (revision ``0024`` on): a void that
names the NIK owner's account grants it alone (a squatter's spare draft
gets nothing), an account that could not use a grant is refused, a wrong
name is put right by changing the grant (the staff page, ``seleksi
recruitment grant``; audited as ``rec_grant_change``, and ``audit verify``
checks grants against their events), and the command line's void names
the owner and the last day as the page's form does. Each test failed on
the code before its change (found by reviews on 2026-12-07)."""

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
from exam_server.models import AuditEvent
from exam_server.recruitment import service as svc
from exam_server.recruitment.demo import demo_nik
from recruitment.models import RecNikGrant, RecRegistration
from seleksi.cli import main
from tests.browser_checks import expect_patiently, serious_violations
from tests.recruitment.conftest import (
    PASSWORDS,
    RecServer,
    recruitment_problems,
    staff_client,
)
from tests.recruitment.squatting import (
    DAY,
    close_registration,
    grant_mail,
    new_account,
    reg_status,
    save_draft,
    squatted,
    submit_draft,
    void_events,
)


def test_a_named_owner_alone_gets_the_grant_not_a_spare_draft(rec_server: RecServer) -> None:
    """A review's repro: the squatter saved a draft with the NIK from a spare
    account before the void. Staff who spoke with the owner name the owner's
    account: the grant is for it alone, so the spare account is refused
    after the window and cannot hold the NIK again (before: granted too, it
    submitted first and the owner got 'NIK held'). Without a named owner the
    drafts holding the NIK still get it (``test_the_squatters_second_...``)."""
    db = rec_server.handle.db
    now = time.time()
    nik, born, _squatter, squat = squatted(rec_server, "enam", 965)
    spare = new_account(rec_server, "cadangan.enam@contoh.id")
    save_draft(rec_server, spare, nik, "Agus Salim", born, "M", now)
    owner = new_account(rec_server, "pemilik.enam@contoh.id")
    close_registration(rec_server, svc.today(now) - dt.timedelta(days=1))
    svc.void_registration(
        db, squat, "admin-rekrutmen", "NIK milik pelapor", now, None, "pemilik.enam@contoh.id"
    )
    assert void_events(db)[-1]["grant_accounts"] == [owner]
    assert svc.granted_to(db, squat) == ["pemilik.enam@contoh.id"]
    with pytest.raises(svc.Refused) as exc:
        submit_draft(rec_server, spare, now + DAY)
    assert exc.value.text_en == "registration is not open"
    save_draft(rec_server, owner, nik, "Agus Salim", born, "M", now + DAY)
    assert submit_draft(rec_server, owner, now + DAY).status == "submitted"
    assert grant_mail(db, "cadangan.enam@contoh.id") == []
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
    nik, born, _squatter, squat = squatted(rec_server, "lima", 964)
    owner = new_account(rec_server, "pemilik.lima@contoh.id")
    close_registration(rec_server, svc.today(now) - dt.timedelta(days=1))
    with Session(db) as s:
        reg = s.get(RecRegistration, squat)
        assert reg is not None and reg.registration_number
        number = reg.registration_number
    argv = ["recruitment", "void", number, "--as", "verifikator1", "--db", url]
    argv += ["--reason", "NIK milik pelapor (surat 3/2024)"]
    with pytest.raises(SystemExit):
        main([*argv, "--late-until", "31-12-2030"])
    assert "not a date (YYYY-MM-DD)" in capsys.readouterr().err
    assert reg_status(db, squat) == "submitted"
    until = svc.today(now) + dt.timedelta(days=9)
    more = ["--owner-email", "Pemilik.Lima@contoh.id", "--late-until", until.isoformat()]
    assert main([*argv, *more]) == 0
    out = capsys.readouterr().out
    assert f"voided {number}" in out and "only for: pemilik.lima@contoh.id" in out
    event = void_events(db)[-1]
    assert event["grant_accounts"] == [owner] and event["grant_until"] == until.isoformat()
    save_draft(rec_server, owner, nik, "Lima Utomo", born, "M", now)
    assert submit_draft(rec_server, owner, now).status == "submitted"
    assert recruitment_problems(db) == []


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
    nik, born, _squatter, squat = squatted(rec_server, "tujuh", 966)
    owner = new_account(rec_server, "pemilik.tujuh@contoh.id")
    save_draft(rec_server, owner, nik, "Tujuh Utomo", born, "M", now)
    stranger = new_account(rec_server, "orang.asing.tujuh@contoh.id")
    other = new_account(rec_server, "sudah.daftar.tujuh@contoh.id")
    save_draft(rec_server, other, demo_nik(born, "F", 967), "Sudah Daftar", born, "F", now)
    assert submit_draft(rec_server, other, now).status == "submitted"
    close_registration(rec_server, svc.today(now) - dt.timedelta(days=1))
    v, token = staff_client(rec_server, "verifikator1", PASSWORDS["verifier"])
    try:
        page = v.get(f"/recruitment/staff/reg/{squat}").text
        assert "pemilik.tujuh@contoh.id" in page  # the draft holder, before the void
        # An account with a submitted registration cannot use a grant: refused.
        form = {"csrf": token, "reason": "NIK milik pelapor"}
        form["owner_email"] = "sudah.daftar.tujuh@contoh.id"
        r = v.post(f"/recruitment/staff/reg/{squat}/void", data=form)
        assert r.status_code == 409 and "sudah punya pendaftaran yang dikirim" in r.text
        assert reg_status(db, squat) == "submitted"
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
        save_draft(rec_server, stranger, nik, "Orang Asing", born, "M", now + DAY)
    assert len(grant_mail(db, "pemilik.tujuh@contoh.id")) == 1
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
    save_draft(rec_server, owner, nik, "Tujuh Utomo", born, "M", now + DAY)
    assert submit_draft(rec_server, owner, now + DAY).status == "submitted"


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
