"""An administrator manages staff accounts in the admin page: disables a proctor
(their login and the token they hold are refused), gives them a new password,
enables them again; and cannot lock themselves or everyone out."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from exam_server.db import make_engine
from tests.browser_checks import expect_patiently, serious_violations
from tests.proctor_ui.live_server import PASSWORD, LiveServer, start_server

pytestmark = pytest.mark.browser
NEW_PASSWORD = "sandi-baru-pengawas"


@pytest.fixture(scope="module")
def staff_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(Path(tmp_path_factory.mktemp("staff")), n_candidates=1)
    yield server
    server.stop()


def _login(url: str, username: str, password: str) -> httpx.Response:
    return httpx.post(f"{url}/api/auth/login", json={"username": username, "password": password})


def test_an_admin_disables_resets_and_enables_a_proctor(
    staff_server: LiveServer, browser: Any
) -> None:
    expect = expect_patiently()
    url = staff_server.url
    admin, proctor = staff_server.seed.admin[0], staff_server.seed.proctor[0]
    held = _login(url, proctor, PASSWORD).json()["token"]  # a console already open
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: dialog.accept())  # "Nonaktifkan akun …?"
    page.goto(url + "/admin.html")
    page.fill("#username", admin)
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.click('#tabs button[data-tab="staff"]')

    # Not their own account.
    mine = page.locator(f'#staff-rows tr[data-username="{admin}"]')
    mine.get_by_role("button", name=f"Nonaktifkan {admin}").click()
    expect(page.locator("#staff-error")).to_have_text(
        "Anda tidak dapat menonaktifkan akun Anda sendiri: minta admin lain."
    )

    row = page.locator(f'#staff-rows tr[data-username="{proctor}"]')
    row.get_by_role("button", name=f"Nonaktifkan {proctor}").click()
    expect(page.locator("#staff-done")).to_have_text(f"Akun {proctor} dinonaktifkan.")
    expect(row).to_contain_text("nonaktif")
    refused = _login(url, proctor, PASSWORD)
    assert refused.status_code == 403 and refused.json()["error"] == "account_disabled"
    # The token the proctor already held stops working too (within the refresh).
    grid = f"{url}/api/proctor/sessions/{staff_server.seed.session_id}/attempts"
    headers = {"Authorization": f"Bearer {held}"}
    deadline = time.monotonic() + 15
    while (status := httpx.get(grid, headers=headers).status_code) != 401:
        assert status == 200 and time.monotonic() < deadline, status
        time.sleep(0.2)

    # A new password, told in person; a short one is refused.
    row.get_by_role("button", name=f"Atur ulang kata sandi {proctor}").click()
    row.get_by_label(f"Kata sandi (min. 8 karakter) ({proctor})").fill("pendek")
    row.get_by_role("button", name="Simpan").click()
    expect(page.locator("#staff-error")).to_have_text(
        "Kata sandi terlalu pendek (minimal 8 karakter)."
    )
    row.get_by_label(f"Kata sandi (min. 8 karakter) ({proctor})").fill(NEW_PASSWORD)
    row.get_by_role("button", name="Simpan").click()
    expect(page.locator("#staff-done")).to_have_text(
        f"Kata sandi {proctor} diganti. Sampaikan langsung kepada yang bersangkutan."
    )

    row.get_by_role("button", name=f"Aktifkan {proctor}").click()
    expect(page.locator("#staff-done")).to_have_text(f"Akun {proctor} diaktifkan kembali.")
    assert _login(url, proctor, NEW_PASSWORD).status_code == 200
    assert _login(url, proctor, PASSWORD).status_code == 401
    assert serious_violations(page) == []
    assert errors == []

    # Every change is in the audit chain, with who did it (never the password).
    engine = make_engine(staff_server.app.state.settings.database_url)
    with engine.connect() as conn:
        events = conn.execute(
            # The seed's own staff_created / staff_rooms events are the demo's.
            text(
                "SELECT kind, actor, data_json FROM exam_audit "
                "WHERE kind LIKE 'staff_%' AND actor LIKE 'admin:%'"
            )
        ).all()
    engine.dispose()
    assert [e.kind for e in events] == ["staff_disabled", "staff_password", "staff_enabled"]
    assert {e.actor for e in events} == {f"admin:{admin}"}
    assert all(proctor in e.data_json and NEW_PASSWORD not in e.data_json for e in events)
    page.close()
