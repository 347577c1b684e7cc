"""Ability estimators: MLE, MAP, EAP and WLE, vectorised over candidates.

Each estimator has one method, ``estimate(evidence) -> (theta, se)``, both
(m,). :class:`Evidence` holds what m candidates answered in one section and
their log-likelihood on the quadrature grid :data:`THETA_GRID` (61 points on
[−4, 4]). EAP integrates on that grid; MLE, MAP and WLE start from the grid's
best point and refine by Fisher scoring, so their answers are exact to 1e-6
rather than to the grid's spacing.

All four give finite answers for all-correct and all-wrong patterns: MLE is
bounded to ``bounds`` (the MLE of such a pattern is the bound itself), MAP and
EAP are held by the prior, and WLE (Warm 1989) by its bias correction (and by
``bounds`` under the 3PL, where an all-wrong pattern can still diverge).

Standard errors: MLE and WLE ``1/√I(θ̂)``; MAP ``1/√(I(θ̂) + 1/σ²)``; EAP the
posterior standard deviation. With no answered item MLE/WLE report θ = 0 and
SE = inf.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from cat_engine.irt import EPS, ItemParameters, Model, category_probabilities
from cat_engine.response import gathered_probabilities

FloatArray = NDArray[np.float64]

# Plain ints: comparing arrays with IntEnum members is slow (attribute lookups).
_FOUR_PL = int(Model.FOUR_PL)
IntArray = NDArray[np.int64]

THETA_GRID: FloatArray = np.linspace(-4.0, 4.0, 61)
_THETA_GRID_SQ: FloatArray = THETA_GRID**2
_H = 1e-4  # step of the central differences for P′ and P″
# ndarray.max()/.sum() without their Python wrappers (the same C reductions).
_MAX = np.maximum.reduce
_SUM = np.add.reduce


@dataclass(frozen=True)
class Evidence:
    """Answers of m candidates in one section.

    items: (m, L) bank indices, −1 = padding; categories: (m, L) IRT
    categories, −1 = blank or padding (ignored); loglik: (m, q) log-likelihood
    at :data:`THETA_GRID`.
    """

    params: ItemParameters
    items: IntArray
    categories: IntArray
    loglik: FloatArray

    @classmethod
    def build(cls, params: ItemParameters, items: IntArray, categories: IntArray) -> Evidence:
        """Evidence from answers; items and categories (m, L) or (L,) for one candidate."""
        it = np.atleast_2d(np.asarray(items, dtype=np.int64))
        cat = np.atleast_2d(np.asarray(categories, dtype=np.int64))
        if it.shape != cat.shape:
            raise ValueError(f"items {it.shape} and categories {cat.shape} differ in shape")
        m = it.shape[0]
        loglik = np.zeros((m, THETA_GRID.shape[0]))
        used = (it >= 0) & (cat >= 0)
        if used.any():
            rows, cols = np.nonzero(used)
            uniq, inv = np.unique(it[rows, cols], return_inverse=True)
            probs = category_probabilities(THETA_GRID, params.subset(uniq))  # (q, U, K)
            logp = np.log(np.clip(probs, EPS, 1.0))[:, inv, cat[rows, cols]]  # (q, nnz)
            onehot = np.zeros((m, rows.shape[0]))
            onehot[rows, np.arange(rows.shape[0])] = 1.0
            loglik = onehot @ logp.T
        return cls(params, np.where(used, it, -1), np.where(used, cat, -1), loglik)

    @property
    def n_answered(self) -> IntArray:
        """Items each candidate answered (not blank). (m,)"""
        return np.asarray((self.categories >= 0).sum(axis=1), dtype=np.int64)


class OneEvidence(Evidence):
    """One candidate's evidence (m = 1) as the live engine holds it: the
    log-likelihood row, and its answers as lists, made arrays only when read.

    On a live adaptive step with EAP nothing reads the item and category
    arrays, and building them cost more than the estimate itself (issue 17);
    MLE, MAP, WLE and the stopping rules that read them get the same (1, L)
    arrays :class:`Evidence` holds, built once.
    """

    def __init__(
        self, params: ItemParameters, items: list[int], categories: list[int], loglik: FloatArray
    ) -> None:
        """items, categories: (L,) lists; loglik: (q,) row at :data:`THETA_GRID`."""
        # Frozen like Evidence: set once here, never again.
        object.__setattr__(self, "params", params)
        object.__setattr__(self, "loglik", loglik[None, :])
        object.__setattr__(self, "_lists", (items, categories))

    @property
    def items(self) -> IntArray:
        return self._arrays()[0]

    @property
    def categories(self) -> IntArray:
        return self._arrays()[1]

    def _arrays(self) -> tuple[IntArray, IntArray]:
        arrays: tuple[IntArray, IntArray] | None = self.__dict__.get("_arrays_made")
        if arrays is None:
            items, categories = self.__dict__["_lists"]
            arrays = (
                np.array(items, dtype=np.int64).reshape(1, -1),
                np.array(categories, dtype=np.int64).reshape(1, -1),
            )
            object.__setattr__(self, "_arrays_made", arrays)
        return arrays


def _derivatives(
    ev: Evidence, theta: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Score S, information I, Warm's J = Σ P′P″/P and observed information −l″. Each (m,)."""
    valid = ev.items >= 0
    idx = np.where(valid, ev.items, 0)
    if np.all(ev.params.model[idx] <= _FOUR_PL):
        return _derivatives_dichotomous(ev, theta, idx, valid)
    p0 = gathered_probabilities(theta, ev.params, ev.items)
    pp = gathered_probabilities(theta + _H, ev.params, ev.items)
    pm = gathered_probabilities(theta - _H, ev.params, ev.items)
    d1 = (pp - pm) / (2 * _H)
    d2 = (pp - 2 * p0 + pm) / (_H * _H)
    live = (p0 > EPS) & (ev.items >= 0)[..., None]
    safe = np.where(live, p0, 1.0)
    info = np.sum(np.where(live, d1 * d1 / safe, 0.0), axis=(1, 2))
    warm_j = np.sum(np.where(live, d1 * d2 / safe, 0.0), axis=(1, 2))
    answered = ev.categories >= 0
    k_idx = np.where(answered, ev.categories, 0)[..., None]
    d1_x = np.take_along_axis(d1, k_idx, axis=2)[..., 0]
    d2_x = np.take_along_axis(d2, k_idx, axis=2)[..., 0]
    p_x = np.take_along_axis(safe, k_idx, axis=2)[..., 0]
    score = (np.where(answered, d1_x / p_x, 0.0)).sum(axis=1)
    observed = -np.sum(np.where(answered, d2_x / p_x - (d1_x / p_x) ** 2, 0.0), axis=1)
    return score, info, warm_j, observed


