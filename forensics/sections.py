"""A section answered by someone else: a different speed or ability there.

For each section s (subtest) and the rest of the test R, per candidate:

* ability: ``z_θ = (θ̂_s − θ̂_R) / sqrt(SE_s² + SE_R² + 2 (1 − ρ))`` with θ̂ the
  maximum-likelihood estimates (bounded ±4) and ρ the correlation of the
  subtests' abilities in the population (the subtests measure different
  things, so an honest candidate's abilities differ a little even without
  error; ρ = 1 treats the test as one trait);
* speed: ``z_τ = (τ̂_s − τ̂_R) / sqrt(SE_s² + SE_R² + σ_w² (1 + 1/(S−1)))``
  with σ_w the sd of an honest candidate's speed between sections;
* ``z_θ² + z_τ² ~ χ²(2)`` (either alone ~ χ²(1) where the other is missing);
  the candidate's p-value is the smallest over the S sections times S.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from forensics.ability import estimate, grid_log_likelihood
from forensics.data import SessionData
from forensics.pvalues import bonferroni_min
from forensics.rt import speed

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class SectionSettings:
    """trait_correlation: ρ between the sections' abilities (0 < ρ ≤ 1);
    speed_sd_within: σ_w, sd of an honest candidate's speed between sections (≥ 0)."""

    trait_correlation: float = 0.8
    speed_sd_within: float = 0.1

    def __post_init__(self) -> None:
        if not 0.0 < self.trait_correlation <= 1.0:
            raise ValueError(f"trait_correlation must be in (0, 1], got {self.trait_correlation!r}")
        if not self.speed_sd_within >= 0.0:
            raise ValueError(f"speed_sd_within must be ≥ 0, got {self.speed_sd_within!r}")


def section_shift(
    data: SessionData, settings: SectionSettings | None = None
) -> tuple[FloatArray, IntArray, FloatArray]:
    """Per candidate: the Bonferroni p-value over sections, the most unusual
    section (``-1`` none) and its χ² statistic. Three (m,) arrays."""
    cfg = settings or SectionSettings()
    items = data.items
    present = np.unique(items.section)
    m = data.n_candidates
    if present.size < 2:
        return np.full(m, np.nan), np.full(m, -1, dtype=np.int64), np.full(m, np.nan)
    extra_theta = 2.0 * (1.0 - cfg.trait_correlation)
    extra_tau = cfg.speed_sd_within**2 * (1.0 + 1.0 / (present.size - 1))
    lt = data.log_seconds
    pvals = np.full((m, present.size), np.nan)
    chis = np.full((m, present.size), np.nan)
    for k, s in enumerate(present):  # a handful of sections, vectorised over candidates
        inside = items.section == s
        ll_s = grid_log_likelihood(data, inside)
        ll_r = grid_log_likelihood(data, ~inside)
        th_s, se_s = estimate(ll_s)
        th_r, se_r = estimate(ll_r)
        has_s = (data.answered & inside[None, :]).sum(axis=1) >= 3
        has_r = (data.answered & ~inside[None, :]).sum(axis=1) >= 3
        z_th = (th_s - th_r) / np.sqrt(se_s**2 + se_r**2 + extra_theta)
        z_th = np.where(has_s & has_r, z_th, np.nan)
        tau_s, tse_s = speed(lt, items.alpha, items.beta, inside)
        tau_r, tse_r = speed(lt, items.alpha, items.beta, ~inside)
        z_tau = (tau_s - tau_r) / np.sqrt(tse_s**2 + tse_r**2 + extra_tau)
        parts = np.isfinite(z_th).astype(int) + np.isfinite(z_tau).astype(int)
        chi = np.nan_to_num(z_th) ** 2 + np.nan_to_num(z_tau) ** 2
        chis[:, k] = np.where(parts > 0, chi, np.nan)
        pvals[:, k] = np.where(parts > 0, stats.chi2.sf(chi, np.maximum(parts, 1)), np.nan)
    p = bonferroni_min(pvals)
    filled = np.where(np.isfinite(pvals), pvals, np.inf)
    worst = np.where(np.isfinite(p), present[np.argmin(filled, axis=1)], -1)
    worst_chi = np.where(np.isfinite(p), chis[np.arange(m), np.argmin(filled, axis=1)], np.nan)
    return p, np.asarray(worst, dtype=np.int64), np.asarray(worst_chi)
