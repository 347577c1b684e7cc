"""SKB plans against the policy's caps, rubric sheets, finalisation, scheduling."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assessment.components import (
    CAPS_2024,
    ComponentError,
    ComponentScore,
    Finalisation,
    caps_from_policy,
    parse_plan,
    skb_total,
)
from assessment.finalisation import combine, finalise
from assessment.scheduling import (
    Booking,
    ScheduleError,
    Window,
    conflicts,
    generate_slots,
    local_text,
    may_reschedule,
)

D = Decimal


def rubric(codes: tuple[str, ...] = ("komunikasi", "integritas")) -> dict[str, Any]:
    levels = [
        {"points": p, "label_id": f"tingkat {p}", "label_en": f"level {p}"} for p in (1, 2, 3, 4)
    ]
    return {
        "criteria": [
            {"code": c, "name_id": c.title(), "name_en": c.title(), "levels": levels} for c in codes
        ]
    }


def plan(cat: int = 60, interview: int = 40, **over: Any) -> dict[str, Any]:
    comps: list[dict[str, Any]] = [
        {"code": "CAT", "kind": "cat", "name_id": "Tes bidang", "name_en": "Field test",
         "weight": cat},
        {"code": "WWN", "kind": "interview", "name_id": "Wawancara", "name_en": "Interview",
         "weight": interview, "rubric": rubric(), "assessors": 3, **over},
    ]  # fmt: skip
    return {"formation": "F-001", "components": comps}


def test_a_plan_within_the_2024_caps_is_accepted() -> None:
    p = parse_plan(plan())
    assert p.component("WWN").rubric is not None
    assert caps_from_policy(None) == CAPS_2024


@pytest.mark.parametrize(
    "doc,message",
    [
        (plan(cat=40, interview=60), "CAT field test weighs 40%, the policy asks for at least 50"),
        (plan(cat=60, interview=30), "weights must add up to 100, got 90"),
        (plan(assessors=1), "1 assessor(s), the policy asks for at least 2"),
        (plan(rubric=None), "a interview component needs a rubric"),
        (plan(weight_typo=1), "skb.components.1.weight_typo: Extra inputs are not permitted"),
    ],
)
def test_a_plan_breaking_a_rule_is_refused_naming_it(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(ComponentError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_plan(doc)


def test_stricter_policy_caps_are_applied() -> None:
    caps = caps_from_policy({"version": "2025.1", "cat_min_weight": 70, "others_max_weight": 30})
    with pytest.raises(ComponentError, match="at most 30"):
        parse_plan(plan(cat=60, interview=40), caps)
    with pytest.raises(ComponentError, match=r"policy\.skb\.cat_min_weight"):
        caps_from_policy({"version": "x", "cat_min_weight": 170, "others_max_weight": 30})


def test_rubric_scores_sheets_and_refuses_levels_it_does_not_have() -> None:
    r = parse_plan(plan()).component("WWN").rubric
    assert r is not None
    assert r.score({"komunikasi": 1, "integritas": 1}) == D(0)
    assert r.score({"komunikasi": 4, "integritas": 4}) == D(100)
    assert r.score({"komunikasi": 3, "integritas": 2}) == D("50.000")
    with pytest.raises(ComponentError, match="'integritas': 5 is not one of the rubric's levels"):
        r.score({"komunikasi": 3, "integritas": 5})
    with pytest.raises(ComponentError, match="'integritas': no score given"):
        r.score({"komunikasi": 3})
    with pytest.raises(ComponentError, match="'empati' is not in the rubric"):
        r.score({"komunikasi": 3, "integritas": 2, "empati": 1})


@pytest.mark.parametrize(
    "rule,expected",
    [("mean", "60.400"), ("median", "60.000"), ("trimmed_mean", "59.000")],
)
def test_finalisation_rules(rule: str, expected: str) -> None:
    f = Finalisation(rule=rule, trim=1, adjudication_margin=D(40))  # type: ignore[arg-type]
    out = finalise([D(50), D(55), D(60), D(62), D(75)], f)
    assert not out.needs_adjudication and out.score == D(expected)


def test_scores_too_far_apart_wait_for_adjudication() -> None:
    out = finalise([D(40), D(50), D(75)], Finalisation(adjudication_margin=D(20)))
    assert out.needs_adjudication and out.score is None and out.spread == D(35)


@given(st.lists(st.integers(0, 100), min_size=3, max_size=7))
def test_every_rule_lies_between_the_lowest_and_highest_score(xs: list[int]) -> None:
    scores = [D(x) for x in xs]
    for rule in ("mean", "median", "trimmed_mean"):
        v = combine(scores, Finalisation(rule=rule))  # type: ignore[arg-type]
        assert min(scores) <= v <= max(scores)


def test_skb_total_weights_components_and_checks_the_weights() -> None:
    parts = [ComponentScore("CAT", D(60), D(80)), ComponentScore("WWN", D(40), D(55))]
    assert skb_total(parts) == D("70.000")
    with pytest.raises(ComponentError, match="add up to 60"):
        skb_total(parts[:1])


UTC = dt.UTC


def test_slots_fill_availability_and_read_in_each_zone() -> None:
    w = Window(
        dt.datetime(2025, 5, 12, 1, 0, tzinfo=UTC), dt.datetime(2025, 5, 12, 3, 0, tzinfo=UTC)
    )
    slots = generate_slots([w], minutes=30, gap_minutes=10)
    assert [s.strftime("%H:%M") for s, _ in slots] == ["01:00", "01:40", "02:20"]
    start = slots[0][0]
    assert local_text(start, "WIB") == "Senin, 12 Mei 2025 08.00 WIB"
    assert local_text(start, "WITA") == "Senin, 12 Mei 2025 09.00 WITA"
    assert local_text(start, "WIT") == "Senin, 12 Mei 2025 10.00 WIT"
    assert local_text(start, "WIT", "en") == "Monday 12 May 2025 10:00 WIT"
    with pytest.raises(ScheduleError, match="not one of WIB, WITA, WIT"):
        local_text(start, "CET")
    with pytest.raises(ScheduleError, match="no time zone"):
        generate_slots([Window(dt.datetime(2025, 5, 12, 1), dt.datetime(2025, 5, 12, 2))], 30)


def test_double_booking_is_refused_with_who_and_when() -> None:
    t = dt.datetime(2025, 5, 12, 1, 0, tzinfo=UTC)
    h = dt.timedelta(minutes=30)
    a = Booking(1, t, t + h, frozenset({"asesor1", "asesor2"}), frozenset({"R1"}))
    b = Booking(2, t + h / 2, t + 2 * h, frozenset({"asesor2", "asesor3"}), frozenset({"R2"}))
    c = Booking(3, t + 4 * h, t + 5 * h, frozenset({"asesor1"}), frozenset({"R1"}))
    assert conflicts(b, [a]) == ["assessor asesor2 is already in slot 1 at that time "
                                 "(2025-05-12 01:00–01:30 UTC)"]  # fmt: skip
    assert conflicts(c, [a, b]) == ["candidate R1 already has slot 1"]
    assert (
        conflicts(Booking(4, t + 3 * h, t + 4 * h, frozenset({"x"}), frozenset({"R9"})), [a, b])
        == []
    )


def test_rescheduling_closes_before_the_interview() -> None:
    start = dt.datetime(2025, 5, 12, 1, 0, tzinfo=UTC)
    assert may_reschedule(start - dt.timedelta(hours=25), start, 24)
    assert not may_reschedule(start - dt.timedelta(hours=23), start, 24)


JSONISH = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 200)
    | st.floats(allow_nan=True)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=20,
)


@given(JSONISH)
def test_any_document_is_a_plan_or_a_clear_refusal(doc: Any) -> None:
    try:
        parse_plan(doc)
    except ComponentError as exc:
        assert str(exc)


@given(st.dictionaries(st.sampled_from(["komunikasi", "integritas", "x"]), JSONISH, max_size=3))
def test_any_sheet_is_scored_or_refused_naming_the_criterion(points: dict[str, Any]) -> None:
    r = parse_plan(plan()).component("WWN").rubric
    assert r is not None
    try:
        score = r.score(points)
    except ComponentError as exc:
        assert "criterion" in str(exc)
    else:
        assert D(0) <= score <= D(100)


@given(
    st.fixed_dictionaries(
        {
            "formation": st.just("F"),
            "components": st.lists(
                st.fixed_dictionaries(
                    {
                        "code": st.sampled_from(["CAT", "WWN", "PSI"]),
                        "kind": st.sampled_from(["cat", "interview", "psychological", "bogus"]),
                        "name_id": st.just("n"),
                        "name_en": st.just("n"),
                        "weight": st.integers(-10, 120) | st.floats(allow_nan=True),
                        "rubric": st.none() | st.just(rubric()),
                    }
                ),
                max_size=4,
            ),
        }
    )
)
def test_near_miss_plans_are_refused_cleanly(doc: dict[str, Any]) -> None:
    try:
        p = parse_plan(doc)
    except ComponentError:
        return
    assert sum(c.weight for c in p.components) == 100
    assert p.problems(CAPS_2024) == []


def test_a_trimmed_mean_short_of_sheets_after_recusals_is_the_median() -> None:
    rule = Finalisation(rule="trimmed_mean", trim=1)
    assert combine([D(40), D(60)], rule) == D("50.000")
    assert combine([D(40), D(60), D(90)], rule) == D("60.000")
