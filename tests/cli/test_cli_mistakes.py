"""Every ordinary mistake of issue 16 ends in one clear line: a non-zero exit, no
traceback, a few lines at most, and no file created or modified (outputs are
checked before the work; readers never create a database).

Each case runs ``seleksi`` in-process in a folder of its own (the working
directory, so the default database ``seleksi-data/seleksi.db`` would land
there too) holding the inputs the cases need; the folder's every file is
fingerprinted before and after.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seleksi.cli import build_parser, main

#: At most this many lines of output for a mistake (the error, maybe a hint).
MAX_LINES = 3
#: Nothing listens here (a reserved port on this machine's loopback).
DEAD_PG = "postgresql+psycopg://postgres@127.0.0.1:1/test"
NO_SUCH_PG_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/no_such_database_16"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files the cases read, made once: a small bank database, response files,
    keys, a text file."""
    d = tmp_path_factory.mktemp("inputs")
    cwd = Path.cwd()
    os.chdir(d)
    try:
        assert main(["bank", "demo", "--db", "bank.db", "--per-subtest", "5"]) == 0
        assert main(["bank", "export", "bank.csv", "--db", "bank.db"]) == 0
        assert main(["results", "keygen", "--out", "keys"]) == 0
    finally:
        os.chdir(cwd)
    # Everything into the database file itself (the WAL emptied): a case that only
    # opens the database must leave its bytes as they are.
    with sqlite3.connect(d / "bank.db") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    rows = [f"P{i}," + ",".join(str((i >> j) & 1) for j in range(4)) for i in range(60)]
    (d / "responses.csv").write_text(
        "person_id,I1,I2,I3,I4\n" + "\n".join(rows) + "\n", encoding="utf-8"
    )
    (d / "one-item.csv").write_text(
        "person_id,I1\n" + "".join(f"P{i},{i % 2}\n" for i in range(60)), encoding="utf-8"
    )
    (d / "latin1.csv").write_bytes("person_id,I1,I2\nPé,1,0\n".encode("latin-1"))
    (d / "header-only.csv").write_text((d / "bank.csv").read_text().splitlines()[0] + "\n")
    (d / "notes.txt").write_text("not a database\n", encoding="utf-8")
    (d / "garbage.pem").write_text("garbage\n", encoding="utf-8")
    (d / "creds.csv").write_text("registration_number,pin\nX1,123456\n", encoding="utf-8")
    (d / "folder").mkdir()
    return d


