"""The engine's state machine: linear and adaptive delivery, errors, resume."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cat_engine import engine
from cat_engine.design import TestDesign
from cat_engine.errors import EngineError
from cat_engine.state import TestState
from cat_engine.synthetic import synthetic_bank

BANK = synthetic_bank(
    {"TWK": {"TWK.a": 40, "TWK.b": 40}, "TKP": {"TKP.a": 30, "TKP.b": 30}},
    seed=3,
    polytomous=("TKP",),
    n_pretest=6,
    enemy_pairs=10,
)


def _design(mode: str, **section_extra: object) -> TestDesign:
    return TestDesign.from_dict(
        {
            "name": "small",
            "mode": mode,
            "time_limit_seconds": 600,
            "sections": [
                {
                    "code": "TWK",
                    "n_items": 8,
                    "blueprint": {"TWK.a": 4, "TWK.b": 4},
                    "passing_points": 20,
                    **section_extra,
                },
                {"code": "TKP", "n_items": 6, "blueprint": {"TKP.a": 3, "TKP.b": 3}},
            ],
        }
    )


def _answer_all(state: TestState, seed: int = 0) -> TestState:
    r = np.random.default_rng(seed)
    while not engine.is_complete(state):
        item = engine.current(state)
        assert item is not None
        state = engine.record(state, BANK, item, int(r.integers(0, 5)), elapsed=2.0)
    return state


def _roundtrip(state: TestState) -> TestState:
    return TestState.from_dict(json.loads(json.dumps(state.to_dict())))


def test_linear_form_is_whole_at_start_with_free_navigation_and_changes() -> None:
    st = engine.start(_design("linear"), BANK, seed=11)
    items = engine.presented(st)
    assert len(items) == 14 and engine.current(st) == items[0]
    st2 = engine.record(st, BANK, items[5], 0, flagged=True)
    st3 = engine.record(st2, BANK, items[5], 2)  # change the answer
    st4 = engine.navigate(st3, items[1])
    st5 = engine.flag(st4, items[1], True)
    assert engine.current(st5) == items[1]
    sec = st5.sections[0]
    assert sec.options[5] == 2 and sec.flagged[1] and not sec.flagged[5]
    # The old states are untouched: record returns a new state.
    assert st.sections[0].options[5] == -1 and st2.sections[0].options[5] == 0
    assert not engine.is_complete(st5)
    done = engine.finish(st5)
    assert engine.is_complete(done) and engine.current(done) is None
    with pytest.raises(EngineError) as err:
        engine.record(done, BANK, items[0], 0)
    assert err.value.code == "complete"


def test_linear_number_correct_scoring() -> None:
    st = engine.start(_design("linear"), BANK, seed=2)
    twk, tkp = st.sections
    # Key of every TWK item (category 1) and the 4-point option of every TKP item.
    for i in twk.items:
        st = engine.record(st, BANK, i, int(np.flatnonzero(BANK.option_category[i] == 1)[0]))
    for i in tkp.items:
        st = engine.record(st, BANK, i, int(np.flatnonzero(BANK.option_points[i] == 4)[0]))
    st = engine.record(st, BANK, twk.items[0], -1)  # cleared: 0 points
    sc = engine.score(engine.finish(st), BANK)
    assert sc.section("TWK").points == 5 * 7 and sc.section("TWK").max_points == 40
    assert sc.section("TKP").points == 4 * 6 and sc.section("TKP").max_points == 30
    assert sc.section("TWK").n_answered == 7
    assert sc.total == 35 + 24
    assert engine.running_points(st, BANK) == {"TWK": 35.0, "TKP": 24.0}
    # Points, not verdicts: pass/fail is the exam's ranking policy's.
    assert set(sc.to_dict()["sections"][0]) == {
        "code",
        "points",
        "max_points",
        "theta",
        "se",
        "n_answered",
        "n_items",
    }


def test_adaptive_goes_forward_only() -> None:
    st = engine.start(_design("adaptive"), BANK, seed=5)
    first = engine.current(st)
    assert first is not None and engine.presented(st) == [first]
    st2 = engine.record(st, BANK, first, 1)
    second = engine.current(st2)
    assert second not in (None, first)
    codes = {}
    for bad_item, call in (
        (first, lambda: engine.record(st2, BANK, first, 0)),
        (first, lambda: engine.navigate(st2, first)),
        (999999, lambda: engine.record(st2, BANK, 999999, 0)),
        (second, lambda: engine.record(st2, BANK, second, 9)),
        (second, lambda: engine.flag(st2, second, True)),
    ):
        with pytest.raises(EngineError) as err:
            call()
        codes[err.value.code] = bad_item
    assert set(codes) == {
        "already_answered",
        "navigation_not_allowed",
        "not_presented",
        "invalid_option",
    }


def test_adaptive_runs_every_section_in_order_and_scores_on_the_reference_scale() -> None:
    st = _answer_all(engine.start(_design("adaptive"), BANK, seed=9))
    assert [len(s.items) for s in st.sections] == [8, 6]
    assert all(s.stop_reason == "max_length" for s in st.sections)
    assert st.time_used == pytest.approx(2.0 * 14)
    sc = engine.score(st, BANK)
    twk = sc.section("TWK")
    assert 0 <= twk.points <= twk.max_points == pytest.approx(40.0)
    assert twk.se is not None and twk.se > 0


def test_same_state_gives_same_next_item_and_resume_is_identical() -> None:
    design = _design("adaptive", selector={"name": "randomesque", "k": 4}, pretest_items=2)
    st = engine.start(design, BANK, seed=77)
    r = np.random.default_rng(1)
    answers = r.integers(0, 5, 40).tolist()
    for k in range(5):
        st = engine.record(st, BANK, engine.current(st), answers[k])  # type: ignore[arg-type]
    resumed = _roundtrip(st)
    assert resumed.to_dict() == st.to_dict()

    def finish(s: TestState) -> list[int]:
        k = 5
        while not engine.is_complete(s):
            s = engine.record(s, BANK, engine.current(s), answers[k])  # type: ignore[arg-type]
            k += 1
        return engine.presented(s)

    assert finish(st) == finish(resumed)
    assert engine.start(design, BANK, seed=77).to_dict() == engine.start(design, BANK, 77).to_dict()


def test_linear_resume_keeps_form_answers_and_flags() -> None:
    st = engine.start(_design("linear"), BANK, seed=4)
    items = engine.presented(st)
    st = engine.record(st, BANK, items[3], 1, flagged=True, elapsed=12.5)
    back = _roundtrip(st)
    assert back.to_dict() == st.to_dict()
    assert engine.score(back, BANK).to_dict() == engine.score(st, BANK).to_dict()


def test_pretest_items_are_seeded_and_unscored() -> None:
    st = _answer_all(engine.start(_design("adaptive", pretest_items=2), BANK, seed=3))
    twk = st.sections[0]
    assert sum(twk.pretest) == 2 and twk.n_scored == 8
    assert all(BANK.pretest[i] == p for i, p in zip(twk.items, twk.pretest, strict=True))
    assert not twk.pretest[0]  # never the first item
    lin = engine.start(_design("linear", pretest_items=2), BANK, seed=3)
    assert sum(lin.sections[0].pretest) == 2
    assert engine.score(lin, BANK).section("TWK").n_items == 8


def test_time_limit_ends_the_test() -> None:
    st = engine.start(_design("adaptive"), BANK, seed=1)
    st = engine.record(st, BANK, engine.current(st), 0, elapsed=601.0)  # type: ignore[arg-type]
    assert engine.is_complete(st) and st.finish_reason == "time"
    lin = engine.add_time(engine.start(_design("linear"), BANK, seed=1), 600.0)
    assert engine.is_complete(lin)


def test_se_target_and_sprt_stop_adaptive_sections_early() -> None:
    se_design = _design("adaptive", min_items=3, stopping=[{"name": "se_target", "se": 0.9}])
    st = _answer_all(engine.start(se_design, BANK, seed=2))
    twk = st.sections[0]
    assert twk.stop_reason in ("se_target", "max_length")
    assert 3 <= twk.n_scored <= 8
    if twk.stop_reason == "se_target":
        assert twk.se is not None and twk.se <= 0.9
    # An all-correct candidate is classified above the cut well before 8 items.
    sprt = _design("adaptive", min_items=2, stopping=[{"name": "sprt", "delta": 0.5}])
    st = engine.start(sprt, BANK, seed=2)
    while st.section_index == 0 and not engine.is_complete(st):
        item = engine.current(st)
        key = int(np.flatnonzero(BANK.option_category[item] == 1)[0])  # type: ignore[index]
        st = engine.record(st, BANK, item, key)  # type: ignore[arg-type]
    assert st.sections[0].stop_reason == "sprt"
    assert st.sections[0].n_scored < 8


def test_a_state_on_another_bank_is_refused() -> None:
    st = engine.start(_design("linear"), BANK, seed=1)
    other = synthetic_bank(
        {"TWK": {"TWK.a": 40, "TWK.b": 40}, "TKP": {"TKP.a": 30, "TKP.b": 30}},
        seed=3,
        polytomous=("TKP",),
    )
    shifted = other.subset(np.arange(1, other.n_items))
    with pytest.raises(EngineError) as err:
        engine.score(st, shifted)
    assert err.value.code == "bank_mismatch"


def test_design_the_bank_cannot_serve_is_refused_with_the_field() -> None:
    d = TestDesign.from_dict(
        {"mode": "linear", "sections": [{"code": "TWK", "n_items": 5, "blueprint": {"X": 5}}]}
    )
    with pytest.raises(EngineError, match=r"blueprint\.X"):
        engine.start(d, BANK, seed=1)


def test_state_json_is_the_dict_and_shares_no_lists_with_it() -> None:
    """to_json (the server's per-answer encoding) parses to exactly to_dict,
    mid-test and at the end; to_dict hands out copies, never the state's lists."""
    st = engine.start(_design("adaptive"), BANK, seed=4)
    st = engine.record(st, BANK, engine.current(st) or 0, 2, elapsed=1.25)
    for state in (st, _answer_all(st)):
        assert json.loads(state.to_json()) == state.to_dict()
        d = state.to_dict()
        d["sections"][0]["items"].append(-1)
        assert -1 not in state.sections[0].items
