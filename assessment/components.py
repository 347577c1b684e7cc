"""SKB components as configuration, validated against the policy's caps.

A formation's SKB is a :class:`SkbPlan`: components (the CAT field test, an
interview, a psychological or practical test …) with weights in percent that
add up to 100, an optional minimum each, and for components scored by
assessors a :class:`Rubric` (criteria with anchored levels) and a
:class:`Finalisation` rule. :class:`SkbCaps` is the ``skb`` section of the
ranking policy document (the 2024 rules by default, :data:`CAPS_2024`): which
kinds exist, the CAT field test's minimum weight, the other components'
maximum together, and whether the final uses raw or fair (severity-adjusted)
scores.

Every component is scored on 0–100; the SKB score is the weighted sum
(:func:`skb_total`), on the policy's ``skb_max_points`` scale of 100. This
module is the one place of that rule: the server, the publication and its
verifier all call it.

Bad documents raise :class:`ComponentError` naming the field.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Kind = Literal["cat", "interview", "psychological", "practical", "physical", "other"]
KINDS: tuple[Kind, ...] = ("cat", "interview", "psychological", "practical", "physical", "other")
SCORE_PLACES = Decimal("0.001")
HUNDRED = Decimal(100)


class ComponentError(ValueError):
    """An SKB plan, rubric or score breaks a rule; the message names the field."""


def _errors(exc: ValidationError, where: str) -> ComponentError:
    parts = []
    for e in exc.errors():
        loc = ".".join(str(p) for p in (where, *e["loc"]))
        parts.append(f"{loc}: {e['msg']}")
    return ComponentError("; ".join(parts))


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Level(_Doc):
    """One anchored level of a criterion: its points and what it looks like."""

    points: int = Field(ge=0, le=100)
    label_id: str = Field(min_length=1)
    label_en: str = Field(min_length=1)


class Criterion(_Doc):
    code: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")
    name_id: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    levels: tuple[Level, ...] = Field(min_length=2)

    @model_validator(mode="after")
    def _increasing(self) -> Criterion:
        pts = [lv.points for lv in self.levels]
        if any(b <= a for a, b in itertools.pairwise(pts)):
            raise ValueError(f"levels' points must increase, got {pts}")
        return self

    @property
    def points(self) -> tuple[int, ...]:
        return tuple(lv.points for lv in self.levels)


class Rubric(_Doc):
    """Criteria with anchored levels; a candidate's component score is the sum of
    the criteria's points scaled to 0–100 (lowest levels 0, highest 100)."""

    criteria: tuple[Criterion, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Rubric:
        codes = [c.code for c in self.criteria]
        if len(set(codes)) != len(codes):
            raise ValueError(f"criterion codes must be distinct, got {codes}")
        return self

    def criterion(self, code: str) -> Criterion:
        for c in self.criteria:
            if c.code == code:
                return c
        raise ComponentError(f"criterion {code!r} is not in the rubric ({self.codes()})")

    def codes(self) -> str:
        return ", ".join(c.code for c in self.criteria)

    def check(self, points: Mapping[str, int]) -> None:
        """Refuse a sheet unless it has one level of the rubric for every criterion."""
        missing = [c.code for c in self.criteria if c.code not in points]
        extra = sorted(set(points) - {c.code for c in self.criteria})
        if extra:
            raise ComponentError(f"criterion {extra[0]!r} is not in the rubric ({self.codes()})")
        if missing:
            raise ComponentError(f"criterion {missing[0]!r}: no score given")
        for c in self.criteria:
            p = points[c.code]
            if isinstance(p, bool) or not isinstance(p, int) or p not in c.points:
                levels = ", ".join(map(str, c.points))
                raise ComponentError(
                    f"criterion {c.code!r}: {p!r} is not one of the rubric's levels ({levels})"
                )

    def score(self, points: Mapping[str, int]) -> Decimal:
        """A checked sheet as a component score on 0–100 (3 decimals)."""
        self.check(points)
        return self.scaled(sum(points[c.code] for c in self.criteria))

    def scaled(self, total: float | int) -> Decimal:
        """A sum of criterion points (a sheet's, or a fair total) on 0–100, 3 decimals."""
        low = sum(c.points[0] for c in self.criteria)
        high = sum(c.points[-1] for c in self.criteria)
        value = (Decimal(str(total)) - low) / Decimal(high - low) * HUNDRED
        return quantize(min(max(value, Decimal(0)), HUNDRED))


class Finalisation(_Doc):
    """How several assessors' component scores become one.

    ``rule``: ``mean``, ``median`` or ``trimmed_mean`` (``trim`` scores cut at
    each end). ``adjudication_margin``: when the highest and lowest scores
    differ by more (0–100 scale), the panel chair adjudicates.
    """

    rule: Literal["mean", "median", "trimmed_mean"] = "mean"
    trim: int = Field(default=1, ge=1, le=3)
    adjudication_margin: Decimal = Field(default=Decimal(20), ge=0, le=100)


class Component(_Doc):
    code: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")
    kind: Kind
    name_id: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    weight: Decimal = Field(gt=0, le=100)
    minimum: Decimal | None = Field(default=None, ge=0, le=100)
    rubric: Rubric | None = None
    assessors: int = Field(default=3, ge=1, le=9)
    finalisation: Finalisation = Finalisation()
    #: A candidate may move their interview until this many hours before it.
    reschedule_notice_hours: int = Field(default=24, ge=0, le=720)
    #: Candidates called to the SKB choose their own slot (else the administrator assigns).
    candidates_choose: bool = False

    @model_validator(mode="after")
    def _rubric_for_assessed(self) -> Component:
        if self.kind == "cat" and self.rubric is not None:
            raise ValueError("the CAT field test is scored by the exam server, not a rubric")
        if self.kind != "cat" and self.rubric is None:
            raise ValueError(f"a {self.kind} component needs a rubric")
        if (
            self.finalisation.rule == "trimmed_mean"
            and self.assessors <= 2 * self.finalisation.trim
        ):
            raise ValueError(
                f"a trimmed mean cutting {self.finalisation.trim} at each end needs more than "
                f"{2 * self.finalisation.trim} assessors, got {self.assessors}"
            )
        return self

    @property
    def assessed(self) -> bool:
        return self.kind != "cat"


class SkbCaps(_Doc):
    """The ``skb`` section of the ranking policy: caps every formation's plan obeys."""

    version: str = Field(min_length=1)
    kinds: tuple[Kind, ...] = KINDS
    cat_min_weight: Decimal = Field(ge=0, le=100)
    others_max_weight: Decimal = Field(ge=0, le=100)
    min_assessors: int = Field(default=2, ge=1, le=9)
    score_basis: Literal["raw", "fair"] = "raw"


#: The caps of the 2024 rules: the CAT field test carries at least half of the SKB
#: and the other components (interview, psychological, practical …) at most half
#: together; at least two assessors for every assessed component.
CAPS_2024 = SkbCaps(
    version="2024.1",
    cat_min_weight=Decimal(50),
    others_max_weight=Decimal(50),
    min_assessors=2,
    score_basis="raw",
)


def caps_from_policy(section: Any) -> SkbCaps:
    """The caps of a policy document's ``skb`` section (``None``: the 2024 caps)."""
    if section is None:
        return CAPS_2024
    try:
        return SkbCaps.model_validate(section)
    except ValidationError as exc:
        raise _errors(exc, "policy.skb") from None


class SkbPlan(_Doc):
    """One formation's SKB: its components (weights add up to 100)."""

    formation: str = Field(min_length=1)
    components: tuple[Component, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _weights(self) -> SkbPlan:
        codes = [c.code for c in self.components]
        if len(set(codes)) != len(codes):
            raise ValueError(f"component codes must be distinct, got {codes}")
        total = sum((c.weight for c in self.components), Decimal(0))
        if total != HUNDRED:
            raise ValueError(f"the components' weights must add up to 100, got {total}")
        return self

    def component(self, code: str) -> Component:
        for c in self.components:
            if c.code == code:
                return c
        raise ComponentError(
            f"component {code!r} is not in the SKB of formation {self.formation} "
            f"({', '.join(c.code for c in self.components)})"
        )

    def problems(self, caps: SkbCaps) -> list[str]:
        """Every way the plan breaks the policy's caps (empty: it obeys them)."""
        out = [
            f"component {c.code}: {c.assessors} assessor(s), the policy asks for at "
            f"least {caps.min_assessors}"
            for c in self.components
            if c.assessed and c.assessors < caps.min_assessors
        ]
        return share_problems([(c.code, c.kind, c.weight) for c in self.components], caps) + out


def share_problems(parts: Sequence[tuple[str, str, Decimal]], caps: SkbCaps) -> list[str]:
    """How the components' kinds and weights break the policy's caps: a kind
    the policy does not allow, the CAT field test under ``cat_min_weight`` or
    the others together over ``others_max_weight`` (empty: they obey them).

    parts: (code, kind, weight in percent) of every component of one plan. The
    one place of the rule: a plan is checked with it when it is stored
    (:meth:`SkbPlan.problems`) and a publication's lines when it is verified."""
    out = [
        f"component {code}: kind {kind!r} is not allowed by the policy"
        for code, kind, _ in parts
        if kind not in caps.kinds
    ]
    cat = sum((w for _, kind, w in parts if kind == "cat"), Decimal(0))
    others = sum((w for _, kind, w in parts if kind != "cat"), Decimal(0))
    if cat < caps.cat_min_weight:
        out.append(
            f"the CAT field test weighs {cat}%, the policy asks for at least {caps.cat_min_weight}%"
        )
    if others > caps.others_max_weight:
        out.append(
            f"the other components weigh {others}% together, the policy allows at most "
            f"{caps.others_max_weight}%"
        )
    return out


def parse_plan(data: Any, caps: SkbCaps = CAPS_2024) -> SkbPlan:
    """A formation's plan from its JSON document, checked against ``caps``."""
    try:
        plan = SkbPlan.model_validate(data)
    except ValidationError as exc:
        raise _errors(exc, "skb") from None
    problems = plan.problems(caps)
    if problems:
        raise ComponentError(f"formation {plan.formation}: " + "; ".join(problems))
    return plan


def quantize(d: Decimal) -> Decimal:
    return d.quantize(SCORE_PLACES, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class ComponentScore:
    """One component in a candidate's SKB breakdown (published with the line).

    kind: the component's kind (``cat``, ``interview`` …), published so that a
    verifier can check the plan against the policy's caps
    (:func:`share_problems`); None on lines of publications made before it
    was published."""

    code: str
    weight: Decimal  # percent
    score: Decimal  # 0–100
    minimum: Decimal | None = None
    kind: Kind | None = None

    @property
    def below_minimum(self) -> bool:
        return self.minimum is not None and self.score < self.minimum

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "code": self.code,
            "weight": self.weight,
            "score": self.score,
            "minimum": self.minimum,
        }
        if self.kind is not None:
            out["kind"] = self.kind
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "component") -> ComponentScore:
        try:
            code = d["code"]
            weight = Decimal(str(d["weight"]))
            score = Decimal(str(d["score"]))
            minimum = None if d.get("minimum") is None else Decimal(str(d["minimum"]))
            kind = d.get("kind")
        except (KeyError, ArithmeticError, TypeError, AttributeError) as exc:
            raise ComponentError(f"{where}: not a component score ({exc!r})") from None
        if not isinstance(code, str) or not code:
            raise ComponentError(f"{where}.code: must be a non-empty string")
        if not (0 <= score <= HUNDRED) or not (0 < weight <= HUNDRED):
            raise ComponentError(f"{where}: score must be 0–100 and weight 0–100")
        if kind is not None and kind not in KINDS:
            raise ComponentError(f"{where}.kind: must be one of {', '.join(KINDS)}, got {kind!r}")
        return cls(code, weight, score, minimum, kind)


def skb_total(breakdown: Sequence[ComponentScore]) -> Decimal:
    """The SKB score (0–100): the components' scores weighted by their percent."""
    total_weight = sum((c.weight for c in breakdown), Decimal(0))
    if total_weight != HUNDRED:
        raise ComponentError(f"the components' weights add up to {total_weight}, not 100")
    return quantize(sum((c.weight * c.score for c in breakdown), Decimal(0)) / HUNDRED)
