"""The live step's shortcuts (EAP from the running row; maximum information
without eligibility masks or a selection context) are the general path's
exact special case: over many random candidates and designs, with the
shortcuts on and off, every step gives the same items, θ̂ and SE bit for bit,
the same stored state and the same recorded choices. Designs the shortcuts do
not cover (blueprints, enemies, exposure controls and limits, withdrawn items,
other selectors and estimators, pretest items) fall back to the general path.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cat_engine import engine
from cat_engine.design import TestDesign
from cat_engine.exposure import ExposureUsage
from cat_engine.state import TestState
from cat_engine.synthetic import synthetic_bank

# No enemy groups: the selection shortcut can apply. Section B is polytomous.
PLAIN = synthetic_bank(
    {"A": {"A.x": 40, "A.y": 40}, "B": {"B.x": 20, "B.y": 20}},
    seed=11,
    polytomous=("B",),
    n_pretest=4,
)
# Enemy groups in the pools: selection always takes the general path.
ENEMIES = synthetic_bank(
    {"A": {"A.x": 40, "A.y": 40}, "B": {"B.x": 20, "B.y": 20}},
    seed=12,
    polytomous=("B",),
    n_pretest=4,
    enemy_pairs=15,
)
AREAS = {"A": ("A.x", "A.y"), "B": ("B.x", "B.y")}


@st.composite
def cases(draw: st.DrawFn) -> tuple[Any, TestDesign, str]:
    """(bank, adaptive design, usage kind: 'none' | 'counts' | 'withdrawn')."""
    bank = draw(st.sampled_from([PLAIN, PLAIN, ENEMIES]))
    codes = draw(st.sampled_from([["A"], ["B"], ["A", "B"]]))
    sections = []
    for code in codes:
        n_items = draw(st.integers(4, 12))
        sec: dict[str, Any] = {
            "code": code,
            "n_items": n_items,
            "estimator": draw(st.sampled_from(["eap", "eap", "mle", "map", "wle"])),
            "selector": draw(
                st.sampled_from(["max_info", "max_info", "kl", {"name": "randomesque", "k": 3}])
            ),
        }
        if draw(st.integers(0, 3)) == 0:
            first = draw(st.integers(1, n_items - 1))
            sec["blueprint"] = dict(zip(AREAS[code], (first, n_items - first), strict=True))
        if draw(st.integers(0, 3)) == 0:
            sec["pretest_items"] = draw(st.integers(1, 2))
        rule = draw(st.sampled_from(["fixed_length", "se_target", "sprt"]))
        if rule != "fixed_length":
            sec["min_items"] = draw(st.integers(1, n_items))
            sec["stopping"] = [{"name": "se_target", "se": 0.5} if rule == "se_target" else rule]
            if rule == "sprt":
                sec["passing_points"] = float(draw(st.integers(n_items, 3 * n_items)))
        sections.append(sec)
    method = draw(st.sampled_from(["none", "none", "none", "sympson_hetter", "progressive"]))
    exposure: dict[str, Any] = {"method": method}
    if method == "sympson_hetter":
        exposure["parameters"] = {bank.item_ids[i]: 0.4 for i in range(0, bank.n_items, 3)}
    usage = draw(st.sampled_from(["none", "none", "counts", "withdrawn"]))
    if usage == "counts" and draw(st.booleans()):
        exposure["max_rate"] = draw(st.sampled_from([0.3, 0.5]))
        exposure["warmup"] = 2
    doc = {"name": "live", "mode": "adaptive", "sections": sections, "exposure": exposure}
    return bank, TestDesign.from_dict(doc), usage


def _run(
    bank: Any, design: TestDesign, usage_kind: str, seed: int, n: int
) -> list[tuple[Any, ...]]:
    """n candidates through start/record; everything each step gives and stores."""
    rng = np.random.default_rng(seed)
    counts = np.zeros(bank.n_items, dtype=np.int64)
    withdrawn = np.zeros(bank.n_items, dtype=bool)
    withdrawn[rng.choice(bank.n_items, 5, replace=False)] = True
    out: list[tuple[Any, ...]] = []

    def usage(j: int) -> ExposureUsage | None:
        if usage_kind == "none":
            return None
        return ExposureUsage(counts, j, withdrawn if usage_kind == "withdrawn" else None)

    for j in range(n):
        state = engine.start(design, bank, seed=seed + j, usage=usage(j))
        counts[engine.administered(None, state)] += 1
        step = 0
        while not engine.is_complete(state):
            item = engine.current(state)
            assert item is not None
            n_opt = int(bank.n_options[item])
            option = -1 if rng.random() < 0.1 else int(rng.integers(0, n_opt))
            choices = engine.Choices() if step % 2 else None
            before = state
            state = engine.record(state, bank, item, option, usage=usage(j), choices=choices)
            counts[engine.administered(before, state)] += 1
            out.append(
                (
                    item,
                    option,
                    [(s.theta, s.se, s.stop_reason) for s in state.sections],
                    state.to_dict(),
                    None if choices is None else choices.made,
                )
            )
            step += 1
            if step % 4 == 0:  # a resumed test: no running caches
                state = TestState.from_dict(state.to_dict())
        out.append(("score", engine.score(state, bank).to_dict()))
    return out


def _compare(
    monkeypatch: pytest.MonkeyPatch,
    bank: Any,
    design: TestDesign,
    usage_kind: str,
    seed: int,
    n: int,
) -> None:
    fast = _run(bank, design, usage_kind, seed, n)
    with monkeypatch.context() as m:
        m.setattr(engine, "SHORTCUTS", False)
        slow = _run(bank, design, usage_kind, seed, n)
    assert len(fast) == len(slow)
    for a, b in zip(fast, slow, strict=True):
        # == on floats: bit for bit (no NaN here), not approximately
        assert a == b


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(cases(), st.integers(0, 2**20))
def test_shortcuts_equal_the_general_path(
    monkeypatch: pytest.MonkeyPatch, case: tuple[Any, TestDesign, str], seed: int
) -> None:
    bank, design, usage_kind = case
    _compare(monkeypatch, bank, design, usage_kind, seed, n=4)


def _counting_select_next(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the general selection's calls (each start or step that selects through it)."""
    calls: list[int] = []
    general = engine.select_next

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return general(*args, **kwargs)

    monkeypatch.setattr(engine, "select_next", counted)
    return calls


