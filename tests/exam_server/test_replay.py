"""The stored form of an attempt: the last snapshot plus the responses after it,
replayed through the engine, give exactly the live state.

The live side here does what exam_server/attempts/actions.py does for each
answer, flag and navigation (the engine calls with the server's elapsed
seconds and, adaptive, the usage of the moment and a Choices recorder; the
response row's replay fields; a snapshot when storage.snapshot_due says so;
the item on screen); the rebuild is the one a load runs (storage.replay).
The usage changes at random between steps, as other candidates' tests move
it, so an adaptive replay that chose again would present other items.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cat_engine import engine as cat
from cat_engine.design import TestDesign
from cat_engine.errors import EngineError
from cat_engine.exposure import ExposureUsage
from cat_engine.state import TestState
from cat_engine.synthetic import synthetic_bank
from exam_server import audit
from exam_server.attempts import storage

BANK = synthetic_bank({"A": {"A.x": 14, "A.y": 14}, "B": {"B.x": 24}}, seed=3, n_pretest=4)


def _design(mode: str, method: str) -> TestDesign:
    exposure: dict[str, Any] = {"method": method, "max_rate": 0.3, "warmup": 1}
    if method == "sympson_hetter":
        exposure["parameters"] = {i: 0.6 for i in BANK.item_ids}
    return TestDesign.from_dict(
        {
            "name": f"replay {mode} {method}",
            "mode": mode,
            "time_limit_seconds": 900.0,
            "sections": [
                {
                    "code": "A",
                    "n_items": 5,
                    "blueprint": {"A.x": 2, "A.y": 3},
                    "pretest_items": 1,
                    # Adaptive: a section time limit, so the server's elapsed
                    # seconds decide when it ends.
                    **({"time_limit_seconds": 240.0} if mode == "adaptive" else {}),
                },
                {"code": "B", "n_items": 4, "stopping": ["fixed_length"]},
            ],
            "exposure": exposure,
            "assembly": {"score_tolerance": 0.5, "information_tolerance": 2.0},
        }
    )


DESIGNS = {
    ("linear", "none"): _design("linear", "none"),
    ("adaptive", "progressive"): _design("adaptive", "progressive"),
    ("adaptive", "sympson_hetter"): _design("adaptive", "sympson_hetter"),
}


def _usage(rng: np.random.Generator) -> ExposureUsage:
    """Usage counts as other tests might have left them: often at the cap."""
    n_tests = int(rng.integers(1, 20))
    return ExposureUsage(rng.integers(0, n_tests + 1, BANK.n_items), n_tests)


class Live:
    """One attempt driven as the live path drives it, with its stored rows."""

    def __init__(self, design: TestDesign, seed: int, every: int, rng: np.random.Generator):
        self.every, self.rng = every, rng
        # A linear form is assembled once, at the start (stored as snapshot 0):
        # the usage matters to the adaptive steps only.
        usage = _usage(rng) if design.mode == "adaptive" else None
        self.state = cat.start(design, BANK, seed, usage=usage)
        self.seq = 0
        self.rows: list[dict[str, Any]] = []
        self.snapshots = {0: storage.state_json(self.state)}
        self.screen = storage.on_screen(self.state)

    def _store(self, new: TestState, row: dict[str, Any]) -> None:
        self.seq += 1
        row["seq"] = self.seq
        self.rows.append(row)
        if storage.snapshot_due(self.state, new, self.seq, self.every):
            self.snapshots[self.seq] = storage.state_json(new)
        self.state, self.screen = new, storage.on_screen(new)

    def answer(self, pick: int, option: int, flagged: bool, elapsed: float) -> None:
        adaptive = self.state.design.mode == "adaptive"
        items = cat.presented(self.state)
        idx = cat.current(self.state) if adaptive else items[pick % len(items)]
        assert idx is not None
        option = max(-1, min(option, int(BANK.n_options[idx]) - 1))
        choices = cat.Choices() if adaptive else None
        new = cat.record(
            self.state,
            BANK,
            idx,
            option,
            flagged=flagged and not adaptive,
            elapsed=elapsed,
            usage=_usage(self.rng) if adaptive else None,
            choices=choices,
        )
        row = {"kind": "answer", "item_id": BANK.item_ids[idx], "option": option}
        row |= {"flagged": flagged and not adaptive, "server_elapsed": elapsed}
        self._store(new, row | {"chosen": audit.encode_choices(choices)})

    def flag(self, pick: int, flagged: bool) -> None:
        items = cat.presented(self.state)
        idx = items[pick % len(items)]
        new = cat.flag(self.state, idx, flagged)
        row = {"kind": "flag", "item_id": BANK.item_ids[idx], "option": -1, "flagged": flagged}
        self._store(new, row | {"server_elapsed": None, "chosen": None})

    def navigate(self, pick: int) -> None:
        items = cat.presented(self.state)
        self.state = cat.navigate(self.state, items[pick % len(items)])
        self.screen = storage.on_screen(self.state)  # stored with the next flush

    def rebuilt(self) -> TestState:
        """What a load gives: the last snapshot, then the responses after it."""
        last = max(self.snapshots)
        start = TestState.from_dict(orjson.loads(self.snapshots[last]))
        return storage.replay(start, BANK, self.rows[last:], self.screen)


ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(["answer", "answer", "answer", "flag", "navigate"]),
        st.integers(0, 40),  # which presented item (linear)
        st.integers(-1, 4),  # option (clamped to the item's)
        st.booleans(),
        st.floats(0.0, 60.0, allow_nan=False),  # server elapsed seconds
    ),
    max_size=30,
)


@pytest.mark.parametrize("kind", sorted(DESIGNS), ids="-".join)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31 - 1),
    every=st.integers(1, 6),
    actions=ACTIONS,
    rng_seed=st.integers(0, 2**32 - 1),
)
def test_replay_from_the_last_snapshot_gives_the_live_state_byte_for_byte(
    kind: tuple[str, str], seed: int, every: int, actions: list[Any], rng_seed: int
) -> None:
    design = DESIGNS[kind]
    live = Live(design, seed, every, np.random.default_rng(rng_seed))
    for what, pick, option, flagged, elapsed in actions:
        if cat.is_complete(live.state):
            break
        try:
            if what == "answer":
                live.answer(pick, option, flagged, elapsed)
            elif design.mode == "linear" and what == "flag":
                live.flag(pick, flagged)
            elif design.mode == "linear":
                live.navigate(pick)
        except EngineError as exc:  # the live path refuses it: nothing stored
            assert exc.code in ("complete",)
            continue
        # A load may come after any step (another worker, a restart).
        assert storage.state_json(live.rebuilt()) == storage.state_json(live.state)
    # A finished adaptive test ended on its snapshot: nothing to replay.
    if cat.is_complete(live.state):
        assert max(live.snapshots) == live.seq


def test_replaying_without_the_recorded_choices_would_not_give_the_live_state() -> None:
    """Why the choices are stored: with the usage changing between steps, an
    adaptive replay that chooses again presents other items (this fails if
    the recorded choices stop mattering, e.g. the usage no longer reaches
    the engine)."""
    differs = 0
    for seed in range(12):
        live = Live(DESIGNS[("adaptive", "progressive")], seed, 1000, np.random.default_rng(seed))
        for _ in range(8):
            if not cat.is_complete(live.state):
                live.answer(0, 1, False, 5.0)
        rows = [{**r, "chosen": None} for r in live.rows]
        start = TestState.from_dict(orjson.loads(live.snapshots[0]))
        try:
            again = storage.replay(start, BANK, rows)
        except EngineError:
            differs += 1  # an answered item was not the one the replay presented
            continue
        differs += storage.state_json(again) != storage.state_json(live.state)
    assert differs >= 6


def test_a_recorded_choice_that_does_not_fit_the_step_is_refused() -> None:
    state = cat.start(DESIGNS[("adaptive", "progressive")], BANK, 4)
    item = cat.current(state)
    assert item is not None
    with pytest.raises(EngineError) as exc:
        cat.record(state, BANK, item, 0, choices=cat.Choices([], replay=True))
    assert exc.value.code == "replay_mismatch"
    with pytest.raises(EngineError) as exc:
        cat.record(state, BANK, item, 0, choices=cat.Choices([(1, []), (2, [])], replay=True))
    assert exc.value.code == "replay_mismatch"
