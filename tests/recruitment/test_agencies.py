"""Several agencies and several periods in one database (CASN: many agencies
recruit in one national period, and periods may overlap).

The demo recruitment (agency KEMCON, period CASN-DEMO) gets a second agency,
PAPUA, with its own operator, approver, verifier and admin, a national
verifier, and a second period CASN-2025 open at the same time, with needs of
both agencies. Staff of one agency never see or change another's needs or
registrations: on the service and through the pages, a guessed address of
another agency's object is answered 404 exactly as a missing one. The public
lists every open vacancy across periods and agencies; a candidate registers
once per period.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlmodel import Session

from exam_server import scheduling as sch
from exam_server.auth import hash_password
from exam_server.recruitment import service as svc
from exam_server.recruitment.demo import demo_nik, demo_schedule, sample_pdf, sample_png
from exam_server.recruitment.forms import FormError
from recruitment.documents import PNG
from tests.browser_checks import expect_patiently, serious_violations
from tests.conftest import TEST_SCRYPT_N
from tests.recruitment.conftest import PASSWORDS, Mailbox, RecServer, start_rec_server

CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')
PW = "papua-pass-0001"
#: The second agency's accounts (username → role) and a national verifier.
PAPUA_STAFF = {
    "op-papua": "operator",
    "ap-papua": "approver",
    "ver-papua": "verifier",
    "adm-papua": "admin",
}
BORN = dt.date(1995, 2, 11)


@dataclass
class World:
    rec: RecServer
    demo: svc.PeriodView  # CASN-DEMO (KEMCON's needs, and PAPUA's BIDAN)
    p2025: svc.PeriodView  # CASN-2025 (KEMCON's STATISTISI, PAPUA's GURU)
    papua_reg: int  # a submitted registration for PAPUA's BIDAN in CASN-DEMO
    kemcon_reg: int  # a submitted registration of the demo (KEMCON)
    papua_need_waiting: int  # PAPUA's need submitted, not yet decided
    kemcon_need_waiting: int  # KEMCON's DOKTER, submitted, not yet decided
    candidate: tuple[str, str]  # the PAPUA candidate's email and password
    account: int  # their account


def _need(code: str, location: str, education: str, agency: str = "") -> dict[str, Any]:
    return {
        "code": code,
        "unit": f"Unit {code}",
        "position": f"Jabatan {code}",
        "location": location,
        "education_level": education,
        "majors": [],
        "max_age": 35,
        "other_requirements": "",
        "allocation": {"general": 2},
        "openings": 2,
        "agency": agency,
    }


def _approved(db: Any, period_id: int, op: str, ap: str, fields: dict[str, Any]) -> int:
    need = svc.create_need(db, period_id, op, fields, time.time())
    svc.submit_need(db, need, op, time.time())
    svc.decide_need(db, need, ap, True, "", time.time())
    return need


def _register(rec: RecServer, period: svc.PeriodView, account: int, formation: str) -> int:
    db, now = rec.handle.db, time.time()
    fields = {
        "nik": demo_nik(BORN, "M", 77),
        "name": "Yohanes Wenda",
        "birth_date": BORN,
        "sex": "M",
        "education_level": "D3",
        "major": "Kebidanan",
        "formation": formation,
        "test_location": svc.test_locations(db, period.id)[0],
        "accommodation": "",
    }
    reg = svc.save_registration(
        db, period, account, fields, rec.config.nik_key, rec.config.registry, now
    )
    for kind in period.rules.documents_for("general"):
        media = period.rules.documents[kind].media
        data = sample_png() if PNG in media and kind == "photo" else sample_pdf(kind)
        svc.upload_document(
            db, rec.config.store, period, reg, f"account:{account}", kind, data, now
        )
    return reg


@pytest.fixture(scope="module")
def world(smtp: tuple[Mailbox, int], tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    box, port = smtp
    rec = start_rec_server(tmp_path_factory.mktemp("agencies"), box, port)
    db, now = rec.handle.db, time.time()
    demo = svc.period_by_code(db, "CASN-DEMO")
    svc.create_agency(db, "PAPUA", "Pemerintah Provinsi Papua")
    for user, role in PAPUA_STAFF.items():
        svc.create_staff(db, user, user, role, PW, TEST_SCRYPT_N, "PAPUA")
    svc.create_staff(db, "ver-bkn", "BKN", "verifier", PW, TEST_SCRYPT_N)
    # PAPUA in the demo period: BIDAN approved, PERAWAT waiting.
    _approved(db, demo.id, "op-papua", "ap-papua", _need("BIDAN", "Jayapura", "D3"))
    waiting = svc.create_need(db, demo.id, "op-papua", _need("PERAWAT", "Jayapura", "D3"), now)
    svc.submit_need(db, waiting, "op-papua", now)
    kemcon_waiting = next(n["id"] for n in svc.needs(db, demo.id) if n["code"] == "DOKTER")
    svc.publish_announcement(db, demo.id, rec.config.key, "admin-rekrutmen", now)
    # A second period open at the same time, with a session at one location.
    svc.create_period(
        db,
        "CASN-2025",
        "Seleksi CASN 2025",
        "Badan Kepegawaian Negara",
        demo_schedule(svc.today(now)),
        exam_code=demo.exam_code,
    )
    p2025 = svc.period_by_code(db, "CASN-2025")
    sch.create_session(db, "REK-2025-1", demo.exam_code, "TILOK-01", "R2", now + 60 * 86400)
    svc.add_slot(db, p2025.id, "REK-2025-1", "Bandung")
    _approved(db, p2025.id, "operator", "penyetuju", _need("STATISTISI", "Bandung", "S1"))
    _approved(db, p2025.id, "op-papua", "ap-papua", _need("GURU", "Merauke", "S1"))
    svc.publish_announcement(db, p2025.id, rec.config.key, "admin-rekrutmen", now)
    # A PAPUA candidate registers for BIDAN in the demo period and submits.
    email = "yohanes@contoh.id"
    digest = hash_password(PASSWORDS["candidate"], n=TEST_SCRYPT_N)
    account = svc.signup(db, email, "Yohanes Wenda", digest, lambda i: f"link {i}", now)
    assert account is not None
    svc.verify_email(db, account, now)
    reg = _register(rec, demo, account, "BIDAN-GENERAL")
    svc.submit_registration(db, demo, account, rec.config.key, now)
    kemcon_reg = svc.verification_queue(db, demo.id, "verifikator1").oldest[0]["id"]
    yield World(
        rec,
        demo,
        p2025,
        reg,
        kemcon_reg,
        waiting,
        kemcon_waiting,
        (email, PASSWORDS["candidate"]),
        account,
    )
    rec.handle.server.stop()
    rec.handle.db.dispose()


def _ids(queue: svc.Queue) -> set[int]:
    return {r["id"] for r in queue.oldest}


# -- the service ---------------------------------------------------------------------------


def test_verifiers_see_and_decide_only_their_agencys_registrations(world: World) -> None:
    db, demo, now = world.rec.handle.db, world.demo, time.time()
    kemcon = svc.verification_queue(db, demo.id, "verifikator1")
    papua = svc.verification_queue(db, demo.id, "ver-papua")
    national = svc.verification_queue(db, demo.id, "ver-bkn")
    assert world.papua_reg not in _ids(kemcon) and world.kemcon_reg in _ids(kemcon)
    assert _ids(papua) == {world.papua_reg} and papua.waiting == 1
    assert national.waiting == kemcon.waiting + 1
    assert {r["agency"] for r in national.oldest} == {"KEMCON", "PAPUA"}
    # Every verifier action on another agency's registration: as if it did not exist.
    for act in (
        lambda: svc.registration_for_staff(db, world.papua_reg, "verifikator1"),
        lambda: svc.decide_registration(
            db, demo, world.papua_reg, "verifikator1", "MS", "", "", now
        ),
        lambda: svc.declare_conflict(db, world.papua_reg, "verifikator1", "x", now),
        lambda: svc.registration_for_staff(db, world.kemcon_reg, "ver-papua"),
    ):
        with pytest.raises(svc.NotFound):
            act()
    assert svc.registration_for_staff(db, world.papua_reg, "ver-papua").id == world.papua_reg
    assert svc.registration_for_staff(db, world.papua_reg, "ver-bkn").id == world.papua_reg
    # Another role of the right agency is refused by its role.
    with pytest.raises(svc.Refused, match="your role may not do this"):
        svc.registration_for_staff(db, world.papua_reg, "adm-papua")


def test_tms_review_and_appeals_stay_within_the_agency(world: World) -> None:
    """A TMS proposed by the PAPUA verifier waits for a second person of PAPUA
    (or national): KEMCON's verifiers neither list nor confirm it."""
    db, demo, now = world.rec.handle.db, world.demo, time.time()
    svc.create_staff(db, "ver-papua2", "ver-papua2", "verifier", PW, TEST_SCRYPT_N, "PAPUA")
    svc.decide_registration(
        db, demo, world.papua_reg, "ver-papua", "TMS", "DOC_UNREADABLE", "buram", now
    )
    assert world.papua_reg not in {
        v["registration_id"] for v in svc.pending_tms(db, demo.id, "verifikator2")
    }
    (mine,) = [
        v
        for v in svc.pending_tms(db, demo.id, "ver-papua2")
        if v["registration_id"] == world.papua_reg
    ]
    with pytest.raises(svc.NotFound):
        svc.approve_tms(db, mine["id"], "verifikator2", False, now)
    # Sent back to the queue by the agency's second verifier (the flow goes on below).
    svc.approve_tms(db, mine["id"], "ver-papua2", False, now)
    assert world.papua_reg in _ids(svc.verification_queue(db, demo.id, "ver-papua"))
    assert not [a for a in svc.open_appeals(db, demo.id, "ver-papua")]


