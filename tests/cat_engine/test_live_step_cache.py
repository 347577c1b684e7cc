"""The live step's running evidence is a cache: a test resumed from its stored
form (no cache) goes on exactly as the uninterrupted one, bit for bit."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cat_engine import engine
from cat_engine.design import TestDesign
from cat_engine.estimators import Evidence
from cat_engine.state import TestState
from cat_engine.synthetic import synthetic_bank

BANK = synthetic_bank({"A": {"A.x": 20, "A.y": 20}, "B": {"B.x": 15}}, seed=3, polytomous=("B",))


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    estimator=st.sampled_from(["eap", "mle", "map"]),
    resume_every=st.integers(1, 5),
)
def test_resumed_test_equals_the_uninterrupted_one(
    seed: int, estimator: str, resume_every: int
) -> None:
    design = TestDesign.from_dict(
        {
            "name": "cache",
            "mode": "adaptive",
            "sections": [
                {"code": "A", "n_items": 10, "estimator": estimator},
                {"code": "B", "n_items": 6, "estimator": estimator},
            ],
        }
    )
    rng = np.random.default_rng(seed)
    live = engine.start(design, BANK, seed=seed)
    resumed = TestState.from_dict(live.to_dict())
    step = 0
    while not engine.is_complete(live):
        item = engine.current(live)
        assert item is not None and item == engine.current(resumed)
        option = int(rng.integers(-1, int(BANK.n_options[item])))
        live = engine.record(live, BANK, item, option)
        resumed = engine.record(resumed, BANK, item, option)
        # the stored form (what a server keeps) is identical, θ̂ and SE included
        assert resumed.to_dict() == live.to_dict()
        step += 1
        if step % resume_every == 0:  # a crash: the server reloads the stored state
            resumed = TestState.from_dict(resumed.to_dict())
    for a, b in zip(live.sections, resumed.sections, strict=True):
        assert a.theta == b.theta and a.se == b.se  # bit for bit, not approximately
    assert engine.score(live, BANK).to_dict() == engine.score(resumed, BANK).to_dict()
    # and the estimates are those of the answers themselves (blank = category 0),
    # from the log-likelihood built independently of the engine's tables
    for s, sec in enumerate(live.sections):
        cats = [
            int(BANK.option_category[i, o]) if o >= 0 else 0
            for i, o in zip(sec.items, sec.options, strict=True)
        ]
        ev = Evidence.build(BANK.params, np.array(sec.items), np.array(cats))
        theta, _ = design.strategies[s].estimator.estimate(ev)
        assert abs(float(theta[0]) - sec.theta) < 1e-9  # table vs direct logs: rounding only


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31))
def test_an_earlier_state_answered_again_is_unchanged_by_later_steps(seed: int) -> None:
    """The running caches are shared between a state and the states made from
    it: a state answered again after the test went on from it (a server
    retrying a step from a state it held) gives exactly what its own stored
    form gives, whatever later steps added."""
    design = TestDesign.from_dict(
        {"name": "branch", "mode": "adaptive", "sections": [{"code": "A", "n_items": 12}]}
    )
    rng = np.random.default_rng(seed)
    live = engine.start(design, BANK, seed=seed)
    held: list[TestState] = []
    while not engine.is_complete(live):
        item = engine.current(live)
        assert item is not None
        held.append(live)
        live = engine.record(live, BANK, item, int(rng.integers(0, 2)))
        old = held[int(rng.integers(0, len(held)))]  # some state the test went on from
        old_item = engine.current(old)
        assert old_item is not None
        option = int(rng.integers(0, 2))
        again = engine.record(old, BANK, old_item, option)
        fresh = engine.record(TestState.from_dict(old.to_dict()), BANK, old_item, option)
        assert again.to_dict() == fresh.to_dict()
