"""The lz* person-fit statistic (Snijders, 2001) for dichotomous IRT items.

Pure numerics (numpy only): no web, no database. The live alert
(``exam_server.proctoring.detectors``, through the re-export in
``exam_server.proctoring.personfit``) and the session report
(:mod:`forensics.session`) both call these functions.

For a response pattern ``x`` (1 right, 0 wrong) to items with
``P_i = P(X_i = 1 | θ)`` the standardised log-likelihood of Drasgow, Levine &
Williams (1985) is ``lz = Σ (x_i − P_i) w_i / sqrt(Σ P_i Q_i w_i²)`` with
``w_i = log(P_i / Q_i)``. With θ replaced by an estimate ``θ̂`` lz is no longer
standard normal under the model (its variance shrinks). Snijders (2001)
corrects the numerator and the variance for an estimator that solves
``Σ r_i(θ) (x_i − P_i(θ)) + r_0(θ) = 0``::

    c_n  = Σ P_i' w_i / Σ P_i' r_i
    w̃_i  = w_i − c_n r_i
    lz*  = (Σ (x_i − P_i) w_i + c_n r_0) / sqrt(Σ w̃_i² P_i Q_i)

evaluated at ``θ̂``. Here θ̂ is the MAP estimate under a N(0, σ²) prior, which
stays finite for all-right and all-wrong patterns: ``r_i = P_i' / (P_i Q_i)``
and ``r_0 = −θ / σ²``. Large negative lz* means a pattern less likely than
the model expects (e.g. hard items right and easy items wrong: copying from a
leaked key, or guessing on the easy part).

References: Snijders (2001), Psychometrika 66(3), 331–342; Magis, Raîche &
Béland (2012), Applied Psychological Measurement 36(5), 354–368.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]

# P is kept inside (EPS, 1 − EPS) so that logits and divisions stay finite.
EPS = 1e-9
THETA_BOUND = 6.0


def _prob_and_slope(
    theta: FloatArray, a: FloatArray, b: FloatArray, c: FloatArray, d: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """P and dP/dθ of 4PL items. theta: (p,); items (n,). Returns two (p, n)."""
    logistic = 1.0 / (1.0 + np.exp(-a * (theta[:, None] - b)))
    p = c + (d - c) * logistic
    slope = a * (d - c) * logistic * (1.0 - logistic)
    return np.clip(p, EPS, 1.0 - EPS), slope


def map_theta(
    responses: ArrayLike,
    a: ArrayLike,
    b: ArrayLike,
    c: ArrayLike | None = None,
    d: ArrayLike | None = None,
    *,
    prior_sd: float = 1.0,
    iterations: int = 30,
    theta0: ArrayLike | None = None,
) -> FloatArray:
    """MAP ability under a N(0, prior_sd²) prior, by Fisher scoring.

    responses: (p, n) or (n,) with 1 right, 0 wrong, anything negative or NaN
    = not answered (ignored); a, b, c, d: (n,) 4PL parameters; theta0: (p,)
    starting values (a live check passes the previous estimate, which is
    usually within a few hundredths, so one or two steps suffice). Returns
    (p,) (or a 1-element array for one pattern), clipped to ±6.
    """
    x, mask, a_, b_, c_, d_ = _prepare(responses, a, b, c, d)
    return _map_theta(x, mask, a_, b_, c_, d_, prior_sd, iterations, theta0)


def _map_theta(
    x: FloatArray,
    mask: FloatArray,
    a_: FloatArray,
    b_: FloatArray,
    c_: FloatArray,
    d_: FloatArray,
    prior_sd: float,
    iterations: int,
    theta0: ArrayLike | None,
) -> FloatArray:
    if theta0 is None:
        theta = np.zeros(x.shape[0])
    else:
        theta = np.broadcast_to(np.asarray(theta0, dtype=np.float64), (x.shape[0],)).copy()
    for _ in range(iterations):
        p, slope = _prob_and_slope(theta, a_, b_, c_, d_)
        r = slope / (p * (1.0 - p))
        grad = np.sum(mask * r * (x - p), axis=1) - theta / prior_sd**2
        info = np.sum(mask * r * slope, axis=1) + 1.0 / prior_sd**2
        step = grad / info
        theta = np.clip(theta + step, -THETA_BOUND, THETA_BOUND)
        # 1e-5 on θ is far below any estimate's standard error (≥ 0.2).
        if np.max(np.abs(step)) < 1e-5:
            break
    return theta


def lz_star(
    responses: ArrayLike,
    a: ArrayLike,
    b: ArrayLike,
    c: ArrayLike | None = None,
    d: ArrayLike | None = None,
    *,
    prior_sd: float = 1.0,
    theta0: ArrayLike | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Snijders' lz* of each pattern, with θ̂ its MAP estimate (started at ``theta0``).

    responses: (p, n) or (n,) of 1/0, negative or NaN = not answered;
    a, b, c, d: (n,) 4PL parameters (c defaults to 0, d to 1).
    Returns ``(lz_star, theta_hat)``, both (p,). lz* is NaN for a pattern
    with fewer than two answered items or no variance (nothing to judge).
    Under the model lz* is approximately N(0, 1); low values flag misfit.
    """
    x, mask, a_, b_, c_, d_ = _prepare(responses, a, b, c, d)
    theta = _map_theta(x, mask, a_, b_, c_, d_, prior_sd, 30, theta0)
    p, slope = _prob_and_slope(theta, a_, b_, c_, d_)
    q = 1.0 - p
    w = np.log(p / q)
    r = slope / (p * q)
    r0 = -theta / prior_sd**2
    c_n = np.sum(mask * slope * w, axis=1) / np.sum(mask * slope * r, axis=1)
    w_tilde = w - c_n[:, None] * r
    numerator = np.sum(mask * (x - p) * w, axis=1) + c_n * r0
    variance = np.sum(mask * w_tilde**2 * p * q, axis=1)
    n_answered = mask.sum(axis=1)
    ok = (n_answered >= 2) & (variance > 1e-12)
    out = np.full(x.shape[0], np.nan)
    out[ok] = numerator[ok] / np.sqrt(variance[ok])
    return out, theta