def test_needs_are_entered_and_approved_only_within_the_agency(world: World) -> None:
    db, demo, now = world.rec.handle.db, world.demo, time.time()
    assert {n["agency"] for n in svc.needs(db, demo.id, "operator")} == {"KEMCON"}
    assert {n["agency"] for n in svc.needs(db, demo.id, "op-papua")} == {"PAPUA"}
    assert {n["agency"] for n in svc.needs(db, demo.id, "admin-rekrutmen")} == {"KEMCON", "PAPUA"}
    # KEMCON's approver and PAPUA's admin cannot decide the other's needs.
    with pytest.raises(svc.NotFound):
        svc.decide_need(db, world.papua_need_waiting, "penyetuju", True, "", now)
    with pytest.raises(svc.NotFound):
        svc.decide_need(db, world.kemcon_need_waiting, "adm-papua", True, "", now)
    with pytest.raises(svc.NotFound):
        svc.submit_need(db, world.papua_need_waiting, "operator", now)
    # An agency's operator enters its own agency's need, whatever the form names.
    own = svc.create_need(db, demo.id, "operator", _need("ARSIP-K", "Bandung", "D3", "PAPUA"), now)
    assert next(n for n in svc.needs(db, demo.id) if n["id"] == own)["agency"] == "KEMCON"
    # A national operator must name the agency.
    svc.create_staff(db, "op-bkn", "op-bkn", "operator", PW, TEST_SCRYPT_N)
    with pytest.raises(FormError) as exc:
        svc.create_need(db, demo.id, "op-bkn", _need("ARSIP-N", "Bandung", "D3"), now)
    assert exc.value.by_field()["agency"].text_en == "choose the agency"
    # PAPUA's admin approves PAPUA's need; the formations carry PAPUA's name.
    codes = svc.decide_need(db, world.papua_need_waiting, "adm-papua", True, "", now)
    assert codes == ["PERAWAT-GENERAL"]
    made = {f["code"]: f for f in svc.formations(db, demo.id)}
    assert made["PERAWAT-GENERAL"]["agency_name"] == "Pemerintah Provinsi Papua"
    # Publishing and scheduling are the national admin's: PAPUA's admin is refused.
    with pytest.raises(svc.NotFound):
        svc.publish_announcement(db, demo.id, world.rec.config.key, "adm-papua", now)
    with pytest.raises(svc.NotFound):
        svc.schedule(db, demo, "adm-papua", now)


