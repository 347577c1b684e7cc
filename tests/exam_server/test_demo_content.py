"""What ``seleksi demo`` puts in its database, table by table, so that making
it start faster cannot silently drop a part of it.

The demo seeds its exam day and recruitment before it serves, and the
after-the-test part (SKD-HASIL) in a background process while it serves
(``exam_server.demo.prepare_in_background``, which also keeps the file that
tells the pages it is being prepared), with the SKB interviews on it
(``exam_server.assessment.demo``); these tests run both the same way, with a
smaller bank (80 items per subtest), and log in with the SKB accounts the
demo prints, over HTTP and in chromium."""

from __future__ import annotations

import json
import os
import re
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from exam_server.assessment.demo import PANEL
from exam_server.audit import verify
from exam_server.db import make_engine
from exam_server.demo import DEMO_FINISHED_EXAM, PREPARING_FILE, being_prepared
from exam_server.demo import prepare_in_background as start
from exam_server.settings import Settings
from exam_server.testing import ThreadServer, staff_token
from seleksi.cli import main
from tests.browser_checks import expect_patiently, serious_violations
from tests.conftest import make_settings
from tests.demo_output import skb_accounts, skb_block, skb_candidates
from tests.proctor_ui.conftest import browser  # noqa: F401  (the chromium fixture)

ARGV = ["demo", "--no-serve", "--per-subtest", "80"]

#: Rows per table of a demo database with 80 items per subtest once the
#: after-the-test part is done: what the demo held before it was made to
#: start faster.
DEMO_ROWS = {
    # the demo bank: 240 items, 234 with IRT parameters
    "bank_subtest": 3,
    "bank_content_area": 14,
    "bank_item": 240,
    "bank_item_option": 1200,
    "bank_item_calibration": 234,
    "bank_calibration_run": 2,
    # the exam day: SKD-DEMO (and the recruitment's extra-time copy), SESI-1
    # open with 50 PINs, two more sessions for the recruitment
    "exam_site": 1,
    "exam_room": 2,
    "exam_exam": 3,
    "exam_session": 5,
    "exam_formation": 10,
    "exam_candidate": 112,
    "exam_checkin": 50,
    "exam_staff": 5,  # admin, proctor and the SKB's three assessors
    "exam_staff_room": 1,
    # SKD-HASIL: 60 finished sittings of 110 answers, a snapshot every 10
    "exam_attempt": 60,
    "exam_response": 6600,
    "exam_attempt_snapshot": 720,
    # after the test
    "after_survey_answer": 144,
    "after_feedback": 5,
    "after_appeal": 1,
}

#: The SKB on SKD-HASIL (exam_server.assessment.demo): one plan, a panel of
#: three assessors, nine slots, four candidates scheduled, eight sheets (3 + 3
#: + 2 declared and submitted), one final interview score.
SKB_ROWS = {
    "skb_plan": 1,
    "skb_panel": 1,
    "skb_panel_member": 3,
    "skb_slot": 9,
    "skb_declaration": 8,
    "skb_sheet": 8,
    "skb_component_score": 1,
}

#: The recruitment's tables (counted by state below; their other rows follow
#: the recruitment's own changes): none may be empty.
RECRUITMENT_TABLES = (
    "rec_period",
    "rec_announcement",
    "rec_staff",
    "rec_need",
    "rec_formation",
    "rec_slot",
    "rec_account",
    "rec_registration",
    "rec_document",
    "rec_verification",
    "rec_appeal",
    "rec_outbox",
)


