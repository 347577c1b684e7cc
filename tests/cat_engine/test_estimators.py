"""Estimators against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, optimize

from cat_engine.estimators import EAP, MAP, MLE, WLE, Evidence
from cat_engine.irt import ItemParameters, Model, log_likelihood

RASCH4 = ItemParameters.dichotomous(np.ones(4), np.zeros(4))


def _ev(params: ItemParameters, cats: list[list[int]]) -> Evidence:
    c = np.asarray(cats)
    items = np.broadcast_to(np.arange(c.shape[1]), c.shape)
    return Evidence.build(params, items, c)


def test_rasch_mle_is_log_odds_of_the_raw_score() -> None:
    # n Rasch items at b = 0, r right: Σ(x − p) = 0 ⇒ p = r/n ⇒ θ = log(r/(n−r)).
    theta, se = MLE().estimate(_ev(RASCH4, [[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0]]))
    assert theta == pytest.approx([math.log(1 / 3), 0.0, math.log(3)], abs=1e-6)
    # SE = 1/√(n p q).
    p = np.array([0.25, 0.5, 0.75])
    assert se == pytest.approx(1 / np.sqrt(4 * p * (1 - p)), rel=1e-5)


def test_rasch_wle_matches_warm_closed_form_and_is_finite_at_the_extremes() -> None:
    # Warm's correction for n equal Rasch items: r − np + (1 − 2p)/2 = 0 ⇒
    # p = (r + ½)/(n + 1) ⇒ θ = log((r + ½)/(n − r + ½)), finite for r = 0 and r = n.
    cats = [[0, 0, 0, 0], [1, 0, 0, 0], [1, 1, 1, 1]]
    theta, se = WLE().estimate(_ev(RASCH4, cats))
    expected = [math.log(0.5 / 4.5), math.log(1.5 / 3.5), math.log(4.5 / 0.5)]
    assert theta == pytest.approx(expected, abs=1e-5)
    assert np.all(np.isfinite(se))


def test_map_solves_the_penalised_score_equation() -> None:
    # One Rasch item at b = 0 answered right, N(0, 1) prior: 1 − p(θ) − θ = 0.
    params = ItemParameters.dichotomous([1.0], [0.0])
    theta, se = MAP().estimate(_ev(params, [[1]]))
    root = optimize.brentq(lambda t: 1 - 1 / (1 + math.exp(-t)) - t, -3, 3)
    assert theta[0] == pytest.approx(root, abs=1e-7)
    p = 1 / (1 + math.exp(-root))
    assert se[0] == pytest.approx(1 / math.sqrt(p * (1 - p) + 1.0), rel=1e-5)


def test_eap_matches_numerical_integration_of_the_posterior() -> None:
    params = ItemParameters.dichotomous([1.2, 0.8, 1.5], [-0.5, 0.3, 1.0], [0.2, 0.1, 0.25])
    pattern = np.array([1, 0, 1])

    def post(t: float) -> float:
        ll = log_likelihood([t], params, pattern)[0]
        return math.exp(ll) * math.exp(-t * t / 2)

    z = integrate.quad(post, -10, 10)[0]
    mean = integrate.quad(lambda t: t * post(t), -10, 10)[0] / z
    var = integrate.quad(lambda t: t * t * post(t), -10, 10)[0] / z - mean**2
    theta, se = EAP().estimate(_ev(params, [pattern.tolist()]))
    # The 61-point grid on [−4, 4] integrates a smooth posterior to ~1e-4.
    assert theta[0] == pytest.approx(mean, abs=2e-3)
    assert se[0] == pytest.approx(math.sqrt(var), abs=2e-3)


@pytest.mark.parametrize("estimator", [MLE(), MAP(), EAP(), WLE()])
def test_every_estimator_is_finite_for_all_right_and_all_wrong(estimator: object) -> None:
    params = ItemParameters.dichotomous(
        [1.0, 1.3, 0.7, 1.1, 0.9], [-1.0, -0.2, 0.4, 1.1, 2.0], [0.2] * 5
    )
    theta, se = estimator.estimate(_ev(params, [[1] * 5, [0] * 5]))  # type: ignore[attr-defined]
    assert np.all(np.isfinite(theta)) and np.all(np.isfinite(se))
    assert theta[0] > theta[1]


def test_mle_of_an_extreme_pattern_is_the_bound() -> None:
    theta, _ = MLE(bounds=(-3.0, 3.5)).estimate(_ev(RASCH4, [[1, 1, 1, 1], [0, 0, 0, 0]]))
    assert theta == pytest.approx([3.5, -3.0])


def test_polytomous_mle_matches_a_direct_maximisation() -> None:
    params = ItemParameters(
        model=np.array([Model.GRM, Model.GPCM, Model.GRM], dtype=np.int8),
        a=np.array([1.2, 0.9, 1.5]),
        b=np.full(3, np.nan),
        c=np.zeros(3),
        d=np.ones(3),
        thresholds=np.array([[-1.0, 0.0, 1.0], [-0.5, 0.7, np.nan], [-1.5, -0.2, 0.9]]),
    )
    pattern = np.array([2, 1, 1])
    best = optimize.minimize_scalar(
        lambda t: -log_likelihood([t], params, pattern)[0],
        bounds=(-4, 4),
        method="bounded",
        options={"xatol": 1e-9},
    )
    theta, _ = MLE().estimate(_ev(params, [pattern.tolist()]))
    assert theta[0] == pytest.approx(best.x, abs=1e-5)


def test_blank_and_padding_are_ignored_and_no_answers_give_the_prior() -> None:
    ev = Evidence.build(RASCH4, np.array([[0, 1, -1, -1]]), np.array([[1, -1, -1, -1]]))
    assert ev.n_answered[0] == 1
    theta, se = EAP(prior_mean=0.5, prior_sd=0.8).estimate(
        Evidence.build(RASCH4, np.zeros((1, 0), dtype=int), np.zeros((1, 0), dtype=int))
    )
    assert theta[0] == pytest.approx(0.5, abs=1e-3)
    assert se[0] == pytest.approx(0.8, abs=1e-2)


def test_settings_are_checked_at_construction() -> None:
    with pytest.raises(ValueError, match="prior_sd"):
        EAP(prior_sd=0.0)
    with pytest.raises(ValueError, match="bounds"):
        MLE(bounds=(2.0, -2.0))