def test_audit_entries_name_the_agency(world: World) -> None:
    with world.rec.handle.db.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT kind, actor, data_json FROM exam_audit WHERE kind IN "
                "('rec_need_approve', 'rec_need_submit', 'rec_verify', 'rec_tms_review', "
                "'rec_staff')"
            )
        ).all()
    by_actor = {(k, a): json.loads(d) for k, a, d in rows}
    assert by_actor[("rec_need_approve", "ap-papua")]["agency"] == "PAPUA"
    assert by_actor[("rec_need_approve", "penyetuju")]["agency"] == "KEMCON"
    assert by_actor[("rec_verify", "ver-papua")]["agency"] == "PAPUA"
    assert by_actor[("rec_tms_review", "ver-papua2")]["agency"] == "PAPUA"
    staff = [json.loads(d) for k, _, d in rows if k == "rec_staff"]
    assert {"username": "ver-bkn", "role": "verifier", "agency": "national"} in staff


# -- the pages -----------------------------------------------------------------------------


def _csrf(client: httpx.Client, path: str) -> str:
    m = CSRF.search(client.get(path).text)
    assert m is not None
    return m.group(1)


def _staff(world: World, user: str, password: str) -> tuple[httpx.Client, str]:
    c = httpx.Client(base_url=world.rec.url)
    token = _csrf(c, "/recruitment/staff/login")
    r = c.post(
        "/recruitment/staff/login", data={"csrf": token, "username": user, "password": password}
    )
    assert r.status_code == 303, r.text
    return c, _csrf(c, "/recruitment/staff?period=CASN-DEMO")


