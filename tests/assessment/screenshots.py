"""Screenshots of the SKB pages for docs/screenshots/ (not a test).

    python -m tests.assessment.screenshots docs/screenshots

The SKB day of ``tests.assessment.skb_cases`` (``seleksi demo`` seeds no SKB):
formation PK-JKT after its SKD, three candidates called to the SKB, the CAT
field test finished. On a real server, in Debian's chromium, everyone works
through their own page as ``test_skb_browser`` walks it: the administrator
saves the plan, adds three assessors, makes panel P1 and its WITA slots and
schedules R001-R003; the assessors declare no conflict and score blind
(R003's sheets differ beyond the margin); the chair sets R003's score with
a reason; the administrator takes the field test's scores, publishes the
final ranking and verifies it; a candidate reads their interview and
breakdown. Photographed whole, 1100 or 1200 pixels wide: ``skb-assessor.png``
(the last assessor's sheet for R003 with the levels chosen, R001 and R002
final above), ``skb-chair.png`` (the queue with the chair's score and reason
typed in, the candidates, agreement and severity), ``skb-admin.png`` (the
panel's schedule after the verified publication) and ``skb-candidate.png``
(R001's interview and SKB breakdown).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.assessment import skb_cases as cases
from tests.assessment.conftest import ADMIN_PASSWORD, start_server
from tests.proctor_ui.conftest import CHROMIUM, CHROMIUM_ARGS

# Each assessor's levels (komunikasi, integritas) for R001, R002, R003, as in
# test_skb_browser: R003's sheets differ by more than the 30-point margin.
SHEETS = {
    "asesor1": {"R001": (4, 4), "R002": (3, 2), "R003": (1, 1)},
    "asesor2": {"R001": (3, 4), "R002": (3, 3), "R003": (4, 4)},
    "asesor3": {"R001": (4, 3), "R002": (3, 2), "R003": (2, 3)},
}
WAIT_MS = 15_000


def new_page(browser: Any, width: int, height: int = 900) -> Any:
    """A page in a context of its own (its own login)."""
    ctx = browser.new_context(viewport={"width": width, "height": height})
    return ctx.new_page()


def _status(page: Any, text: str) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_role("status")).to_contain_text(text, timeout=WAIT_MS)


def set_up(page: Any, base: str) -> None:
    """The administrator: the plan, three assessors, panel P1, its slots, who sits when."""
    page.goto(base + "/skb-admin.html")
    page.fill("#username", "admin")
    page.fill("#password", ADMIN_PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#screen-main:not(.hidden)")
    page.fill("#plan-json", json.dumps(cases.plan()))
    page.click("#plan-form button[type=submit]")
    _status(page, f"Rencana formasi {cases.FORMATION} disimpan.")
    for u in cases.ASSESSORS:
        page.fill("#a-username", u)
        page.fill("#a-name", u.title())
        page.fill("#a-password", cases.PASSWORD)
        page.click("#assessor-form button[type=submit]")
        _status(page, f"Asesor {u} ditambahkan.")
    page.fill("#p-code", "P1")
    page.fill("#p-formation", cases.FORMATION)
    page.fill("#p-component", "WWN")
    page.fill("#p-members", ", ".join(cases.ASSESSORS))
    page.fill("#p-chair", "asesor1")
    page.click("#panel-form button[type=submit]")
    _status(page, "Panel P1 dibuat.")
    page.fill("#s-date", "2025-05-12")
    page.fill("#s-from", "09:00")
    page.fill("#s-to", "11:00")
    page.select_option("#s-zone", "WITA")
    page.fill("#s-url", "https://meet.example.org/skb")
    page.click("#slots-form button[type=submit]")
    _status(page, "3 slot dibuat.")
    for when, regno in (("09.00", "R001"), ("09.40", "R002"), ("10.20", "R003")):
        choice = page.get_by_label(f"Peserta untuk slot Senin, 12 Mei 2025 {when} WITA")
        choice.select_option(regno)
        choice.locator("xpath=..").get_by_role("button", name="Jadwalkan").click()
        _status(page, f"{regno} dijadwalkan.")


def assessor_login(page: Any, base: str, who: str) -> None:
    page.goto(base + "/skb-assessor.html")
    page.fill("#username", who)
    page.fill("#password", cases.PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#screen-main:not(.hidden)")
    # The interviews were in May 2025: every slot, not only today's.
    page.get_by_label("Hanya jadwal hari ini").uncheck()
    page.get_by_text("Senin, 12 Mei 2025 09.00 WITA").wait_for()


def fill_sheet(page: Any, regno: str, levels: tuple[int, int]) -> None:
    """Open the candidate's sheet, declare no conflict, choose the levels."""
    page.get_by_role("button", name=f"Nilai {regno}").click()
    page.click("#no-conflict")
    page.get_by_role("group", name="Komunikasi").get_by_label(f"{levels[0]} ·").check()
    page.get_by_role("group", name="Integritas").get_by_label(f"{levels[1]} ·").check()


