"""A candidate who lost the receipt their terminal showed is not shut out of
the SKB page and the after-test pages: their registration account shows the
same receipt again, and the committee can give it again (audited)."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import Session, col

from exam_server import scheduling as sch
from exam_server.checkpoints import load_or_create_key
from exam_server.models import AuditEvent, Candidate
from exam_server.testing import Terminal, candidate_login
from recruitment.models import RecRegistration
from seleksi.cli import main
from tests.browser_checks import expect_patiently, serious_violations
from tests.conftest import TEST_SECRET
from tests.recruitment.conftest import CSRF, PASSWORDS, RecServer


def _candidate_of(rec: RecServer, name: str) -> Candidate:
    with Session(rec.handle.db) as s:
        reg = s.execute(
            select(RecRegistration).where(col(RecRegistration.name) == name)
        ).scalar_one()
        assert reg.candidate_id is not None, "the demo schedules this registration"
        cand = s.get(Candidate, reg.candidate_id)
        assert cand is not None and cand.session_id is not None
        return cand


@contextlib.contextmanager
def _applicant(rec: RecServer, email: str) -> Iterator[httpx.Client]:
    """An applicant logged in on the recruitment pages."""
    with httpx.Client(base_url=rec.url) as c:
        token = CSRF.search(c.get("/recruitment/login").text)
        assert token is not None
        r = c.post(
            "/recruitment/login",
            data={"csrf": token.group(1), "email": email, "password": PASSWORDS["candidate"]},
        )
        assert r.status_code == 303, r.text
        yield c


def _shown_code(page: str) -> str | None:
    m = re.search(r'<textarea id="sitting-code"[^>]*>([^<]*)</textarea>', page)
    return m.group(1).strip() if m else None


async def _sit_and_finish(rec: RecServer, cand: Candidate) -> dict[str, Any]:
    """The candidate logs in at a terminal, answers every item and finishes:
    the final frame, with the receipt the screen shows."""
    db = rec.handle.db
    assert cand.session_id is not None
    token = sch.open_session(db, cand.session_id, "test")
    pin = sch.issue_pin(db, TEST_SECRET, cand.session_id, cand.registration_number, "test")
    r = candidate_login(rec.url, cand.registration_number, pin, token, "T-LOST")
    assert r.status_code == 200, r.text
    t = await Terminal.open(rec.handle.ws_url, r.json()["token"], "T-LOST")
    for number in range(1, len(t.state["map"]) + 1):
        (ack,) = await t.answer(number, number % 3)
        assert ack["type"] == "ack", ack
    final = await t.request({"type": "finish", "confirm": True})
    await t.close()
    assert final["type"] == "final", final
    return final


async def test_the_account_shows_the_receipt_the_terminal_showed(rec_server: RecServer) -> None:
    gita, hadi = (
        _candidate_of(rec_server, "Gita Maharani"),
        _candidate_of(rec_server, "Hadi Wibowo"),
    )
    with _applicant(rec_server, "gita@contoh.id") as c:
        # Before the test there is nothing to show.
        assert _shown_code(c.get("/recruitment/me").text) is None
        final = await _sit_and_finish(rec_server, gita)
        page = c.get("/recruitment/me").text
        english = c.get("/recruitment/me?lang=en").text
    given = final["receipt"]["code"]
    # The very code the screen showed (Ed25519 signs deterministically with
    # the key that signed it at the finish), its short code, and where it is used.
    assert _shown_code(page) == given
    assert final["receipt"]["short"] in page
    assert "/skb-candidate.html" in page and "/sanggah" in page and "/diagnostik" in page
    assert "Your test result receipt" in english and _shown_code(english) == given
    # Another applicant sees no receipt of theirs (no sitting yet), never Gita's.
    with _applicant(rec_server, "hadi@contoh.id") as c:
        theirs = c.get("/recruitment/me").text
    assert _shown_code(theirs) is None and given not in theirs
    # The SKB page's API takes it as Gita's proof, and not as Hadi's.
    with httpx.Client(base_url=rec_server.url) as c:
        mine = c.post(
            "/api/skb/candidate",
            json={"registration_number": gita.registration_number, "receipt": given},
        )
        other = c.post(
            "/api/skb/candidate",
            json={"registration_number": hadi.registration_number, "receipt": given},
        )
    assert mine.status_code != 401, mine.text
    assert other.status_code == 401, other.text


def test_the_committee_gives_it_again_and_it_is_audited(
    rec_server: RecServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Runs after the test above (Gita finished there)."""
    gita, hadi = (
        _candidate_of(rec_server, "Gita Maharani"),
        _candidate_of(rec_server, "Hadi Wibowo"),
    )
    db = rec_server.handle.db
    url = rec_server.handle.settings.database_url
    exam = rec_server.handle.seed.exam_code
    with _applicant(rec_server, "gita@contoh.id") as c:
        on_account = _shown_code(c.get("/recruitment/me").text)
    assert on_account is not None
    staff = rec_server.handle.seed.proctor[0]
    reason = ["--reason", "hilang; KTP diperiksa di meja panitia"]
    base = ["after", "receipt", "--db", url, "--exam", exam, "--number", gita.registration_number]
    # Refused, nothing signed or recorded: a name that is no staff account of
    # this server, or a key that is not one of its receipt keys (the code would
    # be turned away by every page; found by a review).
    assert main([*base, "--by", "sari", *reason]) == 1
    assert "not an active staff account" in capsys.readouterr().err
    other = tmp_path / "other-key.pem"
    load_or_create_key(other)
    assert main([*base, "--by", staff, "--checkpoint-key", str(other), *reason]) == 1
    assert "would not verify at this server" in capsys.readouterr().err
    args = ["after", "receipt", "--db", url, "--exam", exam, "--by", staff]
    assert main([*args, "--number", gita.registration_number, *reason]) == 0
    out = capsys.readouterr().out
    assert on_account in out.split()
    with Session(db) as s:
        events = (
            s.execute(select(AuditEvent).where(col(AuditEvent.kind) == "receipt_again"))
            .scalars()
            .all()
        )
    (event,) = events
    assert event.actor == f"staff:{staff}" and "KTP" in event.reason
    data = json.loads(event.data_json or "{}")
    assert data["registration_number"] == gita.registration_number and data["exam"] == exam
    # No finished sitting: a clear refusal, and nothing recorded.
    assert main([*args, "--number", hadi.registration_number, *reason]) == 1
    assert "has no finished sitting" in capsys.readouterr().err
    # Nobody named, or no reason: refused before anything is signed.
    blank = ["after", "receipt", "--db", url, "--exam", exam, "--by", " ", *reason]
    assert main([*blank, "--number", gita.registration_number]) == 1
    assert "--by and --reason" in capsys.readouterr().err
    with Session(db) as s:
        n = len(
            s.execute(select(AuditEvent).where(col(AuditEvent.kind) == "receipt_again"))
            .scalars()
            .all()
        )
    assert n == 1


@pytest.mark.browser
def test_the_receipt_box_as_the_applicant_sees_it(rec_server: RecServer, browser: Any) -> None:
    """Runs after the tests above (Gita finished there): in chromium, the box
    shows the code to copy and the pages that take it, and axe finds no
    serious or critical violation on the page."""
    expect = expect_patiently()
    page = browser.new_page()
    try:
        page.goto(f"{rec_server.url}/recruitment/login")
        page.fill("#who", "gita@contoh.id")
        page.fill("#password", PASSWORDS["candidate"])
        page.click("form button[type=submit]")
        page.wait_for_url(re.compile(r".*/recruitment/me$"))
        box = page.locator("#sitting")
        expect(box.get_by_role("heading")).to_have_text("Bukti hasil ujian")
        expect(page.get_by_label("Kode bukti")).to_have_value(re.compile(r"^SELEKSI-R1:"))
        expect(box.get_by_role("link", name="Jadwal dan hasil SKB")).to_be_visible()
        assert serious_violations(page) == []
    finally:
        page.close()
