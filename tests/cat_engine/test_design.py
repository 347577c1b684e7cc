"""Design documents: validation with clear errors, JSON round trip, the SKD default."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cat_engine.design import TestDesign, skd_design


def _minimal(**extra: Any) -> dict[str, Any]:
    return {"mode": "adaptive", "sections": [{"code": "TWK", "n_items": 4}], **extra}


def test_skd_default_is_the_2024_layout() -> None:
    d = skd_design()
    assert d.mode == "linear" and d.time_limit_seconds == 6000
    assert [(s.code, s.n_items, s.passing_points) for s in d.sections] == [
        ("TWK", 30, 65.0),
        ("TIU", 35, 80.0),
        ("TKP", 45, 166.0),
    ]
    assert all(sum(s.blueprint.values()) == s.n_items for s in d.sections)
    a = skd_design("adaptive")
    assert a.exposure.max_rate == 0.25 and a.exposure.method == "progressive"


@pytest.mark.parametrize("mode", ["linear", "adaptive"])
def test_json_round_trip_is_exact(mode: str) -> None:
    d = skd_design(mode)
    assert TestDesign.from_json(d.to_json()) == d
    assert json.loads(d.to_json()) == d.to_dict()


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"sections": [{"code": "A", "n_items": 3}]}, r"^mode: required"),
        (_minimal(mode="cat"), r"^mode: expected 'linear' or 'adaptive'"),
        (_minimal(sections=[]), r"^sections: expected a non-empty list"),
        (_minimal(sections=[{"code": "A"}]), r"^sections\[0\]\.n_items: required"),
        (_minimal(sections=[{"code": "A", "n_items": 0}]), r"sections\[0\]\.n_items: expected"),
        (
            _minimal(sections=[{"code": "A", "n_items": 4, "blueprint": {"x": 1, "y": 2}}]),
            r"sections\[0\]\.blueprint: counts sum to 3, but n_items is 4",
        ),
        (
            _minimal(sections=[{"code": "A", "n_items": 4, "blueprint": {"x": -4}}]),
            r"sections\[0\]\.blueprint\.x: expected an integer",
        ),
        (
            _minimal(sections=[{"code": "A", "n_items": 4, "selector": "best"}]),
            r"sections\[0\]\.selector\.name: unknown 'best'; expected one of max_info",
        ),
        (
            _minimal(sections=[{"code": "A", "n_items": 4, "estimator": {"name": "eap", "x": 1}}]),
            r"sections\[0\]\.estimator: bad option for 'eap'",
        ),
        (
            _minimal(
                sections=[
                    {"code": "A", "n_items": 4, "stopping": [{"name": "se_target", "se": -1}]}
                ]
            ),
            r"sections\[0\]\.stopping\[0\]: se_target se must be",
        ),
        (
            _minimal(sections=[{"code": "A", "n_items": 4, "min_items": 5}]),
            r"sections\[0\]\.min_items: 5 is more than n_items",
        ),
        (
            _minimal(sections=[{"code": "A", "n_items": 4}, {"code": "A", "n_items": 2}]),
            r"sections: code\(s\) A appear more than once",
        ),
        (_minimal(exposure={"max_rate": 1.5}), r"exposure\.max_rate: a rate is at most 1"),
        (_minimal(exposure={"method": "magic"}), r"exposure\.method: unknown 'magic'"),
        (_minimal(colour="red"), r"design: unknown field\(s\) colour"),
        (_minimal(assembly={"theta_points": []}), r"assembly\.theta_points"),
    ],
)
def test_bad_documents_name_the_field(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TestDesign.from_dict(doc)


def test_not_json_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"not valid JSON \(line 1"):
        TestDesign.from_json("{mode: adaptive")


def test_strategy_objects_follow_the_names() -> None:
    d = TestDesign.from_dict(
        _minimal(
            sections=[
                {
                    "code": "A",
                    "n_items": 4,
                    "estimator": {"name": "map", "prior_sd": 2.0},
                    "selector": {"name": "randomesque", "k": 3},
                    "stopping": ["se_target", {"name": "sprt", "delta": 0.2}],
                }
            ]
        )
    )
    strat = d.strategies[0]
    assert type(strat.estimator).__name__ == "MAP" and strat.estimator.prior == (0.0, 2.0)
    assert strat.selector.k == 3
    assert [type(r).__name__ for r in strat.stopping] == ["SETarget", "SPRT"]


@pytest.mark.parametrize("mode", ["linear", "adaptive"])
def test_shipped_design_files_are_the_skd_default(mode: str) -> None:
    path = Path(__file__).resolve().parents[2] / "cat_engine" / "designs" / f"skd-{mode}.json"
    assert TestDesign.from_json(path.read_text(encoding="utf-8")) == skd_design(mode)
