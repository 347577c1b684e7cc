"""What ``seleksi demo`` puts in its database, table by table, so that making
it start faster cannot silently drop a part of it.

The demo seeds its exam day and recruitment before it serves, and the
after-the-test part (SKD-HASIL) in a background process while it serves
(``exam_server.demo.prepare_in_background``, which also keeps the file that
tells the pages it is being prepared); these tests run both the same way, with
a smaller bank (80 items per subtest)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from exam_server.audit import verify
from exam_server.db import make_engine
from exam_server.demo import DEMO_FINISHED_EXAM, PREPARING_FILE, being_prepared
from exam_server.demo import prepare_in_background as start
from exam_server.settings import Settings
from seleksi.cli import main

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
    "exam_staff": 2,
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
    # No SKB in the demo (its pages start empty): nothing scored.
    assert not any(t.startswith("skb") for t in rows)

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
