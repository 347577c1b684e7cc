"""The lognormal response-time fit recovers the parameters it is given."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.rt import LognormalTimes


def test_fit_recovers_intensity_and_discrimination() -> None:
    rng = np.random.default_rng(4)
    p, n = 1500, 40
    alpha = rng.uniform(1.5, 2.5, n)
    beta = rng.normal(np.log(50), 0.35, n)
    tau = rng.normal(0, 0.25, p)
    log_t = beta[None, :] - tau[:, None] + rng.normal(0, 1, (p, n)) / alpha[None, :]
    seconds = np.exp(log_t)
    seconds[rng.random((p, n)) < 0.3] = np.nan  # each candidate saw 70 % of the items
    fit = LognormalTimes().fit(seconds)
    assert fit.converged_
    # β's SE is 1/(α sqrt(1050)) ≈ 0.015; tau's sample mean is fixed at 0 while
    # the true one is off by ~0.25/sqrt(1500) ≈ 0.006: 0.06 is four SEs.
    assert np.max(np.abs(fit.beta_ - beta)) < 0.06
    # α from ~1,050 times: relative SE ≈ 1/sqrt(2·1050) ≈ 2 %; 10 % is five.
    assert np.max(np.abs(fit.alpha_ / alpha - 1)) < 0.10


def test_items_with_too_few_times_are_left_unfitted() -> None:
    seconds = np.full((30, 3), 40.0) * np.exp(np.random.default_rng(1).normal(0, 0.5, (30, 3)))
    seconds[5:, 2] = np.nan
    fit = LognormalTimes(min_count=20).fit(seconds)
    assert np.isnan(fit.alpha_[2]) and np.isfinite(fit.alpha_[:2]).all()


def test_bad_times_name_the_cell() -> None:
    with pytest.raises(ValueError, match=r"seconds\[1, 0\] = -3.0"):
        LognormalTimes().fit(np.array([[1.0, 2.0], [-3.0, 4.0]]))
    with pytest.raises(ValueError, match="min_count"):
        LognormalTimes(min_count=1)
