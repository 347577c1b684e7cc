"""Reading response files and reading/writing PARAMS.csv.

Response files (CSV, UTF-8, header row):

* **wide**: first column ``person_id``, then one column per item id; a cell is
  the response category (0/1 for right/wrong, 0..m for option-scored
  items), empty = not presented. Extra columns named by ``weight_column`` /
  ``group_column`` are taken out of the items.
* **long**: columns ``person_id,item_id,response`` (plus the optional weight /
  group columns, constant within a person), one row per presented response.

Errors name the row (1-based, the header is row 1) and the item or field.
The PARAMS.csv layout is documented in ``docs/calibration.md``.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from calibration.data import ResponseData
from cat_engine.irt import ItemParameters, Model

FloatArray = NDArray[np.float64]


class InputError(ValueError):
    """Bad input, with a message naming the row and item or field."""


@dataclass
class ResponseFile:
    """What a response file holds: ids, the data, optional weights and groups."""

    person_ids: list[str]
    item_ids: list[str]
    data: ResponseData
    groups: list[str] | None


def _is_parquet(path: str | Path) -> bool:
    return Path(path).suffix.lower() in (".parquet", ".pq")


def _csv_header(path: str | Path) -> list[str]:
    """The header row, read with the csv module (one line: cheap, and it gives
    the names exactly as a spreadsheet wrote them, BOM and quotes handled)."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        try:
            header = next(csv.reader(fh))
        except StopIteration:
            raise InputError(f"{path}: empty file") from None
    return [h.strip() for h in header]


