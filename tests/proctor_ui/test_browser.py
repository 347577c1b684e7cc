"""The three pages in Debian's chromium against a real server.

One candidate sits a small linear test through a proxy the test can cut,
while a proctor console and the public board watch the same session.
Assertions wait for what a person would see (Playwright's ``expect``), with
no timing in pass/fail.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser_checks import expect_patiently
from tests.proctor_ui.live_server import PASSWORD, CuttableProxy, LiveServer, start_server

pytestmark = pytest.mark.browser


def _watch_errors(*pages: Any) -> list[str]:
    """Collect the pages' uncaught JavaScript errors (asserted empty at the end)."""
    errors: list[str] = []
    for page in pages:
        page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def _login_terminal(page: Any, url: str, regno: str, pin: str, token: str) -> None:
    page.goto(url + "/terminal.html")
    page.fill("#regno", regno)
    page.fill("#pin", pin)
    page.fill("#session-token", token)
    page.click("#login-submit")


def test_exam_day_candidate_proctor_and_board(
    live: LiveServer, proxy: CuttableProxy, browser: Any
) -> None:
    expect = expect_patiently()
    seed = live.seed
    cand = seed.candidates[0]
    regno, pin = cand["registration_number"], cand["pin"]
    sid = seed.session_id

    # The proctor opens the console of the session and sees the room token.
    proctor = browser.new_page(viewport={"width": 1280, "height": 800})
    proctor.goto(f"{live.url}/proctor.html?session={sid}")
    proctor.fill("#username", "pengawas")
    proctor.fill("#password", PASSWORD)
    proctor.click("#login-form button[type=submit]")
    row = proctor.locator(f'#grid-body tr[data-regno="{regno}"]')
    expect(row).to_contain_text("Menunggu")
    expect(proctor.locator("#session-token")).to_have_text(seed.session_token)

    board = browser.new_page(viewport={"width": 1280, "height": 800})
    board.goto(f"{live.url}/board.html?session={sid}")
    expect(board.locator("#board-title")).to_have_text("SKD CPNS (uji UI)")
    expect(board.locator("#board-checkpoint .fp")).to_have_text(
        re.compile(r"^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$")
    )

    # The candidate's terminal goes through the cuttable proxy.
    ctx = browser.new_context(viewport={"width": 1024, "height": 768})
    # A dead link is noticed after 3 s of silence here (12 s in production).
    ctx.add_init_script("window.SeleksiConfig = {livenessMs: 3000};")
    term = ctx.new_page()
    errors = _watch_errors(proctor, board, term)
    _login_terminal(term, proxy.url, regno, "000000", seed.session_token)
    expect(term.locator("#login-error")).to_contain_text("PIN")
    term.fill("#pin", pin)
    term.click("#login-submit")
    expect(term.locator("#id-name")).to_have_text(cand["name"])
    term.click("#identity-ok")
    expect(term.locator("#item-number")).to_contain_text("Soal 1 dari 12")

    checked = term.locator('#options .option[aria-checked="true"]')
    # Item 1: key B, then "ragu-ragu".
    term.keyboard.press("b")
    expect(checked).to_contain_text("Pilihan B")
    term.click("#doubtful")
    expect(term.locator("#doubtful")).to_have_attribute("aria-pressed", "true")
    # Item 2 by the arrow key, option C by mouse.
    term.keyboard.press("ArrowRight")
    expect(term.locator("#item-number")).to_contain_text("Soal 2")
    term.locator("#options .option").nth(2).click()
    expect(checked).to_contain_text("Pilihan C")
    # Item 3 by "next"; ↓ ↓ Enter picks the second option.
    term.click("#next")
    expect(term.locator("#item-number")).to_contain_text("Soal 3")
    term.keyboard.press("ArrowDown")
    term.keyboard.press("ArrowDown")
    term.keyboard.press("Enter")
    expect(checked).to_contain_text("Pilihan B")
    # Item 5 from the map, key D.
    term.locator("#map button", has_text="5").first.click()
    expect(term.locator("#item-number")).to_contain_text("Soal 5")
    term.keyboard.press("d")
    expect(checked).to_contain_text("Pilihan D")
    expect(term.locator("#save-state")).to_have_text("Jawaban tersimpan")
    map1 = term.locator('#map button[aria-label^="1 "]')
    expect(map1).to_have_class(re.compile(r"\bdoubtful\b"))
    expect(term.locator("#progress")).to_have_text("4 dari 12 soal dijawab")

    # The proctor sees the progress live; the board shows the running score.
    expect(row.locator('[data-col="answered"]')).to_have_text("4 / 12")
    expect(row).to_contain_text("Mengerjakan")
    expect(board.locator(f'tr[data-regno="{regno}"]')).to_contain_text("Sedang ujian")

    # The page reports lost focus; the focus detector alerts the proctor.
    term.evaluate("window.dispatchEvent(new Event('blur'))")
    expect(row.locator('[data-col="alerts"]')).to_contain_text("kehilangan fokus")

    # The network is cut: the terminal says so and keeps working offline.
    proxy.cut()
    expect(term.locator("#banner")).to_contain_text("Koneksi terputus")
    expect(row).to_contain_text("Terputus")
    map1.click()
    expect(term.locator("#item-number")).to_contain_text("Soal 1")
    term.keyboard.press("e")
    expect(checked).to_contain_text("Pilihan E")
    expect(term.locator("#save-state")).to_contain_text("menunggu koneksi")

    # The network returns: automatic reconnect, the offline answer is stored.
    proxy.restore()
    expect(term.locator("#banner")).to_be_hidden()
    expect(term.locator("#save-state")).to_have_text("Jawaban tersimpan")
    expect(row).to_contain_text("Mengerjakan")
    # Still on item 1; the server's copy (fetched again) holds the offline answer.
    expect(term.locator("#item-number")).to_contain_text("Soal 1")
    term.locator('#map button[aria-label^="2 "]').click()
    expect(term.locator("#item-number")).to_contain_text("Soal 2")
    map1.click()
    expect(term.locator("#item-number")).to_contain_text("Soal 1")
    expect(checked).to_contain_text("Pilihan E")

    # A link that dies silently (no close, no reset) is noticed too.
    proxy.freeze()
    expect(term.locator("#banner")).to_contain_text("Koneksi terputus")
    term.keyboard.press("d")
    expect(term.locator("#save-state")).to_contain_text("menunggu koneksi")
    proxy.restore()
    expect(term.locator("#banner")).to_be_hidden()
    expect(term.locator("#save-state")).to_have_text("Jawaban tersimpan")
    term.keyboard.press("e")  # back to E, as the rest of the test expects
    expect(term.locator("#save-state")).to_have_text("Jawaban tersimpan")

    # Pause with a reason (a reason is required), then resume.
    row.locator('button[data-action="pause"]').click()
    proctor.click("#action-submit")
    expect(proctor.locator("#action-error")).to_have_text("Wajib diisi.")
    proctor.fill("#action-reason", "Peserta izin ke toilet")
    proctor.click("#action-submit")
    expect(row).to_contain_text("Dijeda")
    expect(term.locator("#banner")).to_contain_text("dihentikan sementara")
    expect(term.locator("#options .option").first).to_be_disabled()
    row.locator('button[data-action="resume"]').click()
    proctor.fill("#action-reason", "Kembali dari toilet")
    proctor.click("#action-submit")
    expect(row).to_contain_text("Mengerjakan")
    expect(term.locator("#banner")).to_be_hidden()
    expect(term.locator("#options .option").first).to_be_enabled()
    incidents = proctor.locator("#incidents")
    expect(incidents).to_contain_text("Peserta izin ke toilet")
    expect(incidents).to_contain_text("Kembali dari toilet")

    # Finish: the dialog names unanswered and doubtful items.
    term.click("#finish")
    expect(term.locator("#finish-unanswered")).to_contain_text("Belum dijawab (8): 4, 6, 7")
    expect(term.locator("#finish-doubtful")).to_have_text("Ragu-ragu (1): 1")
    term.click("#finish-confirm")
    expect(term.locator("#screen-result")).to_be_visible()
    expect(term.locator("#result-rows tr")).to_have_count(3)
    expect(term.locator("#result-verdict")).to_have_text(re.compile("MEMENUHI|TIDAK MEMENUHI"))
    total = term.locator("#result-total").text_content()
    assert total and total != "–"

    # Proctor: finished; board: the same final total and a verdict.
    expect(row).to_contain_text("Selesai")
    board_row = board.locator(f'tr[data-regno="{regno}"]')
    expect(board_row.locator("td.total")).to_have_text(total)
    expect(board_row.locator(".pill.pass, .pill.fail")).to_have_count(1)
    assert errors == []

    # WCAG AA contrast on the console and the board too.
    for page, selectors in (
        (
            proctor,
            [
                ".status",
                "table.grid td",
                "table.grid th",
                ".row-actions button",
                ".incidents li",
                ".alert-badge",
                ".session-token",
                ".topbar h1",
            ],
        ),
        (
            board,
            [
                ".board-table td",
                ".board-table th",
                ".pill",
                ".board-sub",
                ".board-checkpoint .fp",
                ".board-title",
                "td.total",
            ],
        ),
    ):
        ratios = page.evaluate(CONTRAST_JS, selectors)
        low = [(sel, round(r, 2)) for sel, r in ratios if r < 4.5]
        assert ratios and not low, f"below WCAG AA 4.5:1: {low}"
    ctx.close()
    proctor.close()
    board.close()


