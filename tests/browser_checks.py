"""What every browser test needs: Playwright's ``expect`` with the project's
patience, and axe-core's serious and critical findings on a page."""

from __future__ import annotations

from typing import Any

# Generous: the machine is shared; a healthy run sees updates within a second.
WAIT_MS = 15_000


def expect_patiently() -> Any:
    """Playwright's ``expect`` waiting up to :data:`WAIT_MS` for each check."""
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    return expect


def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    res = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in res.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