def _read_table(path: str | Path, header: list[str] | None, strings: Sequence[str]) -> Any:
    """The whole file as a pyarrow Table (columns named ``header`` for CSV).

    pyarrow's C++ reader parses and converts the columns in bulk (multi-threaded);
    the csv module and NumPy string arrays took 1.6 s of the 4.9 s of a
    20,000 × 100 ``seleksi calibrate`` (issue 17). ``strings``: columns kept as
    text (ids, groups). Empty cells are nulls (= not presented); any other text
    in a numeric column stays text and is reported by :func:`_column_categories`.
    """
    import pyarrow as pa

    if header is None:
        import pyarrow.parquet as pq

        # ParquetFile, not read_table: the dataset reader behind read_table fails
        # on duplicate column names, which read_wide reports naming the column.
        try:
            return pq.ParquetFile(path).read()
        except pa.ArrowException as exc:  # not Parquet, truncated, corrupt
            raise InputError(f"row 1: not a readable Parquet file ({exc})") from None
    from pyarrow import csv as pacsv

    def options(threads: bool, handler: Any = None) -> dict[str, Any]:
        return {
            "read_options": pacsv.ReadOptions(
                column_names=header, skip_rows=1, use_threads=threads
            ),
            "parse_options": pacsv.ParseOptions(invalid_row_handler=handler),
            "convert_options": pacsv.ConvertOptions(
                column_types={c: pa.string() for c in strings},
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        }

    try:
        return pacsv.read_csv(path, **options(True))
    except pa.ArrowInvalid:
        pass
    # A malformed row: read again on one thread, where pyarrow knows the row
    # numbers, to name the first bad row (the header is row 1).
    bad: list[tuple[int | None, int]] = []

    def handler(row: Any) -> str:
        bad.append((row.number, row.actual_columns))
        return "error"

    try:
        return pacsv.read_csv(path, **options(False, handler))
    except pa.ArrowInvalid as exc:
        if bad:
            number, got = bad[0]
            raise InputError(f"row {number}: {got} fields, the header has {len(header)}") from None
        raise InputError(f"{path}: {exc}") from None


def _numpy(arr: Any) -> NDArray[Any]:
    """A primitive pyarrow array without nulls as a NumPy view of its buffer.

    ``Array.to_numpy`` would do, but it imports pandas (0.2 s) on first use.
    """
    import pyarrow as pa

    if pa.types.is_boolean(arr.type):
        arr = arr.cast(pa.int8())
    dtype = np.dtype(arr.type.to_pandas_dtype())
    return np.frombuffer(
        arr.buffers()[1], dtype=dtype, count=len(arr), offset=arr.offset * dtype.itemsize
    )


def _first_not_a_number(column: Any) -> int:
    """The index of the first cell pyarrow cannot read as a float64 (a whole-column
    cast failed): checked one cell at a time with the same cast, since Python's
    ``float`` reads text pyarrow does not (``1_0``, non-ASCII digits)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for r in range(len(column)):
        try:
            pc.cast(column.slice(r, 1), pa.float64())
        except pa.ArrowInvalid:
            return r
    raise AssertionError("no cell fails the cast the whole column failed")


def _column_categories(column: Any, name: str, field: str = "item") -> NDArray[np.int64]:
    """One column of response categories → int64 with −1 for empty/null.

    Raises :class:`InputError` naming the (1-based, header = 1) row and the
    item when a cell is not a whole number ≥ 0.
    """
    import pyarrow as pa

    col = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    typ = col.type
    if pa.types.is_null(typ):
        return np.full(len(col), -1, dtype=np.int64)
    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        import pyarrow.compute as pc  # not on the common path: 0.08 s to import

        text = pc.utf8_trim_whitespace(col)
        text = pc.if_else(pc.equal(text, ""), pa.scalar(None, text.type), text)
        try:
            vals = _numpy(pc.cast(text, pa.float64()).fill_null(np.nan))
        except pa.ArrowInvalid:
            r = _first_not_a_number(text)
            raise InputError(
                f"row {r + 2}, {field} {name!r}: {text[r].as_py()!r} is not a number"
            ) from None
        shown = text
    elif pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_boolean(typ):
        if pa.types.is_integer(typ) and col.null_count == 0:
            ints = _numpy(col).astype(np.int64)
            neg = np.flatnonzero(ints < 0)
            if neg.size:
                r = int(neg[0])
                raise InputError(
                    f"row {r + 2}, {field} {name!r}: '{ints[r]}' is not a response category "
                    "(a whole number ≥ 0)"
                )
            return ints
        vals = _numpy(col.cast(pa.float64()).fill_null(np.nan))
        shown = col
    else:
        raise InputError(f"{field} {name!r}: column of type {typ} is not response categories")
    # null = empty cell = not presented; so is NaN in a floating-point column
    # (Parquet written from pandas); text "nan" is not a category
    empty = _numpy(col.is_null()).astype(bool)
    if pa.types.is_floating(typ):
        empty |= np.isnan(vals)
    with np.errstate(invalid="ignore"):
        bad = ~empty & ((vals < 0) | (vals != np.round(vals)) | ~np.isfinite(vals))
    if bad.any():
        r = int(np.flatnonzero(bad)[0])
        cell = shown[r].as_py()
        raise InputError(
            f"row {r + 2}, {field} {name!r}: {str(cell)!r} is not a response category "
            "(a whole number ≥ 0)"
        )
    return np.where(empty, -1, vals).astype(np.int64)


def _weights(column: Any, name: str, rows: NDArray[np.int64] | None = None) -> FloatArray:
    """A weight column → float64; errors name the row and the field.

    rows: the file's data-row index (0 = the first row after the header) of
    each element, when ``column`` holds some of the file's rows only (a long
    file's rows with a response); None: element ``r`` is data row ``r``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def row(r: int) -> int:
        return (r if rows is None else int(rows[r])) + 2

    col = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    text = pc.utf8_trim_whitespace(col) if pa.types.is_string(col.type) else col
    try:
        w = pc.cast(text, pa.float64())
    except pa.ArrowInvalid:
        r = _first_not_a_number(text)
        cell = col[r].as_py()
        raise InputError(f"row {row(r)}, field {name!r}: {cell!r} is not a number") from None
    except pa.ArrowNotImplementedError:  # Parquet: a list, date, … column
        raise InputError(f"field {name!r}: column of type {col.type} is not numbers") from None
    w = _numpy(w.fill_null(np.nan))
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        r = int(np.flatnonzero(bad)[0])
        cell = col[r].as_py()
        if cell is None:
            raise InputError(f"row {row(r)}, field {name!r}: '' is not a number")
        raise InputError(f"row {row(r)}, field {name!r}: weight {str(cell)!r} must be ≥ 0")
    return np.asarray(w, dtype=np.float64)


def _texts(column: Any) -> list[str]:
    return ["" if v is None else str(v).strip() for v in column.to_pylist()]


def read_wide(
    path: str | Path, weight_column: str | None = None, group_column: str | None = None
) -> ResponseFile:
    """Read a wide response file: CSV, or Parquet when the name ends ``.parquet``/``.pq``."""
    parquet = _is_parquet(path)
    if parquet:
        table = _read_table(path, None, ())
        header = [str(h).strip() for h in table.column_names]
    else:
        header = _csv_header(path)
    if not header or header[0] != "person_id":
        raise InputError(f"row 1: the first column must be 'person_id', got {header[:1]}")
    for col in (weight_column, group_column):
        if col is not None and col not in header:
            raise InputError(f"row 1: no column {col!r} in the header")
    seen_cols: set[str] = set()
    for h in header:
        if h in seen_cols:
            raise InputError(f"row 1: duplicate column {h!r}")
        seen_cols.add(h)
    item_cols = [
        i for i, h in enumerate(header) if i > 0 and h not in (weight_column, group_column)
    ]
    if not item_cols:
        raise InputError("row 1: no item columns")
    if not parquet:
        strings = ["person_id"] + ([group_column] if group_column else [])
        table = _read_table(path, header, strings)
    if table.num_rows == 0:
        raise InputError(f"{path}: no data rows")
    names = [header[i] for i in item_cols]
    n = table.num_rows
    # every column is checked, and the first bad cell in reading order reported
    cats = np.empty((n, len(item_cols)), dtype=np.int64)
    first_bad: tuple[int, int, InputError] | None = None
    for c, i in enumerate(item_cols):
        try:
            cats[:, c] = _column_categories(table.column(i), header[i])
        except InputError as exc:
            row = int(str(exc).split(",", 1)[0].split()[1]) if str(exc).startswith("row ") else 0
            if first_bad is None or (row, c) < first_bad[:2]:
                first_bad = (row, c, exc)
    if first_bad is not None:
        raise first_bad[2]
    if int(cats.max(initial=0)) < 127:
        cats = cats.astype(np.int8)  # what the estimator keeps: 1 byte a response
    person_ids = _texts(table.column(0))
    if len(set(person_ids)) != n:
        where: dict[str, int] = {}
        for r, p in enumerate(person_ids):
            if p in where:
                raise InputError(
                    f"row {r + 2}, field 'person_id': {p!r} already in row {where[p] + 2}"
                )
            where[p] = r
    weights = None
    if weight_column is not None:
        weights = _weights(table.column(header.index(weight_column)), weight_column)
    groups = None
    if group_column is not None:
        groups = _texts(table.column(header.index(group_column)))
    data = ResponseData.from_dense(cats, weights=weights)
    return ResponseFile(person_ids, names, data, groups)


def read_long(
    path: str | Path, weight_column: str | None = None, group_column: str | None = None
) -> ResponseFile:
    """Read a long response file (``person_id,item_id,response`` rows), CSV or Parquet."""
    import pyarrow as pa
    import pyarrow.compute as pc

    parquet = _is_parquet(path)
    if parquet:
        table = _read_table(path, None, ())
        fields = [str(h).strip() for h in table.column_names]
    else:
        fields = _csv_header(path)
    need = ["person_id", "item_id", "response"]
    for col in [*need, weight_column, group_column]:
        if col is not None and col not in fields:
            raise InputError(f"row 1: no column {col!r} in the header")
    if not parquet:
        strings = ["person_id", "item_id"] + ([group_column] if group_column else [])
        table = _read_table(path, fields, strings)

    def column(name: str) -> Any:
        col = table.column(fields.index(name))
        return col.combine_chunks()

    def ids(name: str) -> Any:
        col = column(name)
        try:
            return pc.utf8_trim_whitespace(pc.cast(col, pa.string()))
        except pa.ArrowException:  # Parquet: a list, struct or non-UTF-8 binary column
            raise InputError(f"field {name!r}: column of type {col.type} is not text") from None

    pid = ids("person_id")
    iid = ids("item_id")
    for name, col in (("person_id", pid), ("item_id", iid)):
        missing = pc.or_kleene(pc.is_null(col), pc.equal(col, "")).fill_null(True)
        if pc.any(missing).as_py():
            r = int(np.flatnonzero(_numpy(missing).astype(bool))[0])
            raise InputError(f"row {r + 2}, field {name!r}: empty")
    resp_col = column("response")
    try:
        resp = _column_categories(resp_col, "response")
    except InputError as exc:
        if not str(exc).startswith("row "):  # the column's type: no row to name
            raise
        # name the item of the bad row, as a wide file does
        r = int(str(exc).split(",", 1)[0].split()[1])
        raise InputError(
            str(exc).replace("item 'response'", f"item {iid[r - 2].as_py()!r}", 1)
        ) from None
    keep = np.flatnonzero(resp >= 0)  # empty = not presented
    if keep.size == 0:
        raise InputError(f"{path}: no responses")
    present = pa.array(keep)
    pcode = pc.dictionary_encode(pid.take(present))  # ids numbered in order of appearance
    icode = pc.dictionary_encode(iid.take(present))
    p_idx = _numpy(pcode.indices).astype(np.int64)
    i_idx = _numpy(icode.indices).astype(np.int64)
    persons = [str(v) for v in pcode.dictionary.to_pylist()]
    items = [str(v) for v in icode.dictionary.to_pylist()]
    n = len(persons)
    # a person's first row, for the weight / group every other row must repeat
    first = np.full(n, keep.size, dtype=np.int64)
    np.minimum.at(first, p_idx, np.arange(keep.size))

    def constant(values: NDArray[Any], name: str) -> None:
        differs = np.flatnonzero(values != values[first][p_idx])
        if differs.size:
            e = int(differs[0])
            raise InputError(
                f"row {int(keep[e]) + 2}, field {name!r}: differs for person {persons[p_idx[e]]!r}"
            )

    weights = None
    if weight_column is not None:
        w = _weights(column(weight_column).take(present), weight_column, keep)
        constant(w, weight_column)
        weights = w[first]
    groups = None
    if group_column is not None:
        g = np.array(_texts(column(group_column).take(present)), dtype=object)
        constant(g, group_column)
        groups = [str(v) for v in g[first]]
    try:
        data = ResponseData.from_long(p_idx, i_idx, resp[keep], n, len(items), weights=weights)
    except ValueError as exc:  # duplicates: translate indices into ids
        msg = str(exc)
        if "more than once" in msg:
            parts = msg.split()
            msg = (
                f"person {persons[int(parts[1])]!r} answered item {items[int(parts[4])]!r} "
                "more than once"
            )
        raise InputError(msg) from None
    return ResponseFile(persons, items, data, groups)


def check_items(data: ResponseData, item_ids: Sequence[str], skip: Sequence[int] = ()) -> None:
    """Errors naming the item: nobody answered it, or no variance."""
    counts = data.counts()
    cc = data.category_counts()
    off = data.offsets
    skipped = set(skip)
    for j, name in enumerate(item_ids):
        if j in skipped:
            continue
        if counts[j] <= 0:
            raise InputError(f"item {name!r}: nobody answered it (cannot be calibrated)")
        seen = cc[off[j] : off[j + 1]] > 0
        if seen.sum() < 2:
            k = int(np.flatnonzero(seen)[0])
            raise InputError(f"item {name!r}: no variance (every answer is {k})")
        if not seen.all():
            k = int(np.flatnonzero(~seen)[0])
            raise InputError(
                f"item {name!r}: category {k} never observed (renumber its categories 0..m "
                "without gaps)"
            )


# ---------------------------------------------------------------------------
# PARAMS.csv
# ---------------------------------------------------------------------------


def _fmt(x: float) -> str:
    return "" if x is None or not np.isfinite(x) else f"{x:.6g}"


def write_params(
    path: str | Path,
    item_ids: Sequence[str],
    params: ItemParameters,
    se: dict[str, FloatArray] | None,
    extra: dict[str, Sequence[object]] | None = None,
) -> None:
    """Write PARAMS.csv (see ``docs/calibration.md`` for the columns)."""
    m = params.thresholds.shape[1] if params.max_categories > 2 else 0
    header = ["item_id", "model", "a", "b", "c", "d"] + [f"t{k}" for k in range(1, m + 1)]
    header += ["se_a", "se_b", "se_c", "se_d"] + [f"se_t{k}" for k in range(1, m + 1)]
    extra = extra or {}
    header += list(extra)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for j, iid in enumerate(item_ids):
            model = Model(int(params.model[j]))
            dich = model.is_dichotomous
            row = [iid, model.label, _fmt(params.a[j])]
            row += [_fmt(params.b[j]) if dich else ""]
            row += [_fmt(params.c[j]) if model >= Model.THREE_PL and dich else ""]
            row += [_fmt(params.d[j]) if model == Model.FOUR_PL else ""]
            row += [_fmt(params.thresholds[j, k]) if not dich else "" for k in range(m)]
            if se is not None:
                row += [_fmt(se["a"][j]), _fmt(se["b"][j]) if dich else ""]
                row += [_fmt(se["c"][j]) if model >= Model.THREE_PL and dich else ""]
                row += [_fmt(se["d"][j]) if model == Model.FOUR_PL else ""]
                row += [
                    _fmt(se["thresholds"][j, k])
                    if not dich and k < se["thresholds"].shape[1]
                    else ""
                    for k in range(m)
                ]
            else:
                row += [""] * (4 + m)
            for values in extra.values():
                v = values[j]
                row.append(_fmt(float(v)) if isinstance(v, float | np.floating) else str(v))
            w.writerow(row)


def _csv_rows(reader: csv.DictReader[str], path: str | Path) -> Iterator[dict[str, str]]:
    """The reader's rows; a row the csv module refuses (a field over its size limit)
    is an :class:`InputError` naming the row (the header is row 1)."""
    r = 2
    try:
        for row in reader:
            yield row
            r += 1
    except csv.Error as exc:
        raise InputError(f"{path}: row {r}: unreadable CSV: {exc}") from None


def read_params(path: str | Path) -> tuple[list[str], ItemParameters]:
    """Read a PARAMS.csv (ids and parameters); errors name row and field."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        try:
            fields = reader.fieldnames or []
        except csv.Error as exc:
            raise InputError(f"{path}: row 1: unreadable CSV: {exc}") from None
        for col in ("item_id", "model", "a"):
            if col not in fields:
                raise InputError(f"{path}: row 1: no column {col!r}")
        tcols = sorted(
            (f for f in fields if f.startswith("t") and f[1:].isdigit()), key=lambda f: int(f[1:])
        )
        ids: list[str] = []
        models, a, b, c, d, thr = [], [], [], [], [], []
        for r, row in enumerate(_csv_rows(reader, path), start=2):

            def num(col: str, default: float, row: dict[str, str] = row, r: int = r) -> float:
                cell = (row.get(col) or "").strip()
                if cell == "":
                    return default
                try:
                    return float(cell)
                except ValueError:
                    raise InputError(
                        f"{path}: row {r}, field {col!r}: {cell!r} is not a number"
                    ) from None

            try:
                model = Model.parse(row.get("model") or "")
            except ValueError as exc:
                raise InputError(f"{path}: row {r}, field 'model': {exc}") from None
            ids.append((row.get("item_id") or "").strip())
            models.append(int(model))
            a.append(num("a", 1.0))
            b.append(num("b", math.nan) if model.is_dichotomous else math.nan)
            c.append(num("c", 0.0) if model.is_dichotomous else 0.0)
            d.append(num("d", 1.0) if model.is_dichotomous else 1.0)
            thr.append([num(t, math.nan) for t in tcols] if not model.is_dichotomous else [])
    width = max([len(t) for t in thr] + [1])
    tarr = np.full((len(ids), width), np.nan)
    for j, t in enumerate(thr):
        tarr[j, : len(t)] = t
    return ids, ItemParameters(
        np.array(models, dtype=np.int8), np.array(a), np.array(b), np.array(c), np.array(d), tarr
    )
