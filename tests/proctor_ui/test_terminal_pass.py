"""The terminal's setup box, in Debian's chromium: a technician enters the
terminal pass once, the terminal keeps it and sends it with every login.

What a technician sees: a closed "Pengaturan terminal (petugas)" under the
login card; a mistyped or forged code is refused and not kept; a valid one
(typed in lower case with spaces) is checked with the server, kept, and only
its id is shown afterwards, also after a reload; the candidate's login then
carries it. axe-core finds no serious or critical violation with the box
closed or open, in either language.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from exam_server.admin.scope import session_room
from exam_server.db import make_engine
from tests.browser_checks import expect_patiently, serious_violations
from tests.proctor_ui.live_server import LiveServer

pytestmark = pytest.mark.browser


def _passes(live: LiveServer, n: int) -> list[dict[str, str]]:
    user, password = live.seed.admin
    token = httpx.post(
        live.url + "/api/auth/login", json={"username": user, "password": password}
    ).json()["token"]
    engine = make_engine(live.app.state.settings.database_url)
    try:
        room = session_room(engine, live.seed.session_id)
    finally:
        engine.dispose()
    r = httpx.post(
        live.url + "/api/terminal-passes",
        json={"room_id": room, "count": n, "label": "uji UI"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 201, r.text
    return list(r.json()["passes"])


def test_a_technician_enters_the_pass_once(live: LiveServer, browser: Any) -> None:
    expect = expect_patiently()
    (good,) = _passes(live, 1)
    ctx = browser.new_context(viewport={"width": 1024, "height": 768})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(live.url + "/terminal.html")
        setup = page.locator("#terminal-setup")
        # Out of the candidate's way: closed, below the login card.
        expect(setup).to_be_visible()
        expect(page.locator("#terminal-pass")).to_be_hidden()
        assert page.evaluate("!document.getElementById('terminal-setup').open")
        assert serious_violations(page) == []

        page.click("#terminal-setup summary")
        field = page.get_by_label("Kode izin terminal")
        expect(field).to_be_visible()
        expect(page.locator("#pass-state")).to_have_text("Belum ada kode izin di terminal ini.")
        expect(page.locator("#pass-remove")).to_be_disabled()
        # A mistyped code: refused here, never sent.
        field.fill("TP-12345")
        page.click("#pass-save")
        expect(page.locator("#pass-status")).to_contain_text("salah ketik")
        # A code of the right shape with a wrong signature: the server refuses it.
        last = good["code"][-1]
        field.fill(good["code"][:-1] + ("A" if last != "A" else "B"))
        page.click("#pass-save")
        expect(page.locator("#pass-status")).to_contain_text("tidak berlaku")
        assert page.evaluate("localStorage.getItem('seleksi.terminalPass')") is None
        # The real code, typed in lower case with spaces: kept, and only its id shown.
        field.fill(good["code"].lower().replace("-", " "))
        page.click("#pass-save")
        expect(page.locator("#pass-status")).to_contain_text(f"Tersimpan: izin {good['id']}")
        expect(field).to_have_value("")
        kept = page.evaluate("localStorage.getItem('seleksi.terminalPass')")
        assert kept == good["code"].replace("-", "")
        assert good["code"] not in page.inner_text("body")
        assert kept not in page.inner_text("body")
        assert serious_violations(page) == []
        page.click(".lang-switch")
        expect(page.locator("#terminal-setup summary")).to_have_text("Terminal setup (staff)")
        expect(page.locator("#pass-state")).to_contain_text(f"This terminal uses pass {good['id']}")
        assert serious_violations(page) == []
        page.click(".lang-switch")

        # After a reload the pass is still there; the candidate's login carries it.
        page.reload()
        page.click("#terminal-setup summary")
        expect(page.locator("#pass-state")).to_contain_text(f"memakai izin {good['id']}")
        cand = live.seed.candidates[0]
        page.fill("#regno", cand["registration_number"])
        page.fill("#pin", cand["pin"])
        page.fill("#session-token", live.seed.session_token)
        with page.expect_request("**/api/candidate/login") as req:
            page.click("#login-submit")
        assert req.value.post_data_json["terminal_pass"] == kept
        expect(page.locator("#identity-ok")).to_be_visible()

        # Removed (in a new tab of the same browser: the test goes on in this one).
        other = ctx.new_page()
        other.goto(live.url + "/terminal.html")
        other.click("#terminal-setup summary")
        other.click("#pass-remove")
        expect(other.locator("#pass-status")).to_have_text("Kode izin dihapus dari terminal ini.")
        assert other.evaluate("localStorage.getItem('seleksi.terminalPass')") is None
        expect(other.locator("#pass-remove")).to_be_disabled()
        assert errors == []
    finally:
        ctx.close()
