"""Item fit: the S-X² statistic of Orlando & Thissen (2000, 2003).

Persons are grouped by their summed score ``s``. For item ``j`` the observed
proportion in category ``k`` within score group ``s`` is compared with the
model's expectation

    E_jks = ∫ P_jk(θ) f*_{s−k}^{(−j)}(θ) φ(θ) dθ / ∫ f*_s(θ) φ(θ) dθ,

where ``f*_s`` is the probability of summed score ``s`` given θ (Lord &
Wingersky's recursion over all items) and ``f*^{(−j)}`` the same without item
``j``. Then ``S-X² = Σ_s N_s Σ_k (O_jks − E_jks)² / E_jks``; adjacent score
groups are pooled from the tails inward until every expected cell count is at
least ``min_expected`` (mirt's ``mincell = 1``), and
``df = (groups) × (K_j − 1) − (free parameters of item j)``. The extreme
scores (0 and the maximum) carry no information and are left out. The
polytomous form is Kang & Chen's (2008) generalisation.

S-X² needs complete data (every person answered every item); persons with a
not-presented item are left out, and for sparse adaptive data the statistic
is not defined (NaN).

The leave-one-item-out score distributions come from prefix and suffix
recursions combined by FFT convolution along the score axis, for all items
and nodes at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cat_engine.irt import ItemParameters, Model, category_probabilities

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class ItemFit:
    """S-X² per item, each (n_items,): statistic, degrees of freedom, p-value."""

    s_x2: FloatArray
    df: FloatArray
    p_value: FloatArray
    n_persons: int


def _free_params(params: ItemParameters) -> NDArray[np.int64]:
    m = params.model
    k = params.n_categories
    out = np.where(m == Model.ONE_PL, 1, 0)
    out = np.where(m == Model.TWO_PL, 2, out)
    out = np.where(m == Model.THREE_PL, 3, out)
    out = np.where(m == Model.FOUR_PL, 4, out)
    return np.asarray(np.where(m >= Model.GRM, k, out), dtype=np.int64)


def s_x2(
    params: ItemParameters,
    responses: ArrayLike,
    weights: ArrayLike | None = None,
    *,
    n_quad: int = 61,
    min_expected: float = 1.0,
    latent_mean: float = 0.0,
    latent_sd: float = 1.0,
) -> ItemFit:
    """S-X² item fit. responses: (n_persons, n_items) categories, negative/NaN
    = not presented (such persons are dropped). Returns :class:`ItemFit`."""
    x = np.asarray(responses, dtype=np.float64)
    n_items = params.n_items
    if x.ndim != 2 or x.shape[1] != n_items:
        raise ValueError(f"responses must be (n_persons, {n_items})")
    w = np.ones(x.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    complete = np.all(np.isfinite(x) & (x >= 0), axis=1)
    nan = np.full(n_items, np.nan)
    if complete.sum() < 10:
        return ItemFit(nan, nan, nan, int(complete.sum()))
    xi = x[complete].astype(np.int64)
    w = w[complete]
    kmax = params.max_categories
    ncat = params.n_categories
    smax = int((ncat - 1).sum())
    theta = np.linspace(-6.0, 6.0, n_quad)
    phi = np.exp(-0.5 * ((theta - latent_mean) / latent_sd) ** 2)
    phi /= phi.sum()
    p = category_probabilities(theta, params)  # (Q, J, K)

    # Lord–Wingersky prefix/suffix distributions: pre[j] over items < j
    width = smax + 1
    pre = np.zeros((n_items + 1, n_quad, width))
    pre[0, :, 0] = 1.0
    for j in range(n_items):  # a recursion: each step needs the previous one
        nxt = np.zeros((n_quad, width))
        for k in range(int(ncat[j])):
            nxt[:, k:] += pre[j, :, : width - k] * p[:, j, k : k + 1]
        pre[j + 1] = nxt
    suf = np.zeros((n_items + 1, n_quad, width))
    suf[n_items, :, 0] = 1.0
    for j in range(n_items - 1, -1, -1):
        nxt = np.zeros((n_quad, width))
        for k in range(int(ncat[j])):
            nxt[:, k:] += suf[j + 1, :, : width - k] * p[:, j, k : k + 1]
        suf[j] = nxt
    nfft = 1 << int(np.ceil(np.log2(2 * width)))
    loo = np.fft.irfft(
        np.fft.rfft(pre[:-1], nfft, axis=2) * np.fft.rfft(suf[1:], nfft, axis=2), nfft, axis=2
    )[:, :, :width]
    loo = np.maximum(loo, 0.0)  # (J, Q, S+1): score distribution without item j
    full = pre[n_items]  # (Q, S+1)
    denom = phi @ full  # (S+1,) marginal P(score = s)

    # expected E[j, s, k] = Σ_q φ P_jk(θ) loo_j(s − k) / denom(s)
    expected = np.zeros((n_items, width, kmax))
    for k in range(kmax):
        shifted = np.zeros_like(loo)
        shifted[:, :, k:] = loo[:, :, : width - k]
        expected[:, :, k] = np.einsum("q,qj,jqs->js", phi, p[:, :, k], shifted)
    expected /= np.maximum(denom, 1e-300)[None, :, None]

    score = xi.sum(axis=1)
    n_s = np.bincount(score, weights=w, minlength=width)
    observed = np.zeros((n_items, width, kmax))
    for k in range(kmax):
        observed[:, :, k] = np.stack(
            [
                np.bincount(score, weights=w * (xi[:, j] == k), minlength=width)
                for j in range(n_items)
            ]
        )
    npar = _free_params(params)
    stat = np.full(n_items, np.nan)
    dfs = np.full(n_items, np.nan)
    pval = np.full(n_items, np.nan)
    # The pooling of score groups is data-dependent per item: plain Python floats
    # over (items × scores × categories), as NumPy calls on arrays of 2–5
    # values cost more than the arithmetic (this runs on every calibration).
    cells = expected * n_s[None, :, None]  # expected counts
    used = [s for s in range(1, smax) if n_s[s] > 0]
    for j in range(n_items):
        kj = int(ncat[j])
        obs_j = observed[j, :, :kj].tolist()
        exp_j = cells[j, :, :kj].tolist()
        groups: list[tuple[list[float], list[float]]] = []
        acc_o, acc_e = [0.0] * kj, [0.0] * kj
        pending = False
        for s in used:
            acc_o = [a + b for a, b in zip(acc_o, obs_j[s], strict=True)]
            acc_e = [a + b for a, b in zip(acc_e, exp_j[s], strict=True)]
            pending = True
            if min(acc_e) >= min_expected:
                groups.append((acc_o, acc_e))
                acc_o, acc_e = [0.0] * kj, [0.0] * kj
                pending = False
        if pending:
            if groups:
                go, ge = groups.pop()
                groups.append(
                    (
                        [a + b for a, b in zip(go, acc_o, strict=True)],
                        [a + b for a, b in zip(ge, acc_e, strict=True)],
                    )
                )
            else:
                groups.append((acc_o, acc_e))
        chi = sum(
            (o - e) ** 2 / max(e, 1e-12) for go, ge in groups for o, e in zip(go, ge, strict=True)
        )
        df = len(groups) * (kj - 1) - int(npar[j])
        if df > 0:
            stat[j], dfs[j], pval[j] = chi, df, chi2_sf(chi, df)
    return ItemFit(stat, dfs, pval, int(complete.sum()))


def chi2_sf(x: float, df: int) -> float:
    """P(χ²_df > x) for a whole number of degrees of freedom ≥ 1.

    The closed forms of the regularised upper incomplete gamma Q(df/2, x/2)
    (Abramowitz & Stegun 26.4.4–26.4.5): for even df Σ_{i<df/2} e^{−h} h^i / i!,
    for odd df erfc(√h) + Σ_{i<(df−1)/2} e^{−h} h^{i+1/2} / Γ(i + 3/2), h = x/2,
    each term taken from its logarithm (no underflow of e^{−h} for large x).
    Standard library only: scipy.special's import (0.1–0.2 s) was a tenth of a
    whole ``seleksi calibrate`` (issue 17). Tested against scipy.special.chdtrc.
    """
    if df < 1 or df != int(df):
        raise ValueError(f"df must be a whole number ≥ 1, got {df!r}")
    if x <= 0:
        return 1.0
    h = 0.5 * x
    log_h = math.log(h)
    if df % 2 == 0:
        terms = [math.exp(-h + i * log_h - math.lgamma(i + 1)) for i in range(df // 2)]
        return min(math.fsum(terms), 1.0)
    terms = [math.exp(-h + (i + 0.5) * log_h - math.lgamma(i + 1.5)) for i in range((df - 1) // 2)]
    return min(math.erfc(math.sqrt(h)) + math.fsum(terms), 1.0)
