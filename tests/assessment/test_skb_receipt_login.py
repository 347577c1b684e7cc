"""The SKB candidate page identifies a candidate by something never published:
their signed SKD receipt (a reviewer's hole: the page took the date of birth,
which the public results publication lists for every candidate who met the
passing grade — exactly those who go on to the SKB — so anyone read the pairs
from ``/results/files/skd/*.json`` and logged in as them, read their meeting
link and moved their interview).

Here, on a real publication: every published (registration number, birth date)
pair is refused; a forged, an altered and another candidate's receipt are
refused and counted by the back-off; the candidate's own receipt is accepted
and moves the interview. In chromium, the page takes the pasted receipt."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from exam_server import receipts
from exam_server.clock import ManualClock
from exam_server.testing import ThreadServer
from tests.assessment import skb_cases as cases
from tests.assessment.conftest import forged, receipt, schedule, start_server
from tests.assessment.test_skb_browser import browser  # noqa: F401  (the fixture)
from tests.browser_checks import expect_patiently, serious_violations

# Five days before the interviews: they may still be moved.
BEFORE = cases.SLOT_START.timestamp() - 5 * 86_400.0


@pytest.fixture()
def published(tmp_path: Path) -> Iterator[tuple[ThreadServer, str, list[dict[str, Any]]]]:
    """The SKB day scheduled on a server whose clock reads five days before
    the interviews, one more slot free, and the exam's ranking published; with
    the administrator's token and every entry of the public files that lists
    a birth date."""
    srv = start_server(tmp_path, ManualClock(BEFORE))
    try:
        token = schedule(srv)
        auth = {"Authorization": f"Bearer {token}"}
        later = cases.SLOT_START + dt.timedelta(days=1)
        r = httpx.post(srv.url + "/api/skb/slots", headers=auth, timeout=30, json={
            "panel": "P1", "windows": [[later.isoformat(),
                                        (later + dt.timedelta(minutes=30)).isoformat()]],
            "minutes": 30, "meeting_url": "https://meet.example.org/skb", "zone": "WITA",
        })  # fmt: skip
        assert r.status_code == 201, r.text
        r = httpx.post(srv.url + "/api/skb/publish", headers=auth, timeout=60,
                       json={"exam_code": cases.EXAM, "published_at": "2025-05-01"})  # fmt: skip
        assert r.status_code == 201, r.text
        # What anyone reads: the public files of the publication.
        manifest = httpx.get(srv.url + "/results/files/manifest.json").json()
        entries = []
        for f in manifest["files"]:
            if f["path"].endswith(".json") and "/" in f["path"]:
                doc = httpx.get(srv.url + "/results/files/" + f["path"]).json()
                entries += [e for e in doc.get("entries", []) if e.get("birth_date")]
        yield srv, token, entries
    finally:
        srv.stop()


def _post(srv: ThreadServer, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(srv.url + path, json=body, timeout=30)


def test_published_pairs_and_false_receipts_are_refused_the_own_receipt_moves_the_interview(
    published: tuple[ThreadServer, str, list[dict[str, Any]]],
) -> None:
    srv, token, entries = published
    # The reviewer's pairs: every called candidate's birth date is public.
    pairs = {(e["registration_number"], e["birth_date"]) for e in entries}
    born = {p[0]: p[2] for p in cases.PEOPLE}
    assert {(r, born[r]) for r in cases.CALLED} <= pairs, pairs
    for regno, born in sorted(pairs):
        for path, extra in (("/api/skb/candidate", {}), ("/api/skb/reschedule", {"slot": 4})):
            r = _post(srv, path, {"registration_number": regno, "birth_date": born} | extra)
            assert r.status_code == 422, r.text
            assert r.json()["errors"][0]["field"] == "receipt"
            assert "date of birth is no longer accepted" in r.json()["message"]
            assert "meet.example.org" not in r.text
    # Nor is the date taken as a receipt (a refusal: counted).
    r = _post(srv, "/api/skb/candidate", {"registration_number": "R002", "receipt": "1997-03-02"})
    assert r.status_code == 401 and r.json()["error"] == "bad_credentials", r.text

    own = receipt(srv, "R002")
    altered = receipts.encode(dataclasses.replace(receipts.decode(own), total="999"))
    others = receipt(srv, "R003")  # valid, but R003's
    refusals = {
        "forged": (forged("R002"), "not one of the"),
        "altered": (altered, "the receipt was changed"),
        "another candidate's": (others, "another registration number's"),
    }
    for what, (code, why) in refusals.items():
        r = _post(srv, "/api/skb/candidate", {"registration_number": "R002", "receipt": code})
        assert r.status_code == 401, (what, r.text)
        assert r.json()["error"] == "bad_credentials" and why in r.json()["message"], what
        assert "Budi" not in r.text and "meet.example.org" not in r.text
    # A false receipt moves nothing either.
    r = _post(srv, "/api/skb/reschedule",
              {"registration_number": "R002", "receipt": others, "slot": 4})  # fmt: skip
    assert r.status_code == 401, r.text

    # Each refusal counted by the back-off (per number and address).
    rows = httpx.get(srv.url + "/api/admin/login-limits", timeout=30,
                     headers={"Authorization": f"Bearer {token}"}).json()  # fmt: skip
    (count,) = [x for x in rows if x["scope"] == "skb" and x["account"] == "R002"]
    assert count["failures"] == 5

    # The candidate's own receipt: their interview, and they move it.
    r = _post(srv, "/api/skb/candidate", {"registration_number": "R002", "receipt": own})
    if r.status_code == 429:  # the owner waits out the back-off the refusals started
        assert isinstance(srv.clock, ManualClock)
        srv.clock.advance(r.json()["retry_after"])
        r = _post(srv, "/api/skb/candidate", {"registration_number": "R002", "receipt": own})
    assert r.status_code == 200, r.text
    [iv] = r.json()["interviews"]
    assert r.json()["name"] == "Budi" and iv["meeting_url"].startswith(
        "https://meet.example.org/skb"
    )
    [free] = iv["free"]
    r = _post(srv, "/api/skb/reschedule",
              {"registration_number": "R002", "receipt": own, "slot": free["slot"]})  # fmt: skip
    assert r.status_code == 200, r.text
    [moved] = r.json()["interviews"]
    assert moved["starts_at"] != iv["starts_at"]


@pytest.mark.browser
def test_the_candidate_page_takes_the_pasted_receipt(
    published: tuple[ThreadServer, str, list[dict[str, Any]]],
    browser: Any,  # noqa: F811
) -> None:
    """On /skb-candidate.html: a receipt field with its hint (where the code
    is found), a forged code refused in the page's words, the own code (as
    pasted, broken over lines) shows the interview; axe finds nothing serious."""
    srv, _token, _entries = published
    expect = expect_patiently()
    page = browser.new_context().new_page()
    page.goto(srv.url + "/skb-candidate.html")
    field = page.get_by_label("Kode tanda terima SKD")
    expect(field).to_have_attribute("aria-describedby", "receipt-hint")
    expect(page.locator("#receipt-hint")).to_contain_text("akhir tes SKD")
    expect(page.locator("#receipt-hint")).to_contain_text("/recruitment/me")  # a lost one
    expect(page.get_by_label("Tanggal lahir")).to_have_count(0)
    assert serious_violations(page) == []
    page.get_by_label("Nomor peserta").fill("R001")
    field.fill(forged("R001"))
    page.get_by_role("button", name="Tampilkan").click()
    expect(page.get_by_role("alert").first).to_have_text(
        "Kode tanda terima tidak sah untuk nomor peserta ini. "
        "Tempel seluruh kode dari akhir tes SKD Anda."
    )
    code = receipt(srv, "R001")
    field.fill("\n".join(code[i : i + 60] for i in range(0, len(code), 60)))
    page.get_by_role("button", name="Tampilkan").click()
    expect(page.get_by_text("R001", exact=False).first).to_be_visible()
    expect(page.locator("#cand-who")).to_have_text("Ani · R001")
    expect(page.get_by_text("Senin, 12 Mei 2025 09.00 WITA")).to_be_visible()
    assert serious_violations(page) == []
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="Interview schedule")).to_be_visible()
