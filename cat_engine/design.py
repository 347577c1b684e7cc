"""Test designs: what a test is made of, as a validated JSON document.

A design names the delivery mode, the time limit, the sections (subtests) in
order with their lengths, blueprints (items per content area), strategies
and stopping rules, the exposure control, and the tolerances of linear form
assembly. Every field is checked at construction; a bad document raises
``ValueError`` naming the field (``sections[1].blueprint.verbal: …``).
``docs/test-design.md`` documents the format; :func:`skd_design` is the 2024
SKD default.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from cat_engine.estimators import ESTIMATORS
from cat_engine.exposure import EXPOSURE_METHODS, NoControl, Progressive, SympsonHetter
from cat_engine.selection import SELECTORS
from cat_engine.stopping import STOPPING_RULES

MODES = ("linear", "adaptive")


@dataclass(frozen=True)
class StrategySpec:
    """A strategy chosen by name, with its keyword options."""

    name: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **dict(self.options)}


def _spec(value: Any, where: str, registry: Mapping[str, Any]) -> StrategySpec:
    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, Mapping) or "name" not in value:
        raise ValueError(f"{where}: expected a name or an object with a 'name', got {value!r}")
    name = value["name"]
    if name not in registry:
        raise ValueError(f"{where}.name: unknown {name!r}; expected one of {', '.join(registry)}")
    options = {k: v for k, v in value.items() if k != "name"}
    for key, v in options.items():  # JSON gives lists where constructors want tuples
        if isinstance(v, list):
            options[key] = tuple(v)
    try:
        registry[name](**options)
    except TypeError as exc:
        raise ValueError(f"{where}: bad option for {name!r}: {exc}") from None
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    return StrategySpec(name, options)


def _int(value: Any, where: str, minimum: int = 0) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{where}: expected an integer ≥ {minimum}, got {value!r}")
    return value


def _num(value: Any, where: str, *, positive: bool = True, allow_none: bool = False) -> Any:
    if value is None and allow_none:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ValueError(f"{where}: expected a number, got {value!r}")
    if positive and not value > 0:
        raise ValueError(f"{where}: expected a positive number, got {value!r}")
    return float(value)


def _keys(d: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(d) - allowed)
    if unknown:
        raise ValueError(
            f"{where}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )


@dataclass(frozen=True)
class SectionDesign:
    """One subtest.

    code: the bank's subtest code; n_items: the form length (linear) or the
    maximum length (adaptive); min_items: adaptive minimum before a stopping
    rule may end the section; blueprint: content area code → items (sums to
    n_items; empty = no content constraint); pretest_items: unscored
    uncalibrated items seeded at random positions; passing_points: the
    section's cut on the published scale, used by SPRT stopping and by the
    simulator's classification (a candidate's pass/fail is the exam's
    ranking policy's, not the engine's);
    time_limit_seconds: optional per-section limit (adaptive);
    reference_length: length of the reference form whose expected score an
    adaptive section reports (default n_items; set it to the published
    length, e.g. 30 for TWK, when the adaptive section is shorter, so that
    the published passing grades keep their meaning).
    """

    code: str
    n_items: int
    min_items: int | None = None
    blueprint: Mapping[str, int] = field(default_factory=dict)
    estimator: StrategySpec = field(default_factory=lambda: StrategySpec("eap"))
    selector: StrategySpec = field(default_factory=lambda: StrategySpec("max_info"))
    stopping: tuple[StrategySpec, ...] = field(
        default_factory=lambda: (StrategySpec("fixed_length"),)
    )
    pretest_items: int = 0
    passing_points: float | None = None
    time_limit_seconds: float | None = None
    reference_length: int | None = None

    @property
    def minimum(self) -> int:
        return self.n_items if self.min_items is None else self.min_items

    @property
    def reference_items(self) -> int:
        """Length of the reference form scores are reported on (default n_items)."""
        return self.n_items if self.reference_length is None else self.reference_length

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "n_items": self.n_items,
            "min_items": self.min_items,
            "blueprint": dict(self.blueprint),
            "estimator": self.estimator.to_dict(),
            "selector": self.selector.to_dict(),
            "stopping": [s.to_dict() for s in self.stopping],
            "pretest_items": self.pretest_items,
            "passing_points": self.passing_points,
            "time_limit_seconds": self.time_limit_seconds,
            "reference_length": self.reference_length,
        }

    @classmethod
    def from_dict(cls, d: Any, where: str) -> SectionDesign:
        if not isinstance(d, Mapping):
            raise ValueError(f"{where}: expected an object, got {d!r}")
        _keys(d, {f for f in cls.__dataclass_fields__}, where)
        for req in ("code", "n_items"):
            if req not in d:
                raise ValueError(f"{where}.{req}: required")
        code = d["code"]
        if not isinstance(code, str) or not code.strip():
            raise ValueError(f"{where}.code: expected a non-empty string, got {code!r}")
        n_items = _int(d["n_items"], f"{where}.n_items", 1)
        min_items = d.get("min_items")
        if min_items is not None:
            min_items = _int(min_items, f"{where}.min_items", 1)
            if min_items > n_items:
                raise ValueError(f"{where}.min_items: {min_items} is more than n_items ({n_items})")
        bp_raw = d.get("blueprint") or {}
        if not isinstance(bp_raw, Mapping):
            raise ValueError(f"{where}.blueprint: expected an object area → count")
        blueprint = {str(k): _int(v, f"{where}.blueprint.{k}", 1) for k, v in bp_raw.items()}
        if blueprint and sum(blueprint.values()) != n_items:
            raise ValueError(
                f"{where}.blueprint: counts sum to {sum(blueprint.values())}, "
                f"but n_items is {n_items}"
            )
        stopping_raw = d.get("stopping", ["fixed_length"])
        if isinstance(stopping_raw, str | Mapping):
            stopping_raw = [stopping_raw]
        if not isinstance(stopping_raw, list | tuple) or not stopping_raw:
            raise ValueError(f"{where}.stopping: expected a non-empty list of rules")
        stopping = tuple(
            _spec(s, f"{where}.stopping[{i}]", STOPPING_RULES) for i, s in enumerate(stopping_raw)
        )
        return cls(
            code=code,
            n_items=n_items,
            min_items=min_items,
            blueprint=blueprint,
            estimator=_spec(d.get("estimator", "eap"), f"{where}.estimator", ESTIMATORS),
            selector=_spec(d.get("selector", "max_info"), f"{where}.selector", SELECTORS),
            stopping=stopping,
            pretest_items=_int(d.get("pretest_items", 0), f"{where}.pretest_items", 0),
            passing_points=_num(
                d.get("passing_points"), f"{where}.passing_points", positive=False, allow_none=True
            ),
            time_limit_seconds=_num(
                d.get("time_limit_seconds"), f"{where}.time_limit_seconds", allow_none=True
            ),
            reference_length=(
                None
                if d.get("reference_length") is None
                else _int(d["reference_length"], f"{where}.reference_length", 1)
            ),
        )


@dataclass(frozen=True)
class ExposureDesign:
    """method: ``none`` | ``sympson_hetter`` | ``progressive``; max_rate: the
    hard ceiling on any item's exposure rate (None = none), enforced by
    eligibility once ``warmup`` tests have been counted; parameters: the
    Sympson–Hetter k per item id."""

    method: str = "none"
    max_rate: float | None = None
    warmup: int = 50
    parameters: Mapping[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "max_rate": self.max_rate,
            "warmup": self.warmup,
            "parameters": dict(self.parameters),
        }

    @classmethod
    def from_dict(cls, d: Any, where: str = "exposure") -> ExposureDesign:
        if not isinstance(d, Mapping):
            raise ValueError(f"{where}: expected an object, got {d!r}")
        _keys(d, {"method", "max_rate", "warmup", "parameters"}, where)
        method = d.get("method", "none")
        if method not in EXPOSURE_METHODS:
            raise ValueError(
                f"{where}.method: unknown {method!r}; expected one of {', '.join(EXPOSURE_METHODS)}"
            )
        max_rate = _num(d.get("max_rate"), f"{where}.max_rate", allow_none=True)
        if max_rate is not None and max_rate > 1:
            raise ValueError(f"{where}.max_rate: a rate is at most 1, got {max_rate}")
        params = d.get("parameters") or {}
        if not isinstance(params, Mapping):
            raise ValueError(f"{where}.parameters: expected an object item id → k")
        try:
            SympsonHetter(params)
        except ValueError as exc:
            raise ValueError(f"{where}.parameters: {exc}") from None
        return cls(
            method=method,
            max_rate=max_rate,
            warmup=_int(d.get("warmup", 50), f"{where}.warmup", 1),
            parameters={str(k): float(v) for k, v in params.items()},
        )


@dataclass(frozen=True)
class AssemblyDesign:
    """Linear forms: parallel within tolerances at ``theta_points``.

    score_tolerance: the form's expected score (published points) may differ
    from the target by this fraction of the section's maximum points;
    information_tolerance: its information by this fraction of the target.
    Targets are those of the average blueprint form of the bank.
    """

    theta_points: tuple[float, ...] = (-1.0, 0.0, 1.0)
    score_tolerance: float = 0.02
    information_tolerance: float = 0.10
    time_limit: float = 2.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "theta_points": list(self.theta_points),
            "score_tolerance": self.score_tolerance,
            "information_tolerance": self.information_tolerance,
            "time_limit": self.time_limit,
        }

    @classmethod
    def from_dict(cls, d: Any, where: str = "assembly") -> AssemblyDesign:
        if not isinstance(d, Mapping):
            raise ValueError(f"{where}: expected an object, got {d!r}")
        _keys(d, {"theta_points", "score_tolerance", "information_tolerance", "time_limit"}, where)
        pts = d.get("theta_points", [-1.0, 0.0, 1.0])
        if not isinstance(pts, list | tuple) or not pts:
            raise ValueError(f"{where}.theta_points: expected a non-empty list of numbers")
        points = tuple(
            _num(p, f"{where}.theta_points[{i}]", positive=False) for i, p in enumerate(pts)
        )
        return cls(
            theta_points=points,
            score_tolerance=_num(d.get("score_tolerance", 0.02), f"{where}.score_tolerance"),
            information_tolerance=_num(
                d.get("information_tolerance", 0.10), f"{where}.information_tolerance"
            ),
            time_limit=_num(d.get("time_limit", 2.0), f"{where}.time_limit"),
        )


@dataclass(frozen=True)
class SectionStrategies:
    """A section's strategy objects: estimator, selector and stopping rules."""

    estimator: Any
    selector: Any
    stopping: tuple[Any, ...]