def _derivatives_dichotomous(
    ev: Evidence, theta: FloatArray, idx: IntArray, valid: NDArray[np.bool_]
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Closed forms for 4PL items: P = c + (d−c)L, P′ = a(d−c)L(1−L), P″ = P′·a(1−2L)."""
    prm = ev.params
    a, b, c, d = prm.a[idx], prm.b[idx], prm.c[idx], prm.d[idx]
    logistic = 1.0 / (1.0 + np.exp(-a * (theta[:, None] - b)))
    p = np.clip(c + (d - c) * logistic, EPS, 1.0 - EPS)
    d1 = a * (d - c) * logistic * (1.0 - logistic)
    d2 = d1 * a * (1.0 - 2.0 * logistic)
    pq = p * (1.0 - p)
    w = valid.astype(np.float64)
    info = (w * d1 * d1 / pq).sum(axis=1)
    warm_j = (w * d1 * d2 / pq).sum(axis=1)
    answered = ev.categories >= 0
    x = np.where(answered, ev.categories, 0)
    resid = np.where(answered, x - p, 0.0)
    score = (resid * d1 / pq).sum(axis=1)
    # −l″ = Σ P′²/PQ − (x − P)(P″·PQ − P′²(1 − 2P))/PQ² over answered items.
    curvature = (d2 * pq - d1 * d1 * (1.0 - 2.0 * p)) / (pq * pq)
    observed = (np.where(answered, d1 * d1 / pq, 0.0) - resid * curvature).sum(axis=1)
    return score, info, warm_j, observed


def _fisher_scoring(
    ev: Evidence,
    start: FloatArray,
    bounds: tuple[float, float],
    *,
    warm: bool = False,
    prior: tuple[float, float] | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Solve the (penalised) likelihood equation; returns (theta, information)."""
    lo, hi = bounds
    theta = np.clip(start.astype(np.float64), lo, hi)
    info = np.zeros_like(theta)
    for _ in range(40):
        score, info, warm_j, observed = _derivatives(ev, theta)
        if warm:
            # Warm's equation has no simple curvature: Fisher scoring.
            score = score + np.where(info > 0, warm_j / (2 * np.maximum(info, 1e-300)), 0.0)
            curv = info.copy()
        else:
            # Newton where the log-likelihood is concave, Fisher scoring elsewhere.
            curv = np.where(observed > 1e-8, observed, info)
        if prior is not None:
            mu, sd = prior
            score = score - (theta - mu) / sd**2
            curv = curv + 1.0 / sd**2
        step = np.clip(score / np.maximum(curv, 1e-12), -1.0, 1.0)
        new = np.clip(theta + step, lo, hi)
        done = np.max(np.abs(new - theta)) < 1e-10 if new.size else True
        theta = new
        if done:
            break
    _, info, _, _ = _derivatives(ev, theta)
    return theta, info


def _check_bounds(bounds: tuple[float, float]) -> tuple[float, float]:
    lo, hi = float(bounds[0]), float(bounds[1])
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"bounds must be two finite numbers, low < high; got {bounds!r}")
    return lo, hi


def _check_prior(mean: float, sd: float) -> tuple[float, float]:
    if not np.isfinite(mean):
        raise ValueError(f"prior_mean must be finite, got {mean!r}")
    if not (np.isfinite(sd) and sd > 0):
        raise ValueError(f"prior_sd must be a positive number, got {sd!r}")
    return float(mean), float(sd)


