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

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

# scipy.special, not scipy.stats: importing scipy.stats costs ~1.5 s of docstring
# parsing, more than the whole fit of 20,000 × 100 (issue 17)
from scipy import special

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
    for j in range(n_items):  # the pooling of score groups is data-dependent per item
        kj = int(ncat[j])
        groups: list[tuple[float, FloatArray, FloatArray]] = []
        acc_n, acc_o, acc_e = 0.0, np.zeros(kj), np.zeros(kj)
        for s in range(1, smax):
            if n_s[s] <= 0:
                continue
            acc_n += n_s[s]
            acc_o += observed[j, s, :kj]
            acc_e += expected[j, s, :kj] * n_s[s]
            if acc_e.min() >= min_expected:
                groups.append((acc_n, acc_o, acc_e))
                acc_n, acc_o, acc_e = 0.0, np.zeros(kj), np.zeros(kj)
        if acc_n > 0:
            if groups:
                gn, go, ge = groups.pop()
                groups.append((gn + acc_n, go + acc_o, ge + acc_e))
            else:
                groups.append((acc_n, acc_o, acc_e))
        chi = sum(float(np.sum((o - e) ** 2 / np.maximum(e, 1e-12))) for _, o, e in groups)
        df = len(groups) * (kj - 1) - int(npar[j])
        if df > 0:
            stat[j], dfs[j] = chi, df
    with np.errstate(invalid="ignore"):
        pval = np.where(np.isfinite(stat), special.chdtrc(np.maximum(dfs, 1), stat), np.nan)
    return ItemFit(stat, dfs, pval, int(complete.sum()))
