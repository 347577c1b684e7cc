"""Differential item functioning: Mantel–Haenszel with the ETS A/B/C classes.

For each dichotomous item the candidates who answered it are matched on
their total score (number right over all items, the item included, as
Holland & Thayer 1988 recommend) and, within each score stratum ``k``, a 2×2
table is formed: reference/focal group × right/wrong (A_k, B_k / C_k, D_k,
total T_k). Then

* common odds ratio ``α_MH = Σ A_k D_k / T_k ÷ Σ B_k C_k / T_k``;
* ``MH D-DIF = −2.35 ln α_MH`` (ETS delta metric; negative = the item is
  harder for the focal group at equal total score);
* its SE from the Robins–Breslow–Greenland variance of ``ln α_MH``;
* the continuity-corrected MH χ² (1 df).

ETS classes (Zwick 2012, ETS RR-12-08):

* **A** (negligible): |D-DIF| < 1 or χ² not significant at 5 %;
* **C** (large): |D-DIF| ≥ 1.5 and |D-DIF| significantly greater than 1
  (one-sided 5 %: (|D| − 1) / SE > 1.645);
* **B** (moderate): otherwise.

A class gets a sign: ``C-`` favours the reference group, ``C+`` the focal.
Polytomous items get NaN (use the standardised mean difference instead; not
implemented here).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

# scipy.special, not scipy.stats: importing scipy.stats costs ~1.5 s of docstring
# parsing, more than the whole fit of 20,000 × 100 (issue 17)
from scipy import special

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class DifResult:
    """Per item (n_items,): odds ratio, D-DIF, its SE, χ², p-value, ETS class."""

    alpha: FloatArray
    delta: FloatArray
    se_delta: FloatArray
    chi2: FloatArray
    p_value: FloatArray
    ets_class: list[str]


def mantel_haenszel(
    responses: ArrayLike, focal: ArrayLike, weights: ArrayLike | None = None
) -> DifResult:
    """MH DIF for every item.

    responses: (n_persons, n_items) 0/1, negative/NaN = not presented (other
    categories mark an item polytomous → NaN); focal: (n_persons,) True for
    the focal group, False for the reference group (None/NaN rows are
    excluded by passing a float array with NaN).
    """
    x = np.asarray(responses, dtype=np.float64)
    g = np.asarray(focal, dtype=np.float64)
    if x.ndim != 2 or g.shape != (x.shape[0],):
        raise ValueError("responses must be (n_persons, n_items) and focal (n_persons,)")
    w = np.ones(x.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    keep = np.isfinite(g)
    x, w = x[keep], w[keep]
    is_focal = g[keep].astype(bool)
    j = x.shape[1]
    present = np.isfinite(x) & (x >= 0)
    poly = np.any(present & (x > 1), axis=0)
    right = np.where(present, x, 0.0) == 1
    total = right.sum(axis=1)
    ns = j + 1
    rows, cols = np.nonzero(present)
    stratum = cols * ns + total[rows]
    ww = w[rows]
    r = right[rows, cols]
    f = is_focal[rows]

    def cell(mask: NDArray[np.bool_]) -> FloatArray:
        out = np.bincount(stratum, weights=ww * mask, minlength=j * ns)
        return np.asarray(out, dtype=np.float64).reshape(j, ns)

    a = cell(~f & r)  # reference right
    b = cell(~f & ~r)  # reference wrong
    c = cell(f & r)  # focal right
    d = cell(f & ~r)  # focal wrong
    t = a + b + c + d
    ok = (a + b > 0) & (c + d > 0) & (t > 1)
    ts = np.where(ok, t, 1.0)
    rk = np.where(ok, a * d / ts, 0.0)
    sk = np.where(ok, b * c / ts, 0.0)
    pk = np.where(ok, (a + d) / ts, 0.0)
    qk = np.where(ok, (b + c) / ts, 0.0)
    rsum, ssum = rk.sum(axis=1), sk.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = rsum / ssum
        var_ln = (
            (pk * rk).sum(axis=1) / (2 * rsum**2)
            + (pk * sk + qk * rk).sum(axis=1) / (2 * rsum * ssum)
            + (qk * sk).sum(axis=1) / (2 * ssum**2)
        )
        delta = -2.35 * np.log(alpha)
        se = 2.35 * np.sqrt(var_ln)
        n_ref, n_foc = a + b, c + d
        m1, m0 = a + c, b + d
        ea = np.where(ok, n_ref * m1 / ts, 0.0)
        va = np.where(ok, n_ref * n_foc * m1 * m0 / (ts**2 * (ts - 1)), 0.0)
        chi2 = (np.abs(np.where(ok, a, 0).sum(axis=1) - ea.sum(axis=1)) - 0.5) ** 2 / va.sum(axis=1)
    pval = special.chdtrc(1, chi2)
    bad = poly | ~np.isfinite(delta) | ~np.isfinite(se)
    for arr in (alpha, delta, se, chi2, pval):
        arr[bad] = np.nan
    classes = []
    for dl, s, p in zip(delta, se, pval, strict=True):
        if not np.isfinite(dl):
            classes.append("")
            continue
        sign = "-" if dl < 0 else "+"
        if abs(dl) < 1.0 or p >= 0.05:
            classes.append("A")
        elif abs(dl) >= 1.5 and (abs(dl) - 1.0) / s > 1.645:
            classes.append("C" + sign)
        else:
            classes.append("B" + sign)
    return DifResult(alpha, delta, se, chi2, pval, classes)
