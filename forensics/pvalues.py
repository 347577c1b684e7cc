"""Null distributions and multiple-testing control shared by every index.

* :func:`poisson_binomial_sf` — P(X ≥ x) for a sum of independent Bernoulli
  variables with unequal probabilities (exact, by convolution);
* :func:`bonferroni_min` — one p-value from several tests of one candidate
  (the smallest times their number, capped at 1);
* :func:`benjamini_hochberg` — q-values across candidates (Benjamini &
  Hochberg, 1995): flagging every candidate with q ≤ α keeps the expected
  share of honest candidates among those flagged at most α (independent or
  positively dependent tests).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


def poisson_binomial_sf(probs: FloatArray, observed: NDArray[np.int64]) -> FloatArray:
    """P(X ≥ observed) for X = Σ_k Bernoulli(probs[:, k]).

    probs: (m, K) with 0 in the unused columns (a Bernoulli(0) adds nothing);
    observed: (m,). Returns (m,). The loop runs over K (the longest list,
    e.g. a candidate's answer changes), vectorised over the m rows.
    """
    p = np.asarray(probs, dtype=np.float64)
    m, k = p.shape
    pmf = np.zeros((m, k + 1))
    pmf[:, 0] = 1.0
    for j in range(k):
        pj = p[:, j : j + 1]
        shifted = np.zeros_like(pmf)
        shifted[:, 1:] = pmf[:, :-1] * pj
        pmf = pmf * (1.0 - pj) + shifted
    obs = np.clip(np.asarray(observed, dtype=np.int64), 0, k + 1)
    cdf_tail = np.cumsum(pmf[:, ::-1], axis=1)[:, ::-1]  # [:, x] = P(X ≥ x)
    padded = np.concatenate([cdf_tail, np.zeros((m, 1))], axis=1)
    return np.asarray(np.clip(padded[np.arange(m), obs], 0.0, 1.0))


def bonferroni_min(pvalues: FloatArray) -> FloatArray:
    """(m,) from (m, k): min over the finite p-values × their count, capped at 1 (NaN: none)."""
    p = np.asarray(pvalues, dtype=np.float64)
    count = np.sum(np.isfinite(p), axis=1)
    low = np.min(np.where(np.isfinite(p), p, 1.0), axis=1)
    out = np.minimum(low * count, 1.0)
    return np.asarray(np.where(count > 0, out, np.nan))


def benjamini_hochberg(pvalues: FloatArray) -> FloatArray:
    """(m,) Benjamini–Hochberg adjusted p-values (q-values); NaN stays NaN.

    Flag the candidates with q ≤ α for a false-discovery rate of α among
    those flagged (the step-up rule, as adjusted p-values).
    """
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if ok.size == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    ranked = p[order] * ok.size / np.arange(1, ok.size + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out[order] = np.minimum(q, 1.0)
    return out
