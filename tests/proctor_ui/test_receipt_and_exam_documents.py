"""The candidate's receipt on the terminal and the admin's exam documents, in chromium.

A candidate finishes and sees the signed receipt (QR code, short code, full
code); the code is checked here as an outsider would: decoded and verified
against the server's checkpoint public key (the .pub.pem file beside its
key). An admin creates an exam from an uploaded design and a non-2024 ranking
policy with board options that reveal single answers, sees the server's
warnings, replaces the options while that is allowed and sees the refusal
once a session of the exam has opened. axe-core checks both screens.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest

from exam_server import receipts
from exam_server.checkpoints import load_public_key, public_key_path
from exam_server.context import context
from exam_server.results.rules import RankingPolicy
from tests.browser_checks import expect_patiently, serious_violations
from tests.proctor_ui.live_server import PASSWORD, SECTION_ITEMS, LiveServer

pytestmark = pytest.mark.browser


def _login_terminal(page: Any, live: LiveServer, index: int) -> None:
    cand = live.seed.candidates[index]
    page.goto(live.url + "/terminal.html")
    page.fill("#regno", cand["registration_number"])
    page.fill("#pin", cand["pin"])
    page.fill("#session-token", live.seed.session_token)
    page.click("#login-submit")


def test_a_finished_candidate_gets_a_receipt_that_verifies(live: LiveServer, browser: Any) -> None:
    expect = expect_patiently()
    cand = live.seed.candidates[0]
    ctx = browser.new_context(viewport={"width": 1024, "height": 768})
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.url)
    term = ctx.new_page()
    errors: list[str] = []
    term.on("pageerror", lambda exc: errors.append(str(exc)))
    _login_terminal(term, live, 0)
    term.click("#identity-ok")
    term.keyboard.press("b")
    expect(term.locator("#save-state")).to_have_text("Jawaban tersimpan")
    term.click("#finish")
    term.click("#finish-confirm")

    # The receipt under the score, in Bahasa Indonesia first.
    expect(term.locator("#screen-result")).to_be_visible()
    expect(term.locator("#receipt-title")).to_have_text("Tanda terima")
    expect(term.locator("#receipt-why")).to_contain_text(
        "Simpan tanda terima ini: dengannya Anda dapat membuktikan nilai Anda"
    )
    short = term.locator("#receipt-short")
    expect(short).to_have_text(re.compile(r"^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$"))
    qr = term.locator("#receipt-qr")
    expect(qr).to_be_visible()
    # The image decoded (an SVG without its namespace would not).
    term.wait_for_function("document.getElementById('receipt-qr').naturalWidth > 100")
    code = term.locator("#receipt-code").input_value()

    # An outsider's check: the code decodes and verifies against the public key
    # the server wrote beside its checkpoint key, and says what the screen says.
    key_file = public_key_path(context(live.app).checkpoints.key_path)
    receipt = receipts.decode(code)
    assert receipts.verify_receipt(receipt, load_public_key(key_file))
    assert receipt.registration_number == cand["registration_number"]
    assert receipt.session == "SESI-1"
    assert [c for c, _ in receipt.scores] == ["TWK", "TIU", "TKP"]
    assert receipt.total == term.locator("#result-total").text_content()
    assert receipt.chain_head != ""  # one answer was chained
    assert receipts.short_code(receipt) == short.text_content()
    # The picture is the same code as a QR code (drawn by the server from it).
    src = qr.get_attribute("src") or ""
    assert src.startswith("data:image/svg+xml;base64,")
    shown = base64.b64decode(src.split(",", 1)[1]).decode()
    assert shown == receipts.qr_svg(receipt)

    # The copy button puts the full code on the clipboard.
    term.click("#receipt-copy")
    expect(term.locator("#receipt-copied")).to_have_text("Kode lengkap disalin.")
    assert term.evaluate("navigator.clipboard.readText()") == code
    assert serious_violations(term) == []

    # English on the language switch; the same codes.
    term.locator(".lang-switch").click()
    expect(term.locator("#receipt-title")).to_have_text("Receipt")
    expect(term.locator("#receipt-why")).to_contain_text(
        "Keep this receipt: with it you can prove your score if the published results differ"
    )
    expect(qr).to_have_attribute("alt", f"QR code of receipt {receipt_short(code)}")
    assert term.locator("#receipt-code").input_value() == code
    assert serious_violations(term) == []
    term.locator(".lang-switch").click()
    # At 200 % zoom of 1024×768 the receipt reflows: nothing is cut off sideways.
    term.set_viewport_size({"width": 512, "height": 384})
    assert (
        term.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        <= 1
    )
    for part in ("#receipt-qr", "#receipt-short", "#receipt-code", "#receipt-copy"):
        box = term.locator(part).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 513, part
    term.set_viewport_size({"width": 1024, "height": 768})

    # After a reload the candidate logs in again and the server resends the
    # final frame: the same receipt (Ed25519 signatures are deterministic).
    term.reload()
    _login_terminal(term, live, 0)
    expect(term.locator("#screen-result")).to_be_visible()
    expect(term.locator("#receipt-short")).to_have_text(receipts.short_code(receipt))
    expect(term.locator("#receipt-qr")).to_be_visible()
    assert term.locator("#receipt-code").input_value() == code
    assert errors == []
    ctx.close()


def receipt_short(code: str) -> str:
    return receipts.short_code(receipts.decode(code))


def _small_design() -> dict[str, Any]:
    """A design the demo bank can fill: 3 subtests × SECTION_ITEMS items."""
    return {
        "name": "SKD mini (unggah)",
        "mode": "linear",
        "time_limit_seconds": 900,
        "sections": [
            {"code": code, "n_items": SECTION_ITEMS, "blueprint": {}}
            for code in ("TWK", "TIU", "TKP")
        ],
        "exposure": {"method": "none"},
    }


def _policy_2025() -> dict[str, Any]:
    """Another year's rules: the 2024 document with a new version and a higher TIU minimum."""
    doc = RankingPolicy.default_2024().to_dict()
    doc["version"] = "2025.1-uji"
    doc["name"] = "Seleksi CPNS 2025 (uji)"
    doc["categories"]["general"]["minimums"]["TIU"] = 85
    RankingPolicy.from_dict(doc)  # a valid document, or the test is wrong
    return doc