CONTRAST_JS = """
(selectors) => {
  const lum = (rgb) => {
    const [r, g, b] = rgb.map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const parse = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.99)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const out = [];
  for (const sel of selectors) {
    for (const el of document.querySelectorAll(sel)) {
      if (!el.offsetParent) continue;
      const fg = parse(getComputedStyle(el).color).slice(0, 3);
      const l1 = lum(fg), l2 = lum(background(el));
      out.push([sel, (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05)]);
    }
  }
  return out;
}
"""


def test_terminal_at_200_percent_zoom_in_english_with_aa_contrast(
    live: LiveServer, browser: Any
) -> None:
    expect = expect_patiently()
    cand = live.seed.candidates[1]
    # 1024×768 at 200 % zoom: 512×384 CSS pixels, two device pixels each.
    ctx = browser.new_context(viewport={"width": 512, "height": 384}, device_scale_factor=2)
    # This terminal's clock is an hour fast: the countdown must not care.
    ctx.add_init_script("const _now = Date.now; Date.now = () => _now() + 3600 * 1000;")
    term = ctx.new_page()
    _login_terminal(
        term, live.url, cand["registration_number"], cand["pin"], live.seed.session_token
    )
    term.click("#identity-ok")
    expect(term.locator("#item-number")).to_contain_text("Soal 1")
    # 15 minutes from the server's deadline, not from the terminal's clock.
    expect(term.locator("#countdown")).to_have_text(re.compile(r"^1[0-4]:[0-5]\d$"))
    term.keyboard.press("a")
    term.click("#doubtful")
    term.locator(".lang-switch").click()
    expect(term.locator("#item-number")).to_contain_text("Item 1 of 12")
    expect(term.locator("#doubtful")).to_have_text("Doubtful")
    # Nothing is cut off sideways: the page reflows instead of scrolling.
    overflow = term.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1
    for control in ("#options .option >> nth=0", "#next", "#finish", "#map button >> nth=0"):
        box = term.locator(control).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 513, control
    ratios = term.evaluate(
        CONTRAST_JS,
        [
            ".stem",
            ".option .text",
            ".option .letter",
            "#map button",
            ".doubtful-toggle",
            "#finish",
            "#countdown",
            ".save-state",
            ".topbar h1",
        ],
    )
    assert ratios, "no element measured"
    low = [(sel, round(r, 2)) for sel, r in ratios if r < 4.5]
    assert not low, f"below WCAG AA 4.5:1: {low}"
    ctx.close()


