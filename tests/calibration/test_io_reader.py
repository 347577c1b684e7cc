"""The response-file reader (pyarrow): CSV and Parquet, wide and long, give
the same data, and a malformed file is refused with the row and field named."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calibration.io import InputError, read_long, read_wide

# Small matrices of categories 0..3 with −1 = not presented (an empty cell).
matrices = st.integers(1, 12).flatmap(
    lambda n: st.integers(1, 6).flatmap(
        lambda j: st.lists(
            st.lists(st.integers(-1, 3), min_size=j, max_size=j), min_size=n, max_size=n
        )
    )
)


def _write_csv(path: Path, x: np.ndarray, pad: bool = False) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["person_id", *[f"Q{j}" for j in range(x.shape[1])]])
        for i, row in enumerate(x):
            cells = ["" if v < 0 else (f" {v} " if pad else str(v)) for v in row]
            w.writerow([f"P{i}", *cells])


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=matrices, pad=st.booleans())
def test_wide_csv_parquet_and_long_read_the_same_matrix(
    tmp_path: Path, rows: list[list[int]], pad: bool
) -> None:
    x = np.array(rows, dtype=np.int64)
    _write_csv(tmp_path / "w.csv", x, pad)
    got = read_wide(tmp_path / "w.csv")
    assert got.person_ids == [f"P{i}" for i in range(x.shape[0])]
    assert got.item_ids == [f"Q{j}" for j in range(x.shape[1])]
    np.testing.assert_array_equal(got.data.to_dense(), x)
    # the same matrix as Parquet: nullable integers, null = not presented
    cols = {"person_id": pa.array([f"P{i}" for i in range(x.shape[0])])}
    for j in range(x.shape[1]):
        cols[f"Q{j}"] = pa.array([None if v < 0 else int(v) for v in x[:, j]], pa.int8())
    pq.write_table(pa.table(cols), tmp_path / "w.parquet")
    np.testing.assert_array_equal(read_wide(tmp_path / "w.parquet").data.to_dense(), x)
    # long: one row per presented response; persons with none do not appear
    r, c = np.nonzero(x >= 0)
    if r.size == 0:
        return
    with open(tmp_path / "l.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["person_id", "item_id", "response"])
        for pi, qj in zip(r.tolist(), c.tolist(), strict=True):
            w.writerow([f"P{pi}", f"Q{qj}", x[pi, qj]])
    lg = read_long(tmp_path / "l.csv")
    for p, pid in enumerate(lg.person_ids):
        for k, iid in enumerate(lg.item_ids):
            assert lg.data.to_dense()[p, k] == x[int(pid[1:]), int(iid[1:])]


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=matrices,
    where=st.tuples(st.integers(0, 11), st.integers(0, 5)),
    bad=st.sampled_from(["x", "-1", "0.5", "1e", "NA"]),
)
def test_one_bad_cell_is_named_by_row_and_item(
    tmp_path: Path, rows: list[list[int]], where: tuple[int, int], bad: str
) -> None:
    x = np.array(rows, dtype=object)
    i, j = where[0] % x.shape[0], where[1] % x.shape[1]
    x[x == -1] = ""
    x[i, j] = bad
    with open(tmp_path / "b.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["person_id", *[f"Q{k}" for k in range(x.shape[1])]])
        for r, row in enumerate(x):
            w.writerow([f"P{r}", *row])
    with pytest.raises(InputError) as exc:
        read_wide(tmp_path / "b.csv")
    # the header is row 1, so data row i is row i + 2
    assert str(exc.value).startswith(f"row {i + 2}, item 'Q{j}': {bad!r} is not a")


def test_malformed_rows_and_fields(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("person_id,Q1,Q2\nP0,1,0\nP1,0,1,1\nP2,1,0\n")
    with pytest.raises(InputError, match=r"^row 3: 4 fields, the header has 3"):
        read_wide(path)
    path.write_text("person_id,Q1,w\nP0,1,1\nP1,0,heavy\n")
    with pytest.raises(InputError, match=r"row 3, field 'w': 'heavy' is not a number"):
        read_wide(path, weight_column="w")
    path.write_text("person_id,Q1,w\nP0,1,1\nP1,0,-2\n")
    with pytest.raises(InputError, match=r"row 3, field 'w': weight '-2' must be ≥ 0"):
        read_wide(path, weight_column="w")
    path.write_text("")
    with pytest.raises(InputError, match="empty file"):
        read_wide(path)
    path.write_text("person_id,Q1\n")
    with pytest.raises(InputError, match="no data rows"):
        read_wide(path)
    path.write_text("person_id,Q1,Q1\nP0,1,0\n")
    with pytest.raises(InputError, match="duplicate column 'Q1'"):
        read_wide(path)


def test_long_file_errors_name_row_item_and_person(tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    path.write_text("person_id,item_id,response\nA,Q1,1\nA,Q2,x\n")
    with pytest.raises(InputError, match=r"row 3, item 'Q2': 'x' is not a number"):
        read_long(path)
    path.write_text("person_id,item_id,response\nA,Q1,1\n,Q2,0\n")
    with pytest.raises(InputError, match=r"row 3, field 'person_id': empty"):
        read_long(path)
    path.write_text("person_id,item_id,response\nA,Q1,1\nA,Q1,0\n")
    with pytest.raises(InputError, match="person 'A' answered item 'Q1' more than once"):
        read_long(path)
    path.write_text("person_id,item_id,response,w\nA,Q1,1,2\nB,Q1,0,1\nA,Q2,0,3\n")
    with pytest.raises(InputError, match=r"row 4, field 'w': differs for person 'A'"):
        read_long(path, weight_column="w")
    path.write_text("person_id,item_id,response,w\nA,Q1,1,2\nB,Q1,0,1\nA,Q2,,9\nA,Q2,0,2\n")
    got = read_long(path, weight_column="w")  # an empty response is not presented
    assert got.person_ids == ["A", "B"] and got.item_ids == ["Q1", "Q2"]
    np.testing.assert_array_equal(got.data.weights, [2.0, 1.0])
    np.testing.assert_array_equal(got.data.to_dense(), [[1, 0], [0, -1]])
