"""MML-EM: parameter recovery, monotone EM, sparse = dense, weights, warnings."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from calibration.data import ResponseData
from calibration.em import ConvergenceWarning, MMLEstimator
from calibration.kernels import Priors
from tests.calibration.conftest import simulate_dichotomous, simulate_polytomous


def rmse(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.sqrt(np.mean((x - y) ** 2)))


# Tolerances. With N persons an item's slope has a sampling SD of roughly
# 1 / sqrt(N · I_a) — about 0.04–0.06 for N = 3,000 2PL items with a ≈ 1 —
# and a difficulty near the centre about 0.05. An RMSE over items estimates
# that SD, so twice the expected SD (0.12 for a, 0.12 for b) fails only when
# the estimator is biased or broken, not by sampling luck (seeds are fixed,
# so the figures are also reproducible). 3PL parameters are far noisier
# (c in particular) and get wider bounds from the same reasoning.


def test_2pl_recovery() -> None:
    x, true, _ = simulate_dichotomous(3000, 15, seed=11)
    est = MMLEstimator("2pl").fit(x)
    assert est.converged_
    assert rmse(est.params_.a, true["a"]) < 0.10
    assert rmse(est.params_.b, true["b"]) < 0.10
    # the reported SEs match the size of the actual errors (within a factor 2)
    ratio = rmse(est.params_.a, true["a"]) / float(np.sqrt(np.mean(est.se_["a"] ** 2)))
    assert 0.5 < ratio < 2.0


def test_1pl_common_slope_recovery() -> None:
    x, true, _ = simulate_dichotomous(3000, 12, seed=12, slope=1.4)
    est = MMLEstimator("1pl").fit(x)
    assert np.ptp(est.params_.a) == 0.0  # one slope shared by every item
    assert abs(est.params_.a[0] - 1.4) < 0.08  # pooled over 12 items: SD ≈ 0.03
    assert rmse(est.params_.b, true["b"]) < 0.08
    assert est.n_parameters_ == 13


def test_3pl_recovery_with_default_priors() -> None:
    x, true, _ = simulate_dichotomous(6000, 15, seed=13, c=0.2)
    est = MMLEstimator("3pl").fit(x)
    assert est.converged_
    # 3PL: slopes and c trade off; SDs at N = 6,000 are ≈ 0.08 (a), 0.1 (b), 0.04 (c)
    assert rmse(est.params_.a, true["a"]) < 0.2
    assert rmse(est.params_.b, true["b"]) < 0.25
    assert rmse(est.params_.c, true["c"]) < 0.07
    assert np.all((est.params_.c > 0) & (est.params_.c < 0.5))


def test_4pl_runs_and_keeps_asymptotes_ordered() -> None:
    x, true, _ = simulate_dichotomous(6000, 12, seed=14, c=0.2, d=0.9)
    est = MMLEstimator("4pl").fit(x)
    p = est.params_
    assert np.all(p.c < p.d)
    # the 4PL is weakly identified: ask only for sensible, prior-guided values
    assert rmse(p.b, true["b"]) < 0.35
    assert rmse(p.d, true["d"]) < 0.08


@pytest.mark.parametrize("model", ["grm", "gpcm"])
def test_polytomous_recovery(model: str) -> None:
    x, a, thr = simulate_polytomous(3000, 8, 4, model, seed=15)
    est = MMLEstimator(model).fit(x)
    assert est.converged_
    # polytomous items carry more information per response than 2PL items
    assert rmse(est.params_.a, a) < 0.10
    assert rmse(est.params_.thresholds[:, :3], thr) < 0.12


def test_mixed_test_in_one_run() -> None:
    # true parameters from the helpers; responses redrawn on one shared θ
    _, true, _ = simulate_dichotomous(10, 10, seed=16)
    _, a, thr = simulate_polytomous(10, 5, 5, "gpcm", seed=16)
    rng = np.random.default_rng(16)
    theta = rng.normal(size=3000)
    from cat_engine.irt import prob_4pl, prob_gpcm

    xd = (rng.random((3000, 10)) < prob_4pl(theta, true["a"], true["b"])).astype(int)
    p = prob_gpcm(theta, a, thr)
    xp = (rng.random((3000, 5, 1)) > np.cumsum(p, axis=2)).sum(axis=2)
    x = np.concatenate([xd, xp], axis=1)
    est = MMLEstimator(["2pl"] * 10 + ["gpcm"] * 5).fit(x)
    assert list(est.params_.model[:10]) == [1] * 10 and list(est.params_.model[10:]) == [5] * 5
    assert rmse(est.params_.a[:10], true["a"]) < 0.12
    assert rmse(est.params_.a[10:], a) < 0.12
    assert rmse(est.params_.thresholds[10:, :4], thr) < 0.15
    assert np.isnan(est.params_.b[10:]).all()


@pytest.mark.parametrize(
    ("model", "accelerate"), [("2pl", True), ("2pl", False), ("3pl", True), ("gpcm", True)]
)
def test_em_objective_never_decreases(model: str, accelerate: bool) -> None:
    if model == "gpcm":
        x, _, _ = simulate_polytomous(1500, 6, 4, "gpcm", seed=17)
    else:
        x, _, _ = simulate_dichotomous(1500, 10, seed=17, c=0.2 if model == "3pl" else None)
    est = MMLEstimator(model, accelerate=accelerate, tol=1e-6).fit(x)
    # log-likelihood plus log-prior (= log-likelihood where there are no priors)
    steps = np.diff(est.logpost_history_)
    assert (steps >= -1e-7 * abs(est.logpost_)).all(), steps.min()
    if model != "3pl":
        assert np.array_equal(est.logpost_history_, est.loglik_history_)


def test_sparse_long_data_equal_dense_with_missing() -> None:
    x, _, _ = simulate_dichotomous(2000, 20, seed=18)
    rng = np.random.default_rng(18)
    x = x.astype(np.int64)
    x[rng.random(x.shape) < 0.5] = -1  # half the items not presented
    dense = MMLEstimator("2pl").fit(x)
    rows, cols = np.nonzero(x >= 0)
    data = ResponseData.from_long(rows, cols, x[rows, cols], 2000, 20)
    sparse = MMLEstimator("2pl").fit(data)
    np.testing.assert_allclose(sparse.params_.a, dense.params_.a, atol=1e-8)
    np.testing.assert_allclose(sparse.se_["b"], dense.se_["b"], rtol=1e-6)
    # not presented is not wrong: scoring it as 0 would make every item look harder
    wrong = MMLEstimator("2pl").fit(np.where(x < 0, 0, x))
    assert np.mean(wrong.params_.b - dense.params_.b) > 0.3


def test_sparse_matrix_path_matches_dense_path(monkeypatch: pytest.MonkeyPatch) -> None:
    import calibration.data as data_mod

    x, _, _ = simulate_dichotomous(1500, 10, seed=19)
    dense = MMLEstimator("2pl").fit(x)
    monkeypatch.setattr(data_mod, "DENSE_CELL_LIMIT", 0)  # force the CSR path
    sparse = MMLEstimator("2pl", n_jobs=2).fit(x)
    np.testing.assert_allclose(sparse.params_.b, dense.params_.b, atol=1e-8)
    np.testing.assert_allclose(sparse.se_["a"], dense.se_["a"], rtol=1e-6)


def test_case_weights_equal_repeated_rows() -> None:
    x, _, _ = simulate_dichotomous(400, 6, seed=20)
    w = np.random.default_rng(20).integers(1, 4, 400)
    weighted = MMLEstimator("2pl", collapse=False).fit(x, weights=w.astype(float))
    repeated = MMLEstimator("2pl", collapse=False).fit(np.repeat(x, w, axis=0))
    np.testing.assert_allclose(weighted.params_.a, repeated.params_.a, atol=1e-6)
    np.testing.assert_allclose(weighted.se_["b"], repeated.se_["b"], rtol=1e-5)
    assert weighted.loglik_ == pytest.approx(repeated.loglik_, rel=1e-9)
    # collapsing identical patterns changes nothing either
    collapsed = MMLEstimator("2pl", collapse=True).fit(np.repeat(x, w, axis=0))
    np.testing.assert_allclose(collapsed.params_.a, repeated.params_.a, atol=1e-6)


def test_not_converged_warns_with_the_figures() -> None:
    x, _, _ = simulate_dichotomous(500, 8, seed=21)
    with pytest.warns(ConvergenceWarning, match=r"did not converge in 2 iterations.*change"):
        est = MMLEstimator("2pl", max_iter=2).fit(x)
    assert not est.converged_ and est.n_iter_ == 2


def test_information_criteria() -> None:
    x, _, _ = simulate_dichotomous(2000, 10, seed=22, slope=1.0)
    r1 = MMLEstimator("1pl").fit(x)
    r2 = MMLEstimator("2pl").fit(x)
    assert r2.loglik_ >= r1.loglik_  # nested models
    assert r1.aic_ == pytest.approx(-2 * r1.loglik_ + 2 * 11)
    assert r2.bic_ == pytest.approx(-2 * r2.loglik_ + 20 * np.log(2000))
    assert r1.bic_ < r2.bic_  # the data are Rasch: BIC prefers the 1PL


def test_bad_input_is_named() -> None:
    x, _, _ = simulate_dichotomous(300, 5, seed=23)
    x = x.astype(np.int64)
    x[:, 2] = 1
    with pytest.raises(ValueError, match="item 2: no variance"):
        MMLEstimator("2pl").fit(x)
    x[:, 2] = -1
    with pytest.raises(ValueError, match="item 2: nobody answered"):
        MMLEstimator("2pl").fit(x)
    with pytest.raises(ValueError, match="unknown IRT model"):
        MMLEstimator("5pl")
    with pytest.raises(ValueError, match="n_quad"):
        MMLEstimator("2pl", n_quad=2)
    with pytest.raises(ValueError, match="σ must be > 0"):
        Priors(slope_lognormal=(0.0, 0.0))


def test_fixed_parameter_calibration_puts_pretest_items_on_the_bank_scale() -> None:
    # bank scale: the population taking this form is N(0.5, 1.2²) on it
    rng = np.random.default_rng(24)
    j_op, j_pre, n = 20, 5, 4000
    a = rng.lognormal(0, 0.25, j_op + j_pre)
    b = rng.normal(0, 1, j_op + j_pre)
    theta = rng.normal(0.5, 1.2, n)
    from cat_engine.irt import ItemParameters, prob_4pl

    x = (rng.random((n, j_op + j_pre)) < prob_4pl(theta, a, b)).astype(np.int8)
    anchor = ItemParameters.dichotomous(a[:j_op], b[:j_op])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = MMLEstimator("2pl", anchor=anchor, anchor_items=np.arange(j_op)).fit(x)
    np.testing.assert_array_equal(est.params_.a[:j_op], a[:j_op])  # held
    assert est.latent_mean_ == pytest.approx(0.5, abs=0.06)
    assert est.latent_sd_ == pytest.approx(1.2, abs=0.06)
    # pretest items land on the bank scale (a free calibration would shift b by ≈ −0.5)
    assert rmse(est.params_.b[j_op:], b[j_op:]) < 0.12
    assert rmse(est.params_.a[j_op:], a[j_op:]) < 0.12
    assert np.isnan(est.se_["a"][:j_op]).all() and np.isfinite(est.se_["a"][j_op:]).all()