def test_another_agencys_answered_appeal_is_answered_as_a_missing_one(world: World) -> None:
    """Posting an answer to another agency's appeal tells nothing of it, not
    even that it exists and was answered: 404, as for an id nobody has."""
    from recruitment.models import RecAppeal

    now = time.time()
    with Session(world.rec.handle.db) as s:
        ap = RecAppeal(
            registration_id=world.papua_reg, reason="alasan", filed_at=now,
            answer_due_at=now + 86400, outcome="rejected", answer="ditolak",
            answered_by="ver-papua", answered_at=now,
        )  # fmt: skip
        s.add(ap)
        s.commit()
        appeal_id = ap.id
    c, token = _staff(world, "verifikator1", PASSWORDS["verifier"])  # KEMCON's verifier
    answers = [
        c.post(
            f"/recruitment/staff/appeal/{target}",
            data={"csrf": token, "decision": "accept", "answer": "diterima"},
        )
        for target in (appeal_id, 999999)
    ]
    c.close()
    assert [r.status_code for r in answers] == [404, 404]
    # The same page but for the address it was asked at (its language link).
    assert answers[0].text.replace(f"/{appeal_id}", "/999999") == answers[1].text
    assert "sudah dijawab" not in answers[0].text


def test_guessed_addresses_of_another_agency_are_not_found(world: World) -> None:
    c, token = _staff(world, "verifikator1", PASSWORDS["verifier"])
    page = c.get("/recruitment/staff?period=CASN-DEMO")
    assert page.status_code == 200 and "Yohanes" not in page.text
    other = f"/recruitment/staff/reg/{world.papua_reg}"
    for guess in (other, "/recruitment/staff/reg/999999"):
        # Another agency's registration is answered as a missing one is.
        for r in (
            c.get(guess),
            c.get(f"{guess}/doc/ktp"),
            c.post(f"{guess}/decide", data={"csrf": token, "decision": "MS"}),
            c.post(f"{guess}/conflict", data={"csrf": token, "reason": "x"}),
        ):
            assert r.status_code == 404 and "Data tidak ditemukan." in r.text
            assert "Yohanes" not in r.text
    assert c.get(f"/recruitment/staff/reg/{world.kemcon_reg}").status_code == 200
    c.close()
    # PAPUA's verifier reads its own registration and its documents.
    v, _ = _staff(world, "ver-papua", PW)
    assert "Yohanes Wenda" in v.get(other).text
    assert v.get(f"{other}/doc/ktp").headers["content-type"] == "application/pdf"
    assert v.get(f"/recruitment/staff/reg/{world.kemcon_reg}").status_code == 404
    v.close()
    # KEMCON's approver cannot decide PAPUA's need; PAPUA's admin neither
    # KEMCON's nor publish (the whole period's); the national admin can.
    ap, ap_token = _staff(world, "penyetuju", PASSWORDS["approver"])
    kemcon_need = svc.create_need(
        world.rec.handle.db,
        world.demo.id,
        "operator",
        _need("PRAKOM-X", "Jakarta", "S1"),
        time.time(),
    )
    svc.submit_need(world.rec.handle.db, kemcon_need, "operator", time.time())
    papua_need = svc.create_need(
        world.rec.handle.db,
        world.demo.id,
        "op-papua",
        _need("PENYULUH", "Nabire", "S1"),
        time.time(),
    )
    svc.submit_need(world.rec.handle.db, papua_need, "op-papua", time.time())
    r = ap.post(
        f"/recruitment/staff/needs/{papua_need}/decide?period=CASN-DEMO",
        data={"csrf": ap_token, "decision": "approve"},
    )
    assert r.status_code == 404
    assert "PENYULUH" not in ap.get("/recruitment/staff?period=CASN-DEMO").text
    ap.close()
    adm, adm_token = _staff(world, "adm-papua", PW)
    r = adm.post(
        f"/recruitment/staff/needs/{kemcon_need}/decide",
        data={"csrf": adm_token, "decision": "approve"},
    )
    assert r.status_code == 404
    assert adm.post("/recruitment/staff/publish", data={"csrf": adm_token}).status_code == 404
    assert adm.post("/recruitment/staff/outbox/again", data={"csrf": adm_token}).status_code == 404
    r = adm.post(
        f"/recruitment/staff/needs/{papua_need}/decide?period=CASN-DEMO",
        data={"csrf": adm_token, "decision": "approve"},
    )
    assert r.status_code == 303 and r.headers["location"].endswith(
        "/recruitment/staff?period=CASN-DEMO"
    )
    adm.close()
    nat, nat_token = _staff(world, "admin-rekrutmen", PASSWORDS["admin"])
    r = nat.post(
        f"/recruitment/staff/needs/{kemcon_need}/decide",
        data={"csrf": nat_token, "decision": "approve"},
    )
    assert r.status_code == 303
    nat.close()