class MLE:
    """Maximum likelihood, bounded to ``bounds`` (logits)."""

    def __init__(self, bounds: tuple[float, float] = (-4.0, 4.0)) -> None:
        self.bounds = _check_bounds(bounds)

    def estimate(self, ev: Evidence) -> tuple[FloatArray, FloatArray]:
        start = THETA_GRID[np.argmax(ev.loglik, axis=1)]
        theta, info = _fisher_scoring(ev, start, self.bounds)
        none = ev.n_answered == 0
        theta = np.where(none, 0.0, theta)
        se = np.where(info > 0, 1.0 / np.sqrt(np.maximum(info, 1e-300)), np.inf)
        return theta, np.where(none, np.inf, se)


class WLE:
    """Warm's weighted likelihood: solves S(θ) + J(θ)/(2 I(θ)) = 0."""

    def __init__(self, bounds: tuple[float, float] = (-4.0, 4.0)) -> None:
        self.bounds = _check_bounds(bounds)

    def estimate(self, ev: Evidence) -> tuple[FloatArray, FloatArray]:
        start = THETA_GRID[np.argmax(ev.loglik, axis=1)]
        theta, info = _fisher_scoring(ev, np.clip(start, -3.0, 3.0), self.bounds, warm=True)
        none = ev.n_answered == 0
        theta = np.where(none, 0.0, theta)
        se = np.where(info > 0, 1.0 / np.sqrt(np.maximum(info, 1e-300)), np.inf)
        return theta, np.where(none, np.inf, se)


class MAP:
    """Posterior mode under a normal prior N(prior_mean, prior_sd²)."""

    def __init__(
        self,
        prior_mean: float = 0.0,
        prior_sd: float = 1.0,
        bounds: tuple[float, float] = (-6.0, 6.0),
    ) -> None:
        self.prior = _check_prior(prior_mean, prior_sd)
        self.bounds = _check_bounds(bounds)

    def estimate(self, ev: Evidence) -> tuple[FloatArray, FloatArray]:
        mu, sd = self.prior
        post = ev.loglik - 0.5 * ((THETA_GRID - mu) / sd) ** 2
        start = THETA_GRID[np.argmax(post, axis=1)]
        theta, info = _fisher_scoring(ev, start, self.bounds, prior=self.prior)
        return theta, 1.0 / np.sqrt(info + 1.0 / sd**2)


class EAP:
    """Posterior mean under a normal prior, on the 61-point grid."""

    def __init__(self, prior_mean: float = 0.0, prior_sd: float = 1.0) -> None:
        self.prior = _check_prior(prior_mean, prior_sd)
        self._log_prior = -0.5 * ((THETA_GRID - self.prior[0]) / self.prior[1]) ** 2

    def estimate(self, ev: Evidence) -> tuple[FloatArray, FloatArray]:
        # In place on one buffer: this runs on every live answer, where the
        # temporaries cost more than the arithmetic.
        if ev.loglik.shape[0] == 1:
            # One candidate: the same operations on a 1-D row (same results bit
            # for bit) without the keepdims reductions. Kept apart from
            # estimate_one, the live step's leaner copy, as the reference the
            # tests hold it to.
            v = ev.loglik[0] + self._log_prior
            v -= v.max()
            np.exp(v, out=v)
            v /= v.sum()
            mean1 = float(v @ THETA_GRID)
            var1 = float(v @ _THETA_GRID_SQ) - mean1 * mean1
            return np.array([mean1]), np.array([math.sqrt(max(var1, 0.0))])
        w = ev.loglik + self._log_prior
        w -= w.max(axis=1, keepdims=True)
        np.exp(w, out=w)
        w /= w.sum(axis=1, keepdims=True)
        mean = w @ THETA_GRID
        var = w @ _THETA_GRID_SQ
        var -= mean * mean
        np.maximum(var, 0.0, out=var)
        return mean, np.sqrt(var, out=var)

    def estimate_one(self, loglik: FloatArray) -> tuple[float, float]:
        """(θ̂, posterior SD) of one candidate from its (q,) log-likelihood row.

        The live step's estimate: the operations of :meth:`estimate` on a 1-D
        row (the same results bit for bit: max and sum are the same reductions,
        the dot products the same BLAS call) without the keepdims reductions,
        the (1,) result arrays or the ndarray methods' Python wrappers.
        """
        v = loglik + self._log_prior
        v -= _MAX(v)
        np.exp(v, out=v)
        v /= _SUM(v)
        mean1 = float(v.dot(THETA_GRID))
        var1 = float(v.dot(_THETA_GRID_SQ)) - mean1 * mean1
        return mean1, math.sqrt(max(var1, 0.0))


ESTIMATORS: dict[str, type[MLE] | type[MAP] | type[EAP] | type[WLE]] = {
    "mle": MLE,
    "map": MAP,
    "eap": EAP,
    "wle": WLE,
}
