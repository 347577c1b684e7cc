"""The centre page in Debian's chromium, as an administrator at the centre
reads it: one site online with a verification failure and its checkpoint
key replaced (the first and the registered one listed), one never heard
from; Bahasa Indonesia first, English when switched; axe-core finds no
serious or critical violation."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from exam_server import scheduling as sch
from exam_server.receipts import key_id
from exam_server.settings import Settings
from exam_server.sites import checkpoint_keys as ck
from exam_server.sites import link
from exam_server.testing import ThreadServer, free_port
from tests.browser_checks import expect_patiently, serious_violations
from tests.conftest import TEST_SCRYPT_N, TEST_SECRET
from tests.sites.conftest import make_centre

pytestmark = pytest.mark.browser

#: TILOK-01's first checkpoint key and the one that replaced it from line 11.
FIRST, NEW = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
REGISTERED_AT = 1_795_995_200.0  # 2026-11-29 23:33:20 UTC


@pytest.fixture(scope="module")
def centre_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp: Path = tmp_path_factory.mktemp("centre-page")
    c = make_centre(tmp / "centre.db")
    sch.create_site(c.engine, "TILOK-02", "Kantor Regional Jayapura")
    link.issue_token(c.engine, "TILOK-01")
    link.issue_token(c.engine, "TILOK-02")
    now = time.time()
    with c.engine.begin() as conn:
        site = conn.execute(text("SELECT id FROM exam_site WHERE code='TILOK-01'")).scalar_one()
        conn.execute(
            text(
                "UPDATE site_link SET last_contact_at=:n, last_sync_at=:n, received=1234,"
                " site_pending=56, oldest_pending_at=:o, sessions_running=2 WHERE site_id=:s"
            ),
            {"n": now, "o": now - 95, "s": site},
        )
        first_pem = FIRST.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        conn.execute(
            text(
                "UPDATE site_link SET checkpoint_key=:k, checkpoint_n=10, checkpoint_hash=:h"
                " WHERE site_id=:s"
            ),
            {"k": first_pem.decode(), "h": "ab" * 32, "s": site},
        )
        conn.execute(
            text(
                "INSERT INTO site_problem (site_id, at, kind, message) VALUES (:s, :n,"
                " 'rewritten', 'attempt 7: answer seq 3 sent again with other content')"
            ),
            {"s": site, "n": now},
        )
    statement = ck.make_statement(
        NEW, "TILOK-01", 11, "ab" * 32, key_id(FIRST.public_key()), "disk replaced"
    )
    ck.register(
        c.engine,
        "TILOK-01",
        statement,
        ck.fingerprint(statement),
        "budi",
        "disk died; fingerprint read by phone",
        now=REGISTERED_AT,
    )
    server = ThreadServer(
        Settings(
            database_url=c.url,
            secret_key=TEST_SECRET,
            port=free_port(),
            scrypt_n=TEST_SCRYPT_N,
            role="centre",
            site_sync_seconds=600,  # online: in contact in the last 30 minutes
            checkpoint_path=str(tmp / "cp.jsonl"),
            checkpoint_key_path=str(tmp / "cp.pem"),
        )
    ).start()
    yield server.url
    server.stop()


def test_centre_page_lists_sites_their_link_and_failures(centre_url: str, browser: Any) -> None:
    expect = expect_patiently()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(centre_url + "/centre.html")
    page.fill("#username", "admin")
    page.fill("#password", "wrong-password")
    page.click("#login-form button[type=submit]")
    # A staff login's words, not a candidate's (registration number, PIN, token).
    expect(page.locator("#login-error")).to_have_text("Nama pengguna atau kata sandi salah.")
    page.fill("#password", "admin-password")
    page.click("#login-form button[type=submit]")

    one = page.locator('tr[data-site="TILOK-01"]')
    two = page.locator('tr[data-site="TILOK-02"]')
    expect(one.locator(".link")).to_contain_text("Terhubung")
    expect(one.locator(".pending")).to_have_text("56")
    expect(one.locator(".running")).to_have_text("2")
    expect(one.locator(".received")).to_have_text("1234")
    # 95 s behind when seeded, and growing while the test runs.
    expect(one.locator(".lag")).to_have_text(re.compile(r"0[1-4]:\d\d"))
    expect(two.locator(".link")).to_contain_text("Terputus")
    expect(two.locator(".link")).to_contain_text("belum pernah menghubungi")
    expect(page.locator("#problem-list li")).to_have_count(1)
    expect(page.locator("#problem-list")).to_contain_text("answer seq 3 sent again")
    # Both of TILOK-01's checkpoint keys, in order; TILOK-02 has none yet.
    first_id, new_id = key_id(FIRST.public_key()), key_id(NEW.public_key())
    keys = page.locator("#key-rows tr")
    expect(keys).to_have_count(2)
    first, new = keys.nth(0), keys.nth(1)
    expect(first.locator(".key-id")).to_have_text(first_id)
    expect(first.locator(".range")).to_have_text("no. 1 sampai 10diganti")
    expect(first.locator(".registered")).to_have_text("diambil pada sinkronisasi pertama")
    expect(first.locator(".reason")).to_have_text("–")
    expect(new.locator("th")).to_have_text("TILOK-01")
    expect(new.locator(".key-id")).to_have_text(new_id)
    expect(new.locator(".range")).to_have_text("sejak no. 11dipakai")
    expect(new.locator(".registered")).to_have_text("2026-11-29 23:33 UTC oleh budi")
    expect(new.locator(".reason")).to_have_text("disk died; fingerprint read by phone")
    expect(page.locator('#key-rows tr[data-key-site="TILOK-02"]')).to_have_count(0)
    assert serious_violations(page) == []

    page.click(".lang-switch")
    expect(page.locator("h1")).to_have_text("Centre: exam sites")
    expect(one.locator(".link")).to_contain_text("Online")
    expect(two.locator(".link")).to_contain_text("never in contact")
    expect(one.locator(".results")).to_have_text("0 equal, 0 differ, 0 pending")
    expect(page.locator("#keys h2")).to_have_text("Sites' checkpoint keys")
    expect(first.locator(".range")).to_have_text("no. 1 to 10replaced")
    expect(first.locator(".registered")).to_have_text("taken at the first sync")
    expect(new.locator(".range")).to_have_text("from no. 11in use")
    expect(new.locator(".registered")).to_have_text("2026-11-29 23:33 UTC by budi")
    assert serious_violations(page) == []
    assert errors == []
