"""An administrator imports item bank files on the admin page, in Debian's chromium.

A server with the demo bank (so TWK and its content areas exist) and an admin
account: a hostile package (a member named ``../``) is refused with its reason
and nothing stored; a real TAO QTI 2.2 package without Seleksi metadata is
refused by row until a subtest and content area are given, then checked
(dry run, nothing stored) and imported; the page speaks Bahasa Indonesia first
and English when switched. axe-core finds no serious or critical violation.
"""

from __future__ import annotations

import io
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from exam_server import scheduling as sch
from exam_server.app import create_app
from exam_server.db import create_schema, make_engine
from exam_server.settings import Settings
from item_bank.demo import seed_demo_bank
from item_bank.store import ItemStore
from tests.browser_checks import expect_patiently, serious_violations
from tests.proctor_ui.live_server import SECRET, free_port

pytestmark = pytest.mark.browser

ADMIN_PW = "admin-bank-123"
SAMPLE = (
    Path(__file__).resolve().parents[1] / "data" / "qti" / "samples" / "tao-qti22-three-items.zip"
)


@dataclass
class Server:
    url: str
    db_url: str


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("bank")
    db_url = f"sqlite:///{tmp / 'bank.db'}"
    engine = make_engine(db_url)
    create_schema(engine)
    seed_demo_bank(engine, per_subtest=6)
    sch.create_staff(engine, "admin", "Admin Bank", "admin", ADMIN_PW, scrypt_n=2**10)
    engine.dispose()
    port = free_port()
    settings = Settings(
        database_url=db_url,
        secret_key=SECRET,
        port=port,
        scrypt_n=2**10,
        sqlite_synchronous="NORMAL",
    )
    srv = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not srv.started:
        if time.time() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield Server(f"http://127.0.0.1:{port}", db_url)
    srv.should_exit = True
    thread.join(timeout=10)


def _items(db_url: str) -> set[str]:
    engine = make_engine(db_url)
    try:
        return {it.item_id for it in ItemStore(engine).export_document().items}
    finally:
        engine.dispose()


def test_admin_imports_a_qti_package(server: Server, browser: Any, tmp_path: Path) -> None:
    expect = expect_patiently()
    before = _items(server.db_url)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server.url + "/admin.html")
    page.fill("#username", "admin")
    page.fill("#password", ADMIN_PW)
    page.click("#login-form button[type=submit]")
    expect(page.locator("#tab-exams")).to_be_visible()
    page.click('#tabs button[data-tab="bank"]')
    expect(page.locator("#tab-bank h2")).to_have_text("Bank soal")
    assert serious_violations(page) == []

    # A hostile package: refused whole, with its reason; nothing stored.
    evil = tmp_path / "jahat.zip"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("imsmanifest.xml", "<manifest/>")
        zf.writestr("../../etc/cron.d/x", "* * * * * root sh")
    evil.write_bytes(buf.getvalue())
    page.set_input_files("#bank-file", str(evil))
    page.click("#bank-form button[type=submit]")
    expect(page.locator("#bank-error")).to_have_text("Tidak ada yang diimpor: 1 masalah.")
    expect(page.locator("#bank-errors li")).to_contain_text("points outside the package")

    # TAO's package has no Seleksi metadata: refused by row until placed.
    page.set_input_files("#bank-file", str(SAMPLE))
    page.click("#bank-form button[type=submit]")
    expect(page.locator("#bank-errors li").first).to_contain_text("give a mapping file")
    expect(page.locator("#bank-errors li").nth(1)).to_contain_text("Baris 1 (Q01)")
    assert _items(server.db_url) == before

    page.fill("#bank-subtest", "TWK")
    page.fill("#bank-area", "pilar_negara")
    page.check("#bank-dry")
    page.click("#bank-form button[type=submit]")
    expect(page.locator("#bank-result")).to_contain_text("Diperiksa, tidak disimpan: 3 soal baru.")
    expect(page.locator("#bank-errors li")).to_have_count(0)
    assert _items(server.db_url) == before

    page.uncheck("#bank-dry")
    page.click("#bank-form button[type=submit]")
    expect(page.locator("#bank-result")).to_contain_text("Diimpor: 3 soal baru.")
    assert _items(server.db_url) == before | {"Q01", "Q02", "Q03"}

    # English, one click away.
    page.click(".lang-switch")
    expect(page.locator("#tab-bank h2")).to_have_text("Item bank")
    expect(page.locator('#tabs button[data-tab="bank"]')).to_have_text("Item bank")
    assert serious_violations(page) == []
    assert errors == []
    page.close()
