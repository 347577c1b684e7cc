"""Screenshots of the recruitment pages for docs/screenshots/ (not a test),
from the real demo.

    python -m tests.recruitment.screenshots docs/screenshots

Runs ``seleksi demo`` (serving, in a folder of its own) and logs in with the
recruitment accounts it made (``recruitment-demo.json`` beside its database,
the same the demo prints); photographs in Debian's chromium at 1024×768: the
public announcement, the draft registration failing the age rule with its
reason (typed, not saved), a verifier's view of a registration, a scheduled
candidate's printed exam card.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from exam_server.recruitment.demo import DEMO_FILE
from tests.demo_run import DemoRun
from tests.proctor_ui.conftest import CHROMIUM, CHROMIUM_ARGS


def main(out: Path) -> None:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        demo = DemoRun(Path(tmp))
        url = demo.url
        try:
            demo.wait_until(lambda text: "Recruitment demo (" in text, "recruitment")
            made = json.loads((demo.data / DEMO_FILE).read_text())
            verifier, verifier_pw = made["staff"]["verifier"]
            by_state = {c["state"]: c for c in reversed(made["candidates"])}  # first of each
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1024, "height": 768})
                page.goto(f"{url}/recruitment/")
                page.screenshot(path=str(out / "recruitment-announcement.png"))

                page.goto(f"{url}/recruitment/login")
                page.fill("#who", by_state["draft"]["email"])
                page.fill("#password", by_state["draft"]["password"])
                page.click("form button[type=submit]")
                page.wait_for_url("**/recruitment/me")
                page.fill("#birth_date", "1980-01-01")
                page.locator("#checks li.bad").wait_for()
                page.locator("#checks").scroll_into_view_if_needed()
                page.screenshot(path=str(out / "recruitment-eligibility.png"))

                staff = browser.new_page(viewport={"width": 1024, "height": 768})
                staff.goto(f"{url}/recruitment/staff/login")
                staff.fill("#who", verifier)
                staff.fill("#password", verifier_pw)
                staff.click("button[type=submit]")
                staff.wait_for_url("**/recruitment/staff")
                staff.click("#queue a >> nth=0")
                staff.wait_for_url("**/recruitment/staff/reg/*")
                staff.screenshot(path=str(out / "recruitment-verification.png"), full_page=True)

                card = browser.new_page(viewport={"width": 1024, "height": 768})
                card.goto(f"{url}/recruitment/login")
                card.fill("#who", by_state["scheduled"]["email"])
                card.fill("#password", by_state["scheduled"]["password"])
                card.click("form button[type=submit]")
                card.wait_for_url("**/recruitment/me")
                card.goto(f"{url}/recruitment/me/card")
                card.emulate_media(media="print")
                card.screenshot(path=str(out / "recruitment-card.png"))
                browser.close()
        finally:
            demo.stop()
    print(f"screenshots written to {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"))