def _admin_page(live: LiveServer, browser: Any) -> Any:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(live.url + "/admin.html")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    return page


def test_admin_creates_an_exam_with_uploaded_documents_fixed_once_a_session_opens(
    live: LiveServer, browser: Any, tmp_path: Path
) -> None:
    from item_bank.demo import seed_demo_bank

    expect = expect_patiently()
    seed_demo_bank(context(live.app).engine, per_subtest=3 * SECTION_ITEMS)
    design_file = tmp_path / "desain.json"
    design_file.write_text(json.dumps(_small_design()))
    policy_file = tmp_path / "aturan-2025.json"
    policy_file.write_text(json.dumps(_policy_2025()))
    page = _admin_page(live, browser)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    expect(page.locator("#exam-rows tr")).to_have_count(1)  # the demo exam

    # A broken upload is refused on the page, before anything is sent.
    page.fill("#exam-code", "SKD-2025")
    page.fill("#exam-name", "SKD 2025 (uji)")
    page.select_option("#exam-design", "upload")
    page.set_input_files(
        "#exam-design-file",
        files=[{"name": "rusak.json", "mimeType": "application/json", "buffer": b"{"}],
    )
    page.click("#exam-form button[type=submit]")
    expect(page.locator("#exam-error")).to_contain_text("rusak.json: bukan JSON yang sah")

    # An invalid option: the server's field message is shown.
    page.set_input_files("#exam-design-file", str(design_file))
    page.select_option("#exam-policy", "upload")
    page.set_input_files("#exam-policy-file", str(policy_file))
    page.fill("#exam-batch", "0")
    page.click("#exam-form button[type=submit]")
    expect(page.locator("#exam-errors")).to_contain_text("options.board.batch_answers")

    # Unsafe board options: created, with the server's warnings.
    page.fill("#exam-batch", "1")
    page.fill("#exam-interval", "10")
    page.click("#exam-form button[type=submit]")
    expect(page.locator("#exam-created")).to_contain_text("Ujian SKD-2025 dibuat")
    warnings = page.locator("#exam-warnings")
    expect(warnings).to_contain_text("dapat membuka jawaban satu per satu")
    expect(warnings).to_contain_text("board.batch_answers=1")
    expect(warnings).to_contain_text("board.min_interval_seconds=10")
    row = page.locator('#exam-rows tr[data-code="SKD-2025"]')
    expect(row).to_contain_text("Seleksi CPNS 2025 (uji) · 2025.1-uji")
    expect(row).to_contain_text("2 peringatan")
    assert serious_violations(page) == []

    # The documents: shown, and replaceable while no session has opened.
    row.get_by_role("button").click()
    docs = page.locator("#exam-docs")
    expect(docs.locator("#docs-title")).to_have_text("Dokumen ujian SKD-2025")
    expect(docs.locator("#docs-policy-name")).to_have_text("Seleksi CPNS 2025 (uji) · 2025.1-uji")
    expect(docs.locator("#docs-warnings")).to_contain_text("board.batch_answers=1")
    expect(page.locator("#docs-batch")).to_have_value("1")
    page.fill("#docs-batch", "5")
    page.fill("#docs-interval", "180")
    page.click("#docs-form button[type=submit]")
    expect(page.locator("#docs-saved")).to_have_text("Dokumen disimpan.")
    expect(docs.locator("#docs-warnings")).to_be_hidden()
    expect(row).not_to_contain_text("peringatan")
    expect(docs.locator("#docs-board")).to_have_text("rilis tiap ≥ 5 jawaban dan ≥ 180 detik")
    assert serious_violations(page) == []

    # A session of the exam is scheduled and opened on the sessions tab.
    page.click('#tabs button[data-tab="sessions"]')
    page.fill("#session-code", "SESI-2025")
    # The exam and the room are chosen from lists (site/room).
    page.select_option("#session-exam", "SKD-2025")
    page.select_option("#session-room", f"{live.seed.site_code}/R2")
    page.click("#session-form button[type=submit]")
    session_row = page.locator("#session-rows tr", has_text="SESI-2025")
    expect(session_row).to_contain_text("terjadwal")  # statuses in the page's language
    session_row.locator('button[data-act="open"]').click()
    expect(page.locator("#session-result")).to_contain_text("Token sesi:")
    expect(session_row).to_contain_text("dibuka")

    # Now the documents are fixed: the 409 in words, with the server's message.
    page.click('#tabs button[data-tab="exams"]')
    page.locator('#exam-rows tr[data-code="SKD-2025"]').get_by_role("button").click()
    page.select_option("#docs-policy", "2024")
    page.click("#docs-form button[type=submit]")
    expect(page.locator("#docs-error")).to_contain_text(
        "Dokumen ujian ini tidak dapat diubah lagi: sebuah sesinya sudah dibuka."
    )
    expect(page.locator("#docs-error")).to_contain_text("has had a session opened")
    expect(page.locator("#docs-policy-name")).to_have_text("Seleksi CPNS 2025 (uji) · 2025.1-uji")
    page.locator(".lang-switch").click()
    expect(page.locator("#docs-title")).to_have_text("Documents of exam SKD-2025")
    assert serious_violations(page) == []
    assert errors == []
    page.close()


def test_wrong_pins_tell_the_candidate_how_long_to_wait(live: LiveServer, browser: Any) -> None:
    """The login back-off (issue 14) answers 429 with ``retry_after``: the
    terminal says how many seconds, not "a few minutes"."""
    expect = expect_patiently()
    cand = live.seed.candidates[-1]
    page = browser.new_page()
    page.goto(live.url + "/terminal.html")
    page.fill("#regno", cand["registration_number"])
    page.fill("#session-token", live.seed.session_token)
    for _ in range(8):  # past the free failures: the answer is now a wait
        page.fill("#pin", "000000" if cand["pin"] != "000000" else "111111")
        page.click("#login-submit")
        expect(page.locator("#login-submit")).to_be_enabled()
        if "detik" in (page.locator("#login-error").text_content() or ""):
            break
    expect(page.locator("#login-error")).to_have_text(
        re.compile(r"Terlalu banyak percobaan yang salah\. Coba lagi dalam \d+ detik\.")
    )
    page.close()