def _rows(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as c:
        tables = [r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        counts = {t: c.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
    return {t: n for t, n in counts.items() if n and not t.startswith("sqlite_")}


def _grouped(db: Path, sql: str) -> dict[str, int]:
    with sqlite3.connect(db) as c:
        return {str(k): int(n) for k, n in c.execute(sql)}


def _preparing(marker: Path) -> str | None:
    """What the demo server's pages are told (exam_server.demo.being_prepared)."""
    settings = Settings(secret_key="x" * 32, demo_preparing_path=str(marker))
    return being_prepared(settings)


def _seeded_demo(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> Path:
    data = tmp_path / "seleksi-data"
    assert main([*ARGV, "--data-dir", str(data)]) == 0
    capfd.readouterr()
    return data


def test_the_demo_database_holds_every_part(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    data = _seeded_demo(tmp_path, capfd)
    db = data / "seleksi.db"
    url = f"sqlite:///{db}"
    marker = data / PREPARING_FILE
    prep = start(url, data / "results", marker)
    assert prep is not None
    # The pages say "being prepared" while it runs, and no longer once it is done.
    assert _preparing(marker) == DEMO_FINISHED_EXAM
    assert prep.wait(300) == 0
    assert not marker.exists() and _preparing(marker) is None
    out = capfd.readouterr().out
    assert "After the test (exam SKD-HASIL)" in out
    assert "a receipt for the diagnostic report (20230001): SELEKSI-R1:" in out
    # Served again, the demo finds the part done and starts nothing; a marker
    # left by a demo that was killed mid-way is cleared.
    marker.write_text(f'{{"pid": {os.getpid()}, "exam": "{DEMO_FINISHED_EXAM}"}}')
    assert start(url, data / "results", marker) is None
    assert not marker.exists()

    rows = _rows(db)
    assert {t: rows.get(t, 0) for t in DEMO_ROWS} == DEMO_ROWS
    assert [t for t in RECRUITMENT_TABLES if t not in rows] == []
    assert _grouped(
        db,
        "SELECT kind, count(*) FROM exam_audit WHERE kind IN ('create_exam', 'start', 'finish') "
        "GROUP BY kind",
    ) == {"create_exam": 3, "start": 60, "finish": 60}
    assert _grouped(
        db,
        "SELECT s.code, count(c.id) FROM exam_session s "
        "LEFT JOIN exam_candidate c ON c.session_id = s.id GROUP BY s.code",
    ) == {"SESI-1": 50, "SKD-HASIL-S1": 60, "REK-JAK-1": 0, "REK-BAN-1": 1, "REK-JAK-X": 1}
    assert _grouped(db, "SELECT status, count(*) FROM exam_session GROUP BY status") == {
        "open": 1,
        "scheduled": 3,
        "closed": 1,
    }
    assert _grouped(db, "SELECT status, count(*) FROM exam_attempt GROUP BY status") == {
        "finished": 60
    }
    assert _grouped(db, "SELECT status, count(*) FROM rec_registration GROUP BY status") == {
        "draft": 1,
        "submitted": 2,
        "tms": 1,
        "appealed": 1,
        "ms": 1,
        "scheduled": 2,
    }
    assert _grouped(db, "SELECT status, count(*) FROM rec_need GROUP BY status") == {
        "approved": 2,
        "submitted": 1,
    }
    assert _grouped(db, "SELECT status, count(*) FROM after_feedback GROUP BY status") == {
        "published": 3,
        "pending": 1,
        "rejected": 1,
    }
    assert _grouped(db, "SELECT status, count(*) FROM after_appeal GROUP BY status") == {
        "accepted": 1
    }
    # The SKB, each step through the service and audited.
    assert {t: rows.get(t, 0) for t in SKB_ROWS} == SKB_ROWS
    assert _grouped(
        db, "SELECT kind, count(*) FROM exam_audit WHERE kind LIKE 'skb%' GROUP BY kind"
    ) == {
        "skb_plan": 1,
        "skb_assessor": 3,
        "skb_panel": 1,
        "skb_slots": 1,
        "skb_assign": 4,
        "skb_declaration": 8,
        "skb_sheet": 8,
        "skb_final": 1,
    }
    mode = (data / "skb-demo.json").stat().st_mode & 0o777
    assert mode == 0o600  # it holds passwords
    _skb_over_http(data, out)

    # Every stored sitting replays to its stored score.
    engine = make_engine(url)
    try:
        report = verify(engine)
    finally:
        engine.dispose()
    assert report.problems == []
    assert report.scores == 60
    # The publication: version 2 (the accepted appeal) chained to version 1, verifying.
    results = data / "results"
    assert (
        main(
            [
                "results",
                "verify",
                str(results),
                "--public-key",
                str(data / "keys" / "after-demo-signing.pub"),
            ]
        )
        == 0
    )
    verified = capfd.readouterr().out
    assert "VERIFIED" in verified
    assert "version 2 = version 1 with 1 correction(s) (name)" in verified


def test_the_after_test_part_stopped_early_writes_nothing_and_comes_back(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """The demo stopped (Ctrl+C) while its after-the-test part was being
    prepared: nothing of it is in the database, the pages no longer say it is
    being prepared, and the next start makes it whole. A seeding that fails
    leaves no "being prepared" behind either."""
    data = _seeded_demo(tmp_path, capfd)
    db = data / "seleksi.db"
    url = f"sqlite:///{db}"
    marker = data / PREPARING_FILE
    before = _rows(db)
    prep = start(url, data / "results", marker)
    assert prep is not None
    assert _preparing(marker) == DEMO_FINISHED_EXAM
    prep.stop()
    assert prep.proc.returncode == 0
    assert not marker.exists() and _preparing(marker) is None
    assert _rows(db) == before
    assert not (data / "results").exists()
    assert "After the test" not in capfd.readouterr().out

    # It fails (here: its keys folder cannot be made, under a file).
    (tmp_path / "a-file").write_text("")
    failing = start(url, tmp_path / "a-file" / "results", marker)
    assert failing is not None
    assert failing.wait(300) != 0
    assert not marker.exists() and _preparing(marker) is None
    assert "NotADirectoryError" in capfd.readouterr().err
    assert _rows(db) == before

    again = start(url, data / "results", marker)
    assert again is not None
    assert again.wait(300) == 0
    assert not marker.exists()
    rows = _rows(db)
    assert {t: rows.get(t, 0) for t in DEMO_ROWS} == DEMO_ROWS


def _demo_server(data: Path) -> ThreadServer:
    url = f"sqlite:///{data / 'seleksi.db'}"
    secret = (data / "server-secret.key").read_text().strip()
    return ThreadServer(make_settings(url, secret_key=secret)).start()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _skb_over_http(data: Path, out: str) -> None:
    """The printed SKB accounts log in through the real login endpoint and
    each page's API has the demo's SKB to show."""
    accounts = skb_accounts(out)
    assert sorted(accounts) == ["asesor1", "asesor2", "asesor3"]
    assert "  assessor chair asesor1 " in out
    cands = skb_candidates(out)
    assert [c[2] for c in cands] == [
        "interview score final: 85.185",
        "waiting for the chair's adjudication",
        "2 of 3 sheets in",
        "0 of 3 sheets in",
    ]
    admin_pw = json.loads((data / "demo-credentials.json").read_text())["staff"]["admin"][1]
    srv = _demo_server(data)
    try:
        r = httpx.post(
            srv.url + "/api/auth/login", json={"username": "asesor1", "password": "wrong-pass"}
        )
        assert r.status_code == 401
        tokens = {u: staff_token(srv.url, u, pw) for u, pw in accounts.items()}
        for user, token in tokens.items():
            me = httpx.get(srv.url + "/api/skb/me", headers=_bearer(token))
            assert me.status_code == 200, me.text
            [panel] = me.json()["panels"]
            assert panel["panel"] == PANEL and panel["chair"] == (user == "asesor1")
            booked = [s for s in panel["slots"] if s.get("registration_number")]
            assert len(panel["slots"]) == 9
            assert [s["registration_number"] for s in booked] == [c[0] for c in cands]
            assert [s["state"] for s in booked] == ["final", "adjudication", "waiting", "waiting"]
        chair = httpx.get(
            srv.url + "/api/skb/chair", params={"panel": PANEL}, headers=_bearer(tokens["asesor1"])
        )
        assert chair.status_code == 200, chair.text
        assert chair.json()["adjudication"] == [cands[1][0]]  # waiting for the chair
        assert {a["assessor"] for a in chair.json()["severity"]["assessors"]} == set(accounts)
        other = httpx.get(
            srv.url + "/api/skb/chair", params={"panel": PANEL}, headers=_bearer(tokens["asesor2"])
        )
        assert other.status_code == 403
        admin = httpx.get(
            srv.url + "/api/skb/admin", headers=_bearer(staff_token(srv.url, "admin", admin_pw))
        ).json()
        assert [p["formation"] for p in admin["plans"]] == [admin["panels"][0]["formation"]]
        assert len(admin["panels"][0]["unscheduled"]) >= 1  # left for the administrator
        regno, code, _state = cands[3]
        # The printed receipt is the candidate's proof (not their birth date: it is published).
        mine = httpx.post(
            srv.url + "/api/skb/candidate",
            json={"registration_number": regno, "receipt": code},
        )
        assert mine.status_code == 200, mine.text
        other = httpx.post(
            srv.url + "/api/skb/candidate",
            json={"registration_number": regno, "receipt": cands[2][1]},
        )
        assert other.status_code == 401, other.text
        [interview] = mine.json()["interviews"]
        assert interview["zone"] == "WIB" and interview["free"]  # two days ahead: movable
    finally:
        srv.stop()


@pytest.mark.browser
def test_an_assessor_from_the_printed_demo_accounts_sees_their_interviews(
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    browser: Any,  # noqa: F811
) -> None:
    """Run again, the demo prints the SKB accounts it printed when it seeded
    them; with them an assessor logs in on /skb-assessor.html and sees their
    interviews, and the chair the adjudication queue (axe: nothing serious)."""
    data = _seeded_demo(tmp_path, capfd)
    prep = start(f"sqlite:///{data / 'seleksi.db'}", data / "results", data / PREPARING_FILE)
    assert prep is not None and prep.wait(300) == 0
    seeded = skb_block(capfd.readouterr().out)
    assert main([*ARGV, "--data-dir", str(data)]) == 0
    again = capfd.readouterr().out
    assert skb_block(again) == seeded
    accounts = skb_accounts(again)
    cands = skb_candidates(again)
    expect = expect_patiently()
    srv = _demo_server(data)
    try:
        page = browser.new_context().new_page()
        page.goto(srv.url + "/skb-assessor.html")
        page.get_by_label("Nama pengguna").fill("asesor2")
        page.get_by_label("Kata sandi").fill(accounts["asesor2"])
        page.get_by_role("button", name="Masuk").click()
        expect(page.get_by_text(f"Panel {PANEL} · Wawancara")).to_be_visible()
        page.get_by_label("Hanya jadwal hari ini").uncheck()  # also the one in two days
        for regno, _code, _state in cands:
            expect(page.get_by_role("cell", name=regno, exact=True)).to_be_visible()
        # The interview in two days has no sheet yet: the assessor can score it.
        expect(page.get_by_role("button", name=f"Nilai {cands[3][0]}")).to_be_visible()
        assert serious_violations(page) == []
        page.get_by_role("button", name="Keluar").click()

        page.get_by_label("Nama pengguna").fill("asesor1")
        page.get_by_label("Kata sandi").fill(accounts["asesor1"])
        page.get_by_role("button", name="Masuk").click()
        page.get_by_role("link", name="Halaman ketua panel").click()
        expect(page.get_by_role("heading", name="Antrean adjudikasi")).to_be_visible()
        waiting = cands[1][0]
        expect(page.get_by_role("form", name=re.compile(f"^{waiting} "))).to_be_visible()
        assert serious_violations(page) == []
    finally:
        srv.stop()
