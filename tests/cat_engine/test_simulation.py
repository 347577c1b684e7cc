"""The simulator: exposure limits, statistical sanity (its equality with the
engine is the property test in test_simulator_matches_engine.py)."""

from __future__ import annotations

import numpy as np
import pytest

from cat_engine.design import TestDesign
from cat_engine.metrics import summarize
from cat_engine.simulation import (
    calibrate_sympson_hetter,
    simulate,
)
from cat_engine.synthetic import synthetic_bank

BANK = synthetic_bank(
    {"TWK": {"TWK.a": 60, "TWK.b": 60}, "TKP": {"TKP.a": 40, "TKP.b": 40}},
    seed=21,
    polytomous=("TKP",),
    n_pretest=4,
    enemy_pairs=12,
)


def _design(mode: str = "adaptive", **over: object) -> TestDesign:
    doc = {
        "name": "sim",
        "mode": mode,
        "sections": [
            {
                "code": "TWK",
                "n_items": 12,
                "blueprint": {"TWK.a": 6, "TWK.b": 6},
                "passing_points": 30,
            },
            {
                "code": "TKP",
                "n_items": 8,
                "blueprint": {"TKP.a": 4, "TKP.b": 4},
                "passing_points": 26,
            },
        ],
        "assembly": {"score_tolerance": 0.04, "information_tolerance": 0.15},
    }
    doc.update(over)
    return TestDesign.from_dict(doc)


def test_hard_maximum_exposure_rate_holds_in_simulation() -> None:
    theta = np.random.default_rng(1).normal(size=300)
    free = simulate(_design(), BANK, theta, seed=2)
    capped = simulate(
        _design(exposure={"method": "none", "max_rate": 0.2, "warmup": 50}), BANK, theta, seed=2
    )
    n = theta.shape[0]
    assert free.exposure_counts.max() / n > 0.5  # max-info alone overuses its favourites
    # The restricted rule is exact: never above the limit (counted over max(N, warmup)).
    assert capped.exposure_counts.max() / n <= 0.2 + 1e-12
    # Blueprint still met for every simulee.
    twk = capped.items[0]
    area = BANK.content_area[twk]
    assert np.all((area == 0).sum(axis=1) == 6) and np.all((area == 1).sum(axis=1) == 6)


def test_sympson_hetter_iterations_bring_the_max_rate_down_to_the_target() -> None:
    theta = np.random.default_rng(3).normal(size=300)
    design, history = calibrate_sympson_hetter(_design(), BANK, theta, 0.3, seed=5, iterations=6)
    assert design.exposure.method == "sympson_hetter" and design.exposure.parameters
    final = simulate(design, BANK, theta, seed=6)  # fresh lottery draws
    rate = final.exposure_counts.max() / theta.shape[0]
    assert history[0] > 0.6
    # SH controls the rate in expectation only: with N = 300 a rate of 0.3 has a
    # binomial SE of 0.026, and the max over ~200 items adds about 2.5 SE.
    assert rate <= 0.3 + 0.09


def test_adaptive_beats_linear_at_equal_length_and_se_matches_rmse() -> None:
    theta = np.random.default_rng(7).normal(size=(300, 2))
    ada = summarize(simulate(_design(), BANK, theta, seed=8), BANK)
    lin = summarize(simulate(_design("linear"), BANK, theta[:60], seed=8), BANK)
    a, b = ada["sections"][0], lin["sections"][0]
    # Max-info on 12 items from 120 is clearly more precise than a random parallel form.
    assert a["theta"]["rmse"] < b["theta"]["rmse"]
    # EAP's posterior SD is calibrated: RMSE/mean SE within 20 % (sampling SE of
    # an RMSE over 300 simulees is ≈ 4 %; the rest covers EAP's shrinkage).
    assert a["theta"]["rmse"] / a["mean_se"] == pytest.approx(1.0, abs=0.2)
    assert abs(a["theta"]["bias"]) < 0.1  # 3 SE of a mean error over 300 simulees
    assert a["classification"]["accuracy"] > 0.8
    assert 0.0 <= a["exposure"]["never_used"] <= 1.0
    assert len(a["conditional"]) >= 4


def test_se_target_shortens_tests_and_reaches_the_target() -> None:
    design = _design()
    doc = design.to_dict()
    for sec in doc["sections"]:
        sec["min_items"] = 4
        sec["stopping"] = [{"name": "se_target", "se": 0.45}]
        sec["blueprint"] = {}
    res = simulate(TestDesign.from_dict(doc), BANK, np.zeros(50), seed=1)
    short = res.length[:, 0] < 12
    assert short.any()
    assert np.all(res.se[short, 0] <= 0.45)
