"""The ``seleksi bank`` and ``seleksi demo`` commands, through ``seleksi.cli.main``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from item_bank.database import open_engine, sqlite_url
from item_bank.store import ItemStore
from seleksi.cli import main


def test_demo_creates_a_database_from_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SELEKSI_DATABASE_URL", raising=False)
    # 80 items per subtest leave enough operational TKP items for the demo exam's 45.
    argv = ["demo", "--no-serve", "--per-subtest", "80"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "seleksi-data" / "seleksi.db").is_file()
    assert "240 new item(s)" in out
    assert "TWK (Tes Wawasan Kebangsaan): 80 items" in out
    # Running it again finds the bank in place.
    assert main(argv) == 0
    assert "240 unchanged" in capsys.readouterr().out
    # `bank stats` without --db reads the same default database.
    assert main(["bank", "stats"]) == 0
    stats = capsys.readouterr().out
    assert "TKP GPCM a" in stats and "TIU 3PL c" in stats


def test_bank_demo_export_import_stats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "a.db")
    assert main(["bank", "demo", "--db", db, "--per-subtest", "20", "--seed", "3"]) == 0
    capsys.readouterr()

    out_csv, out_json = tmp_path / "bank.csv", tmp_path / "bank.json"
    assert main(["bank", "export", str(out_csv), "--db", db]) == 0
    assert main(["bank", "export", str(out_json), "--db", db]) == 0
    assert "Exported 60 item(s)" in capsys.readouterr().out
    assert len(json.loads(out_json.read_text(encoding="utf-8"))["items"]) == 60

    # Into a second database: JSON brings the subtests, then the CSV is unchanged.
    db2 = str(tmp_path / "b.db")
    assert main(["bank", "import", str(out_json), "--db", db2, "--create"]) == 0
    assert main(["bank", "import", str(out_csv), "--db", db2]) == 0
    assert "60 unchanged" in capsys.readouterr().out

    assert main(["bank", "export", "-", "--db", db2, "--subtest", "TKP", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 21 and all(",TKP," in line for line in lines[1:])

    assert main(["bank", "stats", "--db", db2]) == 0
    stats = capsys.readouterr().out
    assert "TWK/pilar_negara" in stats and "operational" in stats


def test_dry_run_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo.json"
    assert main(["bank", "demo", "--out", str(out), "--per-subtest", "5"]) == 0
    db = tmp_path / "x.db"
    assert main(["bank", "import", str(out), "--db", str(db), "--dry-run", "--create"]) == 0
    assert "dry run" in capsys.readouterr().out
    store = ItemStore(open_engine(sqlite_url(db)))
    assert store.counts()["bank_item"] == 0
    assert store.subtests() == {}


def test_database_url_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SELEKSI_DATABASE_URL", sqlite_url(tmp_path / "env.db"))
    assert main(["bank", "demo", "--per-subtest", "3"]) == 0
    assert (tmp_path / "env.db").is_file()
    assert os.environ["SELEKSI_DATABASE_URL"].endswith("env.db")


def test_user_errors_exit_1_and_bad_arguments_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "e.db")
    assert main(["bank", "import", str(tmp_path / "missing.csv"), "--db", db]) == 1
    assert "no such file" in capsys.readouterr().err
    (tmp_path / "items.txt").write_text("x", encoding="utf-8")
    assert main(["bank", "import", str(tmp_path / "items.txt"), "--db", db]) == 1
    assert "cannot tell the format" in capsys.readouterr().err
    assert main(["bank", "export", "-", "--db", db]) == 1
    assert "no database at" in capsys.readouterr().err
    assert not Path(db).exists()  # reading never creates the database
    assert main(["bank", "demo", "--db", db, "--per-subtest", "2"]) == 0
    assert main(["bank", "export", "-", "--db", db, "--subtest", "SKB"]) == 1
    assert "unknown subtest" in capsys.readouterr().err
    for argv in (["bank"], ["bank", "import"], ["bank", "demo", "--seed", "x"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2


def test_csv_into_a_bank_without_subtests_gets_a_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "demo.csv"
    assert main(["bank", "demo", "--out", str(out), "--per-subtest", "2"]) == 0
    empty = str(tmp_path / "empty.db")
    assert main(["bank", "import", str(out), "--db", empty, "--create"]) == 1
    err = capsys.readouterr().err
    assert "6 problem(s)" in err and "unknown subtest 'TWK'" in err
    assert "hint: the bank has no subtests yet" in err
