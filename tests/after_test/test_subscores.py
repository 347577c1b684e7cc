"""Subscores per content area and Haberman's PRMSE criterion, by simulation.

Responses are drawn from a correlated multidimensional 2PL (one θ per area),
so the true area scores are known and the true PRMSEs can be measured
(squared correlations with the truth) and set beside the estimated ones.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from calibration.subscores import added_value, area_subscores, total_composite
from cat_engine.irt import ItemParameters

AREAS = ("A", "B", "C")


def simulate(
    seed: int, per_area: int, r: float, m: int, *, adaptive: bool = False
) -> tuple[
    ItemParameters, NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]
]:
    """Bank, items (m, L), categories (m, L), item areas (n,), true θ (m, K).

    adaptive: every candidate answers a different half of each area's items
    (as under CAT), instead of one form for all."""
    rng = np.random.default_rng(seed)
    k = len(AREAS)
    n = per_area * k * (2 if adaptive else 1)
    a, b = rng.uniform(0.8, 2.0, n), rng.normal(0.0, 1.0, n)
    area = np.repeat(np.arange(k), n // k)
    corr = np.full((k, k), r)
    np.fill_diagonal(corr, 1.0)
    tau = rng.multivariate_normal(np.zeros(k), corr, size=m)
    if adaptive:
        pools = [np.flatnonzero(area == j) for j in range(k)]
        items = np.stack(
            [
                np.concatenate([rng.choice(p, per_area, replace=False) for p in pools])
                for _ in range(m)
            ]
        )
    else:
        items = np.tile(np.arange(n), (m, 1))
    theta = tau[np.arange(m)[:, None], area[items]]
    p = 1.0 / (1.0 + np.exp(-a[items] * (theta - b[items])))
    cats = (rng.random(p.shape) < p).astype(np.int64)
    return ItemParameters.dichotomous(a=a, b=b), items, cats, area, tau


@pytest.mark.parametrize(
    ("per_area", "r", "adaptive", "expect_reported"),
    [
        (20, 0.5, False, True),  # long areas, distinct skills: subscores add value
        (20, 0.5, True, True),  # the same under different items per candidate
        (6, 0.95, False, False),  # short areas of one skill: the total is better
    ],
)
def test_reported_subscores_meet_prmse_and_suppressed_do_not(
    per_area: int, r: float, adaptive: bool, expect_reported: bool
) -> None:
    params, items, cats, area, tau = simulate(20, per_area, r, 1500, adaptive=adaptive)
    sub = area_subscores(params, items, cats, area, AREAS)
    value = added_value(sub)
    x = total_composite(sub)
    for k, row in enumerate(value.areas):
        true_sub = np.corrcoef(sub.theta[:, k], tau[:, k])[0, 1] ** 2
        true_total = np.corrcoef(x, tau[:, k])[0, 1] ** 2
        assert row.reported is expect_reported, row
        # The decision holds for the true PRMSEs, not only the estimated ones.
        assert bool(true_sub > true_total) is expect_reported, (row, true_sub, true_total)
        # Estimates within 0.03 of the truth: the sampling SD of a squared
        # correlation near 0.7 with 1,500 candidates is about 0.01.
        assert row.prmse_sub == pytest.approx(true_sub, abs=0.03)
        assert row.prmse_total == pytest.approx(true_total, abs=0.03)
        assert row.prmse_augmented >= max(row.prmse_sub, row.prmse_total) - 1e-12
        assert row.reason_id.startswith("dilaporkan" if expect_reported else "tidak dilaporkan")


def test_standard_errors_match_the_spread_of_the_estimates_over_replications() -> None:
    """Over replications (fresh candidates and answers, fixed seeds) the RMS
    standard error is within 10 % of the empirical SD of estimate − truth.
    For EAP this is the population spread: the posterior SD is the error's
    SD over candidates drawn from the prior, not at one fixed θ."""
    errors: list[NDArray[np.float64]] = []
    ses: list[NDArray[np.float64]] = []
    for rep in range(8):
        params, items, cats, area, tau = simulate(100 + rep, 8, 0.7, 500, adaptive=rep % 2 == 1)
        sub = area_subscores(params, items, cats, area, AREAS)
        errors.append(sub.theta - tau)
        ses.append(sub.se)
    err, se = np.concatenate(errors), np.concatenate(ses)
    empirical = err.std(axis=0)
    reported = np.sqrt(np.mean(se**2, axis=0))
    assert np.all(np.abs(reported / empirical - 1.0) < 0.10), (reported, empirical)


def test_an_area_without_answers_gets_the_prior_and_counts() -> None:
    params = ItemParameters.dichotomous(a=[1.0, 1.0, 1.0], b=[0.0, 0.5, -0.5])
    sub = area_subscores(params, [[0, 1, -1]], [[1, 0, -1]], [0, 0, 1], ("A", "B"))
    assert sub.n_items.tolist() == [[2, 0]]
    assert sub.theta[0, 1] == pytest.approx(0.0, abs=1e-9)
    assert sub.se[0, 1] == pytest.approx(1.0, abs=0.01)


def test_few_candidates_are_not_judged() -> None:
    params, items, cats, area, _ = simulate(3, 6, 0.5, 10)
    value = added_value(area_subscores(params, items, cats, area, AREAS))
    assert not any(row.reported for row in value.areas)
    assert "10 peserta" in value.areas[0].reason_id


@pytest.mark.parametrize(
    ("item_area", "message"),
    [([0, 0], "item_area has shape"), ([0, 0, 5], "index below 2")],
)
def test_bad_area_map_is_a_clear_error(item_area: list[int], message: str) -> None:
    params = ItemParameters.dichotomous(a=[1.0, 1.0, 1.0], b=[0.0, 0.5, -0.5])
    with pytest.raises(ValueError, match=message):
        area_subscores(params, [[0, 1, 2]], [[1, 0, 1]], item_area, ("A", "B"))
