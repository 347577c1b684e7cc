"""A panel in chromium, as its people use it: the administrator schedules the
interviews, three assessors declare no conflict and score blind on the rubric,
one candidate's scores differ beyond the margin and the chair adjudicates on
the chair's page (agreement, severity table and plot), the final ranking is
published with the SKB breakdown and verified, and a candidate reads their
interview time in their own zone and their breakdown. axe finds no serious or
critical violation on any page."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from exam_server.testing import ThreadServer, staff_token
from tests.assessment import skb_cases as cases
from tests.assessment.conftest import ADMIN_PASSWORD, receipt, schedule, start_server
from tests.browser_checks import expect_patiently, serious_violations
from tests.proctor_ui.conftest import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser
# Each assessor's sheets (komunikasi, integritas) for R001, R002, R003: R003's
# differ by more than the 30-point margin.
SHEETS = {
    "asesor1": {"R001": (4, 4), "R002": (3, 2), "R003": (1, 1)},
    "asesor2": {"R001": (3, 4), "R002": (3, 3), "R003": (4, 4)},
    "asesor3": {"R001": (4, 3), "R002": (3, 2), "R003": (2, 3)},
}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no chromium at {CHROMIUM}: install Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def test_a_panel_scores_adjudicates_and_publishes_a_verified_ranking(
    server: ThreadServer, browser: Any
) -> None:
    expect = expect_patiently()
    base = server.url
    ctx = browser.new_context()
    page = ctx.new_page()

    # The administrator: the plan, three assessors, the panel, its slots, who sits when.
    page.goto(base + "/skb-admin.html")
    login = page.locator("#login-form")
    login.get_by_label("Nama pengguna").fill("admin")
    login.get_by_label("Kata sandi").fill("not-the-password")
    login.get_by_role("button", name="Masuk").click()
    # A staff login's words, not a candidate's (registration number, PIN, token).
    expect(page.locator("#login-error")).to_have_text("Nama pengguna atau kata sandi salah.")
    login.get_by_label("Kata sandi").fill(ADMIN_PASSWORD)
    login.get_by_role("button", name="Masuk").click()
    doc = cases.plan()
    doc["components"][0]["weight"] = 40  # over the 2024 caps first
    doc["components"][1]["weight"] = 60
    page.get_by_label("Dokumen rencana (JSON)").fill(json.dumps(doc))
    page.get_by_role("button", name="Simpan rencana").click()
    expect(page.get_by_role("alert").first).to_contain_text(
        "weighs 40%, the policy asks for at least 50%"
    )
    page.get_by_label("Dokumen rencana (JSON)").fill(json.dumps(cases.plan()))
    page.get_by_role("button", name="Simpan rencana").click()
    expect(page.get_by_role("status")).to_have_text("Rencana formasi PK-JKT disimpan.")
    assessors = page.locator("#assessor-form")
    for u in cases.ASSESSORS:
        assessors.get_by_label("Nama pengguna").fill(u)
        assessors.get_by_label("Nama", exact=True).fill(u.title())
        assessors.get_by_label("Kata sandi").fill(cases.PASSWORD)
        assessors.get_by_role("button", name="Tambah asesor").click()
        expect(page.get_by_role("status")).to_have_text(f"Asesor {u} ditambahkan.")
    page.get_by_label("Kode panel", exact=True).first.fill("P1")
    page.get_by_label("Formasi").fill(cases.FORMATION)
    page.locator("#panel-form").get_by_label("Kode komponen").fill("WWN")
    page.get_by_label("Asesor (nama pengguna").fill(", ".join(cases.ASSESSORS))
    page.get_by_label("Ketua panel").fill("asesor1")
    page.get_by_role("button", name="Buat panel").click()
    expect(page.get_by_role("status")).to_have_text("Panel P1 dibuat.")
    slots = page.locator("#slots-form")
    slots.get_by_label("Tanggal").fill("2025-05-12")
    slots.get_by_label("Tersedia dari").fill("09:00")
    slots.get_by_label("sampai").fill("11:00")
    slots.get_by_label("Zona waktu").select_option("WITA")
    slots.get_by_label("Alamat ruang pertemuan").fill("https://meet.example.org/skb")
    slots.get_by_role("button", name="Buat slot").click()
    expect(page.get_by_role("status")).to_have_text("3 slot dibuat.")
    for when, regno in (("09.00", "R001"), ("09.40", "R002"), ("10.20", "R003")):
        label = f"Peserta untuk slot Senin, 12 Mei 2025 {when} WITA"
        page.get_by_label(label).select_option(regno)
        page.get_by_label(label).locator("xpath=..").get_by_role("button", name="Jadwalkan").click()
        expect(page.get_by_role("status")).to_have_text(f"{regno} dijadwalkan.")
    assert serious_violations(page) == []

    for who, marks in SHEETS.items():
        page.goto(base + "/skb-assessor.html")
        page.get_by_label("Nama pengguna").fill(who)
        page.get_by_label("Kata sandi").fill(cases.PASSWORD)
        page.get_by_role("button", name="Masuk").click()
        expect(page.get_by_text("Panel P1 · Wawancara")).to_be_visible()
        # Today's interviews first; these were in May 2025, so the assessor shows all.
        expect(page.get_by_text("Tidak ada wawancara hari ini")).to_be_visible()
        page.get_by_label("Hanya jadwal hari ini").uncheck()
        expect(page.get_by_text("Senin, 12 Mei 2025 09.00 WITA")).to_be_visible()
        for regno, (kom, integ) in marks.items():
            page.get_by_role("button", name=f"Nilai {regno}").click()
            page.get_by_role("button", name="Tidak ada konflik, lanjut menilai").click()
            page.get_by_role("group", name="Komunikasi").get_by_label(f"{kom} ·").check()
            page.get_by_role("group", name="Integritas").get_by_label(f"{integ} ·").check()
            page.get_by_role("button", name="Kirim nilai").click()
            expect(page.get_by_role("status")).to_contain_text("Terkirim")
            if who == "asesor1":  # the first to submit sees nobody else's score
                expect(page.get_by_role("status")).to_contain_text("tetap tersembunyi")
                expect(page.get_by_text("Nilai semua asesor")).to_have_count(0)
        if who == "asesor1":
            assert serious_violations(page) == []
        if who == "asesor3":  # the last sheet of R003 goes to adjudication
            expect(page.get_by_role("status")).to_contain_text("ketua panel akan mengadjudikasi")
            expect(page.get_by_text("Nilai semua asesor")).to_be_visible()
        page.get_by_role("button", name="Keluar").click()

    # The chair: agreement, severity table and plot, and the adjudication queue.
    page.goto(base + "/skb-assessor.html")
    page.get_by_label("Nama pengguna").fill("asesor1")
    page.get_by_label("Kata sandi").fill(cases.PASSWORD)
    page.get_by_role("button", name="Masuk").click()
    page.get_by_role("link", name="Halaman ketua panel").click()
    expect(page.get_by_role("heading", name="Antrean adjudikasi")).to_be_visible()
    expect(page.locator("#sev-rows tr")).to_have_count(3)
    expect(page.get_by_role("img", name="Kekerasan tiap asesor")).to_be_visible()
    # 4 ICCs, alpha; alpha and the one-way ICC(1), ICC(k) of all panels
    expect(page.locator("#agree-rows tr")).to_have_count(8)
    expect(page.locator("#agree-rows")).to_contain_text("ICC(1): satu asesor, semua panel")
    assert serious_violations(page) == []
    queue = page.get_by_role("form", name="R003 Citra")
    queue.get_by_label("Nilai yang ditetapkan ketua").fill("55")
    queue.get_by_label("Alasan").fill("rekaman ditinjau panel")
    queue.get_by_role("button", name="Tetapkan nilai").click()
    expect(page.get_by_text("Tidak ada yang menunggu adjudikasi.")).to_be_visible()
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="Adjudication queue")).to_be_visible()

    # The field test's scores from its exam, the signed publication, verified.
    page.goto(base + "/skb-admin.html")
    page.get_by_role("button", name="Bahasa Indonesia").click()  # the chair chose English
    page.get_by_label("Kode ujian tes bidang (CAT)").fill(cases.FIELD_TEST)
    page.get_by_role("button", name="Ambil nilai tes bidang").click()
    expect(page.get_by_role("status")).to_have_text("3 nilai tes bidang disimpan (0 sudah ada).")
    page.get_by_label("Kode ujian SKD").fill(cases.EXAM)
    page.get_by_label("Tanggal pengumuman").fill("2025-06-01")
    page.get_by_role("button", name="Umumkan peringkat akhir").click()
    expect(page.get_by_role("status")).to_contain_text("Diumumkan dan ditandatangani")
    page.get_by_role("button", name="Verifikasi publikasi").click()
    expect(page.get_by_role("status")).to_contain_text("Publikasi terverifikasi")
    # The public page shows each line's SKB breakdown under its total.
    page.goto(base + f"/results/formation/final/{cases.FORMATION}")
    row = page.get_by_role("row").filter(has_text="R001")
    expect(row).to_contain_text("83.556")
    expect(row).to_contain_text("CAT 80 × 60%; WWN 88.889 × 40%")
    assert serious_violations(page) == []

    # The candidate reads the interview in WITA and the breakdown.
    page.goto(base + "/skb-candidate.html")
    page.get_by_label("Nomor peserta").fill("R001")
    page.get_by_label("Kode tanda terima SKD").fill(receipt(server, "R001"))
    page.get_by_role("button", name="Tampilkan").click()
    expect(page.get_by_text("Senin, 12 Mei 2025 09.00 WITA")).to_be_visible()
    expect(page.get_by_text("Jadwal tidak dapat dipindah lagi")).to_be_visible()  # it is past
    expect(page.get_by_role("cell", name="Wawancara")).to_be_visible()
    expect(page.locator("#bd-total")).to_have_text("83.556")
    expect(page.locator("#bd-final")).to_contain_text("P/L")
    assert serious_violations(page) == []
    ctx.close()


def test_the_chair_page_with_a_recused_chair_and_a_candidate_still_being_scored(
    tmp_path: Path, browser: Any
) -> None:
    """The chair declared a conflict with R001, whose other two sheets differ
    beyond the margin: the chair's page shows R001 as recused and nothing of its
    scoring (no count of sheets, not in the queue, no final score even once
    set); the administrator's page offers the adjudication, with the sheets.
    R003 still awaits the chair's sheet: its row has no fair score ("–") and
    the page renders the rest."""
    srv = start_server(tmp_path)
    try:
        schedule(srv)
        tok = {u: staff_token(srv.url, u, cases.PASSWORD) for u in cases.ASSESSORS}

        def post(path: str, body: dict[str, Any], token: str) -> None:
            r = httpx.post(srv.url + path, json=body, timeout=30,
                           headers={"Authorization": f"Bearer {token}"})  # fmt: skip
            assert r.status_code == 201, r.text

        post("/api/skb/declarations", {"panel": "P1", "registration_number": "R001",
             "conflict": True, "note": "sepupu"}, tok["asesor1"])  # fmt: skip
        marks = {"R001": {"asesor2": 1, "asesor3": 4},
                 "R002": {"asesor1": 3, "asesor2": 3, "asesor3": 3},
                 "R003": {"asesor2": 2, "asesor3": 3}}  # fmt: skip
        for regno, by in marks.items():
            for u, m in by.items():
                post("/api/skb/sheets", {"panel": "P1", "registration_number": regno,
                     "points": {"komunikasi": m, "integritas": m}}, tok[u])  # fmt: skip

        expect = expect_patiently()
        ctx = browser.new_context()
        page = ctx.new_page()
        page.goto(srv.url + "/skb-assessor.html")
        page.get_by_label("Nama pengguna").fill("asesor1")
        page.get_by_label("Kata sandi").fill(cases.PASSWORD)
        page.get_by_role("button", name="Masuk").click()
        page.get_by_role("link", name="Halaman ketua panel").click()
        rows = page.locator("#cand-rows tr")
        expect(rows).to_have_count(3)
        expect(rows.first.locator("td").nth(3)).to_have_text("Anda mundur (konflik)")
        expect(rows.first.locator("td").nth(2)).to_have_text("–")
        expect(page.get_by_text("Tidak ada yang menunggu adjudikasi.")).to_be_visible()
        expect(page.locator("#queue")).not_to_contain_text("R001")
        expect(rows.nth(2).locator("td").nth(2)).to_have_text("2 / 3")
        expect(rows.nth(2).locator("td").last).to_have_text("–")  # R003: no fair score yet
        # R002 is the only candidate complete that the chair may know of: too few
        # for the severity model (R001's sheets count in nothing the chair sees).
        expect(rows.nth(1).locator("td").last).to_have_text("–")
        expect(page.locator("#sev-note")).to_contain_text("at least 2 assessors on 2 candidates")
        assert serious_violations(page) == []

        # The administrator's page offers R001, with its sheets; the administrator
        # sets the score there and the list empties.
        admin_page = ctx.new_page()
        admin_page.goto(srv.url + "/skb-admin.html")
        login = admin_page.locator("#login-form")
        login.get_by_label("Nama pengguna").fill("admin")
        login.get_by_label("Kata sandi").fill(ADMIN_PASSWORD)
        login.get_by_role("button", name="Masuk").click()
        form = admin_page.get_by_role("form", name="R001 Ani")
        expect(form).to_contain_text("asesor2: 0.000, asesor3: 100.000")
        expect(admin_page.get_by_text("ketua panel P1 mundur karena konflik")).to_be_visible()
        form.get_by_label("Nilai yang ditetapkan administrator (0–100)").fill("60")
        form.get_by_label("Alasan").fill("ketua mengundurkan diri")
        form.get_by_role("button", name="Tetapkan nilai").click()
        expect(admin_page.get_by_role("form", name="R001 Ani")).to_have_count(0)
        assert serious_violations(admin_page) == []
        # The chair's sheet completes R003: R002 and R003 get fair scores and the
        # severities show; R001 stays as it was, its final score not the chair's to see.
        post("/api/skb/sheets", {"panel": "P1", "registration_number": "R003",
             "points": {"komunikasi": 3, "integritas": 3}}, tok["asesor1"])  # fmt: skip
        page.reload()
        expect(rows.first.locator("td").nth(3)).to_have_text("Anda mundur (konflik)")
        expect(rows.first.locator("td").nth(4)).to_have_text("–")
        expect(rows.first.locator("td").last).to_have_text("–")
        for k in (1, 2):
            expect(rows.nth(k).locator("td").last).to_have_text(re.compile(r"^\d+\.\d{3}$"))
        expect(page.locator("#sev-rows tr")).to_have_count(3)
        assert serious_violations(page) == []
        ctx.close()
    finally:
        srv.stop()
