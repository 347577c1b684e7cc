"""The site operator's page in Debian's chromium, as the operator at a site
uses it on exam day: a real centre and a real site server, the line between
them a proxy the test cuts.

The operator logs in, reads the installed package (its centre signature),
sees both sessions' items sealed and when the centre gives each key; with
the line cut, the centre's key cannot come, so they type the sealed key
from the envelope — a character not on the sheet and a short key are
refused, saying so, before anything is decrypted — and the items open.
"Sync now" with the line cut says the centre is unreachable and the records
wait; with the line back it sends them and nothing waits. Bahasa Indonesia
first, English when switched; axe-core finds no serious or critical
violation.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from exam_server import scheduling as sch
from exam_server.db import make_engine
from exam_server.receipts import key_id
from exam_server.settings import Settings
from exam_server.sites import keys, link, package
from exam_server.sites.install import install
from exam_server.testing import ThreadServer, free_port
from tests.browser_checks import expect_patiently, serious_violations
from tests.conftest import TEST_SCRYPT_N, TEST_SECRET
from tests.proctor_ui.live_server import CuttableProxy
from tests.sites.conftest import make_centre

pytestmark = pytest.mark.browser


@dataclass
class Site:
    url: str
    proxy: CuttableProxy
    sealed: dict[str, str]
    centre_key_id: str


def _settings(tmp: Path, name: str, url: str, **kw: Any) -> Settings:
    return Settings(
        database_url=url,
        secret_key=TEST_SECRET,
        port=free_port(),
        scrypt_n=TEST_SCRYPT_N,
        checkpoint_path=str(tmp / f"{name}.cp.jsonl"),
        checkpoint_key_path=str(tmp / f"{name}.cp.pem"),
        **kw,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp: Path = tmp_path_factory.mktemp("site-page")
    c = make_centre(tmp / "centre.db")
    # A second session tomorrow: the centre does not give its key yet.
    sch.create_session(c.engine, "SESI-2", c.seed.exam_code, "TILOK-01", "R1", time.time() + 86_400)
    token = link.issue_token(c.engine, "TILOK-01")
    data, session_keys = package.build(c.engine, "TILOK-01", c.key)
    centre = ThreadServer(_settings(tmp, "centre", c.url, role="centre")).start()
    proxy = CuttableProxy(centre.settings.port)
    site_url = f"sqlite:///{tmp / 'site.db'}"
    engine = make_engine(site_url)
    install(engine, data, c.key.public_key())
    sch.create_staff(engine, "admin", "Admin", "admin", "admin-password", TEST_SCRYPT_N)
    engine.dispose()
    server = ThreadServer(
        _settings(
            tmp,
            "site",
            site_url,
            role="site",
            centre_url=proxy.url,
            site_token=token,
            site_sync_seconds=3600,  # only the first run at start, then "sync now"
        )
    ).start()
    sealed = {code: keys.seal(code, k) for code, k in session_keys.items()}
    yield Site(server.url, proxy, sealed, key_id(c.key.public_key()))
    server.stop()
    proxy.close()
    centre.stop()


def test_operator_releases_a_sealed_key_and_syncs(site: Site, browser: Any) -> None:
    expect = expect_patiently()
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(site.url + "/site.html")
    page.fill("#username", "admin")
    page.fill("#password", "wrong-password")
    page.click("#login-form button[type=submit]")
    expect(page.locator("#login-error")).to_have_text("Nama pengguna atau kata sandi salah.")
    page.fill("#password", "admin-password")
    page.click("#login-form button[type=submit]")

    pkg = page.locator("#package-rows tr")
    expect(pkg).to_have_count(1)
    expect(pkg.locator("th")).to_have_text("TILOK-01")
    expect(pkg.locator(".sessions")).to_have_text("SESI-1, SESI-2")
    expect(pkg.locator(".signature")).to_contain_text(
        f"Sah: ditandatangani kunci pusat {site.centre_key_id}"
    )
    one = page.locator('tr[data-session="SESI-1"]')
    two = page.locator('tr[data-session="SESI-2"]')
    expect(one.locator(".key")).to_contain_text("Tersegel")
    expect(one.locator(".key")).to_contain_text("pusat memberikannya sekarang")
    expect(two.locator(".key")).to_contain_text("pusat memberikannya mulai")
    expect(two.locator("button.from-centre")).to_be_disabled()
    expect(page.locator("#sync-centre")).to_have_text(re.compile(r"^http://127\.0\.0\.1:\d+$"))
    assert serious_violations(page) == []

    # The line is cut: the centre's key cannot come.
    site.proxy.cut()
    one.locator("button.from-centre").click()
    expect(page.locator("#key-result")).to_have_text(
        "Pusat tidak dapat dihubungi. Ketik kunci tersegel dari amplop."
    )
    # The sealed key from the envelope: mistakes are named, nothing opens.
    one.locator("button.enter-sealed").click()
    expect(page.locator("#sealed-heading")).to_have_text("Kunci tersegel sesi SESI-1")
    expect(page.locator("#sealed-key")).to_be_focused()
    good = site.sealed["SESI-1"]
    page.fill("#sealed-key", good[:7] + "U" + good[8:])
    page.click("#sealed-form button[type=submit]")
    expect(page.locator("#sealed-error")).to_have_text(
        "Kunci tersegel memuat karakter yang tidak ada di lembar: U"
    )
    expect(page.locator("#sealed-key")).to_have_attribute("aria-invalid", "true")
    page.fill("#sealed-key", good[:-1])
    expect(page.locator("#sealed-count")).to_have_text("Karakter diketik: 54")
    page.click("#sealed-form button[type=submit]")
    expect(page.locator("#sealed-error")).to_have_text(
        "Kunci tersegel terdiri dari 55 karakter; yang diketik 54."
    )
    assert serious_violations(page) == []
    # SESI-2's sheet for SESI-1: the check says so.
    page.fill("#sealed-key", site.sealed["SESI-2"])
    page.click("#sealed-form button[type=submit]")
    expect(page.locator("#sealed-error")).to_contain_text("tidak cocok untuk sesi SESI-1")
    expect(one.locator(".key")).to_contain_text("Tersegel")
    # Typed as a person types it: lower case, spaces, an O for a zero.
    page.fill("#sealed-key", good.lower().replace("-", " ").replace("0", "o"))
    page.click("#sealed-form button[type=submit]")
    expect(page.locator("#key-result")).to_have_text(
        "Sesi SESI-1: 36 soal terbuka (dari kunci tersegel). Pengawas kini dapat membuka sesi."
    )
    expect(page.locator("#sealed-form")).to_be_hidden()
    expect(one.locator(".key")).to_contain_text("Terbuka (dari kunci tersegel)")
    expect(one.locator("button")).to_have_count(0)

    # Sync now with the line cut: the records wait, the error is shown.
    page.click("#sync-now")
    expect(page.locator("#sync-result")).to_have_text(
        "Pusat tidak dapat dihubungi; dicoba lagi otomatis."
    )
    expect(page.locator("#sync-error")).to_contain_text("cannot be reached")
    expect(page.locator("#sync-waiting")).not_to_have_text("0")
    expect(page.locator("#sync-oldest")).to_contain_text("ditulis")
    # The line is back: everything goes, nothing waits.
    site.proxy.restore()
    page.click("#sync-now")
    expect(page.locator("#sync-result")).to_have_text(
        re.compile(r"^Terkirim: pusat menyimpan [1-9]\d* rekaman baru\.$")
    )
    expect(page.locator("#sync-waiting")).to_have_text("0")
    expect(page.locator("#sync-oldest")).to_have_text("tidak ada")
    expect(page.locator("#sync-error")).to_have_text("tidak ada")
    expect(page.locator("#sync-last-ok")).to_have_text(re.compile(r"\(\d+ dtk lalu\)$"))
    expect(page.locator("#sync-cp-key")).to_have_text(re.compile(r"^[0-9a-f]{16}$"))
    assert serious_violations(page) == []

    page.click(".lang-switch")
    expect(page.locator("h1")).to_have_text("Site operator")
    expect(one.locator(".key")).to_contain_text("Released (from the sealed key)")
    expect(two.locator(".key")).to_contain_text("the centre gives it from")
    expect(page.locator("#sync-oldest")).to_have_text("none")
    expect(page.locator("#sync-result")).to_have_text(
        re.compile(r"^Sent: the centre stored [1-9]\d* new records\.$")
    )
    expect(page.locator("#key-result")).to_have_text(
        "Session SESI-1: 36 items opened (from the sealed key). The proctor can now open the"
        " session."
    )
    two.locator("button.enter-sealed").click()
    page.fill("#sealed-key", "x")
    page.click("#sealed-form button[type=submit]")
    expect(page.locator("#sealed-error")).to_have_text("A sealed key has 55 characters; 1 typed.")
    assert serious_violations(page) == []
    assert errors == []
