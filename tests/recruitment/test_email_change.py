"""A candidate changes their account's email themselves, over HTTP on a real
server with a real SMTP server: the current password, a link to the new
address (the change happens when it is opened), a notice to the old one;
a used, tampered or taken link changes nothing. And the page in chromium,
with axe."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import Session, col

from exam_server.models import AuditEvent
from recruitment.models import RecAccount
from tests.browser_checks import expect_patiently, serious_violations
from tests.recruitment.conftest import PASSWORDS, RecServer
from tests.recruitment.test_pages_http import _csrf, _login

OLD = "budi@contoh.id"  # a demo candidate with a submitted registration
NEW = "budi.santoso@contoh.id"
LINK = re.compile(r"(http://\S+/recruitment/email/confirm\?t=\S+)")


def _email_of(rec: RecServer, name: str) -> str:
    with Session(rec.handle.db) as s:
        q = select(col(RecAccount.email)).where(col(RecAccount.name) == name)
        return str(s.execute(q).scalar_one())


def _ask(client: httpx.Client, email: str, password: str) -> httpx.Response:
    token = _csrf(client, "/recruitment/me/email")
    return client.post(
        "/recruitment/me/email", data={"csrf": token, "email": email, "password": password}
    )


def _events(rec: RecServer, kind: str) -> list[Any]:
    with Session(rec.handle.db) as s:
        return list(s.execute(select(AuditEvent).where(col(AuditEvent.kind) == kind)).scalars())


def test_a_candidate_changes_their_email_through_a_link_to_the_new_address(
    rec_server: RecServer,
) -> None:
    password = PASSWORDS["candidate"]
    with httpx.Client(base_url=rec_server.url) as c:
        assert _login(c, OLD, password).status_code in (200, 303)
        me = c.get("/recruitment/me").text
        assert 'id="change-email" href="/recruitment/me/email"' in me
        # A wrong password changes nothing and sends nothing.
        r = _ask(c, NEW, "not-the-password")
        assert r.status_code == 401 and "kata sandi salah" in r.text
        r = _ask(c, OLD, password)
        assert r.status_code == 400 and "ini alamat Anda sekarang" in r.text
        assert not [m for m in rec_server.mail.received if m[0] == NEW]
        # The right password: a link to the new address, a notice to the old.
        # Asked twice (a typo first): the link of the first is dead once the
        # second changed the address.
        assert _ask(c, "budi.typo@contoh.id", password).status_code == 200
        r = _ask(c, NEW, password)
        assert r.status_code == 200 and "Periksa email baru Anda" in r.text
    ((_, _, typo),) = rec_server.mail.wait_for("budi.typo@contoh.id", "Konfirmasi email baru")
    ((_, subject, body),) = rec_server.mail.wait_for(NEW, "Konfirmasi email baru")
    assert "Confirm your new email" in subject
    notice = rec_server.mail.wait_for(OLD, "Permintaan ganti email")[-1]
    assert "b***@contoh.id" in notice[2] and NEW not in notice[2]
    link = LINK.search(body)
    assert link is not None, body
    # Until the link is opened, the old address is the account's.
    assert _email_of(rec_server, "Budi Santoso") == OLD
    with httpx.Client(base_url=rec_server.url) as c:
        assert _login(c, NEW, password).status_code == 401
    with httpx.Client() as c:
        r = c.get(link.group(1))
        assert r.status_code == 200 and "Email diganti" in r.text, r.text[:400]
        # The link is single use.
        again = c.get(link.group(1))
        assert again.status_code == 409 and "Tautan sudah dipakai" in again.text
        # A tampered one is refused.
        bad = c.get(link.group(1)[:-3] + "xyz")
        assert bad.status_code == 400
        # The typo's link was made for the old address: it changes nothing now.
        first = LINK.search(typo)
        assert first is not None
        stale = c.get(first.group(1))
        assert stale.status_code == 409 and "Tautan sudah dipakai" in stale.text
    assert _email_of(rec_server, "Budi Santoso") == NEW
    rec_server.mail.wait_for(OLD, "Email akun diganti")
    with httpx.Client(base_url=rec_server.url) as c:
        assert _login(c, OLD, password).status_code == 401
        assert _login(c, NEW, password).status_code in (200, 303)
        assert NEW in c.get("/recruitment/me").text
    assert len(_events(rec_server, "rec_email_change_requested")) == 2
    assert len(_events(rec_server, "rec_email_changed")) == 1


def test_an_address_of_another_account_is_not_taken(rec_server: RecServer) -> None:
    password = PASSWORDS["candidate"]
    other = _email_of(rec_server, "Citra Dewi")
    with httpx.Client(base_url=rec_server.url) as c:
        assert _login(c, NEW, password).status_code in (200, 303)
        # The page does not tell whether the address has an account...
        r = _ask(c, other, password)
        assert r.status_code == 200 and "Periksa email baru Anda" in r.text
    (msg,) = rec_server.mail.wait_for(other, "Konfirmasi email baru")
    link = LINK.search(msg[2])
    assert link is not None
    # ...only its owner, who opens the link, learns it is in use.
    with httpx.Client() as c:
        r = c.get(link.group(1))
    assert r.status_code == 409 and "Alamat sudah dipakai" in r.text
    assert _email_of(rec_server, "Budi Santoso") == NEW
    assert _email_of(rec_server, "Citra Dewi") == other


def test_requests_back_off(rec_server: RecServer) -> None:
    # Every request counts against the account and the address: a mailbox is
    # not flooded with links, and the password is not guessed here faster
    # than at the login (the recruitment scope's back-off, docs/recruitment.md).
    with httpx.Client(base_url=rec_server.url) as c:
        who = _email_of(rec_server, "Citra Dewi")
        assert _login(c, who, PASSWORDS["candidate"]).status_code in (200, 303)
        codes = [_ask(c, f"x{i}@contoh.id", "wrong-password-x").status_code for i in range(12)]
    assert 429 in codes and codes[0] == 401


@pytest.mark.browser
def test_the_change_in_chromium(browser: Any, rec_server: RecServer) -> None:
    # Eka (an appealed registration) follows the link on her page, makes a
    # mistake the form names, then asks for the change; axe on both pages.
    expect = expect_patiently()
    old = _email_of(rec_server, "Eka Putri")
    page = browser.new_page()
    page.goto(f"{rec_server.url}/recruitment/login")
    page.fill("#who", old)
    page.fill("#password", PASSWORDS["candidate"])
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/recruitment/me$"))
    page.click("#change-email")
    expect(page.locator("h1")).to_have_text("Ganti email")
    expect(page.locator("#current-email")).to_have_text(old)
    assert serious_violations(page) == []
    page.fill("#email", "eka.baru@contoh.id")
    page.fill("#password", "a-wrong-password")
    page.click("button[type=submit]")
    expect(page.locator("#err-password")).to_contain_text("kata sandi salah")
    expect(page.locator("#password")).to_have_attribute("aria-invalid", "true")
    assert serious_violations(page) == []
    page.fill("#password", PASSWORDS["candidate"])
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Periksa email baru Anda")
    expect(page.locator("main")).to_contain_text("eka.baru@contoh.id")
    assert serious_violations(page) == []
    rec_server.mail.wait_for("eka.baru@contoh.id", "Konfirmasi email baru")
