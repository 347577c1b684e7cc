"""The whole recruitment flow in chromium, as the people involved use it.

A candidate signs up (the verification link arrives by SMTP), registers with a
birth date that is too old for the formation and reads why, corrects it,
uploads documents (a disguised file is refused), submits and gets a number;
a verifier marks TMS, a second verifier confirms it; the candidate appeals,
a third verifier accepts the appeal; the admin schedules; the candidate
prints the exam card and, on exam day, logs in at the terminal with the
registration number, the PIN from the desk and the session token.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest

from exam_server import scheduling as sch
from exam_server.recruitment import outbox
from exam_server.recruitment.demo import demo_nik, sample_pdf, sample_png
from recruitment.bounces import read_report, report_bytes
from tests.browser_checks import expect_patiently, serious_violations
from tests.recruitment.conftest import PASSWORDS, RecServer

pytestmark = pytest.mark.browser

EMAIL = "rina@contoh.id"
BORN = dt.date(1996, 7, 2)


def _staff_page(browser: Any, url: str, user: str, password: str) -> Any:
    page = browser.new_page()
    page.goto(f"{url}/recruitment/staff/login")
    page.fill("#who", user)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/recruitment/staff$"))
    return page


def _last_message_to(rec_server: RecServer, to: str) -> Any:
    from sqlalchemy import select
    from sqlmodel import Session

    from recruitment.models import RecOutbox

    with Session(rec_server.handle.db) as s:
        row = (
            s.execute(
                select(RecOutbox).where(RecOutbox.to_addr == to).order_by(RecOutbox.id.desc())  # type: ignore[union-attr]
            )
            .scalars()
            .first()
        )
        assert row is not None
        s.expunge(row)
        return row


def test_whole_flow(browser: Any, rec_server: RecServer, tmp_path: Path) -> None:
    url = rec_server.url
    expect = expect_patiently()
    files = {
        "pdf": tmp_path / "doc.pdf",
        "png": tmp_path / "photo.png",
        "fake": tmp_path / "fake.pdf",
    }
    files["pdf"].write_bytes(sample_pdf("ijazah"))
    files["png"].write_bytes(sample_png())
    files["fake"].write_bytes(b"<html><script>alert(1)</script></html>")

    # The approver approves the need still waiting (DOKTER); the admin publishes:
    # the announcement's new version lists its formations as what changed.
    approver = _staff_page(browser, url, "penyetuju", PASSWORDS["approver"])
    expect(approver.locator("#need-DOKTER")).to_contain_text("menunggu persetujuan")
    assert serious_violations(approver) == []
    approver.click("#need-DOKTER button[value=approve]")
    expect(approver.locator("#need-DOKTER .need-status")).to_contain_text("Disetujui")
    publisher = _staff_page(browser, url, "admin-rekrutmen", PASSWORDS["admin"])
    publisher.click("text=Terbitkan pengumuman")
    publisher.wait_for_url(re.compile(r".*/recruitment/staff$"))

    # The public announcement: formations searchable, signed, accessible.
    page = browser.new_page()
    page.goto(f"{url}/recruitment/")
    expect(page.locator("h1")).to_contain_text("Pengumuman seleksi")
    expect(page.locator("main")).to_contain_text("Versi 2")
    expect(page.locator("main")).to_contain_text("Formasi baru DOKTER-PAPUA")
    page.fill("#q-loc", "Bandung")
    page.click("form[role=search] button")
    expect(page.locator("table").nth(1)).to_contain_text("ANALIS-SDM-GENERAL")
    expect(page.locator("table").nth(1)).not_to_contain_text("PRANATA-KOMP")
    assert serious_violations(page) == []

    # Sign up; the verification link comes through the outbox and SMTP.
    page.click("text=Daftar akun")
    page.fill("#name", "Rina Marlina")
    page.fill("#email", EMAIL)
    page.fill("#password", "rina-password-1")
    page.fill("#password2", "rina-password-1")
    page.click("form button[type=submit]")
    expect(page.locator("h1")).to_contain_text("Periksa email")
    (_, subject, body) = rec_server.mail.wait_for(EMAIL)[0]
    assert "Verifikasi" in subject
    link = re.search(r"http\S+/recruitment/verify\?t=\S+", body)
    assert link is not None
    page.goto(link.group(0))
    expect(page.locator("h1")).to_contain_text("Email terverifikasi")

    page.goto(f"{url}/recruitment/login")
    page.fill("#who", EMAIL)
    page.fill("#password", "rina-password-1")
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r".*/recruitment/me$"))

    # Too old for the formation: the live check says why, in Bahasa Indonesia.
    page.fill("#name", "Rina Marlina")
    page.select_option("#sex", "F")
    page.select_option("#education_level", "S1")
    page.fill("#major", "Teknik Informatika")
    page.select_option("#formation", "PRANATA-KOMP-GENERAL")
    page.select_option("#test_location", "Jakarta")
    page.fill("#birth_date", "1980-01-01")
    expect(page.locator("#checks")).to_contain_text("44 tahun (syarat 18–35)")
    expect(page.locator("#checks li.bad")).to_have_count(1)
    # A NIK whose birth date differs from the form is refused on the server.
    page.fill("#nik", demo_nik(BORN, "F", 4321))
    page.click("#reg-form button[type=submit]")
    expect(page.locator("#err-birth_date")).to_contain_text("tidak sesuai tanggal lahir dalam NIK")
    page.fill("#nik", demo_nik(BORN, "F", 4321))
    page.fill("#birth_date", BORN.isoformat())
    expect(page.locator("#checks li.bad")).to_have_count(0)
    page.click("#reg-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/recruitment/me$"))
    assert demo_nik(BORN, "F", 4321) not in page.content()  # the NIK is never shown back

    # Uploads: a disguised file is refused and nothing is stored.
    stored_before = sorted(p.name for p in rec_server.config.store.root.rglob("*") if p.is_file())
    page.set_input_files("#file-ijazah", str(files["fake"]))
    page.click("form:has(#file-ijazah) button")
    expect(page.locator("p[role=status]")).to_contain_text("bukan PDF")
    assert (
        sorted(p.name for p in rec_server.config.store.root.rglob("*") if p.is_file())
        == stored_before
    )
    page.goto(f"{url}/recruitment/me")
    for kind in ("ktp", "photo", "ijazah", "transkrip"):
        page.set_input_files(f"#file-{kind}", str(files["png" if kind == "photo" else "pdf"]))
        page.click(f"form:has(#file-{kind}) button")
        page.wait_for_url(re.compile(r".*/recruitment/me$"))
    expect(page.locator("#checks li.ok")).to_have_count(7)
    assert serious_violations(page) == []
    page.click("#submit-registration")
    expect(page.locator("#receipt-regno")).to_contain_text("CASN-DEMO-")
    regno = page.locator("#receipt-regno").inner_text().strip()
    assert serious_violations(page) == []

    # Verification: TMS by one verifier, confirmed by a second.
    v1 = _staff_page(browser, url, "verifikator1", PASSWORDS["verifier"])
    v1.click(f"#queue a:has-text('{regno}')")
    expect(v1.locator("h1")).to_contain_text(regno)
    assert serious_violations(v1) == []
    v1.select_option("#reason_code", "DOC_MISMATCH")
    v1.fill("#note", "Nama pada ijazah berbeda")
    v1.click("button[value=TMS]")
    v1.wait_for_url(re.compile(r".*/recruitment/staff$"))
    expect(v1.locator("#tms")).not_to_contain_text(regno)  # not their own to confirm
    v2 = _staff_page(browser, url, "verifikator2", PASSWORDS["verifier2"])
    assert serious_violations(v2) == []
    v2.click(f"#tms li:has-text('{regno}') button[value=agree]")
    v2.wait_for_url(re.compile(r".*/recruitment/staff$"))

    # The candidate reads the TMS with its reason and appeals.
    page.goto(f"{url}/recruitment/me")
    expect(page.locator("#status")).to_contain_text("Dokumen tidak sesuai dengan data yang diisi")
    page.fill("#appeal-reason", "Ijazah saya sesuai; nama lengkap tertulis di halaman dua.")
    page.click("form:has(#appeal-reason) button")
    expect(page.locator("#status-text")).to_contain_text("Sanggah diajukan")

    # Neither verifier of the TMS may answer; a third one accepts.
    for v in (v1, v2):
        v.goto(f"{url}/recruitment/staff")
        v.fill(f"#appeals li:has-text('{regno}') textarea", "Diterima")
        v.click(f"#appeals li:has-text('{regno}') button[value=accept]")
        expect(v.locator("p[role=status]")).to_contain_text("akun lain")
    v3 = _staff_page(browser, url, "verifikator3", PASSWORDS["verifier3"])
    v3.fill(f"#appeals li:has-text('{regno}') textarea", "Nama sesuai halaman dua ijazah.")
    v3.click(f"#appeals li:has-text('{regno}') button[value=accept]")
    v3.wait_for_url(re.compile(r".*/recruitment/staff$"))
    page.goto(f"{url}/recruitment/me")
    expect(page.locator("#appeal-outcome")).to_contain_text("DITERIMA")

    # The mailbox is full: the report that comes back (`seleksi recruitment
    # bounces`) marks the last message, and the candidate's page says so.
    last = _last_message_to(rec_server, EMAIL)
    report = report_bytes(
        outbox.message_id(last, "seleksi@contoh.go.id"), EMAIL, status="5.2.2",
        diagnostic="smtp; 552 5.2.2 mailbox full",
    )  # fmt: skip
    marked = outbox.record_bounces(rec_server.handle.db, read_report(report), "test", 0.0)
    assert marked.marked == [last.id]
    page.goto(f"{url}/recruitment/me")
    expect(page.locator("#mail-undelivered")).to_contain_text("Email kami tidak sampai")
    expect(page.locator("#mail-undelivered")).to_contain_text("mailbox full (5.2.2)")
    assert serious_violations(page) == []

    # The operator's page (needs and the new-need form) and the admin's pass axe too.
    operator = _staff_page(browser, url, "operator", PASSWORDS["operator"])
    operator.click("#need-form summary")
    assert serious_violations(operator) == []
    # Scheduling by the admin; the candidate prints the card.
    admin = _staff_page(browser, url, "admin-rekrutmen", PASSWORDS["admin"])
    assert serious_violations(admin) == []
    admin.click("text=Jadwalkan peserta MS")
    expect(admin.locator("p[role=status]")).to_contain_text("dijadwalkan")
    page.goto(f"{url}/recruitment/me")
    page.click("text=Cetak kartu ujian")
    expect(page.locator("#card-regno")).to_have_text(regno)
    session_code = page.locator("#card-session").inner_text().strip()
    assert session_code == "REK-JAK-1"
    assert page.locator("#card svg").count() == 1 and page.locator("#card img").count() == 1
    assert serious_violations(page) == []
    assert page.pdf(format="A4")[:5] == b"%PDF-"
    # The language chosen on one page is kept on the next (as on every Seleksi page).
    page.goto(f"{url}/recruitment/?lang=en")
    page.goto(f"{url}/recruitment/check")
    expect(page.locator("h1")).to_have_text("Check a receipt or an exam card")
    page.goto(f"{url}/recruitment/?lang=id")
    page.goto(f"{url}/recruitment/check")
    page.fill("#check-text", "bukan tanda terima")
    page.click("form button[type=submit]")
    expect(page.locator("#check-result")).to_contain_text("bukan tanda terima atau kode kartu")
    assert serious_violations(page) == []
    assert rec_server.mail.wait_for(EMAIL, "Jadwal ujian", session_code)

    # Exam day: the session opens, the desk issues a PIN, the candidate logs in at
    # the terminal and sees the identity the registration gave.
    db = rec_server.handle.db
    session_id = sch.session_id_of(db, session_code)
    token = sch.open_session(db, session_id, "proctor")
    pin = sch.issue_pin(db, rec_server.handle.settings.secret_key, session_id, regno, "proctor")
    term = browser.new_page()
    term.goto(f"{url}/terminal.html")
    term.fill("#regno", regno)
    term.fill("#pin", pin)
    term.fill("#session-token", token)
    term.click("#login-submit")
    expect(term.locator("#id-regno")).to_have_text(regno)
    expect(term.locator("#id-name")).to_have_text("Rina Marlina")
    expect(term.locator("#id-formation")).to_have_text(
        "Pranata Komputer Ahli Pertama · Kementerian Contoh (demo) · Jakarta"
    )