def test_the_common_live_test_takes_the_shortcut_and_gives_the_general_tests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """EAP, maximum information, no blueprint, enemies or exposure control: after
    the first item (chosen by ``start``) no step goes through the general
    selection, and 50 candidates get exactly the general path's tests."""
    design = TestDesign.from_dict(
        {
            "name": "common",
            "mode": "adaptive",
            "sections": [{"code": "A", "n_items": 20}, {"code": "B", "n_items": 10}],
        }
    )
    calls = _counting_select_next(monkeypatch)
    state = engine.start(design, PLAIN, seed=5)
    assert len(calls) == 1
    while not engine.is_complete(state):
        item = engine.current(state)
        assert item is not None
        state = engine.record(state, PLAIN, item, 0)
    # the second section's first item: chosen where section A ended, generally
    assert len(calls) == 2
    assert [len(s.items) for s in state.sections] == [20, 10]
    _compare(monkeypatch, PLAIN, design, "none", seed=7, n=50)


@pytest.mark.parametrize(
    ("bank", "change", "usage_kind"),
    [
        (PLAIN, {"blueprint": {"A.x": 10, "A.y": 10}}, "none"),
        (ENEMIES, {}, "none"),
        (PLAIN, {"exposure": {"method": "sympson_hetter"}}, "none"),
        (PLAIN, {"exposure": {"method": "progressive"}}, "none"),
        (PLAIN, {"exposure": {"max_rate": 0.5, "warmup": 2}}, "counts"),
        (PLAIN, {}, "withdrawn"),
        (PLAIN, {"selector": "kl"}, "none"),
    ],
    ids=["blueprint", "enemies", "sympson_hetter", "progressive", "max_rate", "withdrawn", "kl"],
)
def test_designs_outside_the_shortcut_select_through_the_general_path(
    monkeypatch: pytest.MonkeyPatch, bank: Any, change: dict[str, Any], usage_kind: str
) -> None:
    section: dict[str, Any] = {"code": "A", "n_items": 20}
    doc: dict[str, Any] = {"name": "general", "mode": "adaptive", "sections": [section]}
    for key, value in change.items():
        (doc if key == "exposure" else section)[key] = value
    design = TestDesign.from_dict(doc)
    calls = _counting_select_next(monkeypatch)
    withdrawn = np.zeros(bank.n_items, dtype=bool)
    withdrawn[:3] = True
    usage = {
        "none": None,
        "counts": ExposureUsage(np.zeros(bank.n_items, dtype=np.int64), 0),
        "withdrawn": ExposureUsage(np.zeros(bank.n_items, dtype=np.int64), 0, withdrawn),
    }[usage_kind]
    state = engine.start(design, bank, seed=3, usage=usage)
    while not engine.is_complete(state):
        item = engine.current(state)
        assert item is not None
        state = engine.record(state, bank, item, 0, usage=usage)
    assert len(calls) == 20  # the first item and one per answer but the last
    _compare(monkeypatch, bank, design, usage_kind, seed=9, n=10)