def test_public_listing_across_periods_and_agencies(world: World) -> None:
    with httpx.Client(base_url=world.rec.url) as c:
        every = c.get("/recruitment/vacancies")
        assert every.status_code == 200
        rows = re.findall(r'<tr data-period="([^"]+)" data-agency="([^"]*)">', every.text)
        assert {("CASN-DEMO", "KEMCON"), ("CASN-DEMO", "PAPUA")} <= set(rows)
        assert {("CASN-2025", "KEMCON"), ("CASN-2025", "PAPUA")} <= set(rows)
        papua = c.get("/recruitment/vacancies", params={"agency": "PAPUA"}).text
        assert {
            a for _, a in re.findall(r'data-period="([^"]+)" data-agency="([^"]*)"', papua)
        } == {"PAPUA"}
        assert "GURU-GENERAL" in papua and "BIDAN-GENERAL" in papua
        y2025 = c.get("/recruitment/vacancies", params={"period": "CASN-2025"}).text
        assert "STATISTISI-GENERAL" in y2025 and "GURU-GENERAL" in y2025 and "BIDAN" not in y2025
        narrow = c.get(
            "/recruitment/vacancies",
            params={"period": "CASN-2025", "education": "S1", "location": "merauke"},
        ).text
        assert "GURU-GENERAL" in narrow and "STATISTISI" not in narrow
        # Each period's announcement has its own address, files included.
        page = c.get("/recruitment/p/CASN-2025/")
        assert page.status_code == 200 and "Seleksi CASN 2025" in page.text
        assert "Pemerintah Provinsi Papua" in page.text
        only = c.get("/recruitment/p/CASN-2025/", params={"agency": "KEMCON"}).text
        assert "STATISTISI-GENERAL" in only and "GURU-GENERAL" not in only
        doc = c.get("/recruitment/p/CASN-2025/announcement/1.json").json()
        assert {(f["code"], f["agency"]) for f in doc["formations"]} >= {
            ("GURU-GENERAL", "PAPUA"),
            ("STATISTISI-GENERAL", "KEMCON"),
        }
        assert c.get("/recruitment/p/CASN-2025/announcement/1.sig").status_code == 200
        assert c.get("/recruitment/p/NO-SUCH/").status_code == 404
        assert c.get("/recruitment/p/NO-SUCH/announcement/1.json").status_code == 404


