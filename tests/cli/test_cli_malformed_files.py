"""Malformed files given to ``seleksi`` commands not covered elsewhere end in one
error line naming the file (and the row/field where there is one): a non-zero
exit, never a traceback. Readers: ``results verify --announced-counts``,
``results check-proof``, ``forensics --compromised-file``, ``forensics --drift``
(PARAMS.csv) and ``bank import`` (raw bytes, BOM, non-UTF-8, CRLF, empty)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seleksi.cli import main

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

_keys = st.sampled_from(
    ["skd", "final", "FA", "total", "P/L", "counts", "proofs", "leaf", "path", "index",
     "tree_size", "root", "x"]
)  # fmt: skip
values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=5)
    | st.sampled_from(["total", "skd", "FA", "ab" * 32, "0", "9" * 30, "P/L"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=12,
)
raw_bytes = (
    st.binary(max_size=60)
    | st.sampled_from([b"", b"\xef\xbb\xbf", b"\xff\xfe{}", b"[" * 100_000, b"9" * 5000])
    | st.builds(lambda n, s: s * n, st.integers(1, 3000), st.sampled_from([b"[", b'{"a":']))
)


def _one_error(
    capsys: pytest.CaptureFixture[str], argv: list[str], *, ok: tuple[int, ...] = (0, 1)
) -> str:
    """Run ``seleksi argv``: an exception escaping main would be a traceback."""
    code = main(argv)
    out, err = capsys.readouterr()
    assert code in ok, (code, out, err)
    assert "Traceback" not in err + out
    if code == 1 and err:
        assert err.startswith("seleksi: error: "), err
    return err


# -- results verify --announced-counts, results check-proof ---------------------------


@pytest.fixture(scope="module")
def publication(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.results.test_results_cli import _input, run

    d = tmp_path_factory.mktemp("pub")
    assert run("keygen", "--out", str(d / "keys")) == 0
    out = d / "pub"
    key = str(d / "keys" / "results-signing.key")
    assert run("publish", "--input", str(_input(d)), "--key", key, "--out", str(out)) == 0
    return out


@SETTINGS
@given(doc=values, data=raw_bytes, use_bytes=st.booleans())
def test_announced_counts_any_file(
    publication: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    doc: Any,
    data: bytes,
    use_bytes: bool,
) -> None:
    path = tmp_path / "counts.json"
    path.write_bytes(data if use_bytes else json.dumps(doc).encode())
    capsys.readouterr()
    _one_error(capsys, ["results", "verify", str(publication), "--announced-counts", str(path)])


@SETTINGS
@given(doc=values, data=raw_bytes, use_bytes=st.booleans())
def test_check_proof_any_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], doc: Any, data: bytes, use_bytes: bool
) -> None:
    path = tmp_path / "proof.json"
    path.write_bytes(data if use_bytes else json.dumps(doc).encode())
    capsys.readouterr()
    _one_error(capsys, ["results", "check-proof", str(path), "--root", "ab" * 32])


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000,
        '{"proofs": 5}',
        '{"proofs": true}',
        '{"leaf": "x", "path": [], "index": Infinity, "tree_size": 1}',
        '{"leaf": "x", "path": [], "index": 0, "tree_size": -Infinity}',
    ],
)
def test_check_proof_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str) -> None:
    path = tmp_path / "proof.json"
    path.write_text(text)
    err = _one_error(capsys, ["results", "check-proof", str(path), "--root", "ab" * 32])
    if text.startswith("["):
        assert f"{path}: not JSON" in err


def test_announced_counts_cli(
    publication: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "counts.json"
    path.write_text("[" * 100_000)
    err = _one_error(
        capsys, ["results", "verify", str(publication), "--announced-counts", str(path)], ok=(1,)
    )
    assert f"{path}: not JSON" in err


# -- forensics --compromised-file, --drift ----------------------------------------------


@pytest.fixture(scope="module")
def empty_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    from exam_server.db import create_schema, make_engine

    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'exam.db'}"
    engine = make_engine(url)
    try:
        create_schema(engine)
    finally:
        engine.dispose()
    return url


@SETTINGS
@given(data=raw_bytes)
def test_compromised_file_any_bytes(
    empty_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], data: bytes
) -> None:
    path = tmp_path / "leaked.txt"
    path.write_bytes(data)
    capsys.readouterr()
    argv = ["forensics", "--db", empty_db, "--session", "NOSUCH", "--json", str(tmp_path / "r")]
    _one_error(capsys, [*argv, "--compromised-file", str(path)], ok=(1,))  # no such session


def test_compromised_file_not_utf8_cli(
    empty_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "leaked.txt"
    path.write_bytes(b"TIU-0001\n\xff\xfeTIU-0002\n")
    argv = ["forensics", "--db", empty_db, "--session", "NOSUCH", "--json", str(tmp_path / "r")]
    err = _one_error(capsys, [*argv, "--compromised-file", str(path)], ok=(1,))
    assert f"{path}: not UTF-8 text" in err


def _params(path: Path, n: int = 8) -> Path:
    from calibration.io import write_params
    from cat_engine.irt import ItemParameters

    rng = np.random.default_rng(1)
    params = ItemParameters.dichotomous(np.exp(rng.normal(0, 0.3, n)), rng.normal(0, 1, n))
    se = {
        "a": np.full(n, 0.05),
        "b": np.full(n, 0.06),
        "c": np.zeros(n),
        "d": np.zeros(n),
        "thresholds": np.full((n, 1), np.nan),
    }
    write_params(path, [f"I{k}" for k in range(n)], params, se)
    return path


cells = st.sampled_from(
    ["", "abc", "nan", "inf", "-inf", "1e400", "0", "-1", "9" * 30, "2PL", "GPCM", "I1",
     '"x\ny"', "é", "\x00", "1,2"]
)  # fmt: skip


@SETTINGS
@given(
    edits=st.lists(st.tuples(st.integers(0, 9), st.integers(0, 11), cells), max_size=4),
    tail=st.binary(max_size=4),
    crlf=st.booleans(),
    bom=st.booleans(),
)
def test_drift_params_malformed(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    edits: list[tuple[int, int, str]],
    tail: bytes,
    crlf: bool,
    bom: bool,
) -> None:
    good = _params(tmp_path / "old.csv")
    rows = [line.split(",") for line in good.read_text().splitlines()]
    for r, c, cell in edits:
        if r < len(rows) and c < len(rows[r]):
            rows[r][c] = cell
    text = ("\r\n" if crlf else "\n").join(",".join(r) for r in rows) + "\n"
    bad = tmp_path / "new.csv"
    bad.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode() + tail)
    capsys.readouterr()
    _one_error(capsys, ["forensics", "--drift", str(good), str(bad)])


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda t: t.replace(b",0.06,", b",abc,", 1), "field 'se_b'"),
        (lambda t: t + b"I9,2PL,1,0,,,0.05,0.06,,\xff\n", "not UTF-8"),
        (lambda t: t.replace(b"I1,", b"I1" + b"x" * 200_000 + b",", 1), "row 3: unreadable CSV"),
        (lambda t: b"x" * 200_000 + t, "row 1: unreadable CSV"),
    ],
)
def test_drift_cli(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    mutate: Callable[[bytes], bytes],
    message: str,
) -> None:
    good = _params(tmp_path / "old.csv")
    bad = tmp_path / "new.csv"
    bad.write_bytes(mutate(good.read_bytes()))
    err = _one_error(capsys, ["forensics", "--drift", str(good), str(bad)], ok=(1,))
    assert str(bad) in err and message in err


# -- bank import ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bank_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    db = tmp_path_factory.mktemp("bank") / "bank.db"
    assert main(["bank", "demo", "--db", str(db)]) == 0
    return str(db)


CSV_GOOD = "id,subtest,stem,option_a,option_b,key\n"


@SETTINGS
@given(
    data=raw_bytes,
    prefix=st.sampled_from([b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\r\n"]),
    ext=st.sampled_from(["csv", "json", "xml", "zip"]),
    crlf=st.booleans(),
)
def test_bank_import_any_bytes(
    bank_db: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    data: bytes,
    prefix: bytes,
    ext: str,
    crlf: bool,
) -> None:
    body = prefix + (data.replace(b"\n", b"\r\n") if crlf else data)
    path = tmp_path / f"items.{ext}"
    path.write_bytes(body)
    capsys.readouterr()
    _one_error(capsys, ["bank", "import", str(path), "--db", bank_db, "--dry-run"])


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("empty.csv", b""),
        ("empty.json", b""),
        ("empty.xml", b""),
        ("empty.zip", b""),
        ("bom.csv", b"\xef\xbb\xbf"),
        ("bom.json", b"\xef\xbb\xbf{}"),
        ("latin1.csv", "id,stem\nX1,caf\xe9\n".encode("latin-1")),
        ("latin1.json", '{"items": [{"stem": "caf\xe9"}]}'.encode("latin-1")),
        ("crlf.csv", b"id,subtest\r\nX1,TIU\r\n"),
        ("nul.csv", b"id,subtest\n\x00\x00\n"),
        ("deep.json", b"[" * 100_000),
        ("digits.json", b'{"items": ' + b"9" * 5000 + b"}"),
    ],
)
def test_bank_import_cli(
    bank_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, data: bytes
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    _one_error(capsys, ["bank", "import", str(path), "--db", bank_db, "--dry-run"], ok=(1,))


def test_bank_import_mapping_not_utf8(
    bank_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    item = tmp_path / "item.xml"
    item.write_text("<x/>")
    mapping = tmp_path / "mapping.csv"
    mapping.write_bytes(b"identifier,subtest\nQ1,TIU\xff\n")
    err = _one_error(
        capsys,
        ["bank", "import", str(item), "--db", bank_db, "--dry-run", "--mapping", str(mapping)],
        ok=(1,),
    )
    assert f"{mapping}: not UTF-8 text" in err
