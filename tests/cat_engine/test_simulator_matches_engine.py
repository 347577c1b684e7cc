"""Property: the vectorised simulator gives each simulee exactly the engine's test.

For random designs (linear and adaptive; selectors, estimators, stopping by
length, SE, SPRT and time; pretest items; Sympson–Hetter, progressive and a
hard ``max_rate``; test and section time limits) and random seeds, a loop over
``engine.start`` / ``engine.record`` for one simulee after another, fed the
simulator's own answers and response times and the usage of the simulees
before it, must give the same administered items, estimates and scores as
``simulate`` for the same seed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cat_engine import engine
from cat_engine.design import TestDesign
from cat_engine.errors import EngineError
from cat_engine.exposure import ExposureUsage
from cat_engine.response import option_for_category
from cat_engine.simulation import draw_answers, simulate, simulee_seeds
from cat_engine.synthetic import synthetic_bank

BANK = synthetic_bank(
    {"A": {"A.x": 16, "A.y": 16}, "B": {"B.x": 12, "B.y": 12}},
    seed=5,
    polytomous=("B",),
    n_pretest=3,
    enemy_pairs=6,
)
OPTION = option_for_category(BANK)
AREAS = {"A": ("A.x", "A.y"), "B": ("B.x", "B.y")}
# The simulator's answer seed for a run with seed s (simulation.simulate).
ANSWER_SEED_OFFSET = 1_000_003

# Estimates: the engine sums a candidate's log-likelihood rows in another
# order than the simulator's running sum (EAP differs by ~1e-12), and MLE/MAP/
# WLE stop Fisher scoring within 1e-9; 1e-6 logits is far below anything a
# score shows. Points are the reference TCC at θ̂ (slope < 60 points per logit
# on these sections), so they agree to 1e-4.
THETA_TOL = 1e-6
POINTS_TOL = 1e-4


@st.composite
def designs(draw: st.DrawFn) -> tuple[TestDesign, bool]:
    """A design over BANK, and whether to give the simulees response times."""
    # Adaptive designs have more rules to get right (and linear ones are slower).
    mode = draw(st.sampled_from(["adaptive", "adaptive", "linear"]))
    codes = draw(st.sampled_from([["A"], ["B"], ["A", "B"]]))
    timed = draw(st.booleans())
    sections = []
    for code in codes:
        n_items = draw(st.integers(4, 8))
        sec: dict[str, Any] = {"code": code, "n_items": n_items}
        if draw(st.booleans()):
            first = draw(st.integers(1, n_items - 1))
            sec["blueprint"] = dict(zip(AREAS[code], (first, n_items - first), strict=True))
        sec["pretest_items"] = draw(st.integers(0, 2))
        if draw(st.booleans()):
            sec["passing_points"] = float(draw(st.integers(2, 4 * n_items)))
        if mode == "adaptive":
            sec["estimator"] = draw(st.sampled_from(["eap", "mle", "map", "wle"]))
            sec["selector"] = draw(
                st.sampled_from(
                    [
                        "max_info",
                        "kl",
                        {"name": "a_stratified", "n_strata": 2},
                        {"name": "randomesque", "k": 3},
                    ]
                )
            )
            sec["min_items"] = draw(st.integers(1, n_items))
            rules = draw(
                st.lists(
                    st.sampled_from(["fixed_length", "se_target", "sprt", "time"]),
                    min_size=1,
                    max_size=3,
                    unique=True,
                )
            )
            sec["stopping"] = [
                {"name": "se_target", "se": 0.6} if r == "se_target" else r for r in rules
            ]
            if "sprt" in rules:  # its cut; near the middle so that it can decide early
                sec["passing_points"] = float(draw(st.integers(n_items, 3 * n_items)))
            if "time" in rules or (timed and draw(st.booleans())):
                sec["time_limit_seconds"] = float(draw(st.integers(60, 300)))
        sections.append(sec)
    doc: dict[str, Any] = {"name": "prop", "mode": mode, "sections": sections}
    if timed and draw(st.integers(0, 2)) > 0:
        doc["time_limit_seconds"] = float(draw(st.integers(60, 400)))
    method = draw(st.sampled_from(["none", "sympson_hetter", "progressive"]))
    if mode == "linear":
        method = "none"  # the exposure controls act on adaptive selection only
        doc["assembly"] = {"score_tolerance": 0.3, "information_tolerance": 0.6}
    exposure: dict[str, Any] = {"method": method}
    if method == "sympson_hetter":
        ks = draw(st.lists(st.floats(0.05, 1.0), min_size=10, max_size=10))
        picks = draw(st.lists(st.integers(0, BANK.n_items - 1), min_size=10, max_size=10))
        exposure["parameters"] = {
            BANK.item_ids[i]: k for i, k in zip(picks, ks, strict=True) if not BANK.pretest[i]
        }
    if draw(st.booleans()):
        exposure["max_rate"] = draw(st.sampled_from([0.4, 0.5, 0.75]))
        exposure["warmup"] = draw(st.integers(2, 4))
    doc["exposure"] = exposure
    return TestDesign.from_dict(doc), timed


def _usage(limited: bool, counts: np.ndarray, n_tests: int) -> ExposureUsage | None:
    return ExposureUsage(counts, n_tests) if limited else None


def _engine_loop(
    design: TestDesign, theta: np.ndarray, seed: int, seconds: np.ndarray | None
) -> tuple[list[Any], np.ndarray]:
    """Each simulee through engine.start/record in turn; their states and the usage counts."""
    n = theta.shape[0]
    seeds = simulee_seeds(seed, n)
    limited = design.exposure.max_rate is not None
    counts = np.zeros(BANK.n_items, dtype=np.int64)
    states = []
    for j in range(n):
        st_ = engine.start(design, BANK, int(seeds[j]), usage=_usage(limited, counts, j))
        counts += np.bincount(engine.presented(st_), minlength=BANK.n_items)
        order = engine.presented(st_) if design.mode == "linear" else []
        while not engine.is_complete(st_):
            if design.mode == "linear":
                if not order:
                    break
                item = order.pop(0)
                s = next(k for k, sec in enumerate(st_.sections) if item in sec.items)
            else:
                item, s = engine.current(st_), st_.section_index  # type: ignore[assignment]
            cat = draw_answers(
                BANK,
                theta[j : j + 1, s],
                seed + ANSWER_SEED_OFFSET,
                np.array([j]),
                np.array([[item]]),
            )[0, 0]
            before = engine.presented(st_)
            st_ = engine.record(
                st_,
                BANK,
                item,
                int(OPTION[item, cat]),
                elapsed=0.0 if seconds is None else float(seconds[j, item]),
                usage=_usage(limited, counts, j),
            )
            new = engine.presented(st_)[len(before) :]
            counts += np.bincount(np.asarray(new, dtype=np.int64), minlength=BANK.n_items)
        states.append(st_)
    return states, counts


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(designs(), st.integers(0, 2**20), st.integers(2, 4))
def test_simulator_equals_a_loop_over_the_engine(
    design_timed: tuple[TestDesign, bool], seed: int, n: int
) -> None:
    design, timed = design_timed
    r = np.random.default_rng(seed)
    theta = r.normal(size=(n, len(design.sections)))
    seconds = r.uniform(5.0, 60.0, size=(n, BANK.n_items)) if timed else None
    # A hard rate couples simulees; the engine loop sees those before it, which
    # is the simulator with waves of one. Otherwise the whole run is one wave.
    wave = 1 if design.exposure.max_rate is not None else None
    try:
        res = simulate(design, BANK, theta, seed, response_seconds=seconds, wave=wave)
    except EngineError as exc:  # a linear form the rate leaves no room for
        try:
            _engine_loop(design, theta, seed, seconds)
        except EngineError as exc2:
            assert exc2.code == exc.code
            return
        raise AssertionError("the simulator raised, the engine did not") from exc
    states, counts = _engine_loop(design, theta, seed, seconds)
    assert counts.tolist() == res.exposure_counts.tolist()
    for j, state in enumerate(states):
        score = engine.score(state, BANK)
        for s, sec in enumerate(state.sections):
            scored = [i for i, p in zip(sec.items, sec.pretest, strict=True) if not p]
            assert res.items[s][j, : len(scored)].tolist() == scored
            assert np.all(res.items[s][j, len(scored) :] == -1)
            assert res.length[j, s] == len(scored)
            got = score.sections[s]
            assert abs(got.theta - res.theta_hat[j, s]) <= THETA_TOL
            if got.se is None:
                assert not np.isfinite(res.se[j, s])
            else:
                assert abs(got.se - res.se[j, s]) <= THETA_TOL
            assert abs(got.points - res.points[j, s]) <= POINTS_TOL