@dataclass(frozen=True)
class TestDesign:
    """A whole test: mode, time limit, sections in order, exposure, assembly."""

    __test__ = False  # not a pytest class

    name: str
    mode: str
    time_limit_seconds: float | None
    sections: tuple[SectionDesign, ...]
    exposure: ExposureDesign = field(default_factory=ExposureDesign)
    assembly: AssemblyDesign = field(default_factory=AssemblyDesign)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode: expected 'linear' or 'adaptive', got {self.mode!r}")
        if not self.sections:
            raise ValueError("sections: at least one section is required")
        codes = [s.code for s in self.sections]
        dup = sorted({c for c in codes if codes.count(c) > 1})
        if dup:
            raise ValueError(f"sections: code(s) {', '.join(dup)} appear more than once")

    @cached_property
    def strategies(self) -> tuple[SectionStrategies, ...]:
        """The strategy objects of each section, built once per design."""
        return tuple(
            SectionStrategies(
                estimator=ESTIMATORS[s.estimator.name](**s.estimator.options),
                selector=SELECTORS[s.selector.name](**s.selector.options),
                stopping=tuple(STOPPING_RULES[r.name](**r.options) for r in s.stopping),
            )
            for s in self.sections
        )

    @cached_property
    def exposure_control(self) -> Any:
        """The exposure control object named by ``exposure.method``."""
        if self.exposure.method == "sympson_hetter":
            return SympsonHetter(self.exposure.parameters)
        if self.exposure.method == "progressive":
            return Progressive()
        return NoControl()

    def section(self, code: str) -> SectionDesign:
        for s in self.sections:
            if s.code == code:
                return s
        raise KeyError(code)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "mode": self.mode,
            "time_limit_seconds": self.time_limit_seconds,
            "sections": [s.to_dict() for s in self.sections],
            "exposure": self.exposure.to_dict(),
            "assembly": self.assembly.to_dict(),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    @classmethod
    def from_dict(cls, d: Any) -> TestDesign:
        if not isinstance(d, Mapping):
            raise ValueError(f"design: expected a JSON object, got {type(d).__name__}")
        _keys(
            d, {"name", "mode", "time_limit_seconds", "sections", "exposure", "assembly"}, "design"
        )
        if "mode" not in d:
            raise ValueError("mode: required ('linear' or 'adaptive')")
        sections_raw = d.get("sections")
        if not isinstance(sections_raw, list) or not sections_raw:
            raise ValueError("sections: expected a non-empty list")
        return cls(
            name=str(d.get("name", "")),
            mode=d["mode"],
            time_limit_seconds=_num(
                d.get("time_limit_seconds"), "time_limit_seconds", allow_none=True
            ),
            sections=tuple(
                SectionDesign.from_dict(s, f"sections[{i}]") for i, s in enumerate(sections_raw)
            ),
            exposure=ExposureDesign.from_dict(d.get("exposure") or {}),
            assembly=AssemblyDesign.from_dict(d.get("assembly") or {}),
        )

    @classmethod
    def from_json(cls, text: str) -> TestDesign:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"design: not valid JSON (line {exc.lineno}: {exc.msg})") from None
        return cls.from_dict(data)


