"""Items imported as HTML (QTI) look on the terminal as their authors made them:
formatted text, a table and the picture from the bank, never their markup as
text; and nothing in an item runs in the page."""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from cat_engine.design import TestDesign
from exam_server.bank_source import load_from_item_bank
from exam_server.db import make_engine
from exam_server.demo import seed_exam
from exam_server.settings import Settings
from exam_server.testing import ThreadServer, free_port
from item_bank.demo import generate_demo_bank
from item_bank.html import media_href
from item_bank.io_json import parse_json, write_json
from item_bank.records import BankDocument, MediaFile, StemFormat
from item_bank.store import ItemStore
from tests.browser_checks import expect_patiently, serious_violations

pytestmark = pytest.mark.browser

SECRET = "html-items-secret-key-0123456789-abcdefghijkl"
PASSWORD = "rahasia-html-123"


def _png(width: int, height: int) -> bytes:
    """A valid RGB PNG of ``width`` x ``height`` grey pixels (what a browser can decode)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\x80" * (3 * width) for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


# The picture the stems show (its bytes, as the bank stores them).
PNG = _png(2, 1)


def _html_bank() -> tuple[BankDocument, str]:
    """The demo bank with every TWK item an HTML item showing a table and a picture."""
    digest, href = media_href(PNG, "image/png")
    demo = generate_demo_bank(seed=7, per_subtest=12)
    items = [
        replace(
            it,
            stem=(
                f"<p>Soal <strong>{it.item_id}</strong>: perhatikan tabel dan gambar.</p>"
                "<table><tr><th>Sila</th><td>Kelima</td></tr></table>"
                f'<p><img src="{href}" alt="Lambang sila kelima"></p>'
            ),
            options=tuple(f"<em>Pilihan</em> {k + 1}" for k in range(len(it.options))),
            stem_format=StemFormat.HTML,
        )
        if it.subtest == "TWK"
        else it
        for it in demo.items
    ]
    return BankDocument(subtests=demo.subtests, items=tuple(items)), digest


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ThreadServer, Any]]:
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('html')) / 'html.db'}"
    engine = make_engine(url)
    doc, digest = _html_bank()
    parsed = parse_json(write_json(doc))
    parsed.media[digest] = MediaFile(digest, "image/png", PNG, "sila5.png")
    store = ItemStore(engine)
    store.create_tables()
    store.import_parsed(parsed)
    design = TestDesign.from_dict(
        {
            "name": "TWK (HTML)",
            "mode": "linear",
            "time_limit_seconds": 900,
            # TWK first: the first screen is an HTML item.
            "sections": [
                {"code": code, "n_items": 4, "blueprint": {}} for code in ("TWK", "TIU", "TKP")
            ],
            "exposure": {"method": "none"},
        }
    )
    bank, items = load_from_item_bank(engine, design)
    seed = seed_exam(
        engine,
        SECRET,
        design=design,
        bank=bank,
        items=items,
        n_candidates=1,
        scrypt_n=2**10,
        admin_password=PASSWORD,
        proctor_password=PASSWORD,
    )
    engine.dispose()
    srv = ThreadServer(
        Settings(database_url=url, secret_key=SECRET, port=free_port(), scrypt_n=2**10)
    ).start()
    yield srv, seed
    srv.stop()


def test_the_exam_carries_the_picture_inside_the_item(tmp_path: Path) -> None:
    """What the server hands the terminal is self-contained and sanitised."""
    doc, _ = _html_bank()
    engine = make_engine(f"sqlite:///{tmp_path / 'bank.db'}")
    parsed = parse_json(write_json(doc))
    digest, _ = media_href(PNG, "image/png")
    parsed.media[digest] = MediaFile(digest, "image/png", PNG, "sila5.png")
    store = ItemStore(engine)
    store.create_tables()
    store.import_parsed(parsed)
    design = TestDesign.from_dict(
        {"name": "x", "mode": "linear", "sections": [{"code": "TWK", "n_items": 3}]}
    )
    _, items = load_from_item_bank(engine, design)
    twk = [it for it in items if it.subtest == "TWK"]
    assert twk and all(it.stem_format == "html" for it in twk)
    png = base64.b64encode(PNG).decode()
    for it in twk:
        assert f'src="data:image/png;base64,{png}"' in it.stem
        assert "media/" not in it.stem and "<em>Pilihan</em>" in it.options[0]


def test_an_html_item_is_shown_formatted_with_its_picture(
    server: tuple[ThreadServer, Any], browser: Any
) -> None:
    srv, seed = server
    expect = expect_patiently()
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    cand = seed.candidates[0]
    page.goto(srv.url + "/terminal.html")
    page.fill("#regno", cand["registration_number"])
    page.fill("#pin", seed.pins()[cand["registration_number"]])
    page.fill("#session-token", seed.session_token)
    page.click("#login-submit")
    page.click("#identity-ok")
    stem = page.locator("#stem")
    expect(stem.locator("strong")).to_be_visible()
    # Formatted, not markup shown as text.
    expect(stem).not_to_contain_text("<p>")
    expect(stem.locator("table th")).to_have_text("Sila")
    expect(stem.locator("table td")).to_have_text("Kelima")
    picture = stem.locator("img")
    expect(picture).to_have_attribute("alt", "Lambang sila kelima")
    page.wait_for_function(
        "document.querySelector('#stem img').complete"
        " && document.querySelector('#stem img').naturalWidth === 2"
    )
    expect(page.locator("#options .option").first.locator("em")).to_have_text("Pilihan")
    # Answering works as for any item.
    page.locator("#options .option").first.click()
    expect(page.locator("#options .option").first).to_have_attribute("aria-checked", "true")
    assert serious_violations(page) == []
    assert errors == []
    page.close()


def test_the_terminal_copies_only_allowed_markup(
    server: tuple[ThreadServer, Any], browser: Any
) -> None:
    """Defence in depth: even a fragment the server did not clean cannot run or
    load anything through the terminal's renderer."""
    srv, _ = server
    page = browser.new_page()
    page.goto(srv.url + "/terminal.html")
    rendered = page.evaluate(
        """() => {
          window.__ran = false;
          const html = '<p onclick="window.__ran=true">a<script>window.__ran=true<\\/script></p>'
            + '<img src="https://example.org/x.png" onerror="window.__ran=true" alt="x">'
            + '<img src="javascript:window.__ran=true" alt="y"><iframe src="about:blank"></iframe>'
            + '<table><tr><td colspan="2" style="color:red">b</td></tr></table>';
          const box = document.createElement('div');
          box.append(window.SeleksiTerminal.richContent(html));
          document.body.append(box);
          return box.innerHTML;
        }"""
    )
    page.wait_for_timeout(200)
    assert page.evaluate("window.__ran") is False
    assert "onclick" not in rendered and "<script" not in rendered and "iframe" not in rendered
    assert "example.org" not in rendered and "javascript:" not in rendered
    assert 'colspan="2"' in rendered and "style" not in rendered
    page.close()


def test_the_terminal_keeps_the_servers_allow_list() -> None:
    """The terminal's renderer copies exactly the elements and attributes the
    bank's sanitiser keeps (two copies of one list, in two languages: this
    keeps them equal)."""
    import re

    from item_bank.html import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, DROPPED_WITH_CONTENT

    js = (Path(__file__).parents[2] / "proctor_ui" / "static" / "js" / "terminal.js").read_text()

    def js_set(name: str) -> set[str]:
        body = re.search(rf"const {name} = new Set\(\[(.*?)\]\);", js, re.DOTALL)
        assert body is not None, name
        return set(re.findall(r'"(\w+)"', body.group(1)))

    assert js_set("RICH_TAGS") == set(ALLOWED_TAGS)
    assert js_set("RICH_DROPPED") == set(DROPPED_WITH_CONTENT)
    attrs = re.search(r"const RICH_ATTRS = \{(.*?)\};", js, re.DOTALL)
    assert attrs is not None
    pairs = re.findall(r"(\w+): \[([^\]]*)\]", attrs.group(1))
    assert {tag: set(re.findall(r'"(\w+)"', names)) for tag, names in pairs} == {
        tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()
    }
