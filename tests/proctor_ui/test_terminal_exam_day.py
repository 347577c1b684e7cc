"""The candidate terminal at the edges of a real exam day, in Debian's chromium,
on the real 110-item demo (``seleksi demo``'s bank and exam day).

What a person does and sees: the whole numbered map on a 1024×768 and a
1366×768 screen; answering by keyboard alone (a skip link, one Tab stop per
group, focus kept where the person is); a reload (F5) while the server is
down, answered by the terminal's service worker with the Indonesian
reconnecting screen, and the test going on by itself when the server is
back; the final screens after a void and after a release; the adaptive
(CAT) screen and its score. axe-core reports no serious or critical
violation on any of these screens; the staff pages say "username or
password" for a wrong staff password.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from exam_server import receipts
from exam_server.db import make_engine
from tests.browser_checks import expect_patiently, serious_violations
from tests.proctor_ui.demo_server import DemoServer, demo_server
from tests.proctor_ui.test_browser import CONTRAST_JS

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    server = demo_server(Path(tmp_path_factory.mktemp("demo110")), n_candidates=8)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def cat_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    server = demo_server(Path(tmp_path_factory.mktemp("cat110")), mode="adaptive", n_candidates=1)
    yield server
    server.stop()


def _terminal(browser: Any, width: int = 1024, height: int = 768) -> tuple[Any, Any, list[str]]:
    """A fresh terminal (its own storage and terminal id) and its JavaScript errors."""
    ctx = browser.new_context(viewport={"width": width, "height": height})
    # A dead link is noticed after 3 s of silence here (12 s in production).
    ctx.add_init_script("window.SeleksiConfig = {livenessMs: 3000};")
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return ctx, page, errors


def _start(page: Any, server: DemoServer, index: int) -> None:
    """Log candidate ``index`` in and confirm the identity: item 1 on screen."""
    cand = server.seed.candidates[index]
    page.goto(server.url + "/terminal.html")
    page.fill("#regno", cand["registration_number"])
    page.fill("#pin", cand["pin"])
    page.fill("#session-token", server.seed.session_token)
    page.click("#login-submit")
    page.click("#identity-ok")
    expect_patiently()(page.locator("#item-number")).to_contain_text("Soal 1 dari")


def _proctor_token(server: DemoServer) -> str:
    user, password = server.seed.proctor
    r = httpx.post(server.url + "/api/auth/login", json={"username": user, "password": password})
    r.raise_for_status()
    return str(r.json()["token"])


def _act(server: DemoServer, attempt_id: int, act: str, reason: str) -> None:
    r = httpx.post(
        f"{server.url}/api/proctor/attempts/{attempt_id}/{act}",
        json={"reason": reason},
        headers={"Authorization": f"Bearer {_proctor_token(server)}"},
    )
    r.raise_for_status()


MAP_BOXES_JS = """
() => [...document.querySelectorAll('#map button')].map((b) => {
  const r = b.getBoundingClientRect();
  return [Number(b.textContent), r.left, r.top, r.right, r.bottom];
})
"""


def test_all_110_numbers_in_view_with_legible_colours(demo: DemoServer, browser: Any) -> None:
    expect = expect_patiently()
    for index, width in ((0, 1024), (1, 1366)):
        ctx, term, errors = _terminal(browser, width, 768)
        _start(term, demo, index)
        # Item 1 answered, item 2 doubtful, item 3 on screen.
        term.keyboard.press("b")
        term.keyboard.press("ArrowRight")
        expect(term.locator("#item-number")).to_contain_text("Soal 2 dari 110")
        term.click("#doubtful")
        term.keyboard.press("ArrowRight")
        expect(term.locator("#item-number")).to_contain_text("Soal 3 dari 110")
        expect(term.locator("#save-state")).not_to_contain_text("Menyimpan")
        expect(term.locator("#progress")).to_have_text("1 dari 110 soal dijawab")

        boxes = term.evaluate(MAP_BOXES_JS)
        assert [b[0] for b in boxes] == list(range(1, 111))
        outside = [b[0] for b in boxes if b[1] < 0 or b[2] < 0 or b[3] > width or b[4] > 768]
        assert outside == [], f"at {width}×768 these numbers are out of view: {outside}"
        # Nothing scrolled to get there: neither the page nor the map panel.
        assert term.evaluate("window.scrollY") == 0
        assert term.evaluate(
            "(() => { const p = document.getElementById('map-panel');"
            " return p.scrollHeight <= p.clientHeight + 1; })()"
        )

        # The four states look different and their numbers are readable (AA).
        looks = term.evaluate(
            """() => Object.fromEntries([1, 2, 3, 4].map((n) => {
                 const b = document.querySelector(`#map button[data-number="${n}"]`);
                 const s = getComputedStyle(b);
                 return [n, [s.backgroundColor, s.outlineStyle, s.fontWeight]];
               }))"""
        )
        answered, doubtful, current, unanswered = (looks[k] for k in ("1", "2", "3", "4"))
        assert len({answered[0], doubtful[0], unanswered[0]}) == 3
        assert current[1] == "solid" and unanswered[1] == "none"
        ratios = term.evaluate(
            CONTRAST_JS,
            ["#map button.answered", "#map button.doubtful", "#map button.current", "#map button"],
        )
        low = [(sel, round(r, 2)) for sel, r in ratios if r < 4.5]
        assert ratios and not low, f"below WCAG AA 4.5:1: {low}"
        assert serious_violations(term) == []
        assert errors == []
        ctx.close()


def test_answering_by_keyboard_alone(demo: DemoServer, browser: Any) -> None:
    expect = expect_patiently()
    ctx, term, errors = _terminal(browser)
    cand = demo.seed.candidates[2]
    term.goto(demo.url + "/terminal.html")
    assert serious_violations(term) == []  # the login screen
    term.focus("#regno")
    term.keyboard.type(cand["registration_number"])
    term.keyboard.press("Tab")
    term.keyboard.type(cand["pin"])
    term.keyboard.press("Tab")
    term.keyboard.type(demo.seed.session_token)
    term.keyboard.press("Enter")
    expect(term.locator("#identity-ok")).to_be_focused()
    assert serious_violations(term) == []  # the identity check
    term.keyboard.press("Enter")
    expect(term.locator("#item-number")).to_contain_text("Soal 1 dari 110")

    # The options are radios owned by the radiogroup itself (no list items between).
    roles = term.evaluate(
        "[...document.getElementById('options').children].map((e) => e.getAttribute('role'))"
    )
    assert roles and set(roles) == {"radio"}

    # From the top of the page (here after an F5): the first Tab stop is the
    # skip link, shown when focused.
    term.reload()
    expect(term.locator("#item-number")).to_contain_text("Soal 1 dari 110")
    term.keyboard.press("Tab")
    skip = term.locator("#skip-options")
    expect(skip).to_be_focused()
    expect(skip).to_have_text("Langsung ke pilihan jawaban")
    box = skip.bounding_box()
    assert box is not None and box["y"] >= 0
    term.keyboard.press("Enter")
    expect(term.locator("#options .option").first).to_be_focused()

    # ↓ ↓ Enter chooses B; focus stays on it.
    term.keyboard.press("ArrowDown")
    term.keyboard.press("ArrowDown")
    term.keyboard.press("Enter")
    chosen = term.locator('#options .option[aria-checked="true"]')
    expect(chosen).to_have_attribute("data-index", "1")
    expect(chosen).to_be_focused()
    expect(term.locator("#save-state")).to_have_text("Jawaban tersimpan")

    # One Tab cycle visits few stops: the options group once, the map once.
    first = term.evaluate("document.activeElement.dataset.index")
    stops: list[str] = []
    for _ in range(40):
        term.keyboard.press("Tab")
        here = term.evaluate(
            "(() => { const e = document.activeElement;"
            " return e.id || (e.dataset.number ? 'map:' + e.dataset.number : '')"
            " || (e.dataset.index ? 'option:' + e.dataset.index : e.tagName); })()"
        )
        if here == f"option:{first}":
            break
        stops.append(here)
    else:
        pytest.fail(f"Tab never came back to the options: {stops}")
    assert sum(s.startswith("map:") for s in stops) == 1, stops
    # (BODY: focus leaving the page for the browser's own controls, once a cycle.)
    assert stops.count("BODY") <= 1, stops
    assert len(stops) + 1 <= 12, f"{len(stops) + 1} Tab stops per cycle: {stops}"

    # Into the map: its one stop is the item on screen; arrows move, Enter opens,
    # and focus stays on the number (not dropped to the page).
    while not term.evaluate("!!document.activeElement.dataset.number"):
        term.keyboard.press("Tab")
    assert term.evaluate("document.activeElement.dataset.number") == "1"
    for _ in range(4):
        term.keyboard.press("ArrowRight")
    term.keyboard.press("Enter")
    expect(term.locator("#item-number")).to_contain_text("Soal 5 dari 110")
    five = term.locator('#map button[data-number="5"]')
    expect(five).to_be_focused()
    expect(five).to_have_attribute("aria-current", "true")
    # A letter answers the item on screen without taking focus from the map.
    term.keyboard.press("d")
    expect(chosen).to_have_attribute("data-index", "3")
    expect(five).to_be_focused()
    expect(five).to_have_class(re.compile(r"\banswered\b"))
    # ↓ moves a row (ten numbers) down.
    term.keyboard.press("ArrowDown")
    expect(term.locator('#map button[data-number="15"]')).to_be_focused()
    # Shift+Tab leaves the map in one step (one stop for all 110 numbers).
    term.keyboard.press("Shift+Tab")
    assert term.evaluate("document.activeElement.id") == "finish"
    assert serious_violations(term) == []
    assert errors == []
    ctx.close()


def test_reload_during_an_outage_recovers_by_itself(tmp_path: Path, browser: Any) -> None:
    expect = expect_patiently()
    server = demo_server(tmp_path, n_candidates=1)
    try:
        ctx, term, errors = _terminal(browser)
        _start(term, server, 0)
        term.keyboard.press("a")
        term.keyboard.press("ArrowRight")
        expect(term.locator("#item-number")).to_contain_text("Soal 2 dari 110")
        term.keyboard.press("b")
        expect(term.locator("#save-state")).to_have_text("Jawaban tersimpan")
        # The service worker has kept the terminal's files.
        assert term.evaluate("navigator.serviceWorker.ready.then((r) => !!r.active)")

        # The server goes down; an answer typed now waits on the terminal.
        server.stop()
        expect(term.locator("#banner")).to_contain_text("Koneksi terputus")
        term.keyboard.press("ArrowLeft")
        expect(term.locator("#item-number")).to_contain_text("Soal 1 dari 110")
        term.keyboard.press("c")
        expect(term.locator("#save-state")).to_have_text("1 jawaban menunggu koneksi")

        # F5 while the server is down: the terminal, in Bahasa Indonesia, not
        # the browser's "This site can't be reached".
        term.reload()
        expect(term.locator("#reconnect-title")).to_have_text("Menyambung kembali ke server…")
        expect(term.locator("#reconnect-pending")).to_have_text(
            "1 jawaban tersimpan di komputer ini dan dikirim otomatis begitu tersambung."
        )
        expect(term.locator("#banner")).to_contain_text("Koneksi terputus")
        assert term.title() == "Seleksi CAT"
        assert serious_violations(term) == []

        # The server comes back on the same address: the test goes on, nobody reloads.
        server.start()
        expect(term.locator("#screen-test")).to_be_visible()
        expect(term.locator("#banner")).to_be_hidden()
        expect(term.locator("#progress")).to_have_text("2 dari 110 soal dijawab")
        # The answer typed during the outage is the one the server holds for item 1.
        term.locator('#map button[data-number="1"]').click()
        expect(term.locator("#item-number")).to_contain_text("Soal 1 dari 110")
        expect(term.locator('#options .option[aria-checked="true"]')).to_have_attribute(
            "data-index", "2"
        )
        expect(term.locator("#save-state")).to_have_text("Jawaban tersimpan")
        engine = make_engine(server.db_url)
        try:
            with engine.connect() as c:
                last = c.execute(
                    text(
                        "SELECT option FROM exam_response WHERE number = 1 AND kind = 'answer' "
                        "ORDER BY seq DESC LIMIT 1"
                    )
                ).scalar_one()
        finally:
            engine.dispose()
        assert last == 2
        assert errors == []
        ctx.close()
    finally:
        server.stop()


def test_final_screens_after_a_void_and_a_release(demo: DemoServer, browser: Any) -> None:
    expect = expect_patiently()
    secret_reason = "Membawa catatan di saku kiri (nomor 7Q-rahasia)"

    # A void: the decision in Bahasa Indonesia, never the proctor's words.
    ctx, term, errors = _terminal(browser)
    _start(term, demo, 3)
    term.keyboard.press("a")
    expect(term.locator("#save-state")).to_have_text("Jawaban tersimpan")
    _act(demo, term.evaluate("window.SeleksiTerminal.st.attempt_id"), "void", secret_reason)
    expect(term.locator("#ended-title")).to_have_text("Ujian Anda dibatalkan oleh pengawas")
    expect(term.locator("#ended-body")).to_contain_text("Keputusan ini final")
    for gone in ("#screen-test", "#options", "#map", "#countdown", "#finish", "#banner"):
        expect(term.locator(gone)).to_be_hidden()
    assert "7Q-rahasia" not in term.locator("body").inner_text()
    assert serious_violations(term) == []
    term.locator(".lang-switch").click()
    expect(term.locator("#ended-title")).to_have_text("The proctor voided your test")
    assert errors == []
    ctx.close()

    # A release: continue on another terminal.
    ctx, term, errors = _terminal(browser)
    _start(term, demo, 4)
    term.keyboard.press("b")
    expect(term.locator("#save-state")).to_have_text("Jawaban tersimpan")
    _act(demo, term.evaluate("window.SeleksiTerminal.st.attempt_id"), "release", "PC 12 hang")
    expect(term.locator("#ended-title")).to_have_text("Lanjutkan di terminal lain")
    expect(term.locator("#ended-next")).to_contain_text("PIN dan token sesi yang sama")
    expect(term.locator("#ended-login")).to_be_visible()
    for gone in ("#screen-test", "#options", "#map", "#countdown", "#finish"):
        expect(term.locator(gone)).to_be_hidden()
    assert "PC 12 hang" not in term.locator("body").inner_text()
    assert serious_violations(term) == []
    term.locator(".lang-switch").click()
    expect(term.locator("#ended-title")).to_have_text("Continue on another terminal")
    assert errors == []
    ctx.close()

    # ... and the candidate does continue on another one, with the answer kept.
    other, page, errors = _terminal(browser)
    _start(page, demo, 4)
    expect(page.locator("#progress")).to_have_text("1 dari 110 soal dijawab")
    assert errors == []
    other.close()


def test_adaptive_test_has_its_own_screen_and_score(cat_demo: DemoServer, browser: Any) -> None:
    expect = expect_patiently()
    ctx, term, errors = _terminal(browser)
    _start(term, cat_demo, 0)
    for number in range(1, 7):
        expect(term.locator("#item-number")).to_contain_text(f"Soal {number} dari 110")
        term.keyboard.press("a")
    expect(term.locator("#item-number")).to_contain_text("Soal 7 dari 110")
    expect(term.locator("#progress")).to_have_text("6 dari 110 soal dijawab")

    # No going back, no "ragu-ragu", no map or legend for them, no ←/→ help.
    for gone in ("#prev", "#next", "#doubtful", "#map", "#legend"):
        expect(term.locator(gone)).to_be_hidden()
    expect(term.locator("#map-title")).to_have_text("Kemajuan per subtes")
    expect(term.locator("#keys-help")).not_to_contain_text("←")
    expect(term.locator("#keys-help")).to_contain_text("tidak dapat diubah")
    sections = term.locator("#sections-progress .section-progress")
    expect(sections).to_have_count(3)
    counts = [
        re.search(r"(\d+) dari (\d+) soal", sections.nth(i).inner_text()).groups()  # type: ignore[union-attr]
        for i in range(3)
    ]
    assert [int(n) for _, n in counts] == [30, 35, 45]
    assert sum(int(a) for a, _ in counts) == 6
    expect(term.locator("#sections-progress .section-progress.current")).to_contain_text(
        "sedang dikerjakan"
    )
    assert serious_violations(term) == []

    # The finish dialog counts against the whole test and names no unshown items.
    term.click("#finish")
    expect(term.locator("#finish-unanswered")).to_have_text("Anda telah menjawab 6 dari 110 soal.")
    expect(term.locator("#finish-doubtful")).to_have_text("104 soal lagi belum ditampilkan.")
    expect(term.locator("#finish-dialog")).not_to_contain_text("Belum dijawab")
    expect(term.locator("#finish-dialog")).not_to_contain_text("Ragu-ragu")
    assert serious_violations(term) == []  # the dialog open
    term.click("#finish-confirm")

    # The score on the published scale, printed as the publication and the receipt print it.
    expect(term.locator("#screen-result")).to_be_visible()
    expect(term.locator("#receipt-short")).to_have_text(re.compile(r"^\w{4}-\w{4}-\w{4}$"))
    rows = term.locator("#result-rows tr")
    expect(rows).to_have_count(3)
    receipt = receipts.decode(term.locator("#receipt-code").input_value())
    shown = {
        rows.nth(i).locator("td").nth(0).inner_text(): rows.nth(i).locator("td").nth(1).inner_text()
        for i in range(3)
    }
    assert shown == dict(receipt.scores)
    assert term.locator("#result-total").inner_text() == receipt.total
    maxima = [rows.nth(i).locator("td").nth(2).inner_text() for i in range(3)]
    assert maxima == ["150", "175", "225"]
    assert term.locator("#result-max").inner_text() == "550"
    for points in [*shown.values(), receipt.total]:
        assert re.fullmatch(r"\d+(\.\d{1,3})?", points), points
    assert serious_violations(term) == []
    assert errors == []
    ctx.close()


@pytest.mark.parametrize("page_name", ["proctor.html", "admin.html"])
def test_a_wrong_staff_password_gets_the_staff_message(
    demo: DemoServer, browser: Any, page_name: str
) -> None:
    expect = expect_patiently()
    page = browser.new_page(viewport={"width": 1024, "height": 768})
    page.goto(f"{demo.url}/{page_name}")
    page.fill("#username", "pengawas" if page_name == "proctor.html" else "admin")
    page.fill("#password", "salah-sekali-123")
    page.click("#login-form button[type=submit]")
    error = page.locator("#login-error")
    expect(error).to_have_text("Nama pengguna atau kata sandi salah.")
    page.close()
