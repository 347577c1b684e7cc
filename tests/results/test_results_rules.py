"""The ranking policy: the 2024 defaults, every passing grade on both sides of its line,
and validation of policy documents."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import pytest

from exam_server.results.rules import PolicyError, RankingPolicy, passes

POLICY = RankingPolicy.default_2024()


def test_2024_defaults_are_the_published_rules() -> None:
    p = POLICY
    assert p.version == "2024.1"
    assert p.subtest_codes == ("TWK", "TIU", "TKP")
    assert p.skd_max_points == 550
    gen = p.categories["general"]
    assert dict(gen.minimums) == {"TWK": 65, "TIU": 80, "TKP": 166} and gen.total is None
    for cat in ("cumlaude", "diaspora"):
        assert p.categories[cat].total == 311 and dict(p.categories[cat].minimums) == {"TIU": 85}
    for cat in ("disability", "papua"):
        assert p.categories[cat].total == 286 and dict(p.categories[cat].minimums) == {"TIU": 60}
    assert p.cut_multiple == 3 and p.ties_at_cut == "include_all"
    assert p.skd_order == ("total", "TKP", "TIU", "TWK")
    assert p.final_order == ("final", "skd_total", "TKP", "TIU", "TWK", "gpa", "older")
    assert (p.skd_weight, p.skb_weight) == (40, 60)
    assert [p.code(m).code for m in ("in_cut", "outside_cut", "below_threshold")] == [
        "P/L",
        "P",
        "TL",
    ]
    assert p.code("absent").code == "TH" and p.code("disqualified").code == "DIS"


def test_policy_round_trips_through_canonical_json() -> None:
    text = POLICY.to_json()
    again = RankingPolicy.from_json(text)
    assert again == POLICY
    assert again.to_json() == text  # canonical: the bytes are stable


# (category, TWK, TIU, TKP, passes) — each line of each category met exactly and missed by 1.
GENERAL_CASES = [
    ("general", 65, 80, 166, True),  # every subtest exactly on its line
    ("general", 64, 175, 225, False),  # TWK one below, the rest at maximum
    ("general", 150, 79, 225, False),  # TIU one below
    ("general", 150, 175, 165, False),  # TKP one below
]
SPECIAL_CASES = [
    # total 311 exactly with TIU 85 exactly: passes even though TWK/TKP miss the general lines
    ("cumlaude", 60, 85, 166, True),
    ("cumlaude", 60, 85, 165, False),  # total 310
    ("cumlaude", 100, 84, 127, False),  # total 311 but TIU 84
    ("diaspora", 60, 85, 166, True),
    ("diaspora", 59, 85, 166, False),
    ("diaspora", 101, 84, 126, False),
    # total 286 exactly with TIU 60 exactly
    ("disability", 60, 60, 166, True),
    ("disability", 60, 60, 165, False),  # total 285
    ("disability", 100, 59, 127, False),  # total 286 but TIU 59
    ("papua", 60, 60, 166, True),
    ("papua", 59, 60, 166, False),
    ("papua", 100, 59, 127, False),
]


@pytest.mark.parametrize(
    ("category", "twk", "tiu", "tkp", "expected"), GENERAL_CASES + SPECIAL_CASES
)
def test_passing_grade_on_both_sides_of_the_line(
    category: str, twk: int, tiu: int, tkp: int, expected: bool
) -> None:
    ok, reason = passes(POLICY, category, {"TWK": twk, "TIU": tiu, "TKP": tkp})
    assert ok is expected, reason
    assert reason.startswith("meets" if expected else "below")


def test_reason_names_the_failed_line_in_both_languages() -> None:
    ok, en = passes(POLICY, "general", {"TWK": 70, "TIU": 75, "TKP": 170})
    assert not ok and en == "below the passing grade for general: TIU 75 < 80"
    _, id_ = passes(POLICY, "general", {"TWK": 70, "TIU": 75, "TKP": 170}, lang="id")
    assert id_ == "tidak memenuhi nilai ambang batas kategori umum: TIU 75 < 80"
    ok, en = passes(POLICY, "papua", {"TWK": 60, "TIU": 70, "TKP": 160})
    assert (
        ok and en == "meets the passing grade for indigenous Papuans: total 290 ≥ 286, TIU 70 ≥ 60"
    )


def test_general_category_has_no_total_line() -> None:
    # 550 − 1 below TKP's line: a high total does not rescue a general candidate.
    ok, _ = passes(POLICY, "general", {"TWK": 150, "TIU": 175, "TKP": 165})
    assert not ok


def test_fractional_points_are_rounded_to_the_policy_decimals_before_comparing() -> None:
    # Adaptive forms score on the expected-score scale: 79.9995 rounds (half up, 3 places)
    # to 80.000 and meets TIU 80; 79.9994 rounds to 79.999 and does not.
    assert passes(POLICY, "general", {"TWK": 65, "TIU": 79.9995, "TKP": 166})[0]
    assert not passes(POLICY, "general", {"TWK": 65, "TIU": 79.9994, "TKP": 166})[0]


@pytest.mark.parametrize(
    ("category", "scores", "message"),
    [
        ("sultan", {"TWK": 1, "TIU": 1, "TKP": 1}, "unknown category 'sultan'"),
        ("general", {"TWK": 100, "TIU": 100}, "no score for subtest TKP"),
        ("general", {"TWK": 151, "TIU": 100, "TKP": 100}, "TWK = 151 is outside 0–150"),
        ("general", {"TWK": -1, "TIU": 100, "TKP": 100}, "TWK = -1 is outside 0–150"),
        ("general", {"TWK": "x", "TIU": 100, "TKP": 100}, "TWK: 'x' is not a number"),
        ("general", {"TWK": 1, "TIU": 1, "TKP": 1, "TBI": 1}, "unknown subtest(s) TBI"),
    ],
)
def test_passes_rejects_bad_scores_clearly(
    category: str, scores: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        passes(POLICY, category, scores)


def _doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(POLICY.to_json())
    return doc


def _edit(path: str, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(_doc())
    keys = path.split(".")
    node = doc
    for k in keys[:-1]:
        node = node[k]
    if value is _DELETE:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return doc


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("schema", "other/1", "policy.schema"),
        ("version", "", "policy.version: must be a non-empty string"),
        ("final.skd_weight", 50, r"skd_weight \+ skb_weight must be 100, got 110"),
        ("categories.general.minimums.TBI", 10, "categories.general.minimums.TBI: not a subtest"),
        ("categories.general.minimums.TWK", 151, "above the subtest maximum 150"),
        ("categories.papua.total", 600, "above the SKD maximum 550"),
        ("categories.papua.total", -1, "must be ≥ 0"),
        ("skd.order", ["TKP", "total"], "policy.skd.order: must start with 'total'"),
        ("skd.order", ["total", "TKP", "TKP"], "keys must not repeat"),
        ("final.order", ["final", "height"], r"policy.final.order\[1\]: must be one of"),
        ("skd.cut_multiple", 0, "cut_multiple: must be an integer in 1–100"),
        ("skd.ties_at_cut", "coin_toss", "ties_at_cut: must be one of include_all, exclude_all"),
        ("codes.in_cut", _DELETE, "policy.codes.in_cut: required"),
        ("codes.outside_cut.code", "P/L", "the SKD codes must be distinct"),
        ("optimisation.pool", "everyone", "optimisation.pool: must be one of"),
        ("score_decimals", 1.5, "score_decimals: must be an integer"),
    ],
)
def test_invalid_policies_are_rejected_naming_the_field(
    path: str, value: Any, message: str
) -> None:
    with pytest.raises(PolicyError, match=message):
        RankingPolicy.from_dict(_edit(path, value))


def test_policy_json_errors_are_policy_errors() -> None:
    with pytest.raises(PolicyError, match="not valid JSON"):
        RankingPolicy.from_json("{")


def test_a_different_years_rules_are_just_another_document() -> None:
    # The 2018 layout: 35/30/35 items, different maximums and lines; same code.
    doc = _doc()
    doc["version"] = "2018.1"
    doc["subtests"] = [
        {"code": "TWK", "max_points": 175, "name_id": "", "name_en": ""},
        {"code": "TIU", "max_points": 150, "name_id": "", "name_en": ""},
        {"code": "TKP", "max_points": 175, "name_id": "", "name_en": ""},
    ]
    doc["categories"]["general"]["minimums"] = {"TWK": 75, "TIU": 80, "TKP": 143}
    for c in ("cumlaude", "diaspora", "disability", "papua"):
        doc["categories"][c]["minimums"] = {"TIU": 60}
    p = RankingPolicy.from_dict(doc)
    assert p.skd_max_points == 500
    assert passes(p, "general", {"TWK": 75, "TIU": 80, "TKP": 143})[0]
    assert not passes(p, "general", {"TWK": 74, "TIU": 80, "TKP": 143})[0]
    assert p.final_score(Decimal(500), Decimal(100)) == 100
