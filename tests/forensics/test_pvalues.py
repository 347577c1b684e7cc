"""The null distributions and multiple-testing rules every index relies on."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from forensics.pvalues import benjamini_hochberg, bonferroni_min, poisson_binomial_sf


@settings(max_examples=60, deadline=None)
@given(
    probs=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=8),
    observed=st.integers(-1, 10),
)
def test_poisson_binomial_tail_is_the_brute_force_sum(probs: list[float], observed: int) -> None:
    p = np.array(probs)
    exact = 0.0
    for outcome in itertools.product((0, 1), repeat=p.size):
        x = np.array(outcome)
        if x.sum() >= observed:
            exact += float(np.prod(np.where(x == 1, p, 1 - p)))
    got = poisson_binomial_sf(p[None, :], np.array([observed]))[0]
    assert abs(got - min(exact, 1.0)) < 1e-9


def test_benjamini_hochberg_matches_the_step_up_rule() -> None:
    # Worked example: p sorted 0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205
    p = np.array([0.041, 0.001, 0.205, 0.008, 0.039, 0.06, 0.074, 0.042])
    q = benjamini_hochberg(p)
    # Step-up at 0.05: the largest k with p_(k) ≤ k/8 · 0.05 is k = 2.
    assert set(np.flatnonzero(q <= 0.05)) == {1, 3}
    assert np.isclose(q[1], 0.008)  # min(0.001·8, 0.008·4, ...)
    assert np.all(np.diff(q[np.argsort(p)]) >= 0)


def test_benjamini_hochberg_keeps_missing_values_out() -> None:
    q = benjamini_hochberg(np.array([np.nan, 0.01, 0.5]))
    assert np.isnan(q[0]) and np.isclose(q[1], 0.02) and np.isclose(q[2], 0.5)


def test_bonferroni_counts_only_the_indices_computed() -> None:
    p = np.array([[0.01, np.nan, 0.5], [np.nan, np.nan, np.nan], [0.4, 0.3, 0.9]])
    out = bonferroni_min(p)
    assert np.isclose(out[0], 0.02) and np.isnan(out[1]) and np.isclose(out[2], 0.9)
