"""The lz* numerics: null distribution, invariances and input checks."""

from __future__ import annotations

import numpy as np
import pytest

from exam_server.proctoring.personfit import lz_star, map_theta


def simulate(seed: int, n_people: int, n_items: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.8, 2.0, n_items)
    b = rng.normal(0.0, 1.0, n_items)
    c = np.full(n_items, 0.2)
    theta = rng.normal(0.0, 1.0, n_people)
    p = c + (1 - c) / (1 + np.exp(-a * (theta[:, None] - b)))
    x = (rng.random(p.shape) < p).astype(float)
    return x, a, b, c, theta


def test_lz_star_is_roughly_standard_normal_under_the_model() -> None:
    x, a, b, c, _ = simulate(seed=11, n_people=3000, n_items=40)
    z, _ = lz_star(x, a, b, c)
    # With 3000 simulees the standard error of the mean is ~0.02 and of the
    # SD ~0.013; the MAP prior and 40 items leave a small known bias
    # (Snijders' correction is asymptotic), hence ±0.1 and ±0.1.
    assert abs(np.nanmean(z)) < 0.1
    assert abs(np.nanstd(z) - 1.0) < 0.1
    # The false-alarm rate at the 5 % cut stays near 5 %.
    assert 0.03 < np.mean(z < -1.645) < 0.07


def test_reversed_guttman_pattern_is_extreme() -> None:
    b = np.linspace(-2, 2, 30)
    x = (b > 0).astype(float)  # only the hard half right
    z, _ = lz_star(x, 1.5, b)
    assert z[0] < -4


def test_blank_items_are_ignored() -> None:
    x, a, b, c, _ = simulate(seed=5, n_people=1, n_items=30)
    with_blanks = np.concatenate([x, np.full((1, 5), -1.0)], axis=1)
    a2, b2, c2 = (np.concatenate([v, np.ones(5)]) for v in (a, b, c))
    assert lz_star(with_blanks, a2, b2, c2)[0] == pytest.approx(lz_star(x, a, b, c)[0])


def test_map_theta_orders_candidates_by_number_right() -> None:
    b = np.linspace(-2, 2, 20)
    x = np.array([(np.arange(20) < k).astype(float) for k in (2, 10, 18)])
    theta = map_theta(x, 1.2, b)
    assert np.all(np.diff(theta) > 0)


def test_one_answer_gives_nan_and_bad_codes_raise() -> None:
    z, _ = lz_star([1.0, -1.0], [1.0, 1.0], [0.0, 0.0])
    assert np.isnan(z[0])
    with pytest.raises(ValueError, match=r"responses\[0, 1\]"):
        lz_star([1.0, 2.0], [1.0, 1.0], [0.0, 0.0])


def test_live_single_pattern_path_matches_lz_star() -> None:
    from exam_server.proctoring.personfit import lz_star_one

    x, a, b, c, _ = simulate(seed=21, n_people=50, n_items=35)
    d = np.ones_like(a)
    for row in x:
        z, theta = lz_star(row, a, b, c, d)
        z1, theta1 = lz_star_one(row, a, b, c, d)
        # Same equations and stopping rule; only the summation order differs.
        assert z1 == pytest.approx(z[0], abs=1e-9)
        assert theta1 == pytest.approx(theta[0], abs=1e-9)
    z1, _ = lz_star_one(np.array([1.0]), a[:1], b[:1], c[:1], d[:1])
    assert np.isnan(z1)
