"""A panel in chromium, as its people use it: the administrator schedules the
interviews, three assessors declare no conflict and score blind on the rubric,
one candidate's scores differ beyond the margin and the chair adjudicates on
the chair's page (agreement, severity table and plot), the final ranking is
published with the SKB breakdown and verified, and a candidate reads their
interview time in their own zone and their breakdown. axe finds no serious or
critical violation on any page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from exam_server.testing import ThreadServer
from tests.assessment import skb_cases as cases
from tests.assessment.conftest import admin, schedule
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
    token = schedule(server)
    base = server.url
    ctx = browser.new_context()
    page = ctx.new_page()
    for who, marks in SHEETS.items():
        page.goto(base + "/skb-assessor.html")
        page.get_by_label("Nama pengguna").fill(who)
        page.get_by_label("Kata sandi").fill(cases.PASSWORD)
        page.get_by_role("button", name="Masuk").click()
        expect(page.get_by_text("Panel P1 · Wawancara")).to_be_visible()
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
    expect(page.locator("#agree-rows tr")).to_have_count(5)
    assert serious_violations(page) == []
    queue = page.get_by_role("form", name="R003 Citra")
    queue.get_by_label("Nilai yang ditetapkan ketua").fill("55")
    queue.get_by_label("Alasan").fill("rekaman ditinjau panel")
    queue.get_by_role("button", name="Tetapkan nilai").click()
    expect(page.get_by_text("Tidak ada yang menunggu adjudikasi.")).to_be_visible()
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="Adjudication queue")).to_be_visible()

    # The field test's scores, then the signed publication, verified.
    for regno, cat in (("R001", 80), ("R002", 70), ("R003", 90)):
        admin(server, "/api/skb/cat-scores",
              {"registration_number": regno, "component": "CAT", "score": cat}, token)  # fmt: skip
    admin(server, "/api/skb/publish", {"exam_code": cases.EXAM, "published_at": "2025-06-01"},
          token)  # fmt: skip
    report = admin(server, "/api/admin/results/verify", {}, token)
    assert report["ok"], report["problems"]
    # The public page shows each line's SKB breakdown under its total.
    page.goto(base + f"/results/formation/final/{cases.FORMATION}")
    row = page.get_by_role("row").filter(has_text="R001")
    expect(row).to_contain_text("83.556")
    expect(row).to_contain_text("CAT 80 × 60%; WWN 88.889 × 40%")
    assert serious_violations(page) == []

    # The candidate reads the interview in WITA and the breakdown.
    page.goto(base + "/skb-candidate.html")
    page.get_by_role("button", name="Bahasa Indonesia").click()
    page.get_by_label("Nomor peserta").fill("R001")
    page.get_by_label("Tanggal lahir").fill("1996-02-01")
    page.get_by_role("button", name="Tampilkan").click()
    expect(page.get_by_text("Senin, 12 Mei 2025 09.00 WITA")).to_be_visible()
    expect(page.get_by_text("Jadwal tidak dapat dipindah lagi")).to_be_visible()  # it is past
    expect(page.get_by_role("cell", name="Wawancara")).to_be_visible()
    expect(page.locator("#bd-total")).to_have_text("83.556")
    assert serious_violations(page) == []
    ctx.close()