@pytest.fixture(scope="module")
def adaptive_live(tmp_path_factory: pytest.TempPathFactory) -> Any:
    server = start_server(Path(tmp_path_factory.mktemp("cat")), n_candidates=1, mode="adaptive")
    yield server
    server.stop()


def test_adaptive_test_shows_one_item_at_a_time_until_the_score(
    adaptive_live: LiveServer, browser: Any
) -> None:
    expect = expect_patiently()
    live = adaptive_live
    cand = live.seed.candidates[0]
    ctx = browser.new_context(viewport={"width": 1024, "height": 768})
    term = ctx.new_page()
    errors = _watch_errors(term)
    _login_terminal(
        term, live.url, cand["registration_number"], cand["pin"], live.seed.session_token
    )
    term.click("#identity-ok")
    expect(term.locator("#item-number")).to_contain_text("Soal 1 dari 12")
    # No going back, no "ragu-ragu" in a CAT.
    expect(term.locator("#prev")).to_be_hidden()
    expect(term.locator("#doubtful")).to_be_hidden()
    for number in range(1, 13):
        expect(term.locator("#item-number")).to_contain_text(f"Soal {number} dari 12")
        term.keyboard.press("a")
        if number < 12:
            # The next item comes only once the answer is stored.
            expect(term.locator("#item-number")).to_contain_text(f"Soal {number + 1} dari 12")
            # No map to jump around in: progress by section instead.
            expect(term.locator("#progress")).to_have_text(f"{number} dari 12 soal dijawab")
    expect(term.locator("#screen-result")).to_be_visible()
    expect(term.locator("#result-rows tr")).to_have_count(3)
    assert term.locator("#result-total").text_content() not in (None, "", "–")
    assert errors == []
    ctx.close()


