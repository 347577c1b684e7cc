"""Scoring, classical item analysis, S-X² fit, MH DIF and linking."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize

from calibration import classical, dif, fit, linking, scoring
from calibration.em import MMLEstimator
from cat_engine.irt import ItemParameters, log_likelihood, prob_4pl
from tests.calibration.conftest import simulate_dichotomous

# --- scoring -----------------------------------------------------------------


def _params() -> ItemParameters:
    return ItemParameters.dichotomous(
        np.linspace(0.6, 1.8, 12), np.linspace(-2, 2, 12), np.full(12, 0.15)
    )


def test_eap_equals_the_posterior_mean_by_direct_integration() -> None:
    params = _params()
    rng = np.random.default_rng(30)
    x = (rng.random((50, 12)) < prob_4pl(rng.normal(size=50), params.a, params.b, params.c)).astype(
        int
    )
    x[:5, 6:] = -1  # some items not presented
    est, se = scoring.eap(params, x)
    grid = np.linspace(-8, 8, 2001)
    post = np.exp(log_likelihood(grid, params, x) - 0.5 * grid**2)
    post /= post.sum(axis=1, keepdims=True)
    mean = post @ grid
    np.testing.assert_allclose(est, mean, atol=2e-3)
    np.testing.assert_allclose(se, np.sqrt(post @ grid**2 - mean**2), atol=2e-3)


def test_map_is_the_posterior_mode() -> None:
    params = _params()
    rng = np.random.default_rng(31)
    x = (rng.random((20, 12)) < prob_4pl(rng.normal(size=20), params.a, params.b, params.c)).astype(
        int
    )
    est, se = scoring.map_estimate(params, x)
    for i in range(20):
        res = optimize.minimize_scalar(
            lambda t, i=i: -(log_likelihood([t], params, x[i])[0] - 0.5 * t**2),
            bounds=(-6, 6),
            method="bounded",
            options={"xatol": 1e-8},
        )
        assert est[i] == pytest.approx(res.x, abs=1e-3)
        # SE from the curvature of the log-posterior at the mode
        h = 1e-3
        f = [
            log_likelihood([res.x + k * h], params, x[i])[0] - 0.5 * (res.x + k * h) ** 2
            for k in (-1, 0, 1)
        ]
        curv = (f[0] - 2 * f[1] + f[2]) / h**2
        assert se[i] == pytest.approx(1 / np.sqrt(-curv), rel=0.02)


def test_a_person_with_no_answers_gets_the_prior() -> None:
    x = -np.ones((1, 12), dtype=int)
    est, se = scoring.eap(_params(), x, prior_mean=0.3, prior_sd=0.8)
    assert est[0] == pytest.approx(0.3, abs=1e-6) and se[0] == pytest.approx(0.8, abs=1e-3)


# --- classical ----------------------------------------------------------------


def test_classical_statistics_equal_textbook_formulas() -> None:
    x, _, _ = simulate_dichotomous(500, 8, seed=32)
    st = classical.item_statistics(x)
    total = x.sum(axis=1)
    np.testing.assert_allclose(st.p_value, x.mean(axis=0))
    for j in range(8):
        assert st.point_biserial[j] == pytest.approx(np.corrcoef(x[:, j], total)[0, 1])
        assert st.item_rest[j] == pytest.approx(np.corrcoef(x[:, j], total - x[:, j])[0, 1])


def test_distractor_analysis_spots_a_working_and_a_dead_distractor() -> None:
    rng = np.random.default_rng(33)
    n = 2000
    theta = rng.normal(size=n)
    # item 0: key = option 2; low-ability candidates pick option 0; nobody picks 3
    right = rng.random(n) < 1 / (1 + np.exp(-1.5 * theta))
    options = np.where(right, 2, np.where(rng.random(n) < 0.7, 0, 1))[:, None]
    scores = right.astype(float)[:, None]
    other = (rng.random((n, 10)) < 1 / (1 + np.exp(-theta[:, None]))).astype(float)
    tab = classical.distractor_analysis(
        np.hstack([options, -np.ones((n, 10), int)]), np.hstack([scores, other]), 4
    )
    assert tab.proportion[0].sum() == pytest.approx(1.0)
    assert tab.proportion[0, 3] == 0 and np.isnan(tab.point_biserial[0, 3])
    assert tab.point_biserial[0, 2] > 0.2  # the key
    assert tab.point_biserial[0, 0] < 0  # a working distractor
    assert tab.mean_rest[0, 0] < tab.mean_rest[0, 2]


# --- S-X² -----------------------------------------------------------------------


def test_s_x2_accepts_fitting_items_and_flags_a_misfitting_one() -> None:
    rng = np.random.default_rng(34)
    n, j = 5000, 20
    a = rng.lognormal(0, 0.25, j)
    b = np.linspace(-1.5, 1.5, j)
    theta = rng.normal(size=n)
    p = prob_4pl(theta, a, b)
    # item 0 is not logistic at all: a step at θ = 0.5 with guessing below it
    p[:, 0] = np.where(theta > 0.5, 0.95, 0.35)
    x = (rng.random(p.shape) < p).astype(np.int8)
    est = MMLEstimator("2pl").fit(x)
    res = fit.s_x2(est.params_, x)
    assert res.p_value[0] < 1e-6
    # fitting items: p-values spread over (0, 1); at most a few below 1 %
    assert (res.p_value[1:] < 0.01).sum() <= 2
    assert np.all(res.df[1:] >= 5)


def test_s_x2_is_nan_without_complete_cases() -> None:
    x, _, _ = simulate_dichotomous(100, 6, seed=35)
    x = x.astype(int)
    x[np.arange(100), np.arange(100) % 6] = -1
    res = fit.s_x2(ItemParameters.dichotomous(np.ones(6), np.zeros(6)), x)
    assert np.isnan(res.s_x2).all() and res.n_persons == 0


# --- DIF --------------------------------------------------------------------------


def test_mantel_haenszel_flags_the_dif_item_only() -> None:
    rng = np.random.default_rng(36)
    n, j = 6000, 20
    a = rng.lognormal(0, 0.2, j)
    b = np.linspace(-1.5, 1.5, j)
    focal = rng.random(n) < 0.5
    theta = rng.normal(size=n) - 0.3 * focal  # impact: the groups differ in ability
    p = prob_4pl(theta, a, b)
    p[:, 4] = np.where(focal, prob_4pl(theta, a[4:5], b[4:5] + 1.0)[:, 0], p[:, 4])
    x = (rng.random(p.shape) < p).astype(np.int8)
    res = dif.mantel_haenszel(x, focal)
    assert res.ets_class[4] == "C-"  # harder for the focal group at equal score
    assert res.delta[4] < -1.5
    # impact alone is not DIF: the other items are A (allow one B by chance)
    others = [c for i, c in enumerate(res.ets_class) if i != 4]
    assert sum(c != "A" for c in others) <= 1
    assert "C-" not in others and "C+" not in others


def test_mantel_haenszel_odds_ratio_by_hand() -> None:
    # one stratum (everyone has the same total): α = AD / BC
    x = np.array([[1, 0]] * 30 + [[0, 1]] * 10 + [[1, 0]] * 20 + [[0, 1]] * 20)
    g = np.array([False] * 40 + [True] * 40)
    res = dif.mantel_haenszel(x, g)
    assert res.alpha[0] == pytest.approx((30 * 20) / (10 * 20))
    assert res.delta[0] == pytest.approx(-2.35 * np.log(3.0))


# --- linking ------------------------------------------------------------------------


def test_linking_recovers_a_known_transformation() -> None:
    rng = np.random.default_rng(37)
    bank = ItemParameters.dichotomous(
        rng.lognormal(0, 0.3, 25), rng.normal(0, 1, 25), rng.uniform(0.1, 0.2, 25)
    )
    true = linking.LinearTransform(1.3, -0.4)
    inverse = linking.LinearTransform(1 / 1.3, 0.4 / 1.3)
    new = inverse.apply(bank)
    for method in ("mean-sigma", "stocking-lord", "haebara"):
        t = linking.link(new, bank, method)
        assert abs(t.A - true.A) < 1e-5 and abs(t.B - true.B) < 1e-5
        moved = t.apply(new)
        np.testing.assert_allclose(moved.b, bank.b, atol=1e-4)
        np.testing.assert_allclose(moved.a, bank.a, atol=1e-4)


def test_linking_two_calibrations_of_different_populations() -> None:
    # the same items calibrated in a population N(0.6, 1.25²): each run fixes
    # its own population at N(0, 1), so the scales differ by A = 1.25, B = 0.6
    rng = np.random.default_rng(38)
    a = rng.lognormal(0, 0.25, 20)
    b = rng.normal(0, 1, 20)
    theta = rng.normal(0.6, 1.25, 5000)
    x = (rng.random((5000, 20)) < prob_4pl(theta, a, b)).astype(np.int8)
    new = MMLEstimator("2pl").fit(x).params_
    bank = ItemParameters.dichotomous(a, b)
    for method in ("stocking-lord", "haebara"):
        t = linking.link(new, bank, method)
        assert abs(t.A - 1.25) < 0.06
        assert abs(t.B - 0.6) < 0.06
    with pytest.raises(ValueError, match="at least 2"):
        linking.mean_sigma(new.subset([0]), bank.subset([0]))
