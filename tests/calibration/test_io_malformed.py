"""Malformed response files (CSV and Parquet, wide and long) are refused with an
:class:`~calibration.io.InputError` naming the row and field, never another
exception: ``seleksi calibrate`` turns that error into one line; anything else
was a traceback."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calibration.io import InputError, read_long, read_wide
from seleksi.cli import main

SETTINGS = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# What an error names: a row, a field or item, or the file being empty.
NAMES_WHERE = re.compile(r"row \d+|field '|item '|empty file|no data rows|no responses")

cells = st.sampled_from(
    ["0", "1", "2", "", " 1 ", "-1", "1.5", "nan", "inf", "-inf", "1e400", "9" * 25, "abc",
     '"1"', "true", "é", "1_0", "١", "+1", "0x1", '"a\nb"', "1,2"]
)  # fmt: skip
names = st.sampled_from(
    ["person_id", "item_id", "response", "Q1", "Q2", "w", "g", "", "person_id ", '"person_id"']
)


@st.composite
def csv_bytes(draw: st.DrawFn) -> bytes:
    header = draw(st.lists(names, max_size=5))
    rows = draw(st.lists(st.lists(cells, max_size=len(header) + 1), max_size=5))
    nl = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = nl.join([",".join(header)] + [",".join(r) for r in rows])
    data = (text + draw(st.sampled_from(["", nl]))).encode()
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    return data + draw(st.binary(max_size=6))  # sometimes not UTF-8


def _refused_well(reader: Any, path: Path, **kw: Any) -> None:
    try:
        reader(path, **kw)
    except InputError as exc:
        assert NAMES_WHERE.search(str(exc)), str(exc)
    except UnicodeDecodeError:
        pass  # seleksi calibrate: "not UTF-8 text (byte N); save it as UTF-8 CSV"


@SETTINGS
@given(data=csv_bytes(), weights=st.sampled_from([None, "w"]), group=st.sampled_from([None, "g"]))
def test_malformed_csv_is_an_input_error(
    tmp_path: Path, data: bytes, weights: str | None, group: str | None
) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes(data)
    for reader in (read_wide, read_long):
        _refused_well(reader, path, weight_column=weights, group_column=group)


numberish = st.text(alphabet="0123456789_.-+eEinfa١٢ ", max_size=4)


@SETTINGS
@given(rows=st.lists(st.tuples(numberish, numberish, numberish), min_size=1, max_size=4))
def test_numberish_cells_are_numbers_or_named(
    tmp_path: Path, rows: list[tuple[str, str, str]]
) -> None:
    """Cells that look like numbers to Python (``1_0``, ``١``) but not to pyarrow."""
    wide = tmp_path / "w.csv"
    wide.write_text(
        "person_id,Q1,w\n" + "".join(f"P{i},{a},{w}\n" for i, (a, _, w) in enumerate(rows))
    )
    _refused_well(read_wide, wide, weight_column="w")
    long = tmp_path / "l.csv"
    long.write_text(
        "person_id,item_id,response,w\n"
        + "".join(f"P{i},Q1,{a},{w}\n" for i, (a, _, w) in enumerate(rows))
    )
    _refused_well(read_long, long, weight_column="w")


# Parquet columns of any type a user's tool might write.
_columns: dict[str, tuple[Any, st.SearchStrategy[Any]]] = {
    "int64": (pa.int64(), st.integers(-(2**63), 2**63 - 1)),
    "uint64": (pa.uint64(), st.integers(0, 2**64 - 1)),
    "float64": (pa.float64(), st.floats()),
    "small": (pa.int8(), st.integers(-2, 3)),
    "string": (pa.string(), st.sampled_from(["0", "1", " 2", "nan", "1e400", "x", "1_0", ""])),
    "bool": (pa.bool_(), st.booleans()),
    "binary": (pa.binary(), st.binary(max_size=3)),
    "date": (pa.date32(), st.dates()),
    "list": (pa.list_(pa.int64()), st.lists(st.integers(0, 2), max_size=2)),
    "null": (pa.null(), st.none()),
    "decimal": (pa.decimal128(5, 2), st.decimals(-10, 10, places=2, allow_nan=False)),
}


@st.composite
def parquet_tables(draw: st.DrawFn) -> pa.Table:
    cols = draw(st.lists(names.filter(bool), max_size=5))
    n = draw(st.integers(0, 4))
    arrays = []
    for _ in cols:
        typ, values = _columns[draw(st.sampled_from(sorted(_columns)))]
        cells = draw(st.lists(st.none() | values, min_size=n, max_size=n))
        arrays.append(pa.array(cells, typ))
    return pa.Table.from_arrays(arrays, names=cols)


@SETTINGS
@given(
    table=parquet_tables(), weights=st.sampled_from([None, "w"]), group=st.sampled_from([None, "g"])
)
def test_malformed_parquet_is_an_input_error(
    tmp_path: Path, table: pa.Table, weights: str | None, group: str | None
) -> None:
    path = tmp_path / "r.parquet"
    pq.write_table(table, path)
    for reader in (read_wide, read_long):
        _refused_well(reader, path, weight_column=weights, group_column=group)


@SETTINGS
@given(data=st.binary(max_size=200))
def test_a_parquet_name_on_other_bytes_is_an_input_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "r.parquet"
    path.write_bytes(data)
    for reader in (read_wide, read_long):
        with pytest.raises(InputError, match="row 1: not a readable Parquet file"):
            reader(path)


def _calibrate(capsys: pytest.CaptureFixture[str], path: Path, *extra: str) -> str:
    out = path.parent / "params.csv"
    assert main(["calibrate", str(path), "--model", "2pl", "--out", str(out), *extra]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def _parquet(path: Path, **cols: Any) -> Path:
    pq.write_table(pa.table(cols), path)
    return path


def test_cli_names_what_the_crashes_were(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each file here ended ``seleksi calibrate`` in a pyarrow traceback."""
    cases: list[tuple[Path, tuple[str, ...], str]] = []
    # text Python's float() reads but pyarrow does not
    (tmp_path / "u.csv").write_text("person_id,Q1\na,1_0\nb,0\n")
    cases.append((tmp_path / "u.csv", (), "row 2, item 'Q1': '1_0' is not a number"))
    (tmp_path / "w.csv").write_text("person_id,Q1,w\na,1,1_0\nb,0,1\n")
    cases.append((tmp_path / "w.csv", ("--weights", "w"), "row 2, field 'w': '1_0'"))
    (tmp_path / "l.csv").write_text("person_id,item_id,response\na,Q1,١\n")
    cases.append((tmp_path / "l.csv", ("--long",), "row 2, item 'Q1': '١' is not a number"))
    # not Parquet at all, and an empty file
    (tmp_path / "junk.parquet").write_bytes(b"PAR1 not really")
    cases.append((tmp_path / "junk.parquet", (), "row 1: not a readable Parquet file"))
    (tmp_path / "empty.parquet").write_bytes(b"")
    cases.append((tmp_path / "empty.parquet", (), "row 1: not a readable Parquet file"))
    # duplicate column names (pq.read_table failed on them)
    dup = pa.Table.from_arrays([pa.array(["a", "b"]), pa.array([0, 1]), pa.array([1, 0])],
                               names=["person_id", "Q1", "Q1"])  # fmt: skip
    pq.write_table(dup, tmp_path / "dup.parquet")
    cases.append((tmp_path / "dup.parquet", (), "row 1: duplicate column 'Q1'"))
    # columns of types that cannot be ids, responses or weights
    ids = ["a", "b"]
    cases.append(
        (
            _parquet(
                tmp_path / "lid.parquet",
                person_id=pa.array([[1], [2]]),
                item_id=["Q1"] * 2,
                response=[0, 1],
            ),
            ("--long",),
            "field 'person_id': column of type list<element: int64> is not text",
        )
    )
    cases.append(
        (
            _parquet(
                tmp_path / "lresp.parquet",
                person_id=ids,
                item_id=["Q1"] * 2,
                response=pa.array([1, 0], pa.decimal128(5, 2)),
            ),
            ("--long",),
            "item 'response': column of type decimal128(5, 2) is not response categories",
        )
    )
    cases.append(
        (
            _parquet(tmp_path / "wt.parquet", person_id=ids, Q1=[0, 1], w=pa.array([[1], [1]])),
            ("--weights", "w"),
            "field 'w': column of type list<element: int64> is not numbers",
        )
    )
    for path, extra, message in cases:
        err = _calibrate(capsys, path, *extra)
        assert message in err, (path.name, err)


def test_a_bad_weight_after_empty_responses_names_its_own_line(tmp_path: Path) -> None:
    # Lines 2 and 3 have no response (not presented); line 4's weight is bad.
    f = tmp_path / "long.csv"
    f.write_text("person_id,item_id,response,w\na,Q1,,1\na,Q2,,1\nb,Q1,1,x\nb,Q2,0,x\n")
    with pytest.raises(InputError, match=r"^row 4, field 'w': 'x' is not a number"):
        read_long(f, weight_column="w")