def test_one_registration_per_nik_in_each_period(world: World) -> None:
    """The PAPUA candidate registered in CASN-DEMO registers again in CASN-2025
    (the same NIK: another period); their page lists both. Another account
    with that NIK in CASN-2025 saves a draft too: a draft holds no NIK (the
    first submitted does: ``test_nik_held_at_submit.py``)."""
    rec, db = world.rec, world.rec.handle.db
    email, password = world.candidate
    with httpx.Client(base_url=rec.url) as c:
        token = _csrf(c, "/recruitment/login?period=CASN-2025")
        r = c.post(
            "/recruitment/login?period=CASN-2025",
            data={"csrf": token, "email": email, "password": password},
        )
        assert r.headers["location"].endswith("/recruitment/me?period=CASN-2025")
        page = c.get("/recruitment/me?period=CASN-2025").text
        assert 'id="my-periods"' in page and "Belum mendaftar" in page
        _register(rec, world.p2025, world.account, "GURU-GENERAL")
        page = c.get("/recruitment/me?period=CASN-2025").text
        mine = dict(
            re.findall(r'<tr data-period="([^"]+)"><td>.*?</td>\s*<td>(.*?)</td>', page, re.S)
        )
        assert "Belum dikirim" in mine["CASN-2025"] and "verifikasi" in mine["CASN-DEMO"]
    digest = hash_password("another-pass-1", n=TEST_SCRYPT_N)
    other = svc.signup(db, "kembar@contoh.id", "Kembar", digest, lambda i: "", time.time())
    assert other is not None
    svc.verify_email(db, other, time.time())
    theirs = _register(rec, world.p2025, other, "GURU-GENERAL")
    mine = svc.registration_of(db, world.p2025.id, world.account)
    assert mine is not None and mine.id != theirs


# -- the browser ---------------------------------------------------------------------------


@pytest.mark.browser
def test_an_agency_verifiers_page_lists_only_its_agency(browser: Any, world: World) -> None:
    expect = expect_patiently()
    page = browser.new_page()
    page.goto(f"{world.rec.url}/recruitment/staff/login")
    page.fill("#who", "ver-papua")
    page.fill("#password", PW)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/recruitment/staff$"))
    page.goto(f"{world.rec.url}/recruitment/staff?period=CASN-DEMO")
    expect(page.locator("#staff-agency")).to_contain_text("Pemerintah Provinsi Papua")
    items = page.locator("#queue li")
    expect(items).to_have_count(1)
    expect(items.first).to_contain_text("Yohanes Wenda")
    expect(items.first).to_contain_text("PAPUA")
    assert serious_violations(page) == []
    # The KEMCON verifier's queue on the same period has none of PAPUA's.
    other = browser.new_page()
    other.goto(f"{world.rec.url}/recruitment/staff/login")
    other.fill("#who", "verifikator1")
    other.fill("#password", PASSWORDS["verifier"])
    other.click("button[type=submit]")
    other.wait_for_url(re.compile(r".*/recruitment/staff$"))
    other.goto(f"{world.rec.url}/recruitment/staff?period=CASN-DEMO")
    expect(other.locator("#queue")).not_to_contain_text("Yohanes")
    assert other.locator("#queue li").count() >= 1
    assert serious_violations(other) == []
    page.close()
    other.close()