def _prepare(
    responses: ArrayLike,
    a: ArrayLike,
    b: ArrayLike,
    c: ArrayLike | None,
    d: ArrayLike | None,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    raw = np.atleast_2d(np.asarray(responses, dtype=np.float64))
    b_ = np.atleast_1d(np.asarray(b, dtype=np.float64))
    n = b_.shape[0]
    if raw.shape[1] != n:
        raise ValueError(f"responses have {raw.shape[1]} items but parameters have {n}")
    a_ = np.broadcast_to(np.asarray(a, dtype=np.float64), (n,))
    c_ = np.zeros(n) if c is None else np.broadcast_to(np.asarray(c, dtype=np.float64), (n,))
    d_ = np.ones(n) if d is None else np.broadcast_to(np.asarray(d, dtype=np.float64), (n,))
    answered = np.isfinite(raw) & (raw >= 0)
    bad = answered & (raw != 0) & (raw != 1)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(f"responses[{row}, {col}] = {raw[row, col]}; expected 0, 1 or blank")
    mask = answered.astype(np.float64)
    x = np.where(answered, raw, 0.0)
    return x, mask, a_, b_, c_, d_


def lz_star_one(
    x: FloatArray,
    a: FloatArray,
    b: FloatArray,
    c: FloatArray,
    d: FloatArray,
    *,
    prior_sd: float = 1.0,
    theta0: float = 0.0,
) -> tuple[float, float]:
    """:func:`lz_star` of one fully answered pattern, for a live check per answer.

    x: (n,) 1 right / 0 wrong (no blanks: the caller keeps only answered
    items); a, b, c, d: (n,) float64 4PL parameters; theta0: the previous
    estimate. Returns ``(lz*, θ̂)`` with the same equations and stopping rule
    as :func:`lz_star`, on 1-D arrays with no input checks or masks (about a
    third of the numpy calls: this runs on every answer of every candidate).
    """
    n = x.shape[0]
    prior_var = prior_sd**2
    theta = float(theta0)
    for _ in range(30):
        logistic = 1.0 / (1.0 + np.exp(-a * (theta - b)))
        p = np.clip(c + (d - c) * logistic, EPS, 1.0 - EPS)
        slope = a * (d - c) * logistic * (1.0 - logistic)
        r = slope / (p * (1.0 - p))
        grad = float(r @ (x - p)) - theta / prior_var
        info = float(r @ slope) + 1.0 / prior_var
        step = grad / info
        theta = min(THETA_BOUND, max(-THETA_BOUND, theta + step))
        if abs(step) < 1e-5:
            break
    logistic = 1.0 / (1.0 + np.exp(-a * (theta - b)))
    p = np.clip(c + (d - c) * logistic, EPS, 1.0 - EPS)
    slope = a * (d - c) * logistic * (1.0 - logistic)
    q = 1.0 - p
    pq = p * q
    w = np.log(p / q)
    r = slope / pq
    c_n = float(slope @ w) / float(slope @ r)
    w_tilde = w - c_n * r
    numerator = float((x - p) @ w) - c_n * theta / prior_var
    variance = float((w_tilde * w_tilde) @ pq)
    if n < 2 or not variance > 1e-12:
        return float("nan"), theta
    return numerator / math.sqrt(variance), theta