def score(browser: Any, base: str, out: Path) -> None:
    """The three assessors' blind sheets; the last one's R003 sheet photographed."""
    for who, marks in SHEETS.items():
        page = new_page(browser, 1100)
        assessor_login(page, base, who)
        for regno, levels in marks.items():
            fill_sheet(page, regno, levels)
            if who == "asesor3" and regno == "R003":
                page.locator("#sheet").scroll_into_view_if_needed()
                page.wait_for_timeout(300)
                page.screenshot(path=str(out / "skb-assessor.png"), full_page=True)
            page.click("#rubric button[type=submit]")
            _status(page, "Terkirim")
        page.context.close()


def chair(browser: Any, base: str, out: Path) -> None:
    """The chair (asesor1): R003 waits in the queue; the score and reason typed in."""
    page = new_page(browser, 1100)
    assessor_login(page, base, "asesor1")
    page.get_by_role("link", name="Halaman ketua panel").click()
    page.get_by_role("heading", name="Antrean adjudikasi").wait_for()
    page.wait_for_selector("#sev-rows tr >> nth=2")
    page.get_by_role("img", name="Kekerasan tiap asesor").wait_for()
    queue = page.get_by_role("form", name="R003 Citra")
    queue.get_by_label("Nilai yang ditetapkan ketua").fill("55")
    queue.get_by_label("Alasan").fill("rekaman wawancara ditinjau bersama panel")
    page.evaluate("document.activeElement.blur()")  # no focus ring in the picture
    page.wait_for_timeout(300)
    page.screenshot(path=str(out / "skb-chair.png"), full_page=True)
    queue.get_by_role("button", name="Tetapkan nilai").click()
    page.get_by_text("Tidak ada yang menunggu adjudikasi.").wait_for()
    page.context.close()


def publish(page: Any, base: str, out: Path) -> None:
    """Back on the admin page: the field test's scores, the signed ranking, verified."""
    page.goto(base + "/skb-admin.html")
    page.wait_for_selector("#screen-main:not(.hidden)")
    page.fill("#c-exam", cases.FIELD_TEST)
    page.click("#cat-form button[type=submit]")
    _status(page, "3 nilai tes bidang disimpan")
    page.fill("#pub-exam", cases.EXAM)
    page.fill("#pub-date", "2025-06-01")
    page.click("#publish-form button[type=submit]")
    _status(page, "Diumumkan dan ditandatangani")
    page.click("#verify")
    _status(page, "Publikasi terverifikasi")
    page.wait_for_timeout(300)
    page.screenshot(path=str(out / "skb-admin.png"), full_page=True)


def candidate(browser: Any, base: str, out: Path) -> None:
    """R001 after the announcement: the interview in WITA and the SKB breakdown."""
    page = new_page(browser, 1200)
    page.goto(base + "/skb-candidate.html")
    page.fill("#regno", "R001")
    page.fill("#birth", "1996-02-01")
    page.click("#cand-form button[type=submit]")
    page.wait_for_selector("#breakdown:not(.hidden) #bd-rows tr")
    page.wait_for_timeout(300)
    page.screenshot(path=str(out / "skb-candidate.png"), full_page=True)
    page.context.close()


def main(out: Path) -> None:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp))
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                admin = new_page(browser, 1200)
                set_up(admin, server.url)
                score(browser, server.url, out)
                chair(browser, server.url, out)
                publish(admin, server.url, out)
                candidate(browser, server.url, out)
                browser.close()
        finally:
            server.stop()
    print(f"screenshots written to {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"))