# -- the revision --------------------------------------------------------------------------


def test_revision_0018_gives_existing_needs_their_periods_agency(tmp_path: Path) -> None:
    """Each period's agency text becomes an agency, the period's needs belong to
    it, existing staff become national; the downgrade takes it all back."""
    from alembic import command
    from alembic.script import ScriptDirectory
    from sqlalchemy import inspect as sa_inspect

    from exam_server.db import make_engine
    from exam_server.migrations import alembic_config

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}", pool_size=1)
    try:
        with engine.begin() as conn:
            cfg = alembic_config(conn)
            before = (
                ScriptDirectory.from_config(cfg).get_revision("0018_rec_agencies").down_revision
            )
            command.upgrade(cfg, str(before))
            for pid, agency in ((1, "Kementerian A"), (2, "Pemda B"), (3, "Kementerian A")):
                conn.execute(
                    text(
                        "INSERT INTO rec_period (id, code, name, agency, rules_json, "
                        "schedule_json, exam_code) "
                        "VALUES (:id, :code, 'n', :agency, '{}', '{}', '')"
                    ),
                    {"id": pid, "code": f"P{pid}", "agency": agency},
                )
                conn.execute(
                    text(
                        "INSERT INTO rec_need (period_id, code, unit, position, location, "
                        "openings, education_level, majors_json, max_age, other_requirements, "
                        "allocation_json, status, created_by, submitted_by, decided_by, "
                        "decision_reason, updated_at) VALUES (:p, :code, 'u', 'p', 'l', 1, 'S1', "
                        "'[]', 35, '', '{}', 'draft', 'op', '', '', '', 0)"
                    ),
                    {"p": pid, "code": f"N{pid}"},
                )
            conn.execute(
                text(
                    "INSERT INTO rec_staff (username, name, role, password_hash) "
                    "VALUES ('old', '', 'verifier', 'x')"
                )
            )
            command.upgrade(cfg, "0018_rec_agencies")
            agencies: dict[str, str] = dict(
                conn.execute(text("SELECT name, code FROM rec_agency")).all()
            )
            needs: dict[str, str] = dict(
                conn.execute(
                    text(
                        "SELECT n.code, a.name FROM rec_need n JOIN rec_agency a "
                        "ON a.id = n.agency_id"
                    )
                ).all()
            )
            staff = conn.execute(text("SELECT agency_id FROM rec_staff")).scalar_one()
        assert agencies == {"Kementerian A": "KEMENTERIAN-A", "Pemda B": "PEMDA-B"}
        assert needs == {"N1": "Kementerian A", "N2": "Pemda B", "N3": "Kementerian A"}
        assert staff is None
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn), str(before))
            inspector = sa_inspect(conn)
            assert "agency_id" not in {c["name"] for c in inspector.get_columns("rec_need")}
            assert "rec_agency" not in inspector.get_table_names()
    finally:
        engine.dispose()


def test_agency_accounts_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from seleksi.cli import main

    db = ["--db", f"sqlite:///{tmp_path / 'cli.db'}"]
    assert main(["db", "migrate", *db]) == 0
    assert main(["recruitment", "agency-create", "PAPUA", "--name", "Prov. Papua", *db]) == 0
    assert main(["recruitment", "agency-create", "PAPUA", "--name", "again", *db]) == 1
    pw = tmp_path / "pw.txt"
    pw.write_text("verifikator-rahasia\n")
    staff = ["recruitment", "staff-create", "--password-file", str(pw), "--role", "verifier"]
    assert main([*staff, "v-papua", "--agency", "PAPUA", *db]) == 0
    assert main([*staff, "v-bkn", *db]) == 0
    assert main([*staff, "v-x", "--agency", "NO-SUCH", *db]) == 1
    assert "no agency NO-SUCH" in capsys.readouterr().err
    assert main(["recruitment", "staff-list", *db]) == 0
    out = capsys.readouterr().out
    assert re.search(r"v-bkn\s+verifier\s+national", out)
    assert re.search(r"v-papua\s+verifier\s+PAPUA", out)
