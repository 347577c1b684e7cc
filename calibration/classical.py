"""Classical item analysis: p-values, point-biserials and distractors.

All statistics are weighted by case weights and computed from the presented
responses only (a not-presented item is neither right nor wrong). Sums run
over the response entries with ``np.bincount``, so dense and sparse data
cost the same per response and no loop runs over items or persons.

* ``p_value``: mean item score divided by the item's maximum score (the
  proportion correct for a dichotomous item);
* ``point_biserial``: the Pearson correlation of the item score with the
  person's total score over all items;
* ``item_rest``: the same with the item removed from the total (corrected
  point-biserial; the one to read for flagging, > 0.20 is the usual bar).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from calibration.data import ResponseData

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class ItemStatistics:
    """Classical statistics, each (n_items,)."""

    n: FloatArray
    mean: FloatArray
    p_value: FloatArray
    point_biserial: FloatArray
    item_rest: FloatArray


def _wcorr(
    group: NDArray[np.int64], n_groups: int, w: FloatArray, x: FloatArray, y: FloatArray
) -> FloatArray:
    """Weighted Pearson correlation of x and y within each group."""

    def s(v: FloatArray) -> FloatArray:
        return np.asarray(np.bincount(group, weights=w * v, minlength=n_groups), dtype=np.float64)

    sw = s(np.ones_like(x))
    mx, my = s(x) / np.maximum(sw, 1e-300), s(y) / np.maximum(sw, 1e-300)
    cxy = s(x * y) / np.maximum(sw, 1e-300) - mx * my
    vx = s(x * x) / np.maximum(sw, 1e-300) - mx**2
    vy = s(y * y) / np.maximum(sw, 1e-300) - my**2
    den = np.sqrt(np.maximum(vx, 0) * np.maximum(vy, 0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 1e-12, cxy / den, np.nan)


def item_statistics(responses: ResponseData | ArrayLike) -> ItemStatistics:
    """p-value, point-biserial and item–rest correlation of every item."""
    data = responses if isinstance(responses, ResponseData) else ResponseData.from_dense(responses)
    if data.dense_matrix is not None and data.nnz == data.n_persons * data.n_items:
        return _dense_statistics(data)
    w = data.weights[data.person]
    x = data.category.astype(np.float64)
    item = data.item.astype(np.int64)
    total = np.bincount(data.person, weights=x, minlength=data.n_persons)[data.person]
    n = np.asarray(np.bincount(item, weights=w, minlength=data.n_items), dtype=np.float64)
    mean = np.bincount(item, weights=w * x, minlength=data.n_items) / np.maximum(n, 1e-300)
    maxscore = (data.n_categories - 1).astype(np.float64)
    return ItemStatistics(
        n=n,
        mean=mean,
        p_value=mean / maxscore,
        point_biserial=_wcorr(item, data.n_items, w, x, total),
        item_rest=_wcorr(item, data.n_items, w, x, total - x),
    )


def _dense_statistics(data: ResponseData) -> ItemStatistics:
    """:func:`item_statistics` of complete data by matrix products (the same
    weighted moments as :func:`_wcorr`, without ten passes of bincount over
    every response; every run of ``seleksi calibrate`` computes these)."""
    assert data.dense_matrix is not None
    x = data.dense_matrix.astype(np.float64)  # (n, J)
    w = data.weights
    sw = float(w.sum())
    total = x.sum(axis=1)
    wx = w @ x
    mean = wx / max(sw, 1e-300)
    mt = float(w @ total) / max(sw, 1e-300)
    ex2 = (w @ (x * x)) / max(sw, 1e-300)
    vx = ex2 - mean**2
    cxt = (x.T @ (w * total)) / max(sw, 1e-300) - mean * mt
    vt = float(w @ (total * total)) / max(sw, 1e-300) - mt**2

    def corr(cov: FloatArray, var_y: FloatArray) -> FloatArray:
        den = np.sqrt(np.maximum(vx, 0) * np.maximum(var_y, 0))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 1e-12, cov / den, np.nan)

    maxscore = (data.n_categories - 1).astype(np.float64)
    return ItemStatistics(
        n=np.full(data.n_items, sw),
        mean=mean,
        p_value=mean / maxscore,
        point_biserial=corr(cxt, np.full(data.n_items, vt)),
        # rest = total − x: cov(x, rest) = cov(x, total) − var x, and
        # var(rest) = var total − 2 cov(x, total) + var x
        item_rest=corr(cxt - vx, vt - 2 * cxt + vx),
    )


@dataclass(frozen=True)
class DistractorTable:
    """Option-level statistics, each (n_items, n_options).

    proportion: share of the item's respondents choosing the option;
    mean_rest: mean rest score (total minus this item) of those choosing it;
    point_biserial: correlation of "chose this option" with the rest score.
    A working distractor draws some candidates, with a lower mean rest score
    than the key and a negative point-biserial.
    """

    proportion: FloatArray
    mean_rest: FloatArray
    point_biserial: FloatArray


def distractor_analysis(
    options: ArrayLike,
    scores: ArrayLike,
    n_options: int,
    weights: ArrayLike | None = None,
) -> DistractorTable:
    """Distractor analysis from chosen options.

    options: (n_persons, n_items) chosen option index, −1 = blank or not
    presented; scores: (n_persons, n_items) item scores (NaN where not
    presented) used for the rest score; n_options: options per item (max).
    """
    opt = np.asarray(options, dtype=np.int64)
    sc = np.asarray(scores, dtype=np.float64)
    if opt.shape != sc.shape or opt.ndim != 2:
        raise ValueError("options and scores must be 2-D arrays of the same shape")
    if (opt >= n_options).any():
        r, c = np.argwhere(opt >= n_options)[0]
        raise ValueError(f"row {r}, item {c}: option {opt[r, c]} ≥ n_options={n_options}")
    n, j = opt.shape
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    total = np.nansum(sc, axis=1)
    rows, cols = np.nonzero(opt >= 0)
    rest = total[rows] - np.nan_to_num(sc[rows, cols])
    ww = w[rows]
    chosen = opt[rows, cols]
    cell = cols * n_options + chosen
    size = j * n_options
    n_item = np.bincount(cols, weights=ww, minlength=j)
    n_cell = np.bincount(cell, weights=ww, minlength=size)
    prop = n_cell.reshape(j, n_options) / np.maximum(n_item, 1e-300)[:, None]
    mean_rest = np.bincount(cell, weights=ww * rest, minlength=size) / np.maximum(n_cell, 1e-300)
    mean_rest = np.where(n_cell > 0, mean_rest, np.nan).reshape(j, n_options)
    # point-biserial of the 0/1 choice indicator with the rest score, per item
    m_rest = np.bincount(cols, weights=ww * rest, minlength=j) / np.maximum(n_item, 1e-300)
    v_rest = (
        np.bincount(cols, weights=ww * rest**2, minlength=j) / np.maximum(n_item, 1e-300)
        - m_rest**2
    )
    pb = (mean_rest - m_rest[:, None]) * np.sqrt(prop / np.maximum(1 - prop, 1e-300))
    with np.errstate(invalid="ignore", divide="ignore"):
        pb = np.where(
            (v_rest[:, None] > 1e-12) & (prop > 0) & (prop < 1),
            pb / np.sqrt(v_rest)[:, None],
            np.nan,
        )
    return DistractorTable(proportion=prop, mean_rest=mean_rest, point_biserial=pb)
