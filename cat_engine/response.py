"""Response probabilities gathered per candidate, and points per category.

:mod:`cat_engine.irt` evaluates every item at every ability point (an outer
product). During a test each candidate has their own ability and their own
items, so the engine needs the *gathered* form: candidate ``j`` at
``theta[j]`` on items ``items[j, :]``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from cat_engine.bank import BankArrays
from cat_engine.irt import ItemParameters, Model

FloatArray = NDArray[np.float64]

# Plain ints: comparing arrays with IntEnum members is slow (attribute lookups).
_FOUR_PL = int(Model.FOUR_PL)
_GRM = int(Model.GRM)
_GPCM = int(Model.GPCM)
IntArray = NDArray[np.int64]


def gathered_probabilities(
    theta: FloatArray, params: ItemParameters, items: IntArray
) -> FloatArray:
    """P(X = k | theta[j]) for item ``items[j, l]``.

    theta: (m,); items: (m, L) bank indices, negative = padding (all zero).
    Returns (m, L, K) with K = ``params.max_categories``.
    """
    items = np.asarray(items, dtype=np.int64)
    m, length = items.shape
    k_max = params.max_categories
    out = np.zeros((m, length, k_max))
    valid = items >= 0
    idx = np.where(valid, items, 0)
    t = np.asarray(theta, dtype=np.float64)[:, None]
    model = params.model[idx]
    dich = valid & (model <= _FOUR_PL)
    if dich.any():
        a, b, c, d = params.a[idx], params.b[idx], params.c[idx], params.d[idx]
        with np.errstate(invalid="ignore", over="ignore"):
            p = c + (d - c) / (1.0 + np.exp(-a * (t - b)))
        out[..., 0] = np.where(dich, 1.0 - p, 0.0)
        out[..., 1] = np.where(dich, p, 0.0)
    grm = valid & (model == _GRM)
    if grm.any():
        a = params.a[idx][..., None]
        bk = params.thresholds[idx][..., : k_max - 1]  # (m, L, K-1)
        star = 1.0 / (1.0 + np.exp(-a * (t[..., None] - bk)))
        star = np.where(np.isnan(bk), 0.0, star)
        upper = np.concatenate([np.ones((m, length, 1)), star], axis=2)
        lower = np.concatenate([star, np.zeros((m, length, 1))], axis=2)
        out = np.where(grm[..., None], np.clip(upper - lower, 0.0, 1.0), out)
    gpcm = valid & (model == _GPCM)
    if gpcm.any():
        a = params.a[idx][..., None]
        bk = params.thresholds[idx][..., : k_max - 1]
        steps = a * (t[..., None] - bk)
        z = np.concatenate(
            [np.zeros((m, length, 1)), np.cumsum(np.nan_to_num(steps), axis=2)], axis=2
        )
        ok = np.concatenate([np.ones((m, length, 1), dtype=bool), ~np.isnan(bk)], axis=2)
        z = np.where(ok, z, -np.inf)
        z = z - z.max(axis=2, keepdims=True)
        ez = np.exp(z)
        out = np.where(gpcm[..., None], ez / ez.sum(axis=2, keepdims=True), out)
    return out


def category_points(bank: BankArrays, index: IntArray | None = None) -> FloatArray:
    """Published-scale points of each IRT category of each item (of ``index``, or all).

    Returns (n, K). A category reached by no option (possible only in
    malformed banks) scores 0.
    """
    cat = bank.option_category if index is None else bank.option_category[index]
    pts = bank.option_points if index is None else bank.option_points[index]
    pts = np.nan_to_num(pts, nan=0.0)
    n, k_max = cat.shape[0], bank.params.max_categories
    out = np.zeros((n, k_max))
    rows, cols = np.nonzero(cat >= 0)
    np.maximum.at(out, (rows, cat[rows, cols]), pts[rows, cols])
    return out


def option_for_category(bank: BankArrays) -> IntArray:
    """For simulation: the first option of each item giving each category. (n, K), −1 if none."""
    n, k_max = bank.n_items, bank.params.max_categories
    out = np.full((n, k_max), -1, dtype=np.int64)
    cat = bank.option_category
    for opt in range(cat.shape[1] - 1, -1, -1):  # loop over ≤ 5 options, not items
        c = cat[:, opt]
        ok = c >= 0
        out[np.flatnonzero(ok), c[ok]] = opt
    return out