@pytest.fixture
def workdir(inputs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    work = tmp_path / "work"
    shutil.copytree(inputs, work)
    monkeypatch.chdir(work)
    monkeypatch.delenv("SELEKSI_DATABASE_URL", raising=False)
    yield work


def fingerprint(root: Path) -> dict[str, str]:
    """Every file and folder under ``root`` with a digest of its bytes. SQLite's
    side files of a WAL database (``-wal``, ``-shm``) are left out: they exist
    while a connection is open (this process keeps its engines), and the database
    file itself is compared."""
    out: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if rel.endswith(("-wal", "-shm")):
            continue
        out[rel] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return out


CALIBRATE = ["calibrate", "responses.csv", "--model", "2pl", "--out", "params.csv", "--quiet"]
SIMULATE = ["simulate", "--design", "skd-linear", "--simulees", "20", "--out", "sim.json"]
SYNTHETIC = [*SIMULATE, "--bank", "synthetic:skd:2"]
PUBLISH = ["results", "publish", "--db", "bank.db", "--exam", "X", "--out", "pub"]

CASES: dict[str, list[str]] = {
    # calibrate
    "calibrate non-UTF-8 file": ["calibrate", "latin1.csv", "--model", "2pl", "--out", "p.csv"],
    "calibrate --max-iter 0": [*CALIBRATE, "--max-iter", "0"],
    "calibrate --report unwritable": [*CALIBRATE, "--report", "nofolder/r.html"],
    "calibrate --scores unwritable": [*CALIBRATE, "--scores", "folder"],
    "calibrate --out unwritable": [*CALIBRATE[:-3], "--out", "nofolder/p.csv"],
    "calibrate --bank nosuch.db --write": [*CALIBRATE, "--bank", "nosuch.db", "--write"],
    "calibrate one item": ["calibrate", "one-item.csv", "--model", "2pl", "--out", "p.csv"],
    "calibrate --anchor nosuch.csv": [*CALIBRATE, "--anchor", "nosuch.csv"],
    "calibrate a folder": ["calibrate", "folder", "--model", "2pl", "--out", "p.csv"],
    # simulate
    "simulate synthetic:skd:abc": [*SIMULATE, "--bank", "synthetic:skd:abc"],
    "simulate unreachable database": [*SIMULATE, "--bank", DEAD_PG],
    "simulate missing database file": [*SIMULATE, "--bank", "nosuch.db"],
    "simulate --sympson-hetter 1.5": [*SYNTHETIC, "--sympson-hetter", "1.5"],
    "simulate --out unwritable": [*SYNTHETIC, "--out", "nofolder/o.json"],
    "simulate --report unwritable": [*SYNTHETIC, "--report", "folder"],
    # serve
    "serve unreachable PostgreSQL": ["serve", "--db", DEAD_PG],
    "serve PostgreSQL database missing": ["serve", "--db", NO_SUCH_PG_DB],
    "serve SQLite in a missing folder": ["serve", "--db", "nofolder/x.db"],
    "serve a text file": ["serve", "--db", "notes.txt"],
    "serve without a database": ["serve"],
    # results
    "results publish --key public key": [*PUBLISH, "--key", "keys/results-signing.pub"],
    "results publish --key garbage": [*PUBLISH, "--key", "garbage.pem"],
    "results export --db nosuch.db": [
        "results", "export", "--db", "nosuch.db", "--exam", "X", "--out", "i.json",
    ],
    "results verify --public-key private": [
        "results", "verify", "folder", "--public-key", "keys/results-signing.key",
    ],
    # bank
    "bank stats mistyped --db": ["bank", "stats", "--db", "seleksi-dta/seleksi.db"],
    "bank export mistyped --db": ["bank", "export", "out.json", "--db", "nosuch.db"],
    "bank import mistyped --db": ["bank", "import", "bank.csv", "--db", "nosuch.db"],
    "bank stats default database missing": ["bank", "stats"],
    "bank stats a text file": ["bank", "stats", "--db", "notes.txt"],
    "bank import header-only CSV": ["bank", "import", "header-only.csv", "--db", "bank.db"],
    "bank import a folder": ["bank", "import", "folder", "--db", "bank.db"],
    "bank export unwritable": ["bank", "export", "nofolder/x.json", "--db", "bank.db"],
    # loadtest
    "loadtest dead server": [
        "loadtest", "--url", "http://127.0.0.1:1", "--terminals", "1",
        "--candidates", "creds.csv", "--session-token", "T",
    ],
    # the other readers
    "audit verify missing database": ["audit", "verify", "--db", "nosuch.db"],
    "db version missing database": ["db", "version", "--db", "nosuch.db"],
    "db migrate missing folder": ["db", "migrate", "--db", "nofolder/x.db"],
    "staff list missing database": ["staff", "list", "--db", "nosuch.db"],
    "staff create without a terminal": [
        "staff", "create", "a1", "--role", "admin", "--db", "bank.db",
    ],
}  # fmt: skip


@pytest.mark.parametrize("argv", list(CASES.values()), ids=list(CASES))
def test_a_mistake_is_one_clear_line(
    argv: list[str], workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = fingerprint(workdir)
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own refusals (exit 2)
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    text = out + err
    assert code != 0, text
    assert "Traceback" not in text, text
    assert len(text.strip().splitlines()) <= MAX_LINES, text
    assert "error:" in err, text
    assert fingerprint(workdir) == before, f"files changed by {argv}"


def test_model_names_in_any_case_and_outputs_only_when_complete(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--model 2PL`` (as PARAMS.csv writes it) works; no temporary file is left."""
    assert main([*CALIBRATE[:3], "2PL", *CALIBRATE[4:], "--report", "r.html"]) == 0
    assert (workdir / "params.csv").read_text().splitlines()[1].split(",")[1] == "2PL"
    assert (workdir / "r.html").read_text().startswith("<!DOCTYPE html>")
    assert not list(workdir.glob(".*.tmp"))


def test_a_closed_pipe_ends_quietly(inputs: Path) -> None:
    """``seleksi bank stats | head -1``: the reader leaves, no BrokenPipeError."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "seleksi", "bank", "stats", "--db", str(inputs / "bank.db")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert "Traceback" not in err and "BrokenPipe" not in err, err


# -- random argument lists ----------------------------------------------------------

#: Commands the property test may run: none serves or runs long work (a valid
#: simulation or fit needs inputs the generated values never name).
SAFE_COMMANDS = (
    ("bank", "stats"),
    ("bank", "export"),
    ("bank", "import"),
    ("calibrate",),
    ("simulate",),
    ("results", "export"),
    ("results", "publish"),
    ("results", "verify"),
    ("results", "counts"),
    ("results", "prove"),
    ("results", "check-proof"),
    ("audit", "verify"),
    ("db", "version"),
    ("staff", "list"),
    ("staff", "create"),
    ("staff", "disable"),
)


def _options(command: tuple[str, ...]) -> list[str]:
    """The option strings of ``seleksi COMMAND`` (from the real parser)."""
    import argparse

    parser = build_parser(list(command))
    for name in command:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return sorted(o for a in parser._actions for o in a.option_strings if o not in ("-h", "--help"))


VALUES = st.one_of(
    st.sampled_from(
        [
            "nosuch.db",
            "notes.txt",
            "folder",
            "latin1.csv",
            "header-only.csv",
            "nofolder/x",
            "-",
            "0",
            "-1",
            "1.5",
            "nan",
            "synthetic:",
            "synthetic:skd:x",
            DEAD_PG,
            "mysql://x/y",
            "garbage.pem",
            "keys/results-signing.pub",
            "",
        ]
    ),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12),
    st.integers(-5, 10**6).map(str),
)


@st.composite
def argument_lists(draw: st.DrawFn) -> list[str]:
    command = draw(st.sampled_from(SAFE_COMMANDS))
    options = _options(command)
    words: list[str] = list(command)
    for _ in range(draw(st.integers(0, 6))):
        if options and draw(st.booleans()):
            words.append(draw(st.sampled_from(options)))
        words.append(draw(VALUES))
    return words


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(argv=argument_lists())
def test_random_arguments_never_end_in_a_traceback(
    argv: list[str], workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 2
    out, err = capsys.readouterr()
    assert code in (0, 1, 2), (argv, code, out, err)
    assert "Traceback" not in out + err, (argv, out, err)


def test_a_csv_export_of_the_skd_bank_is_a_simulation_bank(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/test-design.md: a CSV export works as ``simulate --bank`` for the SKD
    subtests (their definitions are known; a CSV file carries none)."""
    bank = tmp_path / "bank.csv"
    assert main(["bank", "demo", "--out", str(bank), "--per-subtest", "80"]) == 0
    out = tmp_path / "sim.json"
    argv = ["simulate", "--bank", str(bank), "--design", "skd-adaptive", "--simulees", "8"]
    assert main([*argv, "--out", str(out), "--quiet"]) == 0
    assert '"simulees": 8' in out.read_text(encoding="utf-8")
