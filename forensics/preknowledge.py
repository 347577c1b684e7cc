"""Preknowledge of a suspected compromised item set.

Given the set C (the others are U), for each candidate who had items of both:

* the signed likelihood ratio (Sinharay, 2017, Journal of Educational and
  Behavioral Statistics 42(1), 46–68): with θ̂ the maximum-likelihood
  estimates from C, from U and from all items,
  ``LR = 2 [ℓ_C(θ̂_C) + ℓ_U(θ̂_U) − ℓ(θ̂)]`` and
  ``L_s = sign(θ̂_C − θ̂_U) sqrt(LR)``, about N(0, 1) for an honest candidate;
  large = much better on the compromised items than on the rest;
* the same question asked of the times: ``Z_τ = (τ̂_C − τ̂_U) /
  sqrt(SE_C² + SE_U²)`` (:mod:`forensics.rt`), large = faster on C;
* both together by Fisher's method, ``−2 (ln p_score + ln p_time) ~ χ²(4)``:
  score and time are independent given (θ, τ) under the hierarchical model
  (van der Linden, 2007).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from forensics.ability import estimate, grid_log_likelihood, max_log_likelihood
from forensics.data import SessionData
from forensics.rt import speed

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


def signed_lr(data: SessionData, compromised: BoolArray) -> tuple[FloatArray, FloatArray]:
    """``(L_s, p)`` per candidate (m,), p one-sided; NaN without items in both parts."""
    c = np.asarray(compromised, dtype=bool)
    ll_c = grid_log_likelihood(data, c)
    ll_u = grid_log_likelihood(data, ~c)
    ll_all = ll_c + ll_u
    th_c, _ = estimate(ll_c)
    th_u, _ = estimate(ll_u)
    lr = 2.0 * (max_log_likelihood(ll_c) + max_log_likelihood(ll_u) - max_log_likelihood(ll_all))
    ls = np.sign(th_c - th_u) * np.sqrt(np.maximum(lr, 0.0))
    has = data.answered
    ok = (has & c[None, :]).any(axis=1) & (has & ~c[None, :]).any(axis=1)
    ls = np.where(ok, ls, np.nan)
    return np.asarray(ls), np.asarray(np.where(ok, stats.norm.sf(ls), np.nan))


def speed_shift(data: SessionData, compromised: BoolArray) -> tuple[FloatArray, FloatArray]:
    """``(Z_τ, p)`` per candidate (m,): faster on the compromised items than on the rest."""
    c = np.asarray(compromised, dtype=bool)
    lt, items = data.log_seconds, data.items
    tau_c, se_c = speed(lt, items.alpha, items.beta, c)
    tau_u, se_u = speed(lt, items.alpha, items.beta, ~c)
    z = (tau_c - tau_u) / np.sqrt(se_c**2 + se_u**2)
    return np.asarray(z), np.asarray(np.where(np.isfinite(z), stats.norm.sf(z), np.nan))


def combined(p_score: FloatArray, p_time: FloatArray) -> FloatArray:
    """Fisher's combination of the two one-sided p-values (either alone where the other is NaN)."""
    both = np.isfinite(p_score) & np.isfinite(p_time)
    tiny = 1e-300
    chi = -2.0 * (np.log(np.maximum(p_score, tiny)) + np.log(np.maximum(p_time, tiny)))
    p = np.where(both, stats.chi2.sf(np.where(both, chi, 0.0), 4), np.nan)
    p = np.where(~both & np.isfinite(p_score), p_score, p)
    p = np.where(~both & np.isfinite(p_time), p_time, p)
    return np.asarray(p)
