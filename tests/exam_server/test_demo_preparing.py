"""While ``seleksi demo`` still seeds its finished exam (SKD-HASIL) in the
background, its after-the-test pages and the results page say it is being
prepared, in chromium as a newcomer sees them (axe: nothing serious); so does
the staff page after the test (/after-admin.html: appeals and feedback), which
loads its lists again by itself once the exam is ready; without the demo's
marker, or with one its process outlived, they are as before.

The marker's life in the demo flow itself (written at the start, removed when
the seeding ends, fails or is stopped) is tested in ``test_demo_content.py``,
which runs the real background seeding."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from exam_server.demo import DEMO_FINISHED_EXAM, PREPARING_FILE, being_prepared
from tests.browser_checks import expect_patiently, serious_violations
from tests.conftest import ADMIN_PASSWORD, ServerHandle, make_settings
from tests.proctor_ui.conftest import browser  # noqa: F401  (the chromium fixture)

PREPARING_ID = "sedang disiapkan"
PREPARING_EN = "being prepared"


def _mark(marker: Path, pid: int) -> None:
    marker.write_text(json.dumps({"pid": pid, "exam": DEMO_FINISHED_EXAM}))


def _dead_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(proc.stdout)


def test_being_prepared_only_with_the_demo_setting_and_a_live_process(tmp_path: Path) -> None:
    marker = tmp_path / PREPARING_FILE
    demo = make_settings("sqlite:///x.db", demo_preparing_path=str(marker))
    assert being_prepared(demo) is None  # no file: done
    _mark(marker, os.getpid())
    assert being_prepared(demo) == DEMO_FINISHED_EXAM
    # A real server (no setting) never asks the file, whatever lies around.
    assert being_prepared(make_settings("sqlite:///x.db")) is None
    assert being_prepared(None) is None
    # Left by a demo that was killed: its process is gone, so it says nothing.
    _mark(marker, _dead_pid())
    assert being_prepared(demo) is None
    marker.write_text("{half a fi")
    assert being_prepared(demo) is None


@pytest.mark.browser
def test_the_pages_say_the_demo_exam_is_being_prepared(
    server_factory: Callable[..., ServerHandle],
    tmp_path: Path,
    browser: Any,  # noqa: F811
) -> None:
    expect = expect_patiently()
    marker = tmp_path / PREPARING_FILE
    h = server_factory(n_candidates=2, demo_preparing_path=str(marker))
    page = browser.new_context().new_page()
    after = f"{h.url}/after/{DEMO_FINISHED_EXAM}/"

    _mark(marker, os.getpid())
    for url, heading in [
        (after, "Sedang disiapkan"),
        (after + "dasbor", "Sedang disiapkan"),
        (after + "diagnostik", "Sedang disiapkan"),
        (f"{h.url}/results/", None),
    ]:
        resp = page.goto(url)
        assert resp.status == 503 and resp.headers["retry-after"] == "5", url
        expect(page.locator("main")).to_contain_text(PREPARING_ID)
        expect(page.locator("main")).to_contain_text(DEMO_FINISHED_EXAM)
        expect(page.locator("main")).to_contain_text("Muat ulang halaman ini")
        if heading:
            expect(page.locator("main h2")).to_have_text(heading)
            # The reload link leads back to this very page.
            assert page.locator("main a").get_attribute("href") == url
        assert serious_violations(page) == [], url
        # English, from the language switch, as on the other pages.
        page.click("a.lang-switch")
        expect(page.locator("main")).to_contain_text(PREPARING_EN)
        expect(page.locator("main")).to_contain_text("Reload this page")
        assert page.evaluate("document.documentElement.lang") == "en"
        assert serious_violations(page) == [], url + " (en)"
    # Another exam's pages are not held back.
    assert httpx.get(f"{h.url}/after/SKD-DEMO/").status_code == 200

    # Done (the marker removed), or its process gone: the normal pages (a new
    # reader: the results pages remember the language chosen above).
    page = browser.new_context().new_page()
    for state in ("removed", "stale"):
        if state == "removed":
            marker.unlink()
        else:
            _mark(marker, _dead_pid())
        resp = page.goto(after)
        assert resp.status == 200, state
        expect(page.locator("main a").first).to_have_text("Laporan diagnostik")
        assert PREPARING_ID not in page.locator("main").inner_text()
        resp = page.goto(f"{h.url}/results/")
        assert resp.status == 404, state
        expect(page.locator("main")).to_have_text("Belum ada publikasi hasil.")
        assert serious_violations(page) == [], state


STAFF_PREPARING_ID = "Halaman ini memuat ulang daftarnya sendiri"
STAFF_PREPARING_EN = "This page loads its lists again by itself"


@pytest.mark.browser
def test_the_staff_page_says_the_demo_exam_is_being_prepared(
    server_factory: Callable[..., ServerHandle],
    tmp_path: Path,
    browser: Any,  # noqa: F811
) -> None:
    expect = expect_patiently()
    marker = tmp_path / PREPARING_FILE
    h = server_factory(n_candidates=2, demo_preparing_path=str(marker))
    _mark(marker, os.getpid())
    # The staff's lists say so, for this exam only.
    token = httpx.post(
        f"{h.url}/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
    ).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    for what in ("appeals", "feedback"):
        got = httpx.get(f"{h.url}/api/after/{DEMO_FINISHED_EXAM}/{what}", headers=auth)
        assert got.status_code == 200 and got.json()["being_prepared"] is True, what
        other = httpx.get(f"{h.url}/api/after/SKD-DEMO/{what}", headers=auth)
        assert other.json()["being_prepared"] is False, what
    training = httpx.get(f"{h.url}/api/after/{DEMO_FINISHED_EXAM}/training.csv", headers=auth)
    assert training.status_code == 503 and training.json()["error"] == "being_prepared"

    page = browser.new_context().new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{h.url}/after-admin.html?exam={DEMO_FINISHED_EXAM}")
    page.fill("#aa-user", "admin")
    page.fill("#aa-pass", ADMIN_PASSWORD)
    page.click("#aa-login-button")
    note = page.locator("#aa-preparing")
    expect(note).to_be_visible()
    expect(note).to_contain_text(PREPARING_ID)
    expect(note).to_contain_text(DEMO_FINISHED_EXAM)
    expect(note).to_contain_text(STAFF_PREPARING_ID)
    assert note.get_attribute("role") == "status"
    assert serious_violations(page) == []
    # The training needs say the same, instead of an error.
    with page.expect_response(lambda r: "/training.html" in r.url) as answer:
        page.click("#aa-training-open")
    assert answer.value.status == 503
    page.wait_for_timeout(300)  # the page has read the answer
    expect(page.locator("#aa-training-frame")).to_be_hidden()
    expect(page.locator("#aa-error")).to_be_empty()
    expect(note).to_contain_text(PREPARING_ID)
    page.click("#aa-lang")
    expect(note).to_contain_text(PREPARING_EN)
    expect(note).to_contain_text(STAFF_PREPARING_EN)
    assert page.evaluate("document.documentElement.lang") == "en"
    assert serious_violations(page) == []

    # Done: the page notices by itself (it looks again every 5 s).
    marker.unlink()
    expect(note).to_be_hidden()
    assert note.inner_text() == ""
    # Another exam is not held back, even with the marker back.
    _mark(marker, os.getpid())
    page.fill("#aa-exam", "SKD-DEMO")
    with page.expect_response(lambda r: "/api/after/SKD-DEMO/feedback" in r.url):
        page.click("#aa-load")
    page.wait_for_timeout(300)  # the page has read the answers
    expect(page.locator("#aa-appeals")).to_contain_text("None.")
    expect(note).to_be_hidden()
    assert errors == []