# The 2024 SKD blueprint. The content-area codes are those of the demo bank
# (item_bank/demo.py, docs/item-format.md); the counts are configuration, not
# law: change them in the design document.
SKD_BLUEPRINT: dict[str, dict[str, int]] = {
    "TWK": {
        "nasionalisme": 6,
        "integritas": 6,
        "bela_negara": 6,
        "pilar_negara": 6,
        "bahasa_indonesia": 6,
    },
    "TIU": {"verbal": 10, "numerik": 15, "figural": 10},
    "TKP": {
        "pelayanan_publik": 8,
        "jejaring_kerja": 8,
        "sosial_budaya": 8,
        "tik": 7,
        "profesionalisme": 7,
        "anti_radikalisme": 7,
    },
}
SKD_LENGTHS = {"TWK": 30, "TIU": 35, "TKP": 45}
SKD_PASSING = {"TWK": 65.0, "TIU": 80.0, "TKP": 166.0}


def skd_design(
    mode: str = "linear", blueprint: Mapping[str, Mapping[str, int]] | None = None
) -> TestDesign:
    """The 2024 SKD: TWK 30, TIU 35, TKP 45 items, 100 minutes, passing 65/80/166.

    Adaptive: the same lengths, maximum information with EAP, progressive
    exposure control and a hard maximum exposure rate of 0.25. ``blueprint``
    overrides :data:`SKD_BLUEPRINT` (content codes differ between banks);
    pass ``{}`` for no content constraint.
    """
    bp = SKD_BLUEPRINT if blueprint is None else blueprint
    sections = []
    for code, n in SKD_LENGTHS.items():
        sections.append(
            {
                "code": code,
                "n_items": n,
                "blueprint": dict(bp.get(code, {})),
                "estimator": "eap",
                "selector": "max_info",
                "stopping": ["fixed_length"],
                "passing_points": SKD_PASSING[code],
            }
        )
    exposure: dict[str, Any] = (
        {"method": "progressive", "max_rate": 0.25} if mode == "adaptive" else {"method": "none"}
    )
    return TestDesign.from_dict(
        {
            "name": f"SKD 2024 ({mode})",
            "mode": mode,
            "time_limit_seconds": 6000,
            "sections": sections,
            "exposure": exposure,
        }
    )