def test_terminal_swap_after_the_proctor_releases_it(live: LiveServer, browser: Any) -> None:
    expect = expect_patiently()
    cand = live.seed.candidates[2]
    regno = cand["registration_number"]
    first = browser.new_context(viewport={"width": 1024, "height": 768})
    term = first.new_page()
    _login_terminal(term, live.url, regno, cand["pin"], live.seed.session_token)
    term.click("#identity-ok")
    # Typed fast: keys wait for the item they belong to.
    for key in ("c", "ArrowRight", "a", "ArrowRight"):
        term.keyboard.press(key)
    expect(term.locator("#item-number")).to_contain_text("Soal 3")
    expect(term.locator("#progress")).to_have_text("2 dari 12 soal dijawab")
    expect(term.locator("#save-state")).to_have_text("")

    # A second terminal is refused while the first holds the attempt.
    second = browser.new_context(viewport={"width": 1024, "height": 768})
    other = second.new_page()
    _login_terminal(other, live.url, regno, cand["pin"], live.seed.session_token)
    expect(other.locator("#login-error")).to_contain_text("komputer lain")

    proctor = browser.new_page(viewport={"width": 1280, "height": 800})
    errors = _watch_errors(term, other, proctor)
    proctor.goto(f"{live.url}/proctor.html?session={live.seed.session_id}")
    proctor.fill("#username", "pengawas")
    proctor.fill("#password", PASSWORD)
    proctor.click("#login-form button[type=submit]")
    row = proctor.locator(f'#grid-body tr[data-regno="{regno}"]')
    expect(row.locator('[data-col="alerts"]')).to_contain_text("login kedua")
    row.locator('button[data-action="release"]').click()
    proctor.fill("#action-reason", "Komputer 12 rusak, pindah ke komputer 30")
    proctor.click("#action-submit")
    expect(term.locator("#ended-title")).to_have_text("Lanjutkan di terminal lain")

    # The candidate continues on the second terminal where they were.
    other.click("#login-submit")
    other.click("#identity-ok")
    expect(other.locator("#progress")).to_have_text("2 dari 12 soal dijawab")
    expect(other.locator('#map button[aria-label^="1 "]')).to_have_class(re.compile("answered"))
    expect(proctor.locator("#incidents")).to_contain_text("Komputer 12 rusak")

    # Extra time for the trouble: the proctor and the candidate see it.
    row.locator('button[data-action="extend"]').click()
    proctor.fill("#action-minutes", "10")
    proctor.fill("#action-reason", "Ganti komputer")
    proctor.click("#action-submit")
    expect(row.locator('[data-col="time"]')).to_have_text(re.compile(r"^2[0-4]:[0-5]\d$"))
    expect(other.locator("#countdown")).to_have_text(re.compile(r"^2[0-4]:[0-5]\d$"))
    assert errors == []
    first.close()
    second.close()
    proctor.close()


def test_time_up_ends_the_test_with_the_score(
    tmp_path_factory: pytest.TempPathFactory, browser: Any
) -> None:
    expect = expect_patiently()
    # A 6-second test: the server's deadline, not the page, ends it.
    live = start_server(Path(tmp_path_factory.mktemp("short")), 1, time_limit_seconds=6)
    try:
        cand = live.seed.candidates[0]
        ctx = browser.new_context(viewport={"width": 1024, "height": 768})
        term = ctx.new_page()
        errors = _watch_errors(term)
        _login_terminal(
            term, live.url, cand["registration_number"], cand["pin"], live.seed.session_token
        )
        term.click("#identity-ok")
        term.keyboard.press("b")
        expect(term.locator("#screen-result")).to_be_visible()
        expect(term.locator("#result-reason")).to_have_text("Waktu habis.")
        expect(term.locator("#result-rows tr")).to_have_count(3)
        # A finish by the server's clock gets a receipt too.
        expect(term.locator("#receipt-short")).to_have_text(re.compile(r"^\w{4}-\w{4}-\w{4}$"))
        expect(term.locator("#receipt-qr")).to_be_visible()
        assert errors == []
        ctx.close()
    finally:
        live.stop()
