"""A NIK is held by a submitted registration, not by a draft (the lock-out a
reviewer reproduced: anyone with a verified account saved a draft with a
victim's NIK, and the victim could not register in the period at all).

Against a real server with the demo recruitment: the first submitted wins, a
registry that finds the NIK under another name refuses the submit, and a
verifier voids a fraudulent registration over HTTP, which frees its NIK.
``audit verify`` stays clean after each. Each test failed on the code before
the fix (revision ``0022_nik_at_submit``)."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import Session, col

from exam_server.models import AuditEvent
from exam_server.recruitment import service as svc
from exam_server.recruitment.demo import demo_nik, sample_pdf, sample_png
from recruitment.documents import PNG
from recruitment.registry import NoRegistry, OfflineRegistry, RegistryAdapter
from tests.recruitment.conftest import (
    PASSWORDS,
    RecServer,
    recruitment_problems,
    staff_client,
)

TAKEN_EN = "this NIK is held by another registration already submitted in this period"


def _account(rec: RecServer, email: str) -> int:
    db = rec.handle.db
    account = svc.signup(db, email, email.split("@")[0], "x", lambda i: "", time.time())
    assert account is not None
    svc.verify_email(db, account, time.time())
    return account


def _fields(nik: str, name: str, born: dt.date, sex: str, location: str) -> dict[str, Any]:
    return {
        "nik": nik,
        "name": name,
        "birth_date": born,
        "sex": sex,
        "education_level": "S1",
        "major": "Psikologi",
        "formation": "ANALIS-SDM-GENERAL",
        "test_location": location,
        "accommodation": "",
    }


def _draft(
    rec: RecServer,
    account: int,
    nik: str,
    name: str,
    born: dt.date,
    sex: str,
    registry: RegistryAdapter | None = None,
) -> int:
    """Save the account's registration with every document uploaded."""
    db, now = rec.handle.db, time.time()
    period = svc.current_period(db)
    assert period is not None
    fields = _fields(nik, name, born, sex, svc.test_locations(db, period.id)[0])
    reg = svc.save_registration(
        db, period, account, fields, rec.config.nik_key, registry or NoRegistry(), now
    )
    for kind in period.rules.documents_for("general"):
        media = period.rules.documents[kind].media
        data = sample_png() if PNG in media and kind == "photo" else sample_pdf(kind)
        svc.upload_document(
            db, rec.config.store, period, reg, f"account:{account}", kind, data, now
        )
    return reg


def _submit(rec: RecServer, account: int) -> Any:
    db = rec.handle.db
    period = svc.current_period(db)
    assert period is not None
    return svc.submit_registration(db, period, account, rec.config.key, time.time())


def test_a_draft_with_someone_elses_nik_does_not_lock_them_out(rec_server: RecServer) -> None:
    """The reviewer's scenario: an attacker's draft with the victim's NIK (any
    name); the victim saves and submits their own; the attacker's later
    submit is refused, telling them to contact the committee."""
    born = dt.date(1997, 5, 20)
    nik = demo_nik(born, "F", 901)
    attacker = _account(rec_server, "penyerobot@contoh.id")
    victim = _account(rec_server, "korban@contoh.id")
    _draft(rec_server, attacker, nik, "Siapa Saja", born, "F")
    # Before the fix: "NIK ini sudah terdaftar pada periode ini" here.
    _draft(rec_server, victim, nik, "Rina Wulandari", born, "F")
    mine = _submit(rec_server, victim)
    assert mine.status == "submitted" and mine.registration_number
    with pytest.raises(svc.Refused) as exc:
        _submit(rec_server, attacker)
    assert exc.value.text_en.startswith(TAKEN_EN)
    assert "hubungi panitia" in exc.value.text_id and "committee" in exc.value.text_en
    db = rec_server.handle.db
    period = svc.current_period(db)
    assert period is not None
    theirs = svc.registration_of(db, period.id, attacker)
    assert theirs is not None and theirs.status == "draft" and theirs.registration_number is None
    # Saving it again is not refused (a draft holds no NIK; revision
    # 0023_nik_grants: the owner's draft is saved while another holds it, see
    # test_late_registration.py); its submit still is.
    _draft(rec_server, attacker, nik, "Siapa Saja", born, "F")
    with pytest.raises(svc.Refused) as exc:
        _submit(rec_server, attacker)
    assert exc.value.text_en.startswith(TAKEN_EN)
    assert recruitment_problems(db) == []


def test_a_registry_that_finds_the_nik_under_another_name_refuses_the_submit(
    rec_server: RecServer,
) -> None:
    born = dt.date(1996, 8, 9)
    nik = demo_nik(born, "F", 902)
    registry = OfflineRegistry(f"nik,name,birth_date\n{nik},DEWI KARTIKA,{born.isoformat()}\n")
    attacker = _account(rec_server, "penyerobot2@contoh.id")
    owner = _account(rec_server, "dewi@contoh.id")
    _draft(rec_server, attacker, nik, "Orang Lain", born, "F", registry)
    with pytest.raises(svc.Refused) as exc:
        _submit(rec_server, attacker)
    assert exc.value.text_id.startswith("Nama tidak sesuai data kependudukan")
    assert exc.value.text_en.startswith("The name does not match the population registry")
    # The owner, as on the ID card: submitted.
    _draft(rec_server, owner, nik, "Dewi  kartika", born, "F", registry)
    assert _submit(rec_server, owner).status == "submitted"
    assert recruitment_problems(rec_server.handle.db) == []


