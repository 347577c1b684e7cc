"""The offline verifier page in Debian's chromium, on a real publication: saved to disk and
opened from the file with every network request refused, as a person would run it offline.

A valid proof and receipt show valid; a tampered proof, a changed manifest, a wrong announced
fingerprint and a deleted line show invalid — with the browser's WebCrypto Ed25519 and with the
page's own JavaScript implementation. axe-core finds no serious or critical violation on the
verifier and the public pages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from exam_server.results import publication as pub
from exam_server.results.pages import routes
from tests.browser_checks import serious_violations
from tests.proctor_ui.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.results.results_cases import KEY, build, outcomes, receipt_code


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(
            f"no chromium at {CHROMIUM}: install Debian's chromium "
            "(`sudo apt-get install chromium`) or set SELEKSI_CHROMIUM to its path"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A real publication (with a receipt key), the verifier and A5's proof as downloaded."""
    d = tmp_path_factory.mktemp("verifier")
    pub_dir = d / "publication"
    pub.write_publication(pub_dir, build(receipt_keys=True).files)
    c = TestClient(Starlette(routes=routes(pub_dir)))
    (d / "verifier.html").write_text(c.get("/results/verifier.html").text, encoding="utf-8")
    (d / "proof.json").write_text(c.get("/results/proof/A5").text, encoding="utf-8")
    # The same exam published by a key holder without A5, re-signed with the same key.
    forged = d / "forged"
    cands = [o for o in outcomes() if o.registration_number != "A5"]
    pub.write_publication(forged, build(cands, receipt_keys=True).files)
    return {"dir": d, "pub": pub_dir, "forged": forged}


ANNOUNCED = pub.public_key_fingerprint(KEY.public_key())


def _open(browser: Any, site: dict[str, Path], impl: str) -> tuple[Any, Any, list[str]]:
    ctx = browser.new_context()
    requests: list[str] = []

    def refuse(route: Any) -> None:
        if not route.request.url.startswith("file://"):
            requests.append(route.request.url)
        route.abort() if not route.request.url.startswith("file://") else route.continue_()

    ctx.route("**/*", refuse)
    page = ctx.new_page()
    page.goto((site["dir"] / "verifier.html").as_uri() + impl)
    return ctx, page, requests


def _check(
    page: Any,
    publication: Path,
    *,
    fingerprint: str = ANNOUNCED,
    proof: str = "",
    receipt: str = "",
    formation: Path | None = None,
    manifest: Path | None = None,
) -> tuple[str, str]:
    # Spaces as a person copies the grouped fingerprint from an announcement.
    page.fill("#fingerprint", " ".join(fingerprint[i : i + 4] for i in range(0, 64, 4)))
    page.set_input_files("#pubkey-file", str(publication / "public_key.pem"))
    page.set_input_files("#manifest-file", str(manifest or publication / "manifest.json"))
    page.set_input_files("#sig-file", str(publication / "manifest.sig"))
    page.fill("#proof", proof)
    page.fill("#receipt", receipt)
    if formation is not None:
        page.set_input_files("#formation-file", str(formation))
    page.evaluate("document.getElementById('verdict').dataset.state = 'none'")
    page.click("#check")
    # A selector, not a JS predicate: the page's CSP forbids eval, as it should.
    page.wait_for_selector("#verdict:not([data-state=none])")
    return page.get_attribute("#verdict", "data-state"), page.inner_text("#results")


@pytest.mark.parametrize(("impl", "named"), [("", "WebCrypto"), ("#js", "JavaScript")])
def test_the_offline_verifier_tells_valid_from_tampered(
    browser: Any, site: dict[str, Path], impl: str, named: str
) -> None:
    ctx, page, requests = _open(browser, site, impl)
    try:
        proof = (site["dir"] / "proof.json").read_text()
        state, text = _check(page, site["pub"], proof=proof, receipt=receipt_code())
        assert state == "valid", text
        assert page.inner_text("#verdict").startswith("✓ SAH")
        assert "Bukti sah" in text and "COCOK" in text
        assert named in page.inner_text("#impl")

        # One click to English, the same results re-rendered.
        page.click("#lang")
        assert page.inner_text("#verdict").startswith("✓ VALID")
        assert "MATCHES" in page.inner_text("#results")
        page.click("#lang")

        # A proof whose leaf was edited (TL made P) does not reach the signed root.
        tampered = json.loads(proof)
        tampered["proofs"][0]["leaf"] = tampered["proofs"][0]["leaf"].replace(
            '"code":"TL"', '"code":"P"'
        )
        state, text = _check(page, site["pub"], proof=json.dumps(tampered))
        assert state == "invalid" and "Bukti TIDAK SAH" in text, text

        # A manifest changed by one character fails the signature.
        changed = site["dir"] / "manifest-changed.json"
        m = (site["pub"] / "manifest.json").read_bytes()
        changed.write_bytes(
            m.replace(b'"published_at": "2024-12-01"', b'"published_at": "2024-12-02"')
        )
        state, text = _check(page, site["pub"], manifest=changed, proof=proof)
        assert state == "invalid" and "Tanda tangan manifest.json TIDAK SAH" in text, text

        # Checked against another announced key: refused before anything else.
        state, text = _check(page, site["pub"], fingerprint="ab" * 32, proof=proof)
        assert state == "invalid" and "BERBEDA dari yang diumumkan" in text, text

        # A5 deleted and re-signed by the key holder: the signed formation file and the
        # receipt show the line missing.
        state, text = _check(
            page,
            site["forged"],
            receipt=receipt_code(),
            formation=site["forged"] / "skd" / "FA.json",
        )
        assert state == "invalid" and "TIDAK ADA" in text, text
        assert "Berkas formasi cocok dengan hash-nya di manifest: skd/FA.json" in text

        # A changed line: the receipt says 210 where 200 is published.
        state, text = _check(page, site["pub"], proof=proof, receipt=receipt_code(TKP="210"))
        assert state == "invalid" and "BERBEDA" in text and "TKP" in text, text
        assert requests == []  # nothing was fetched from anywhere
    finally:
        ctx.close()


def test_no_serious_accessibility_violation(browser: Any, site: dict[str, Path]) -> None:
    ctx, page, _ = _open(browser, site, "")
    try:
        _check(page, site["pub"], proof=(site["dir"] / "proof.json").read_text())
        assert serious_violations(page) == []
        c = TestClient(Starlette(routes=routes(site["pub"])))
        for url in (
            "/results/",
            "/results/?lang=en",
            "/results/formation/skd/FA",
            "/results/formation/final/FB",
            "/results/search?regno=A4",
        ):
            page.set_content(c.get(url).text)
            assert serious_violations(page) == [], url
        page.set_content(c.post("/results/receipt", data={"receipt": receipt_code()}).text)
        assert serious_violations(page) == []
    finally:
        ctx.close()
