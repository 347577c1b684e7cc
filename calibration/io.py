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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

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


def _parse_weight(cell: str, row: int, col: str) -> float:
    try:
        w = float(cell)
    except ValueError:
        raise InputError(f"row {row}, field {col!r}: {cell!r} is not a number") from None
    if not math.isfinite(w) or w < 0:
        raise InputError(f"row {row}, field {col!r}: weight {cell!r} must be ≥ 0")
    return w


def _categories(cells: NDArray[np.str_], first_row: int, names: Sequence[str]) -> NDArray[np.int64]:
    """(n, J) strings → categories, −1 for empty; errors name row and item."""
    stripped = np.char.strip(cells)
    empty = stripped == ""
    filled = np.where(empty, "0", stripped)
    try:
        vals = filled.astype(np.float64)
    except ValueError:
        vals = None
    if vals is None:
        for (r, c), s in np.ndenumerate(filled):
            try:
                float(s)
            except ValueError:
                raise InputError(
                    f"row {first_row + r}, item {names[c]!r}: {str(s)!r} is not a number"
                ) from None
        raise AssertionError("unreachable")
    bad = ~empty & ((vals < 0) | (vals != np.round(vals)) | ~np.isfinite(vals))
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise InputError(
            f"row {first_row + r}, item {names[c]!r}: {str(stripped[r, c])!r} is not a response "
            "category (a whole number ≥ 0)"
        )
    return np.where(empty, -1, vals).astype(np.int64)


def read_wide(
    path: str | Path, weight_column: str | None = None, group_column: str | None = None
) -> ResponseFile:
    """Read a wide response file."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except StopIteration:
            raise InputError(f"{path}: empty file") from None
        rows = list(reader)
    header = [h.strip() for h in header]
    if not header or header[0] != "person_id":
        raise InputError(f"row 1: the first column must be 'person_id', got {header[:1]}")
    for col in (weight_column, group_column):
        if col is not None and col not in header:
            raise InputError(f"row 1: no column {col!r} in the header")
    dup = {h for h in header if header.count(h) > 1}
    if dup:
        raise InputError(f"row 1: duplicate column {sorted(dup)[0]!r}")
    item_cols = [
        i for i, h in enumerate(header) if i > 0 and h not in (weight_column, group_column)
    ]
    if not item_cols:
        raise InputError("row 1: no item columns")
    width = len(header)
    for r, row in enumerate(rows):
        if len(row) != width:
            raise InputError(f"row {r + 2}: {len(row)} fields, the header has {width}")
    if not rows:
        raise InputError(f"{path}: no data rows")
    arr = np.array(rows, dtype=str)
    names = [header[i] for i in item_cols]
    cats = _categories(arr[:, item_cols], 2, names)
    person_ids = [str(p) for p in arr[:, 0]]
    seen: dict[str, int] = {}
    for r, p in enumerate(person_ids):
        if p in seen:
            raise InputError(f"row {r + 2}, field 'person_id': {p!r} already in row {seen[p] + 2}")
        seen[p] = r
    weights = None
    if weight_column is not None:
        wi = header.index(weight_column)
        weights = np.array(
            [_parse_weight(row[wi], r + 2, weight_column) for r, row in enumerate(rows)]
        )
    groups = None
    if group_column is not None:
        gi = header.index(group_column)
        groups = [row[gi].strip() for row in rows]
    data = ResponseData.from_dense(cats, weights=weights)
    return ResponseFile(person_ids, names, data, groups)


def read_long(
    path: str | Path, weight_column: str | None = None, group_column: str | None = None
) -> ResponseFile:
    """Read a long response file (``person_id,item_id,response`` rows)."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        fields = [f.strip() for f in (reader.fieldnames or [])]
        need = ["person_id", "item_id", "response"]
        for col in [*need, weight_column, group_column]:
            if col is not None and col not in fields:
                raise InputError(f"row 1: no column {col!r} in the header")
        reader.fieldnames = fields
        persons: dict[str, int] = {}
        items: dict[str, int] = {}
        p_idx: list[int] = []
        i_idx: list[int] = []
        resp: list[int] = []
        wmap: dict[int, float] = {}
        gmap: dict[int, str] = {}
        for r, row in enumerate(reader, start=2):
            pid = (row.get("person_id") or "").strip()
            iid = (row.get("item_id") or "").strip()
            cell = (row.get("response") or "").strip()
            if not pid:
                raise InputError(f"row {r}, field 'person_id': empty")
            if not iid:
                raise InputError(f"row {r}, field 'item_id': empty")
            if cell == "":
                continue  # not presented
            try:
                v = float(cell)
            except ValueError:
                raise InputError(f"row {r}, item {iid!r}: {cell!r} is not a number") from None
            if v < 0 or v != round(v):
                raise InputError(
                    f"row {r}, item {iid!r}: {cell!r} is not a response category "
                    "(a whole number ≥ 0)"
                )
            p = persons.setdefault(pid, len(persons))
            p_idx.append(p)
            i_idx.append(items.setdefault(iid, len(items)))
            resp.append(int(v))
            if weight_column is not None:
                w = _parse_weight(row.get(weight_column) or "", r, weight_column)
                if wmap.setdefault(p, w) != w:
                    raise InputError(
                        f"row {r}, field {weight_column!r}: differs for person {pid!r}"
                    )
            if group_column is not None:
                g = (row.get(group_column) or "").strip()
                if gmap.setdefault(p, g) != g:
                    raise InputError(f"row {r}, field {group_column!r}: differs for person {pid!r}")
    if not p_idx:
        raise InputError(f"{path}: no responses")
    n = len(persons)
    weights = np.array([wmap[i] for i in range(n)]) if weight_column is not None else None
    try:
        data = ResponseData.from_long(p_idx, i_idx, resp, n, len(items), weights=weights)
    except ValueError as exc:  # duplicates: translate indices into ids
        pid_of = {v: k for k, v in persons.items()}
        iid_of = {v: k for k, v in items.items()}
        msg = str(exc)
        if "more than once" in msg:
            parts = msg.split()
            msg = (
                f"person {pid_of[int(parts[1])]!r} answered item {iid_of[int(parts[4])]!r} "
                "more than once"
            )
        raise InputError(msg) from None
    groups = [gmap[i] for i in range(n)] if group_column is not None else None
    return ResponseFile(list(persons), list(items), data, groups)


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


def read_params(path: str | Path) -> tuple[list[str], ItemParameters]:
    """Read a PARAMS.csv (ids and parameters); errors name row and field."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        fields = reader.fieldnames or []
        for col in ("item_id", "model", "a"):
            if col not in fields:
                raise InputError(f"{path}: row 1: no column {col!r}")
        tcols = sorted(
            (f for f in fields if f.startswith("t") and f[1:].isdigit()), key=lambda f: int(f[1:])
        )
        ids: list[str] = []
        models, a, b, c, d, thr = [], [], [], [], [], []
        for r, row in enumerate(reader, start=2):

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
