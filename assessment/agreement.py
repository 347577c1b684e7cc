"""Agreement between assessors: intraclass correlations and Krippendorff's alpha.

Both take the scores of one panel on one component as a matrix
``scores: (n_candidates, n_assessors)`` of points (``nan`` where an assessor
did not score a candidate, e.g. after recusal).

* :func:`icc` — two-way ICCs in McGraw & Wong's (1996) notation: absolute
  agreement ``ICC(A,1)``/``ICC(A,k)`` (two-way random: assessors are a sample
  of possible assessors, and their severity counts as disagreement) and
  consistency ``ICC(C,1)``/``ICC(C,k)`` (two-way mixed: only the ordering of
  candidates counts), each for a single assessor and for the mean of ``k``,
  with the F-based 95 % intervals of McGraw & Wong. Candidates without every
  assessor's score are left out (listwise), as the ANOVA needs a full table.
* :func:`icc_oneway` — the one-way ICCs ``ICC(1)``/``ICC(k)`` (Shrout &
  Fleiss 1979, case 1; McGraw & Wong 1996, case 1) for scores where each
  candidate has their own assessors: a component's candidates across its
  panels. The rows are each candidate's scores, in no particular order.
* :func:`krippendorff_alpha_ordinal` — Krippendorff's alpha with the ordinal
  distance, which uses every pairable value (missing scores allowed), with a
  percentile bootstrap interval over candidates (fixed seed: the same data
  give the same interval).

The tests check them against maintained implementations (pingouin and the
``krippendorff`` package) to 1e-6.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.stats import f as f_dist

FloatArray = npt.NDArray[np.float64]


class AgreementError(ValueError):
    """The scores cannot give the statistic (too few candidates, assessors or values)."""


@dataclass(frozen=True)
class Estimate:
    """A statistic with its 95 % confidence interval (``low``, ``high``)."""

    value: float
    low: float
    high: float

    def as_dict(self) -> dict[str, float | None]:
        """JSON-ready: an undefined bound (``nan``) is ``None``."""
        return {
            k: (v if np.isfinite(v) else None)
            for k, v in (("value", self.value), ("low", self.low), ("high", self.high))
        }


def _est(value: float, low: float, high: float) -> Estimate:
    return Estimate(float(value), float(low), float(high))


@dataclass(frozen=True)
class IccResult:
    """Two-way ICCs of one panel: ``n`` candidates scored by ``k`` assessors."""

    agreement_single: Estimate  # ICC(A,1)
    agreement_average: Estimate  # ICC(A,k)
    consistency_single: Estimate  # ICC(C,1)
    consistency_average: Estimate  # ICC(C,k)
    n: int
    k: int

    def as_dict(self) -> dict[str, object]:
        return {
            "ICC(A,1)": self.agreement_single.as_dict(),
            "ICC(A,k)": self.agreement_average.as_dict(),
            "ICC(C,1)": self.consistency_single.as_dict(),
            "ICC(C,k)": self.consistency_average.as_dict(),
            "n": self.n,
            "k": self.k,
        }


def _matrix(scores: npt.ArrayLike) -> FloatArray:
    x = np.asarray(scores, dtype=np.float64)
    if x.ndim != 2:
        raise AgreementError(f"scores must be (candidates, assessors), got shape {x.shape}")
    return x


def icc(scores: npt.ArrayLike, confidence: float = 0.95) -> IccResult:
    """Two-way ICCs with their intervals (McGraw & Wong 1996, cases 2A and 3C).

    ``scores: (n_candidates, n_assessors)``; rows with a missing score are left
    out. Needs at least 2 complete candidates and 2 assessors.
    """
    x = _matrix(scores)
    x = x[~np.isnan(x).any(axis=1)]
    n, k = x.shape
    if n < 2 or k < 2:
        raise AgreementError(
            f"ICC needs at least 2 candidates scored by every one of at least 2 assessors "
            f"(have {n} complete candidates, {k} assessors)"
        )
    grand = x.mean()
    ss_rows = k * float(((x.mean(axis=1) - grand) ** 2).sum())
    ss_cols = n * float(((x.mean(axis=0) - grand) ** 2).sum())
    resid = x - x.mean(axis=1, keepdims=True) - x.mean(axis=0, keepdims=True) + grand
    ss_err = float((resid**2).sum())
    df_rows, df_cols, df_err = n - 1, k - 1, (n - 1) * (k - 1)
    msr, msc, mse = ss_rows / df_rows, ss_cols / df_cols, ss_err / df_err
    if mse <= 1e-12 * max(msr, msc, 1e-300):
        mse = 0.0  # rounding of an error-free table
    if mse == 0 and msr == 0:
        raise AgreementError("ICC is undefined: every score is the same")
    if mse == 0:  # the assessors order the candidates identically: no error variance
        one = _est(1.0, 1.0, 1.0)
        if msc == 0:
            return IccResult(one, one, one, one, n=n, k=k)
        # Equal orderings but shifted assessors: consistency is perfect, agreement is not.
        a1_value = msr / (msr + k * msc / n)
        ak_value = msr / (msr + msc / n)
        return IccResult(
            _est(a1_value, np.nan, np.nan), _est(ak_value, np.nan, np.nan), one, one, n=n, k=k
        )
    # Relative to the table's mean squares: a denominator that is zero but for
    # rounding is zero.
    tiny = 1e-9 * (msr + msc + mse)
    if msr <= tiny or msr + (msc - mse) / n <= tiny:
        # The ANOVA estimators divide by these: at or below zero (two
        # candidates scored in opposite orders, or candidates as alike as one
        # candidate's scores vary) ICC(C,k) and ICC(A,k) have no value, and
        # the formulas would give a division by zero or an "agreement" above 1.
        raise AgreementError(
            f"ICC is undefined for this panel: its {n} candidates differ less than the "
            f"{k} assessors' scores of one candidate do; it needs more candidates, or "
            "candidates who differ more"
        )
    a = 1 - confidence

    icc_a1 = (msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n)
    icc_ak = (msr - mse) / (msr + (msc - mse) / n)
    icc_c1 = (msr - mse) / (msr + (k - 1) * mse)
    icc_ck = (msr - mse) / msr

    # Consistency: the F ratio MSR/MSE has an exact F distribution.
    with np.errstate(divide="ignore", invalid="ignore"):
        f_obs = msr / mse
    f_low = f_obs / f_dist.ppf(1 - a / 2, df_rows, df_err)
    f_high = f_obs * f_dist.ppf(1 - a / 2, df_err, df_rows)
    c1 = _est(icc_c1, (f_low - 1) / (f_low + k - 1), (f_high - 1) / (f_high + k - 1))
    ck = _est(icc_ck, 1 - 1 / f_low, 1 - 1 / f_high)

    # Absolute agreement: Satterthwaite's approximate degrees of freedom.
    fj = msc / mse
    vn = df_err * (k * icc_a1 * fj + n * (1 + (k - 1) * icc_a1) - k * icc_a1) ** 2
    vd = df_rows * k**2 * icc_a1**2 * fj**2 + (n * (1 + (k - 1) * icc_a1) - k * icc_a1) ** 2
    v = vn / vd
    fu = f_dist.ppf(1 - a / 2, df_rows, v)
    fl = f_dist.ppf(1 - a / 2, v, df_rows)
    denom = k * msc + (k * n - k - n) * mse
    # With one or two degrees of freedom the F quantiles are huge: a bound may
    # overflow to nan, which the check below turns into "no interval".
    with np.errstate(over="ignore", invalid="ignore"):
        low_a1 = n * (msr - fu * mse) / (fu * denom + n * msr)
        high_a1 = n * (fl * msr - mse) / (denom + n * fl * msr)
    if not low_a1 <= icc_a1 <= high_a1:
        # Satterthwaite's degrees of freedom are an approximation; on a
        # degenerate panel (two candidates, two assessors) its interval can
        # miss the estimate altogether. No interval is shown rather than a
        # wrong one (None in JSON, "–" on the chair's page).
        low_a1 = high_a1 = np.nan
    a1 = _est(icc_a1, low_a1, high_a1)
    ak = _est(icc_ak, _average_bound(low_a1, k), _average_bound(high_a1, k))
    return IccResult(a1, ak, c1, ck, n=n, k=k)


def _average_bound(single: float, k: int) -> float:
    """A bound of ICC(A,k) from the same bound of ICC(A,1), by the
    Spearman-Brown step ``k r / (1 + (k - 1) r)`` (McGraw & Wong 1996, table 7,
    in the form of their single-measure bound).

    The step has a pole at ``r = -1 / (k - 1)`` and tends to minus infinity as
    ``r`` comes down to it: a single-measure bound at or below the pole (few
    candidates: the F quantile is large) leaves the average measure's bound
    unbounded below, ``-inf`` (shown as such, ``None`` in JSON). Taken through
    the pole the formula would give a bound above 1 or above the estimate
    (pingouin 0.7.0 reports such an interval, e.g. [5.63, 1.0] around 0.64)."""
    if np.isnan(single):
        return np.nan
    if single <= -1.0 / (k - 1):
        return -np.inf
    return single * k / (1 + single * (k - 1))


@dataclass(frozen=True)
class OnewayIccResult:
    """One-way ICCs of ``n`` candidates with ``k`` scores each, every candidate
    scored by assessors of their own (``left_out``: candidates with another
    number of scores, left out so that the table is balanced)."""

    single: Estimate  # ICC(1): one assessor's score
    average: Estimate  # ICC(k): the mean of k assessors' scores
    n: int
    k: int
    left_out: int

    def as_dict(self) -> dict[str, object]:
        return {
            "ICC(1)": self.single.as_dict(),
            "ICC(k)": self.average.as_dict(),
            "n": self.n,
            "k": self.k,
            "left_out": self.left_out,
        }


def icc_oneway(scores: npt.ArrayLike, confidence: float = 0.95) -> OnewayIccResult:
    """One-way random-effects ICCs with their exact F intervals.

    ``scores: (n_candidates, m)``: each row a candidate's scores, ``nan``-padded
    (which assessor gave which score does not matter: the assessors are a
    different sample for each candidate, as when a component's candidates
    meet different panels). The candidates with the most common number of
    scores ``k`` (the larger on a tie) are used, the others left out. With
    the between- and within-candidate mean squares of a one-way ANOVA
    (``MSB`` on ``n - 1``, ``MSW`` on ``n (k - 1)`` degrees of freedom)::

        ICC(1) = (MSB - MSW) / (MSB + (k - 1) MSW)
        ICC(k) = (MSB - MSW) / MSB

    and with ``F = MSB / MSW``, ``F_L = F / F(1 - a/2; n - 1, n(k - 1))``,
    ``F_U = F * F(1 - a/2; n(k - 1), n - 1)``: ICC(1) in
    ``[(F_L - 1) / (F_L + k - 1), (F_U - 1) / (F_U + k - 1)]`` and ICC(k) in
    ``[1 - 1 / F_L, 1 - 1 / F_U]`` (Shrout & Fleiss 1979; McGraw & Wong 1996,
    table 7, case 1). Assessor severity counts as disagreement here: it
    cannot be told apart from the candidate's own variation.
    """
    x = _matrix(scores)
    counts = (~np.isnan(x)).sum(axis=1)
    scored = counts[counts >= 2]
    if scored.size == 0:
        raise AgreementError("ICC needs candidates with at least 2 scores each")
    values, freq = np.unique(scored, return_counts=True)
    k = int(values[np.flatnonzero(freq == freq.max())[-1]])
    rows = x[counts == k]
    n = rows.shape[0]
    if n < 2:
        raise AgreementError(f"ICC needs at least 2 candidates with {k} scores each (have {n})")
    # Each row's k scores, packed to the left (their columns mean nothing).
    y = np.sort(rows, axis=1)[:, :k]
    means = y.mean(axis=1)
    grand = means.mean()
    df_b, df_w = n - 1, n * (k - 1)
    msb = k * float(((means - grand) ** 2).sum()) / df_b
    msw = float(((y - means[:, None]) ** 2).sum()) / df_w
    if msw <= 1e-12 * max(msb, 1e-300):
        msw = 0.0  # rounding of a table without within-candidate variation
    if msb <= 1e-12 * max(msw, 1e-300):
        raise AgreementError(
            "ICC is undefined: the candidates' mean scores do not differ"
            if msw > 0
            else "ICC is undefined: every score is the same"
        )
    left_out = int(x.shape[0] - n)
    if msw == 0:  # every candidate's assessors agree exactly
        one = _est(1.0, 1.0, 1.0)
        return OnewayIccResult(one, one, n=n, k=k, left_out=left_out)
    a = 1 - confidence
    f_obs = msb / msw
    f_low = f_obs / f_dist.ppf(1 - a / 2, df_b, df_w)
    f_high = f_obs * f_dist.ppf(1 - a / 2, df_w, df_b)
    single = _est(
        (msb - msw) / (msb + (k - 1) * msw),
        (f_low - 1) / (f_low + k - 1),
        (f_high - 1) / (f_high + k - 1),
    )
    average = _est((msb - msw) / msb, 1 - 1 / f_low, 1 - 1 / f_high)
    return OnewayIccResult(single, average, n=n, k=k, left_out=left_out)


def _value_counts(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Per candidate, how many assessors gave each value: ``(values, counts)``.

    ``values: (n_values,)`` sorted distinct scores; ``counts: (n_candidates, n_values)``.
    """
    present = ~np.isnan(x)
    values = np.unique(x[present])
    idx = np.searchsorted(values, np.where(present, x, values[0]))
    counts = np.zeros((x.shape[0], values.size))
    rows = np.broadcast_to(np.arange(x.shape[0])[:, None], x.shape)
    np.add.at(counts, (rows[present], idx[present]), 1.0)
    return values, counts


