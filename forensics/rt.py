"""The lognormal response-time model (van der Linden, 2006) and its indices.

A candidate of speed τ answers item j in T seconds with
``ln T ~ N(β_j − τ, 1/α_j²)``: β_j is the item's time intensity, α_j its
time discrimination (1 / the sd of log seconds), calibrated from stored
times by ``calibration.rt``. Given α and β:

* speed: ``τ̂ = Σ α_j² (β_j − ln t_j) / Σ α_j²`` with ``SE = 1/sqrt(Σ α_j²)``
  (the maximum-likelihood estimate);
* standardised residual: ``z_j = α_j (ln t_j − (β_j − τ̂))``; under the model
  about N(0, 1), negative = faster than this candidate's speed predicts;
* person fit of the times (van der Linden & Guo, 2008):
  ``l_t = Σ z_j² ~ χ²(n − 1)``, here with one speed per subtest
  (``χ²(n − S)``), as a candidate's pace differs a little between subtests;
* fast on what was right: under the model's conditional independence of
  time and correctness given (θ, τ), the residuals of right and wrong answers
  have the same mean; ``Z = (z̄_wrong − z̄_right) / sqrt(1/n_right + 1/n_wrong)``
  is about N(0, 1); large Z = right answers much faster than wrong ones,
  the mark of knowing some answers beforehand.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import stats

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


def speed(
    log_seconds: FloatArray, alpha: FloatArray, beta: FloatArray, mask: BoolArray | None = None
) -> tuple[FloatArray, FloatArray]:
    """τ̂ and its SE per candidate. log_seconds: (m, n) NaN = none; alpha, beta: (n,);
    mask: (n,) or (m, n) items to use. Returns ``(tau, se)`` (m,), NaN with no times."""
    ok = np.isfinite(log_seconds)
    if mask is not None:
        ok = ok & np.broadcast_to(mask, ok.shape)
    w = np.where(ok, alpha[None, :] ** 2, 0.0)
    resid = np.where(ok, beta[None, :] - np.where(ok, log_seconds, 0.0), 0.0)
    total = w.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        tau = np.where(total > 0, (w * resid).sum(axis=1) / total, np.nan)
        se = np.where(total > 0, 1.0 / np.sqrt(total), np.nan)
    return np.asarray(tau), np.asarray(se)


def residuals(
    log_seconds: FloatArray, tau: FloatArray, alpha: FloatArray, beta: FloatArray
) -> FloatArray:
    """(m, n) ``α_j (ln t_ij − (β_j − τ_i))``; NaN where there is no time."""
    return np.asarray(alpha[None, :] * (log_seconds - (beta[None, :] - tau[:, None])))


def section_residuals(
    log_seconds: FloatArray, alpha: FloatArray, beta: FloatArray, section: NDArray[np.int64]
) -> tuple[FloatArray, NDArray[np.int64]]:
    """Residuals with one speed per section (a candidate may work each subtest
    at a slightly different pace). Returns z (m, n) and the number of speeds
    estimated per candidate (m,), for the degrees of freedom of ``l_t``."""
    z = np.full(log_seconds.shape, np.nan)
    fitted = np.zeros(log_seconds.shape[0], dtype=np.int64)
    for s in np.unique(section):  # a handful of sections, vectorised over candidates
        inside = section == s
        tau, _ = speed(log_seconds, alpha, beta, inside)
        zs = residuals(log_seconds, tau, alpha, beta)
        z[:, inside] = zs[:, inside]
        fitted += np.isfinite(tau)
    return z, fitted


def lt_person_fit(
    z: FloatArray, fitted: NDArray[np.int64] | int = 1
) -> tuple[FloatArray, FloatArray]:
    """``l_t = Σ z²`` and its upper-tail p-value under χ²(n − fitted), per candidate (m,).

    fitted: the speeds estimated from these residuals (1, or one per section)."""
    ok = np.isfinite(z)
    df = ok.sum(axis=1) - np.asarray(fitted)
    stat = np.where(ok, z, 0.0) ** 2
    lt = stat.sum(axis=1)
    p = np.where(df >= 1, stats.chi2.sf(lt, np.maximum(df, 1)), np.nan)
    return np.asarray(lt), np.asarray(p)


def fast_when_right(z: FloatArray, correct: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The fast-on-right index Z and its one-sided p-value, per candidate (m,).

    z: (m, n) residuals; correct: (m, n) 1/0, NaN = not a right/wrong item.
    NaN where a candidate has fewer than 3 timed right or 3 timed wrong answers.
    """
    ok = np.isfinite(z) & np.isfinite(correct)
    right = ok & (correct == 1)
    wrong = ok & (correct == 0)
    n_r, n_w = right.sum(axis=1), wrong.sum(axis=1)
    zz = np.where(ok, z, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        diff = (zz * wrong).sum(axis=1) / n_w - (zz * right).sum(axis=1) / n_r
        stat = diff / np.sqrt(1.0 / n_r + 1.0 / n_w)
    enough = (n_r >= 3) & (n_w >= 3)
    stat = np.where(enough, stat, np.nan)
    return np.asarray(stat), np.asarray(np.where(enough, stats.norm.sf(stat), np.nan))
