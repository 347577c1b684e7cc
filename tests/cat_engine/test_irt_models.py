"""The shared IRT response models against hand values and identities."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cat_engine.irt import (
    ItemParameters,
    Model,
    category_probabilities,
    expected_score,
    info_4pl,
    info_gpcm,
    info_grm,
    information,
    log_likelihood,
    prob_4pl,
    prob_gpcm,
    prob_grm,
)


def test_3pl_hand_value() -> None:
    # θ = b gives the midpoint between c and 1: 0.2 + 0.8 / 2.
    assert prob_4pl([0.0], 1.0, 0.0, 0.2)[0, 0] == pytest.approx(0.6)
    # Lord (1980): at θ = b the 2PL information is a²/4.
    assert info_4pl([0.5], 1.7, 0.5)[0, 0] == pytest.approx(1.7**2 / 4)


def test_single_step_polytomous_models_equal_the_2pl() -> None:
    theta = np.linspace(-3, 3, 7)
    p2 = prob_4pl(theta, 1.3, 0.4)[:, 0]
    assert prob_grm(theta, [1.3], [[0.4]])[:, 0, 1] == pytest.approx(p2)
    assert prob_gpcm(theta, [1.3], [[0.4]])[:, 0, 1] == pytest.approx(p2)
    i2 = info_4pl(theta, 1.3, 0.4)[:, 0]
    assert info_grm(theta, [1.3], [[0.4]])[:, 0] == pytest.approx(i2)
    assert info_gpcm(theta, [1.3], [[0.4]])[:, 0] == pytest.approx(i2)


@pytest.mark.parametrize(
    ("prob", "info"),
    [(prob_grm, info_grm), (prob_gpcm, info_gpcm)],
)
def test_polytomous_information_is_fisher_information(prob, info) -> None:  # type: ignore[no-untyped-def]
    # Fisher information = Σ_k (∂P_k/∂θ)² / P_k; a central difference with
    # h = 1e-5 is accurate to ~1e-9, far inside the 1e-6 tolerance.
    theta = np.array([-1.2, 0.0, 0.7, 2.1])
    a = np.array([1.4])
    b = np.array([[-1.0, 0.3, 1.2]])
    h = 1e-5
    dp = (prob(theta + h, a, b) - prob(theta - h, a, b)) / (2 * h)
    fisher = np.sum(dp**2 / prob(theta, a, b), axis=2)
    assert info(theta, a, b) == pytest.approx(fisher, rel=1e-6)


def test_4pl_information_is_fisher_information() -> None:
    theta = np.array([-2.0, 0.1, 1.5])
    h = 1e-5
    p = prob_4pl(theta, 1.2, 0.1, 0.2, 0.95)
    dp = (prob_4pl(theta + h, 1.2, 0.1, 0.2, 0.95) - prob_4pl(theta - h, 1.2, 0.1, 0.2, 0.95)) / (
        2 * h
    )
    assert info_4pl(theta, 1.2, 0.1, 0.2, 0.95) == pytest.approx(dp**2 / (p * (1 - p)), rel=1e-6)


def _mixed() -> ItemParameters:
    nan = np.nan
    return ItemParameters(
        model=np.array([Model.THREE_PL, Model.GRM, Model.GPCM, Model.ONE_PL], dtype=np.int8),
        a=np.array([1.2, 1.0, 0.8, 1.0]),
        b=np.array([0.3, nan, nan, -0.5]),
        c=np.array([0.2, 0.0, 0.0, 0.0]),
        d=np.ones(4),
        thresholds=np.array([[nan] * 4, [-1.0, 0.0, 1.0, nan], [-1.5, -0.5, 0.5, 1.5], [nan] * 4]),
    )


def test_mixed_bank_categories_and_padding() -> None:
    params = _mixed()
    assert params.n_categories.tolist() == [2, 4, 5, 2]
    p = category_probabilities(np.linspace(-4, 4, 9), params)
    assert p.shape == (9, 4, 5)
    assert p.sum(axis=2) == pytest.approx(np.ones((9, 4)))
    # Categories an item does not have carry no probability.
    assert np.all(p[:, 0, 2:] == 0) and np.all(p[:, 1, 4] == 0)
    assert information([0.0], params).shape == (1, 4)


def test_log_likelihood_sums_log_probabilities_and_skips_missing() -> None:
    params = _mixed()
    theta = np.array([-1.0, 0.5])
    p = category_probabilities(theta, params)
    responses = np.array([1, 2, -1, 0])  # item 3 not presented
    expected = np.log(p[:, 0, 1]) + np.log(p[:, 1, 2]) + np.log(p[:, 3, 0])
    assert log_likelihood(theta, params, responses) == pytest.approx(expected)
    both = log_likelihood(theta, params, np.stack([responses, responses]))
    assert both.shape == (2, 2)


def test_expected_score_increases_with_ability() -> None:
    es = expected_score(np.linspace(-3, 3, 13), _mixed())
    assert np.all(np.diff(es, axis=0) > 0)


def test_model_parse() -> None:
    assert Model.parse("rasch") is Model.ONE_PL
    assert Model.parse(" gpcm ") is Model.GPCM
    with pytest.raises(ValueError, match="unknown IRT model"):
        Model.parse("5PL")


def test_item_parameters_reject_wrong_shapes() -> None:
    with pytest.raises(ValueError, match="shape"):
        ItemParameters(
            np.zeros(3, dtype=np.int8),
            np.ones(2),
            np.zeros(3),
            np.zeros(3),
            np.ones(3),
            np.full((3, 1), np.nan),
        )


@settings(max_examples=60, deadline=None)
@given(
    theta=st.floats(-8, 8),
    a=st.floats(0.2, 3.0),
    steps=st.lists(st.floats(-4, 4), min_size=1, max_size=5),
)
def test_probabilities_are_distributions(theta: float, a: float, steps: list[float]) -> None:
    b = np.array([sorted(steps)])
    for prob in (prob_grm, prob_gpcm):
        p = prob([theta], [a], b)
        assert np.all(p >= 0) and math.isclose(float(p.sum()), 1.0, rel_tol=1e-9)
