"""Subscores per content area, their standard errors, and Haberman's PRMSE test
of whether a subscore is worth reporting.

**Subscores.** For each content area ``k`` a candidate's subscore is the EAP
estimate of θ from the items of that area alone (N(μ, σ²) prior, the 61-point
grid of :mod:`cat_engine.estimators`); its standard error is the posterior SD.
Each candidate brings their own items, so the same code serves linear forms
and adaptive tests: ``items``/``categories`` are ``(m, L)`` per candidate with
``-1`` for padding or a blank.

**Which subscores add information** (Haberman 2008; Sinharay 2010). A
subscore ``s_k`` is worth reporting when it predicts the candidate's true
area score ``τ_k`` better than the total does: the proportional reduction in
mean squared error of ``s_k`` (PRMSE_s) must exceed that of the total
(PRMSE_x). With posterior means, ``cov(s_k, τ_k − s_k) = 0``, so

    var τ_k = var s_k + E[SE_k²],      PRMSE_s = var s_k / var τ_k

(the marginal reliability). For the total, each EAP is read back to the
classical metric by Kelley's regression, ``o_k = s_k / PRMSE_s`` (centred):
``o_k = τ_k + e_k`` with errors independent across areas (disjoint items,
local independence), so ``cov(o_j, o_k) = cov(τ_j, τ_k)`` for ``j ≠ k``. The
total is the composite ``x = Σ w_j o_j`` (weights: the areas' mean number of
items, so the total weighs areas as the test does), and

    cov(x, τ_k) = Σ_j w_j cov(o_j, τ_k),   PRMSE_x = cov(x, τ_k)² / (var x · var τ_k)

with ``cov(o_k, τ_k) = var τ_k``. The augmented subscore (the best linear
combination of ``o_k`` and ``x``; Haberman 2008, eq. 11) is reported too.
Everything is moments of the ``(m, K)`` estimates: no loop over candidates.

References: Haberman, S. J. (2008). When can subscores have value? *Journal
of Educational and Behavioral Statistics* 33(2), 204–229. Sinharay, S.
(2010). How often do subscores have added value? *Journal of Educational
Measurement* 47(2), 150–174. Kelley, T. L. (1947). *Fundamentals of
Statistics*.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cat_engine.estimators import EAP, Evidence
from cat_engine.irt import ItemParameters

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# Below this many candidates the moments behind PRMSE are too noisy to decide
# anything; the report says so instead of guessing.
MIN_CANDIDATES = 30


@dataclass(frozen=True)
class Subscores:
    """Area subscores of ``m`` candidates over ``K`` areas.

    theta, se: (m, K) EAP θ and posterior SD (logits); n_items: (m, K) items
    answered in each area (0: the estimate is the prior, SE the prior SD).
    """

    areas: tuple[str, ...]
    theta: FloatArray
    se: FloatArray
    n_items: IntArray


def area_subscores(
    params: ItemParameters,
    items: ArrayLike,
    categories: ArrayLike,
    item_area: ArrayLike,
    areas: Sequence[str],
    *,
    prior_mean: float = 0.0,
    prior_sd: float = 1.0,
) -> Subscores:
    """EAP θ and SE per content area for every candidate.

    params: the bank's ``n`` items; items, categories: (m, L) bank indices and
    IRT categories, ``-1`` = padding or blank; item_area: (n,) index into
    ``areas`` of each bank item (``-1``: counts in no area).
    """
    it = np.atleast_2d(np.asarray(items, dtype=np.int64))
    cat = np.atleast_2d(np.asarray(categories, dtype=np.int64))
    area_of = np.asarray(item_area, dtype=np.int64)
    if it.shape != cat.shape:
        raise ValueError(f"items {it.shape} and categories {cat.shape} differ in shape")
    if area_of.shape != (params.n_items,):
        raise ValueError(
            f"item_area has shape {area_of.shape}; the bank has {params.n_items} items"
        )
    if len(areas) == 0:
        raise ValueError("at least one content area is needed")
    if area_of.size and (area_of.max() >= len(areas) or area_of.min() < -1):
        raise ValueError(f"item_area must be -1 or an index below {len(areas)}")
    if it.size and it.max() >= params.n_items:
        raise ValueError(f"an item index is beyond the bank's {params.n_items} items")
    estimator = EAP(prior_mean, prior_sd)
    item_area_of = np.where(it >= 0, area_of[np.maximum(it, 0)], -1)  # (m, L)
    m, k_count = it.shape[0], len(areas)
    theta = np.empty((m, k_count))
    se = np.empty((m, k_count))
    n_items = np.empty((m, k_count), dtype=np.int64)
    for k in range(k_count):  # a handful of areas; candidates are vectorised
        mine = item_area_of == k
        ev = Evidence.build(params, np.where(mine, it, -1), np.where(mine, cat, -1))
        theta[:, k], se[:, k] = estimator.estimate(ev)
        n_items[:, k] = ev.n_answered
    return Subscores(tuple(areas), theta, se, n_items)


@dataclass(frozen=True)
class AreaValue:
    """Haberman's added-value figures for one area (all proportions in [0, 1]).

    prmse_sub: PRMSE of the subscore (its reliability); prmse_total: PRMSE of
    the total as a predictor of the area's true score; prmse_augmented: the
    best linear combination of both; reported: ``prmse_sub > prmse_total``.
    """

    area: str
    prmse_sub: float
    prmse_total: float
    prmse_augmented: float
    true_sd: float
    mean_se: float
    reported: bool
    reason_id: str
    reason_en: str


@dataclass(frozen=True)
class AddedValue:
    """The PRMSE analysis of a set of subscores.

    weights: (K,) the total's weights; true_correlation: (K, K) correlations
    of the areas' true scores (disattenuated), NaN where unknown.
    """

    areas: tuple[AreaValue, ...]
    weights: FloatArray
    true_correlation: FloatArray
    n_candidates: int

    def by_area(self) -> dict[str, AreaValue]:
        return {a.area: a for a in self.areas}


def total_composite(sub: Subscores, weights: ArrayLike | None = None) -> FloatArray:
    """The total ``x = Σ w_k o_k`` (Kelley-rescaled subscores): (m,).

    Exposed so that a simulation can correlate it with the true scores."""
    w = _weights(sub, weights)
    _, _, rho = _moments(sub)
    o = (sub.theta - sub.theta.mean(axis=0)) / rho
    return np.asarray(o @ w, dtype=np.float64)


def _weights(sub: Subscores, weights: ArrayLike | None) -> FloatArray:
    if weights is None:
        w = sub.n_items.mean(axis=0).astype(np.float64)
    else:
        w = np.asarray(weights, dtype=np.float64)
    if w.shape != (len(sub.areas),) or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"weights must be {len(sub.areas)} non-negative numbers, not all zero")
    return w


def _moments(sub: Subscores) -> tuple[FloatArray, FloatArray, FloatArray]:
    """cov of the subscores (K, K), var of the true scores (K,), PRMSE_s (K,)."""
    cov_s = np.atleast_2d(np.cov(sub.theta, rowvar=False))
    var_tau = np.diag(cov_s) + np.mean(sub.se**2, axis=0)
    rho = np.diag(cov_s) / var_tau
    rho = np.where(rho > 1e-9, rho, 1e-9)  # an area nobody answered: no information
    return cov_s, var_tau, rho


def added_value(sub: Subscores, weights: ArrayLike | None = None) -> AddedValue:
    """Haberman's PRMSE comparison for every area of ``sub`` (see the module doc)."""
    m = sub.theta.shape[0]
    k_count = len(sub.areas)
    w = _weights(sub, weights)
    if m < MIN_CANDIDATES:
        few = tuple(
            AreaValue(
                a,
                float("nan"),
                float("nan"),
                float("nan"),
                float("nan"),
                float(np.sqrt(np.mean(sub.se[:, k] ** 2))) if m else float("nan"),
                False,
                f"tidak dilaporkan: baru {m} peserta (perlu ≥ {MIN_CANDIDATES})",
                f"not reported: only {m} candidates (needs ≥ {MIN_CANDIDATES})",
            )
            for k, a in enumerate(sub.areas)
        )
        return AddedValue(few, w, np.full((k_count, k_count), np.nan), m)
    cov_s, var_tau, rho = _moments(sub)
    cov_o = cov_s / np.outer(rho, rho)
    cov_o_tau = cov_o.copy()  # [j, k] = cov(o_j, τ_k)
    np.fill_diagonal(cov_o_tau, var_tau)
    var_x = float(w @ cov_o @ w)
    cov_x_tau = w @ cov_o_tau  # (K,)
    cov_o_x = cov_o @ w  # (K,)
    prmse_x = cov_x_tau**2 / (var_x * var_tau)
    rows: list[AreaValue] = []
    for k, a in enumerate(sub.areas):
        sigma = np.array([[cov_o[k, k], cov_o_x[k]], [cov_o_x[k], var_x]])
        c = np.array([var_tau[k], cov_x_tau[k]])
        try:
            aug = float(c @ np.linalg.solve(sigma, c) / var_tau[k])
        except np.linalg.LinAlgError:
            aug = float(max(rho[k], prmse_x[k]))
        ps, px = float(rho[k]), float(min(prmse_x[k], 1.0))
        reported = ps > px
        if reported:
            rid = f"dilaporkan: PRMSE subskor {ps:.2f} > PRMSE total {px:.2f}"
            ren = f"reported: subscore PRMSE {ps:.2f} > total PRMSE {px:.2f}"
        else:
            rid = (
                f"tidak dilaporkan: PRMSE subskor {ps:.2f} ≤ PRMSE total {px:.2f} "
                "(skor total lebih tepat menggambarkan area ini)"
            )
            ren = (
                f"not reported: subscore PRMSE {ps:.2f} ≤ total PRMSE {px:.2f} "
                "(the total describes this area better)"
            )
        rows.append(
            AreaValue(
                a,
                ps,
                px,
                float(min(max(aug, ps, px), 1.0)),
                float(np.sqrt(var_tau[k])),
                float(np.sqrt(np.mean(sub.se[:, k] ** 2))),
                reported,
                rid,
                ren,
            )
        )
    tau_cov = cov_o.copy()
    np.fill_diagonal(tau_cov, var_tau)
    sd = np.sqrt(var_tau)
    return AddedValue(tuple(rows), w, tau_cov / np.outer(sd, sd), m)
