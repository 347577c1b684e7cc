"""A staff page whose login stops working mid-use, in Debian's chromium.

An administrator disables an account while its holder has a page open. The
holder's next step on the page, whichever page it is, takes them to its
login form, which says why (``Seleksi.staffSession``: one rule for every
staff page): on the admin page's bank import (which used to reload the page
and say nothing) and on the SKB assessor's page (which used to drop the
token silently), and on the proctor console (whose live channel kept
reconnecting with a refused token).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from exam_server.testing import staff_token
from tests.browser_checks import expect_patiently, serious_violations
from tests.proctor_ui.live_server import PASSWORD, LiveServer, start_server

pytestmark = pytest.mark.browser
DISABLED = "Akun ini dinonaktifkan. Hubungi administrator."
OTHER_PASSWORD = "sandi-akun-kedua"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(Path(tmp_path_factory.mktemp("ends")), n_candidates=1)
    yield live
    live.stop()


def _disable(server: LiveServer, username: str, password: str = OTHER_PASSWORD) -> None:
    """The first administrator disables ``username``; returns once the tokens
    it holds are refused (every worker reads the list within seconds)."""
    admin = {"Authorization": f"Bearer {staff_token(server.url, server.seed.admin[0], PASSWORD)}"}
    held = {"Authorization": f"Bearer {staff_token(server.url, username, password)}"}
    staff = httpx.get(f"{server.url}/api/admin/staff", headers=admin).json()
    [sid] = [s["id"] for s in staff if s["username"] == username]
    r = httpx.post(
        f"{server.url}/api/admin/staff/{sid}/disable", json={"reason": "uji"}, headers=admin
    )
    assert r.status_code == 200, r.text
    deadline = time.monotonic() + 15
    while httpx.get(f"{server.url}/api/skb/me", headers=held).status_code != 401:
        assert time.monotonic() < deadline, "the disabled account's token still works"
        time.sleep(0.2)


def _create(server: LiveServer, path: str, body: dict[str, Any]) -> None:
    admin = {"Authorization": f"Bearer {staff_token(server.url, server.seed.admin[0], PASSWORD)}"}
    r = httpx.post(f"{server.url}{path}", json=body, headers=admin)
    assert r.status_code in (200, 201), r.text


def test_the_bank_import_of_a_disabled_admin_shows_the_login_and_why(
    server: LiveServer, browser: Any, tmp_path: Path
) -> None:
    expect = expect_patiently()
    _create(
        server,
        "/api/admin/staff",
        {"username": "admin2", "name": "Admin Dua", "role": "admin", "password": OTHER_PASSWORD},
    )
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server.url + "/admin.html")
    page.fill("#username", "admin2")
    page.fill("#password", OTHER_PASSWORD)
    page.click("#login-form button[type=submit]")
    page.click('#tabs button[data-tab="bank"]')
    items = tmp_path / "items.csv"
    items.write_text("item_id,stem\nQ1,Apa?\n", encoding="utf-8")
    page.set_input_files("#bank-file", str(items))
    _disable(server, "admin2")
    page.locator("#bank-form button[type=submit]").click()
    expect(page.locator("#screen-login")).to_be_visible()
    expect(page.locator("#login-error")).to_have_text(DISABLED)
    expect(page.locator("#tabs")).to_be_hidden()
    assert serious_violations(page) == []
    assert errors == []
    page.close()


def test_a_disabled_assessor_is_taken_to_the_login_and_told_why(
    server: LiveServer, browser: Any
) -> None:
    expect = expect_patiently()
    _create(
        server,
        "/api/skb/assessors",
        {"username": "asesor9", "name": "Asesor Sembilan", "password": OTHER_PASSWORD},
    )
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server.url + "/skb-assessor.html")
    page.get_by_label("Nama pengguna").fill("asesor9")
    page.get_by_label("Kata sandi").fill(OTHER_PASSWORD)
    page.get_by_role("button", name="Masuk").click()
    expect(page.locator("#screen-main")).to_be_visible()
    _disable(server, "asesor9")
    page.reload()  # the next visit reads the page's data with the token it keeps
    expect(page.locator("#screen-login")).to_be_visible()
    expect(page.locator("#login-error")).to_have_text(DISABLED)
    assert serious_violations(page) == []
    # Told once: the page after that is a plain login.
    page.reload()
    expect(page.locator("#screen-login")).to_be_visible()
    expect(page.locator("#login-error")).to_have_text("")
    assert errors == []
    page.close()


def test_a_disabled_proctors_console_goes_to_the_login_and_says_why(
    server: LiveServer, browser: Any
) -> None:
    """The live channel refuses the token (``account_disabled``) when the
    console reconnects: the console shows its login with the reason instead of
    reconnecting with it over and over. Last in the module: it disables the
    seeded proctor."""
    expect = expect_patiently()
    proctor = server.seed.proctor[0]
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server.url}/proctor.html?session={server.seed.session_id}")
    page.fill("#username", proctor)
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    expect(page.locator("#screen-console")).to_be_visible()
    _disable(server, proctor, PASSWORD)
    page.reload()  # the console connects again with the token it keeps
    expect(page.locator("#screen-login")).to_be_visible()
    expect(page.locator("#login-error")).to_have_text(DISABLED)
    expect(page.locator("#screen-console")).to_be_hidden()
    assert serious_violations(page) == []
    assert errors == []
    page.close()
