"""What a live server needs for exposure control: usage in, administered items out."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from cat_engine import engine
from cat_engine.design import TestDesign
from cat_engine.errors import EngineError
from cat_engine.exposure import ExposureUsage
from cat_engine.synthetic import synthetic_bank

BANK = synthetic_bank({"A": {"A.x": 20, "A.y": 20}}, seed=3, n_pretest=3)


def _design(mode: str = "adaptive", **exposure: Any) -> TestDesign:
    return TestDesign.from_dict(
        {
            "name": "live",
            "mode": mode,
            "sections": [
                {"code": "A", "n_items": 6, "blueprint": {"A.x": 3, "A.y": 3}, "pretest_items": 2}
            ],
            "exposure": {"method": "none", **exposure},
            "assembly": {"score_tolerance": 0.3, "information_tolerance": 0.6},
        }
    )


def test_administered_lists_what_each_step_presented_pretest_included() -> None:
    design = _design()
    state = engine.start(design, BANK, seed=11)
    steps = [engine.administered(None, state)]
    assert steps[0].tolist() == engine.presented(state)
    while not engine.is_complete(state):
        before = state
        state = engine.record(state, BANK, engine.current(state), 0)  # type: ignore[arg-type]
        steps.append(engine.administered(before, state))
    # One item per adaptive step, none after the last answer; together, the whole test.
    assert [len(x) for x in steps] == [1] * (len(steps) - 1) + [0]
    assert np.concatenate(steps).tolist() == engine.presented(state)
    assert sum(state.sections[0].pretest) == 2  # the pretest items were among them
    assert all(x.dtype == np.int64 for x in steps)


def test_administered_on_a_linear_form_is_the_form_at_start_then_nothing() -> None:
    state = engine.start(_design("linear"), BANK, seed=5)
    form = engine.administered(None, state)
    assert form.tolist() == engine.presented(state) and len(form) == 6 + 2
    after = engine.record(state, BANK, int(form[0]), 1)
    assert engine.administered(state, after).size == 0


def test_administered_refuses_states_of_two_tests() -> None:
    a = engine.start(_design(), BANK, seed=1)
    b = engine.start(_design(), BANK, seed=2)
    with pytest.raises(ValueError, match="not the same test"):
        engine.administered(a, b)


def test_usage_is_built_from_a_counts_array_and_a_number_of_tests() -> None:
    usage = ExposureUsage([0, 2, 1], 4)  # type: ignore[arg-type]
    assert usage.counts.dtype == np.int64 and usage.counts.tolist() == [0, 2, 1]
    assert usage.n_tests == 4
    # At 0.5 over max(4 + 1, 2) tests an item may go to 2 tests: item 1 is full.
    assert usage.allowed(0.5, 2).tolist() == [True, False, True]
    counts = np.zeros(3, dtype=np.int32)
    usage = ExposureUsage(counts, 0)  # type: ignore[arg-type]
    counts[0] = 9  # the server's array changing later does not change this usage
    assert usage.counts[0] == 0
    for bad in ([[1, 2]], [-1, 0]):
        with pytest.raises(ValueError):
            ExposureUsage(bad, 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ExposureUsage([1], -1)  # type: ignore[arg-type]


def test_usage_of_another_bank_is_refused() -> None:
    design = _design(max_rate=0.5)
    with pytest.raises(EngineError) as err:
        engine.start(design, BANK, seed=1, usage=ExposureUsage(np.zeros(3, dtype=np.int64), 0))
    assert err.value.code == "usage_mismatch"


def _full(items: list[int], n_tests: int = 10) -> ExposureUsage:
    """Usage with ``items`` at a 0.5 rate's limit over ``n_tests + 1`` tests."""
    counts = np.zeros(BANK.n_items, dtype=np.int64)
    counts[items] = (n_tests + 1) // 2
    return ExposureUsage(counts, n_tests)


def test_the_hard_rate_keeps_full_items_out_of_start_and_record() -> None:
    design = _design(max_rate=0.5, warmup=2)
    free = engine.start(design, BANK, seed=7)
    first = engine.current(free)
    assert first is not None
    capped = engine.start(design, BANK, seed=7, usage=_full([first]))
    assert engine.current(capped) != first
    # record: the item the engine would give next is full, so another comes.
    nxt = engine.record(free, BANK, first, 0)
    second = engine.current(nxt)
    assert second is not None
    again = engine.record(free, BANK, first, 0, usage=_full([second]))
    assert engine.current(again) not in (None, second)
    # Without usage the limit cannot be known and is not applied.
    assert engine.current(engine.record(free, BANK, first, 0, usage=None)) == second


def test_the_hard_rate_keeps_full_items_off_a_linear_form() -> None:
    design = _design("linear", max_rate=0.5, warmup=2)
    form = engine.presented(engine.start(design, BANK, seed=3))
    scored = [i for i in form if not BANK.pretest[i]]
    capped = engine.start(design, BANK, seed=3, usage=_full(scored[:3]))
    assert not set(scored[:3]) & set(engine.presented(capped))


def test_sympson_hetter_parameters_act_on_start_and_record() -> None:
    free = engine.start(_design(), BANK, seed=7)
    first = engine.current(free)
    assert first is not None
    second = engine.current(engine.record(free, BANK, first, 0))
    assert second is not None
    never = {"method": "sympson_hetter", "parameters": {BANK.item_ids[first]: 0.0}}
    sh = TestDesign.from_dict({**_design().to_dict(), "exposure": never})
    assert engine.current(engine.start(sh, BANK, seed=7)) != first
    never = {"method": "sympson_hetter", "parameters": {BANK.item_ids[second]: 0.0}}
    sh = TestDesign.from_dict({**_design().to_dict(), "exposure": never})
    state = engine.start(sh, BANK, seed=7)
    assert engine.current(state) == first  # k = 1 for it: the lottery always accepts
    assert engine.current(engine.record(state, BANK, first, 0)) != second
