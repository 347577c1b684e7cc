"""The proctor console's room view in Debian's chromium: a room of 50 terminals
on a 1366×768 laptop, the alert history, filters, the void dialog, no false
"Koneksi terminal terputus" after a finish or a void, and absent candidates
shown as absent (TH) on the console, the board and the admin page once the
session is closed. axe-core checks each screen.

Scripted terminals answer over the real candidate protocol; the proctor,
the board and the admin are chromium pages on the same server.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser_checks import expect_patiently, serious_violations
from tests.proctor_ui.live_server import PASSWORD, LiveServer, start_server
from tests.proctor_ui.screenshots import ScriptedTerminal

pytestmark = pytest.mark.browser

ROOM = 50


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(Path(tmp_path_factory.mktemp("room")), n_candidates=ROOM)
    yield server
    server.stop()


def _report(live: LiveServer, t: ScriptedTerminal, kind: str = "focus_lost") -> None:
    r = httpx.post(
        live.url + "/api/candidate/report",
        json={"kind": kind},
        headers={"Authorization": f"Bearer {t.token}"},
    )
    assert r.status_code in (200, 202, 204), r.text


def _second_login(live: LiveServer, index: int) -> None:
    """Someone tries the candidate's PIN at another terminal: refused, and a
    critical alert (reports of lost focus are limited to one a second)."""
    cand = live.seed.candidates[index]
    r = httpx.post(
        live.url + "/api/candidate/login",
        json={
            "registration_number": cand["registration_number"],
            "pin": cand["pin"],
            "session_token": live.seed.session_token,
            "terminal_id": "T-elsewhere",
        },
    )
    assert r.status_code == 409, r.text


def _proctor(browser: Any, live: LiveServer) -> Any:
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.goto(f"{live.url}/proctor.html?session={live.seed.session_id}")
    page.fill("#username", "pengawas")
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    return page


def _tile(page: Any, regno: str) -> Any:
    return page.locator(f'#room button.tile[data-regno="{regno}"]')


def test_room_view_alert_history_and_final_acts(room: LiveServer, browser: Any) -> None:
    expect = expect_patiently()
    live = room
    regnos = [c["registration_number"] for c in live.seed.candidates]
    terminals = [ScriptedTerminal(live, i) for i in range(5)]
    for i, t in enumerate(terminals):
        for number in range(1, 3 + i):
            t.answer(number, 1)
    watched, finisher, dropper, voided, paused = terminals
    _report(live, watched)
    # Tried twice within a minute: one alert (refused second logins are
    # recorded once a minute per attempt, the next with the count).
    _second_login(live, 0)
    _second_login(live, 0)

    proctor = _proctor(browser, live)
    errors: list[str] = []
    proctor.on("pageerror", lambda exc: errors.append(str(exc)))
    # A room of 50 opens in the room view: every terminal at once, no scrolling.
    tiles = proctor.locator("#room button.tile")
    expect(tiles).to_have_count(ROOM)
    expect(proctor.locator("#list-wrap")).to_be_hidden()
    expect(_tile(proctor, regnos[0])).to_contain_text("Mengerjakan")
    expect(_tile(proctor, regnos[0]).locator('[data-col="answered"]')).to_have_text("2/12")
    expect(_tile(proctor, regnos[ROOM - 1])).to_contain_text("Menunggu")
    boxes = [tiles.nth(i).bounding_box() for i in range(ROOM)]
    assert all(b is not None for b in boxes)
    bottom = max(b["y"] + b["height"] for b in boxes if b)
    right = max(b["x"] + b["width"] for b in boxes if b)
    assert bottom <= 768 and right <= 1366, f"tiles reach {right:.0f}×{bottom:.0f}"
    assert proctor.evaluate("document.scrollingElement.scrollHeight") <= 768
    # The incident log and the alert panel sit beside the room.
    log_box = proctor.locator("#incidents").bounding_box()
    assert log_box is not None and log_box["x"] > right - 1 and log_box["y"] < 768

    # The alert badge on the tile and the candidate's whole history in the panel.
    watched_tile = _tile(proctor, watched.regno)
    expect(watched_tile.locator('[data-col="alerts"]')).to_contain_text("2")
    expect(watched_tile).to_have_class(re.compile(r"\bcritical\b"))
    entry = proctor.locator(f'#alert-list .alert-entry[data-regno="{watched.regno}"]')
    expect(entry.locator(".alert-history li")).to_have_count(2)
    expect(entry.locator(".alert-history li").first).to_contain_text("login kedua")
    expect(entry.locator(".alert-history li").last).to_contain_text("kehilangan fokus (1×)")
    watched_tile.click()
    detail = proctor.locator("#detail")
    expect(detail).to_contain_text(watched.regno)
    expect(detail.locator(".alert-history li")).to_have_count(2)
    expect(detail.locator(".alert-history li").first).to_contain_text("Kritis")
    assert serious_violations(proctor) == []

    # Filters and sorting: only the alerted; only the paused.
    proctor.check("#filter-alerts")
    expect(tiles).to_have_count(1)
    proctor.uncheck("#filter-alerts")
    httpx.post(
        f"{live.url}/api/proctor/attempts/{paused.state['attempt_id']}/pause",
        json={"reason": "izin ke toilet"},
        headers={"Authorization": f"Bearer {_staff_token(live)}"},
    ).raise_for_status()
    proctor.select_option("#filter-status", "paused")
    expect(tiles).to_have_count(1)
    expect(tiles.first).to_have_attribute("data-regno", paused.regno)
    proctor.select_option("#filter-status", "")
    proctor.select_option("#sort-by", "alerts")
    expect(tiles.first).to_have_attribute("data-regno", watched.regno)
    proctor.select_option("#sort-by", "regno")

    # A normal finish and a running terminal's drop: only the drop alerts.
    finisher.finish()
    finisher.ws.close()
    dropper.ws.close()
    expect(_tile(proctor, finisher.regno)).to_contain_text("Selesai")
    expect(_tile(proctor, dropper.regno).locator('[data-col="alerts"]')).to_contain_text("1")
    expect(proctor.locator("#alert-list")).to_contain_text("Koneksi terminal terputus")

    # Void from the console: the dialog says it is final and who sees the
    # reason, in the danger colour, and needs the registration number typed.
    _tile(proctor, voided.regno).click()
    proctor.locator('#detail button[data-action="void"]').click()
    dialog = proctor.locator("#action-dialog")
    expect(dialog).to_have_class(re.compile(r"\bdanger-dialog\b"))
    expect(dialog).to_contain_text("FINAL")
    expect(dialog).to_contain_text("hanya pengawas dan admin")
    expect(proctor.locator("#action-submit")).to_have_text("Diskualifikasi peserta ini (final)")
    expect(proctor.locator("#action-cancel")).to_have_text("Kembali")
    assert serious_violations(proctor) == []
    proctor.fill("#action-reason", "joki: wajah tidak sesuai foto")
    proctor.click("#action-submit")
    expect(proctor.locator("#action-error")).to_contain_text(voided.regno)
    proctor.fill("#action-confirm-text", voided.regno)
    proctor.click("#action-submit")
    expect(dialog).to_be_hidden()
    expect(_tile(proctor, voided.regno)).to_contain_text("Didiskualifikasi")

    # Order of events is kept: once a later alert shows, the finished and the
    # voided terminals' sockets have closed long before, and neither alerted.
    voided.ws.close()
    _second_login(live, 2)  # the dropper's PIN at another terminal: an alert of its own
    later = proctor.locator(f'#alert-list .alert-entry[data-regno="{dropper.regno}"]')
    expect(later.locator(".alert-history li", has_text="login kedua")).to_have_count(1)
    for ended in (finisher, voided):
        expect(_tile(proctor, ended.regno).locator('[data-col="alerts"]')).to_have_count(0)
        expect(proctor.locator(f'#alert-list [data-regno="{ended.regno}"]')).to_have_count(0)
        lost = proctor.locator("#incidents li", has_text="Koneksi terminal terputus")
        expect(lost.filter(has_text=ended.regno)).to_have_count(0)
    expect(lost.filter(has_text=dropper.regno)).to_have_count(1)
    assert errors == []
    proctor.close()
    for t in terminals:
        t.ws.close()


def _staff_token(live: LiveServer, username: str = "pengawas") -> str:
    r = httpx.post(live.url + "/api/auth/login", json={"username": username, "password": PASSWORD})
    r.raise_for_status()
    return str(r.json()["token"])
