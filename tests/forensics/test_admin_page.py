"""The forensics admin page in chromium, used as an administrator uses it.

A stored session with planted cheaters (``stored.py``): the admin logs in,
analyses the session and reads the report (Bahasa Indonesia, then English),
updates the item watch, and flags then retires an item with a reason. axe
finds no serious or critical violation on either language.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from exam_server.db import make_engine
from exam_server.testing import ThreadServer
from forensics.simulate import Cheating, simulate_session, skd_form
from tests.browser_checks import expect_patiently, serious_violations
from tests.conftest import ADMIN_PASSWORD, make_settings
from tests.forensics.stored import skd_exam, store_sittings


def test_an_admin_analyses_a_session_and_retires_an_item(browser: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'page.db'}"
    seed = skd_exam(url, 40)
    sim = simulate_session(skd_form(seed=0), 40, Cheating(copiers=2, changers=1), seed=8)
    engine = make_engine(url)
    store_sittings(engine, seed, sim)
    engine.dispose()
    item = sim.data.items.item_ids[5]
    expect = expect_patiently()
    server = ThreadServer(make_settings(url)).start()
    try:
        page = browser.new_page()
        page.goto(server.url + "/forensics.html")
        page.get_by_label("Nama pengguna").fill("admin")
        page.get_by_label("Kata sandi").fill(ADMIN_PASSWORD)
        page.get_by_role("button", name="Masuk").click()

        page.get_by_role("button", name=f"Analisis {seed.session_code}").click()
        expect(page.locator("#report-summary")).to_contain_text("untuk ditinjau")
        frame = page.frame_locator("#report-frame")
        expect(frame.locator("h1")).to_contain_text("Forensik data sesi")
        expect(frame.get_by_text("Daftar untuk ditinjau, bukan putusan")).to_be_visible()
        assert serious_violations(page) == []

        page.get_by_role("button", name="Perbarui pengawasan").click()
        expect(page.locator("#watch-msg")).to_contain_text("40 sesi peserta")

        page.get_by_label("Soal", exact=True).fill(item)
        page.get_by_label("Alasan").fill("dilaporkan beredar di media sosial")
        page.get_by_role("button", name="Tandai").click()
        row = page.locator(f"#items-body tr[data-item='{item}']")
        expect(row).to_contain_text("ditandai")
        row.get_by_role("button", name=f"Tinjau {item}").click()
        page.get_by_label("Alasan").fill("kunci terbukti bocor")
        page.get_by_role("button", name="Pensiunkan").click()
        expect(row).to_contain_text("dipensiunkan")
        expect(page.locator("#review-msg")).to_contain_text("dipensiunkan")
        # What happened to tests assembled before it (all finished here: none).
        expect(page.locator("#review-msg")).to_contain_text("0 mendapat soal paralel")

        page.get_by_role("button", name="English").click()
        expect(page.get_by_role("heading", name="Item watch")).to_be_visible()
        expect(row).to_contain_text("retired")
        assert serious_violations(page) == []

        # The report itself (in the frame, axe does not reach into a sandbox):
        # the page the download link gives, opened on its own.
        html = page.evaluate(
            "async () => (await fetch(document.getElementById('report-download').href)).text()"
        )
        page.set_content(html)
        expect(
            page.get_by_role("heading", name="Peringkat peserta · Candidates ranked")
        ).to_be_visible()
        assert serious_violations(page) == []
        page.close()
    finally:
        server.stop()
