"""Ability estimates on a grid for items of any model, and option probabilities.

The forensic indices need θ from subsets of a candidate's items (one
subtest, a suspected item set, the rest), for dichotomous and option-scored
items alike. On a fixed grid the log-likelihood of every candidate at every
grid point is one matrix product, ``onehot (m, n·K) @ log P (n·K, G)``, and a
subset is a mask on the items. The maximum is refined by a parabola through
the three grid points around it; the standard error is the inverse square
root of the curvature there (observed information).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from cat_engine.irt import EPS, category_probabilities
from forensics.data import SessionData, SessionItems

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

#: θ grid: ±4 in steps of 0.05 (far finer than any estimate's standard error).
GRID = np.linspace(-4.0, 4.0, 161)


def grid_log_likelihood(data: SessionData, item_mask: BoolArray | None = None) -> FloatArray:
    """(m, G) log-likelihood of each candidate's answers at each ``GRID`` point.

    item_mask: (n,) items to use (all when None) or (m, n) per candidate.
    """
    items = data.items
    n, k = items.n_items, items.params.max_categories
    logp = np.log(np.clip(category_probabilities(GRID, items.params), EPS, 1.0))  # (G, n, K)
    cats = data.categories
    use = cats >= 0
    if item_mask is not None:
        use = use & np.broadcast_to(item_mask, use.shape)
    flat = np.arange(n)[None, :] * k + np.clip(cats, 0, None)  # (m, n) index into n·K
    onehot = np.zeros((cats.shape[0], n * k))
    rows = np.broadcast_to(np.arange(cats.shape[0])[:, None], cats.shape)
    onehot[rows[use], flat[use]] = 1.0
    return np.asarray(onehot @ logp.reshape(GRID.shape[0], n * k).T, dtype=np.float64)


def estimate(loglik: FloatArray, prior_sd: float | None = None) -> tuple[FloatArray, FloatArray]:
    """θ̂ and its standard error from (m, G) grid log-likelihoods.

    prior_sd: a N(0, prior_sd²) prior (MAP); None = maximum likelihood on
    the grid (bounded at ±4). Returns ``(theta, se)``, both (m,); se is
    NaN where the curvature is not negative (no information).
    """
    post = loglik if prior_sd is None else loglik - 0.5 * (GRID / prior_sd) ** 2
    g = np.clip(np.argmax(post, axis=1), 1, GRID.shape[0] - 2)
    rows = np.arange(post.shape[0])
    left, mid, right = post[rows, g - 1], post[rows, g], post[rows, g + 1]
    h = GRID[1] - GRID[0]
    curv = (left - 2.0 * mid + right) / h**2
    with np.errstate(divide="ignore", invalid="ignore"):
        # The vertex of the parabola through the three points.
        shift = np.where(curv < 0, h * (left - right) / (2.0 * (left - 2.0 * mid + right)), 0.0)
        shift = np.clip(np.nan_to_num(shift), -h, h)
        se = np.where(curv < 0, 1.0 / np.sqrt(-curv), np.nan)
    theta = np.clip(GRID[g] + shift, GRID[0], GRID[-1])
    return np.asarray(theta), np.asarray(se)


def max_log_likelihood(loglik: FloatArray) -> FloatArray:
    """(m,) the largest grid log-likelihood of each candidate (for likelihood ratios)."""
    return np.asarray(loglik.max(axis=1))


def option_shares(data: SessionData) -> FloatArray:
    """(n, O) how the session splits each IRT category among its options.

    A dichotomous item has one key (category 1) and several distractors
    sharing category 0: the share of each distractor among wrong answers in
    this session, with one pseudo-answer per option (so an option nobody
    chose keeps a small share). An option alone in its category has share 1.
    """
    items = data.items
    n, o = items.n_items, items.n_options
    counts = np.ones((n, o))
    answered = data.options >= 0
    cols = np.broadcast_to(np.arange(n)[None, :], data.options.shape)
    np.add.at(counts, (cols[answered], data.options[answered]), 1.0)
    valid = items.option_category >= 0
    counts = np.where(valid, counts, 0.0)
    k = items.params.max_categories
    # Total per (item, category), spread back to each option of that category.
    cat = np.clip(items.option_category, 0, None)
    totals = np.zeros((n, k))
    np.add.at(totals, (np.broadcast_to(np.arange(n)[:, None], (n, o)), cat), counts)
    denom = totals[np.arange(n)[:, None], cat]
    return np.asarray(np.where(valid, counts / np.maximum(denom, 1e-12), 0.0))


def option_probabilities(theta: FloatArray, items: SessionItems, shares: FloatArray) -> FloatArray:
    """(m, n, O) probability that a candidate at θ chooses each option.

    theta: (m,); shares: (n, O) from :func:`option_shares`. An option's
    probability is its category's IRT probability times its share.
    """
    cp = category_probabilities(theta, items.params)  # (m, n, K)
    cat = np.clip(items.option_category, 0, None)
    n = items.n_items
    per_option = cp[:, np.arange(n)[:, None], cat]  # (m, n, O)
    return np.asarray(per_option * shares[None, :, :])