def _alpha_from_counts(counts: FloatArray, weights: FloatArray) -> FloatArray:
    """Ordinal alpha for each row of ``weights: (n_boot, n_units)`` over pairable units.

    ``counts: (n_units, n_values)``, each unit having at least two values.
    """
    m = counts.sum(axis=1)
    scaled = counts / (m - 1)[:, None]
    # Coincidences o_ck = sum_u w_u (n_uc n_uk - [c=k] n_uc) / (m_u - 1), per resample.
    o = np.einsum("bu,uc,uk->bck", weights, scaled, counts)
    diag = weights @ scaled
    idx = np.arange(counts.shape[1])
    o[:, idx, idx] -= diag
    n_c = o.sum(axis=2)  # (b, values)
    # Ordinal distance: (sum_{g=c..k} n_g - (n_c + n_k) / 2)^2, from the pooled marginals.
    cum = np.cumsum(n_c, axis=1)
    lo = np.minimum(idx[:, None], idx[None, :])
    hi = np.maximum(idx[:, None], idx[None, :])
    # sum_{g=lo..hi} n_g = cum_hi - cum_lo + n_lo, each (b, values, values)
    span = cum[:, hi] - cum[:, lo] + n_c[:, lo]
    dist = (span - (n_c[:, :, None] + n_c[:, None, :]) / 2) ** 2
    n_total = n_c.sum(axis=1)
    observed = (o * dist).sum(axis=(1, 2))
    expected = np.einsum("bc,bk,bck->b", n_c, n_c, dist) / (n_total - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1 - observed / expected


def krippendorff_alpha_ordinal(
    scores: npt.ArrayLike,
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: int = 20240,
) -> Estimate:
    """Krippendorff's alpha for ordinal scores, with a bootstrap interval.

    ``scores: (n_candidates, n_assessors)``, ``nan`` for a missing score; only
    candidates with at least two scores are pairable. The interval resamples
    candidates with replacement ``n_boot`` times (percentile interval; a
    resample whose values all agree, so alpha is undefined, is left out).
    """
    x = _matrix(scores)
    if n_boot < 1:
        raise AgreementError(f"n_boot must be at least 1, got {n_boot}")
    present = (~np.isnan(x)).sum(axis=1)
    x = x[present >= 2]
    if x.shape[0] < 2:
        raise AgreementError("alpha needs at least 2 candidates with 2 or more scores each")
    _, counts = _value_counts(x)
    if counts.shape[1] < 2:
        raise AgreementError("alpha is undefined: every score is the same")
    value = float(_alpha_from_counts(counts, np.ones((1, counts.shape[0])))[0])
    rng = np.random.default_rng(seed)
    n_units = counts.shape[0]
    draws = rng.integers(0, n_units, size=(n_boot, n_units))
    weights = np.zeros((n_boot, n_units))
    np.add.at(weights, (np.arange(n_boot)[:, None], draws), 1.0)
    boot = _alpha_from_counts(counts, weights)
    boot = boot[np.isfinite(boot)]
    a = 1 - confidence
    low, high = np.quantile(boot, [a / 2, 1 - a / 2]) if boot.size else (np.nan, np.nan)
    return _est(value, low, high)