def test_a_verifier_voids_a_fraudulent_registration_and_frees_its_nik(
    rec_server: RecServer,
) -> None:
    """A submitted registration with someone else's NIK holds it; a verifier
    voids it from its staff page with a reason (an operator may not, nor
    without a reason); the owner then registers; audited as rec_void."""
    db = rec_server.handle.db
    born = dt.date(1995, 2, 3)
    nik = demo_nik(born, "M", 903)
    fraud = _account(rec_server, "penipu@contoh.id")
    owner = _account(rec_server, "budi.asli@contoh.id")
    reg_id = _draft(rec_server, fraud, nik, "Nama Palsu", born, "M")
    assert _submit(rec_server, fraud).status == "submitted"
    # The owner's draft is saved while the NIK is held; its submit is refused.
    _draft(rec_server, owner, nik, "Budi Santoso", born, "M")
    with pytest.raises(svc.Refused) as exc:
        _submit(rec_server, owner)
    assert exc.value.text_en.startswith(TAKEN_EN)

    op, op_token = staff_client(rec_server, "operator", PASSWORDS["operator"])
    try:
        r = op.post(f"/recruitment/staff/reg/{reg_id}/void", data={"csrf": op_token, "reason": "x"})
        assert r.status_code == 409
    finally:
        op.close()
    c, token = staff_client(rec_server, "verifikator1", PASSWORDS["verifier"])
    try:
        page = c.get(f"/recruitment/staff/reg/{reg_id}").text
        assert f"/recruitment/staff/reg/{reg_id}/void" in page
        r = c.post(f"/recruitment/staff/reg/{reg_id}/void", data={"csrf": token, "reason": " "})
        assert r.status_code == 409 and "alasan pembatalan wajib diisi" in r.text
        reason = "NIK milik Budi Santoso (laporan pemilik)"
        r = c.post(f"/recruitment/staff/reg/{reg_id}/void", data={"csrf": token, "reason": reason})
        # The result page names the accounts the late registration is for
        # (revision 0024_grant_accounts): the owner's, whose draft has the NIK.
        assert r.status_code == 200, r.text
        assert "budi.asli@contoh.id" in r.text
    finally:
        c.close()
    period = svc.current_period(db)
    assert period is not None
    voided = svc.registration_of(db, period.id, fraud)
    assert voided is not None and voided.status == "void" and voided.registration_number
    with Session(db) as s:
        event = (
            s.execute(select(AuditEvent).where(col(AuditEvent.kind) == "rec_void")).scalars().one()
        )
    assert event.actor == "verifikator1"
    assert json.loads(event.data_json)["registration"] == reg_id
    assert json.loads(event.data_json)["reason"] == reason
    # The NIK is free: its owner saves and submits.
    _draft(rec_server, owner, nik, "Budi Santoso", born, "M")
    assert _submit(rec_server, owner).status == "submitted"
    # The voided one stays void (a submit changes nothing, it holds no NIK).
    assert _submit(rec_server, fraud).status == "void"
    assert recruitment_problems(db) == []


def test_a_national_admin_voids_from_the_command_line(
    rec_server: RecServer, capsys: pytest.CaptureFixture[str]
) -> None:
    from seleksi.cli import main

    db, url = rec_server.handle.db, str(rec_server.handle.db.url)
    born = dt.date(1994, 10, 11)
    nik = demo_nik(born, "F", 904)
    fraud = _account(rec_server, "penipu2@contoh.id")
    owner = _account(rec_server, "sinta@contoh.id")
    _draft(rec_server, fraud, nik, "Nama Palsu", born, "F")
    number = _submit(rec_server, fraud).registration_number
    argv = ["recruitment", "void", number, "--reason", "NIK milik Sinta", "--db", url]
    assert main([*argv, "--as", "operator"]) == 1  # an operator may not
    assert main([*argv, "--as", "admin-rekrutmen"]) == 0
    assert f"voided {number}" in capsys.readouterr().out
    _draft(rec_server, owner, nik, "Sinta Dewi", born, "F")
    assert _submit(rec_server, owner).status == "submitted"
    assert recruitment_problems(db) == []


def test_a_save_in_another_window_during_the_submit_freezes_nothing_stale(
    rec_server: RecServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by a review: the submit froze the draft as read before its lock,
    so a save from another window landing in between left the row other than
    the signed receipt (and audit verify then reported the registration as
    changed after it was submitted). Now the submit is refused, saying so,
    and the next one freezes what is stored."""
    from exam_server.recruitment import registrations as regmod

    born = dt.date(1996, 3, 4)
    nik = demo_nik(born, "M", 777)
    acc = _account(rec_server, "duatab@contoh.id")
    _draft(rec_server, acc, nik, "Budi Lama", born, "M")
    db = rec_server.handle.db
    real = regmod.make_receipt

    def other_window_saves(frozen: Any, key: Any) -> Any:
        period = svc.current_period(db)
        assert period is not None
        fields = {
            "nik": nik,
            "name": "Budi Baru",
            "birth_date": born,
            "sex": "M",
            "education_level": "S1",
            "major": "Psikologi",
            "formation": "ANALIS-SDM-GENERAL",
            "test_location": svc.test_locations(db, period.id)[0],
            "accommodation": "",
        }
        svc.save_registration(
            db, period, acc, fields, rec_server.config.nik_key, NoRegistry(), time.time()
        )
        return real(frozen, key)

    monkeypatch.setattr(regmod, "make_receipt", other_window_saves)
    with pytest.raises(svc.Refused, match="changed in another window"):
        _submit(rec_server, acc)
    monkeypatch.setattr(regmod, "make_receipt", real)
    reg = _submit(rec_server, acc)
    assert reg.status == "submitted" and reg.name == "Budi Baru"
    assert json.loads(reg.submitted_json or "{}")["name"] == "Budi Baru"
    assert recruitment_problems(db) == []
