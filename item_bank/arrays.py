"""Stored rows → :class:`cat_engine.bank.BankArrays`, the arrays the engine reads.

Two queries (items with their scoring, and their newest parameters) fetch
plain tuples; everything after that is numpy
(transposes, lookup tables and scatter assignments), with no Python loop over
items. A 20,000-item bank loads in a fraction of a second (see
``benchmarks/bank_load.py`` and docs/benchmarks.md).

What goes in: the current version of every item whose status is in
``statuses`` (default: operational and pretest), optionally only some
subtests, ordered by subtest (display order) and then item id. Parameters:
for each item the newest calibration (optionally only on one ``scale``).
Items without parameters are left out, unless ``include_uncalibrated`` is
set; they then get neutral placeholders (1PL with b = 0, or GPCM with a = 1
and all steps 0), which is only sensible for pretest items the engine gives
unscored.

Option mapping (see :mod:`cat_engine.bank`): a dichotomous item's key scores
the subtest's ``points_correct`` and is category 1, other options 0 points and
category 0; an option-scored item's option with p points is category
``p − min_points`` of its GRM/GPCM.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Connection, Executable, and_, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from cat_engine.bank import BankArrays
from cat_engine.irt import ItemParameters, Model
from item_bank.models import THRESHOLD_FIELDS
from item_bank.records import ItemStatus, ScoringMode
from item_bank.store import T_AREA, T_CAL, T_ITEM, T_RUN, T_SUBTEST, ItemStore

DEFAULT_STATUSES = (ItemStatus.OPERATIONAL.value, ItemStatus.PRETEST.value)
_MODEL_CODE = {m.label: int(m) for m in Model}


@dataclass(frozen=True)
class LoadedBank:
    """The arrays plus where each row came from.

    arrays: the engine's bank; item_pks: (n,) primary keys of the item
    versions loaded (``bank_item.id``); versions: (n,) their version numbers.
    Log ``item_pks`` with a test to know exactly which wording was shown.
    """

    arrays: BankArrays
    item_pks: NDArray[np.int64]
    versions: NDArray[np.int64]


def load_bank_arrays(
    source: ItemStore | Engine | Connection | Session,
    *,
    subtests: Sequence[str] | None = None,
    statuses: Sequence[str] = DEFAULT_STATUSES,
    scale: str | None = None,
    include_uncalibrated: bool = False,
) -> BankArrays:
    """The current bank as :class:`BankArrays` (see the module docstring)."""
    return load_bank(
        source,
        subtests=subtests,
        statuses=statuses,
        scale=scale,
        include_uncalibrated=include_uncalibrated,
    ).arrays


def load_bank(
    source: ItemStore | Engine | Connection | Session,
    *,
    subtests: Sequence[str] | None = None,
    statuses: Sequence[str] = DEFAULT_STATUSES,
    scale: str | None = None,
    include_uncalibrated: bool = False,
) -> LoadedBank:
    """Like :func:`load_bank_arrays`, also returning the item versions loaded."""
    statuses = [ItemStatus(s).value for s in statuses]
    if isinstance(source, Session):  # the caller's transaction, e.g. a request's session
        return _load(source.connection(), subtests, statuses, scale, include_uncalibrated)
    if isinstance(source, Connection):
        return _load(source, subtests, statuses, scale, include_uncalibrated)
    engine = source.engine if isinstance(source, ItemStore) else source
    with engine.connect() as conn:
        return _load(conn, subtests, statuses, scale, include_uncalibrated)


def _fetch(conn: Connection, stmt: Executable) -> list[tuple[Any, ...]]:
    """Plain DB-API tuples of ``stmt``.

    SQLAlchemy's Row objects cost more than the query itself at 20,000 rows;
    the columns read here (ints, floats, strings) need none of its type
    processing, so the driver's own tuples are taken as they are.
    """
    result = conn.execute(stmt)
    try:
        return list(result.cursor.fetchall()) if result.cursor is not None else []
    finally:
        result.close()


def _columns(rows: Sequence[tuple[Any, ...]], n_cols: int) -> list[tuple[Any, ...]]:
    """Transpose row tuples into column tuples (C speed, no per-item Python code)."""
    return list(zip(*rows, strict=True)) if rows else [() for _ in range(n_cols)]


def _lookup(keys: NDArray[np.int64], values: NDArray[np.int64]) -> NDArray[np.int64]:
    """A table ``lut`` with ``lut[keys[i]] = values[i]`` (−1 elsewhere) for small int keys."""
    lut = np.full(int(keys.max(initial=0)) + 1, -1, dtype=np.int64)
    lut[keys] = values
    return lut


def _load(
    conn: Connection,
    subtest_codes: Sequence[str] | None,
    statuses: list[str],
    scale: str | None,
    include_uncalibrated: bool,
) -> LoadedBank:
    # -- subtests and content areas (a handful of rows) ----------------------
    subs = conn.execute(
        select(
            T_SUBTEST.c.id,
            T_SUBTEST.c.code,
            T_SUBTEST.c.scoring,
            T_SUBTEST.c.points_correct,
            T_SUBTEST.c.min_points,
            T_SUBTEST.c.max_points,
        ).order_by(T_SUBTEST.c.position, T_SUBTEST.c.id)
    ).all()
    if subtest_codes is not None:
        unknown = sorted(set(subtest_codes) - {s.code for s in subs})
        if unknown:
            raise KeyError(f"unknown subtest(s): {', '.join(unknown)}")
    areas = conn.execute(
        select(T_AREA.c.id, T_AREA.c.code)
        .join(T_SUBTEST, T_SUBTEST.c.id == T_AREA.c.subtest_id)
        .order_by(T_SUBTEST.c.position, T_SUBTEST.c.id, T_AREA.c.position, T_AREA.c.id)
    ).all()
    sub_ids = np.array([s.id for s in subs], dtype=np.int64)
    sub_index = _lookup(sub_ids, np.arange(len(subs)))
    area_index = _lookup(
        np.array([a.id for a in areas], dtype=np.int64), np.arange(len(areas), dtype=np.int64)
    )
    points_correct = np.array([s.points_correct for s in subs], dtype=np.float64)
    min_points = np.array([s.min_points for s in subs], dtype=np.float64)
    option_scored = np.array([s.scoring == ScoringMode.OPTION_SCORED for s in subs], dtype=bool)

    # -- items ----------------------------------------------------------------
    where = [T_ITEM.c.is_current.is_(True), T_ITEM.c.status.in_(statuses)]
    if subtest_codes is not None:
        where.append(T_ITEM.c.subtest_id.in_([s.id for s in subs if s.code in subtest_codes]))
    items = _fetch(
        conn,
        select(
            T_ITEM.c.id,
            T_ITEM.c.item_id,
            T_ITEM.c.version,
            T_ITEM.c.subtest_id,
            T_ITEM.c.content_area_id,
            T_ITEM.c.status,
            T_ITEM.c.n_options,
            T_ITEM.c.key,
            T_ITEM.c.points,
            T_ITEM.c.enemy_group,
        ).where(*where),
    )
    columns = _columns(items, 10)
    # Ordered here rather than in SQL: PostgreSQL's collation and SQLite's
    # byte order sort ids differently, and the order must not depend on the backend.
    sub_i = sub_index[np.array(columns[3], dtype=np.int64)]
    order = np.lexsort((np.array(columns[1], dtype=str), sub_i))
    (pk_c, id_c, ver_c, _sub_c, area_c, status_c, nopt_c, key_c, pts_c, enemy_c) = (
        np.array(col, dtype=object)[order] for col in columns
    )
    sub_i = sub_i[order]
    pks = pk_c.astype(np.int64)
    n = pks.shape[0]

    # -- newest calibration of each item ---------------------------------------
    newest = select(func.max(T_CAL.c.id)).join(T_ITEM, T_ITEM.c.id == T_CAL.c.item_pk)
    newest = newest.where(*where)
    if scale is not None:
        newest = newest.join(T_RUN, and_(T_RUN.c.id == T_CAL.c.run_id, T_RUN.c.scale == scale))
    newest = newest.group_by(T_CAL.c.item_pk)
    cal_cols = [T_CAL.c.item_pk, T_CAL.c.model, T_CAL.c.a, T_CAL.c.b, T_CAL.c.c, T_CAL.c.d]
    cal_cols += [T_CAL.c[name] for name in THRESHOLD_FIELDS]
    cals = _fetch(conn, select(*cal_cols).where(T_CAL.c.id.in_(newest.scalar_subquery())))
    cal = _columns(cals, len(cal_cols))
    by_pk = np.argsort(pks, kind="stable")
    sorted_pks = pks[by_pk]

    def row_of(keys: NDArray[np.int64]) -> NDArray[np.int64]:
        pos = np.searchsorted(sorted_pks, keys)
        return np.asarray(by_pk[np.clip(pos, 0, max(n - 1, 0))], dtype=np.int64)

    cal_pk = np.array(cal[0], dtype=np.int64)
    cal_row = row_of(cal_pk)
    calibrated = np.zeros(n, dtype=bool)
    calibrated[cal_row] = True

    poly_item = option_scored[sub_i]
    # Placeholders (see module docstring), overwritten where parameters exist.
    labels = np.array(cal[1], dtype=object)
    model = np.where(poly_item, Model.GPCM, Model.ONE_PL).astype(np.int8)
    if labels.size:
        uniq, inv = np.unique(labels, return_inverse=True)
        model[cal_row] = np.array([_MODEL_CODE[u] for u in uniq], dtype=np.int8)[inv]

    def param(col: tuple[Any, ...], default: float) -> NDArray[np.float64]:
        out = np.full(n, default)
        values = np.array(col, dtype=np.float64)  # None → NaN
        out[cal_row] = np.where(np.isnan(values), default, values)
        return out

    a = param(cal[2], 1.0)
    b = np.where(poly_item, np.nan, param(cal[3], 0.0))
    c = param(cal[4], 0.0)
    d = param(cal[5], 1.0)
    thr_cal = (
        np.array(cal[6:], dtype=np.float64).T if cals else np.zeros((0, len(THRESHOLD_FIELDS)))
    )
    # The subtest's categories decide the placeholder steps of uncalibrated polytomous items.
    max_points_sub = np.array([s.max_points for s in subs], dtype=np.float64)
    n_steps = np.where(poly_item, (max_points_sub - min_points)[sub_i], 0).astype(np.int64)
    thresholds = np.where(np.arange(len(THRESHOLD_FIELDS))[None, :] < n_steps[:, None], 0.0, np.nan)
    thresholds[cal_row] = thr_cal
    width = max(1, int(np.max(np.sum(~np.isnan(thresholds), axis=1), initial=1)))
    thresholds = thresholds[:, :width]

    # -- options -----------------------------------------------------------------
    n_options = nopt_c.astype(np.int64)
    max_opt = max(2, int(n_options.max(initial=2)))
    col = np.arange(max_opt)[None, :]
    valid = col < n_options[:, None]
    key_f = key_c.astype(np.float64)  # None → NaN
    key = np.where(np.isnan(key_f), -1, key_f).astype(np.int64)
    is_key = col == key[:, None]
    option_points = np.where(valid, np.where(is_key, points_correct[sub_i][:, None], 0.0), np.nan)
    option_category = np.where(valid, is_key.astype(np.int64), -1)
    points_arr = pts_c
    scored = np.flatnonzero(points_arr != None)  # noqa: E711  (elementwise)
    if scored.size:
        # "5,4,1,2,3" per item → one flat array, scattered to (item, position).
        pts = np.array(",".join(points_arr[scored]).split(","), dtype=np.float64)
        counts = n_options[scored]
        rows = np.repeat(scored, counts)
        pos = np.arange(pts.shape[0]) - np.repeat(np.cumsum(counts) - counts, counts)
        option_points[rows, pos] = pts
        option_category[rows, pos] = (pts - min_points[sub_i[rows]]).astype(np.int64)

    # -- enemies, status ------------------------------------------------------------
    enemy = np.full(n, -1, dtype=np.int64)
    enemy_arr = enemy_c
    has_enemy = enemy_arr != None  # noqa: E711  (elementwise comparison with None)
    if has_enemy.any():
        _, enemy[has_enemy] = np.unique(enemy_arr[has_enemy].astype(str), return_inverse=True)
    pretest = status_c == ItemStatus.PRETEST.value

    keep = calibrated | include_uncalibrated
    params = ItemParameters(model=model, a=a, b=b, c=c, d=d, thresholds=thresholds)
    arrays = BankArrays(
        item_ids=tuple(id_c.tolist()),
        params=params,
        subtest=sub_i,
        subtest_codes=tuple(s.code for s in subs),
        content_area=area_index[area_c.astype(np.int64)],
        content_codes=tuple(a.code for a in areas),
        n_options=n_options,
        option_points=option_points,
        option_category=option_category,
        enemy_group=enemy,
        pretest=np.asarray(pretest, dtype=bool),
    )
    versions = ver_c.astype(np.int64)
    if not keep.all():
        idx = np.flatnonzero(keep)
        return LoadedBank(arrays.subset(idx), pks[idx], versions[idx])
    return LoadedBank(arrays, pks, versions)
