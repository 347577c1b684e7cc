"""The start page leads to every part of the selection, each link answers, in
both languages, and axe finds nothing serious."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.browser_checks import expect_patiently, serious_violations
from tests.proctor_ui.live_server import LiveServer

pytestmark = pytest.mark.browser


def test_every_part_is_one_click_from_the_start_page(live: LiveServer, browser: Any) -> None:
    expect = expect_patiently()
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(live.url + "/")
    expect(page.get_by_role("heading", name="Hari ujian")).to_be_visible()
    links = page.locator("main a")
    hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
    assert len(hrefs) >= 12
    for href in hrefs:
        r = httpx.get(f"{live.url}/{href}", follow_redirects=True)
        if href == "results/" and r.status_code == 404:  # nothing published yet: it says so
            assert "Belum ada publikasi hasil." in r.text
            continue
        assert r.status_code == 200, (href, r.status_code)
    assert serious_violations(page) == []
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="Before the test")).to_be_visible()
    expect(page.get_by_role("link", name="Vacancies and registration")).to_be_visible()
    assert serious_violations(page) == []
    assert errors == []
    page.close()
