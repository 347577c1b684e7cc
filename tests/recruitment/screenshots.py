"""Screenshots of the recruitment pages for docs/screenshots/ (not a test).

    python -m tests.recruitment.screenshots docs/screenshots

A server with the demo recruitment; photographs in Debian's chromium at
1024×768: the public announcement, a registration failing the age rule with
its reason, a verifier's view of a registration, the printed exam card.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from tests.proctor_ui.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.recruitment.conftest import PASSWORDS, Mailbox, start_rec_server


def main(out: Path) -> None:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        rec = start_rec_server(Path(tmp), Mailbox(), None)
        url = rec.url
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1024, "height": 768})
                page.goto(f"{url}/recruitment/")
                page.screenshot(path=str(out / "recruitment-announcement.png"))

                page.goto(f"{url}/recruitment/login")
                page.fill("#who", "ani@contoh.id")
                page.fill("#password", PASSWORDS["candidate"])
                page.click("form button[type=submit]")
                page.wait_for_url("**/recruitment/me")
                page.fill("#birth_date", "1980-01-01")
                page.locator("#checks li.bad").wait_for()
                page.locator("#checks").scroll_into_view_if_needed()
                page.screenshot(path=str(out / "recruitment-eligibility.png"))

                staff = browser.new_page(viewport={"width": 1024, "height": 768})
                staff.goto(f"{url}/recruitment/staff/login")
                staff.fill("#who", "verifikator1")
                staff.fill("#password", PASSWORDS["verifier"])
                staff.click("button[type=submit]")
                staff.wait_for_url("**/recruitment/staff")
                staff.click("#queue a >> nth=0")
                staff.wait_for_url("**/recruitment/staff/reg/*")
                staff.screenshot(path=str(out / "recruitment-verification.png"), full_page=True)

                card = browser.new_page(viewport={"width": 1024, "height": 768})
                card.goto(f"{url}/recruitment/login")
                card.fill("#who", "gita@contoh.id")
                card.fill("#password", PASSWORDS["candidate"])
                card.click("form button[type=submit]")
                card.wait_for_url("**/recruitment/me")
                card.goto(f"{url}/recruitment/me/card")
                card.emulate_media(media="print")
                card.screenshot(path=str(out / "recruitment-card.png"))
                browser.close()
        finally:
            rec.handle.server.stop()
            rec.handle.db.dispose()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"))
