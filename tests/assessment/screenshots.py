"""Screenshots of the SKB pages for docs/screenshots/ (not a test), from the real demo.

    python -m tests.assessment.screenshots docs/screenshots

Runs ``seleksi demo`` in a folder of its own, serving, and waits for the SKB
part its background process seeds on the finished exam SKD-HASIL
(``exam_server.assessment.demo``: panel WWN-DEMO, three assessors with
``asesor1`` as chair, four candidates scheduled). Then logs in, in Debian's
chromium, with the accounts and candidates the demo prints, as a person
copying them would:

* ``skb-assessor.png``: ``asesor3`` scoring the third candidate, whose
  sheet from ``asesor3`` is the one still missing (levels chosen, not sent;
  the other sheets stay hidden until all are in);
* ``skb-chair.png``: the chair's page, the second candidate waiting for
  adjudication with a score and reason typed in (not set), the candidates'
  states, agreement and severity;
* ``skb-admin.png``: the administrator's page, the panel's schedule with the
  called candidate left to schedule;
* ``skb-candidate.png``: the fourth candidate, interviewed in two days, who
  may still move it.

Nothing is sent, so the demo's SKB is photographed as it was seeded. Date
inputs follow chromium's locale (en-US on a machine without id_ID).
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from exam_server.assessment.demo import PANEL
from tests.demo_output import skb_accounts, skb_block, skb_candidates
from tests.demo_run import DemoRun
from tests.proctor_ui.conftest import CHROMIUM, CHROMIUM_ARGS

WAIT_MS = 15_000


def new_page(browser: Any, width: int, height: int = 900) -> Any:
    """A page in a context of its own (its own login)."""
    ctx = browser.new_context(viewport={"width": width, "height": height})
    return ctx.new_page()


def shoot(page: Any, path: Path) -> None:
    page.evaluate("document.activeElement && document.activeElement.blur()")  # no focus ring
    # From the top: a table's sticky header would show where the page was scrolled.
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(300)
    page.screenshot(path=str(path), full_page=True)


def staff_login(page: Any, url: str, user: str, password: str) -> None:
    page.goto(url)
    page.fill("#username", user)
    page.fill("#password", password)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#screen-main:not(.hidden)", timeout=WAIT_MS)


def assessor(browser: Any, base: str, password: str, regno: str, out: Path) -> None:
    """asesor3 opens the third candidate's sheet: no conflict, levels chosen."""
    page = new_page(browser, 1100)
    staff_login(page, base + "/skb-assessor.html", "asesor3", password)
    page.get_by_role("button", name=f"Nilai {regno}").click()
    page.click("#no-conflict")
    for group, level in (("Komunikasi", 3), ("Integritas", 4), ("Orientasi pelayanan", 3)):
        page.get_by_role("group", name=group).get_by_label(f"{level} ·").check()
    page.locator("#sheet").scroll_into_view_if_needed()
    shoot(page, out / "skb-assessor.png")
    page.context.close()


def chair(browser: Any, base: str, password: str, regno: str, out: Path) -> None:
    """The chair: the second candidate waits in the queue; score and reason typed in."""
    page = new_page(browser, 1100)
    staff_login(page, base + "/skb-assessor.html", "asesor1", password)
    page.get_by_role("link", name="Halaman ketua panel").click()
    page.get_by_role("heading", name="Antrean adjudikasi").wait_for(timeout=WAIT_MS)
    page.wait_for_selector("#sev-rows tr >> nth=2", timeout=WAIT_MS)
    page.get_by_role("img", name="Kekerasan tiap asesor").wait_for(timeout=WAIT_MS)
    queue = page.get_by_role("form", name=re.compile(f"^{regno} "))
    queue.get_by_label("Nilai yang ditetapkan ketua").fill("70")
    queue.get_by_label("Alasan").fill("rekaman wawancara ditinjau bersama panel")
    shoot(page, out / "skb-chair.png")
    page.context.close()


def admin(browser: Any, base: str, password: str, out: Path) -> None:
    """The administrator's page: the plan and the panel's schedule."""
    page = new_page(browser, 1200)
    staff_login(page, base + "/skb-admin.html", "admin", password)
    page.get_by_role("heading", name=re.compile(f"^Panel {PANEL}")).wait_for(timeout=WAIT_MS)
    shoot(page, out / "skb-admin.png")
    page.context.close()


def candidate(browser: Any, base: str, regno: str, receipt: str, out: Path) -> None:
    """The candidate interviewed in two days (logged in with the printed
    receipt): the time in WIB, and where to move it."""
    page = new_page(browser, 1100)
    page.goto(base + "/skb-candidate.html")
    page.fill("#regno", regno)
    page.fill("#receipt", receipt)
    page.click("#cand-form button[type=submit]")
    page.wait_for_selector("#iv-list li", timeout=WAIT_MS)
    page.locator("details.skb-move summary").click()
    shoot(page, out / "skb-candidate.png")
    page.context.close()


def main(out: Path) -> None:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        demo = DemoRun(Path(tmp))
        try:
            printed = demo.wait_until(
                lambda text: (
                    "SKB demo (" in text and len(skb_candidates("\n".join(skb_block(text)))) == 4
                ),
                "SKB part",
            )
            accounts = skb_accounts(printed)
            cands = skb_candidates("\n".join(skb_block(printed)))
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                assessor(browser, demo.url, accounts["asesor3"], cands[2][0], out)
                chair(browser, demo.url, accounts["asesor1"], cands[1][0], out)
                admin(browser, demo.url, demo.admin_password(), out)
                candidate(browser, demo.url, cands[3][0], cands[3][1], out)
                browser.close()
        finally:
            demo.stop()
    print(f"screenshots written to {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"))
