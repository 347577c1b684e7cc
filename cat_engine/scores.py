"""The scores of a candidate's test: points per section and in total.

The published scale these points are on (reference forms, expected scores)
is :mod:`cat_engine.scoring`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cat_engine.ability import _estimate, _responded
from cat_engine.bank import BankArrays
from cat_engine.errors import EngineError
from cat_engine.scoring import reference_max_points, reference_tcc
from cat_engine.state import TestState, finite_or_none


@dataclass(frozen=True)
class SectionScore:
    """code; points on the published scale; max_points; theta, se (logits; se
    None if undefined); n_answered (scored, non-blank); n_items (scored items
    presented).

    Points, not verdicts: whether a candidate passes is the exam's ranking
    policy's (``exam_server.results.rules``), which may differ by category.
    The design's ``passing_points`` is only the cut SPRT stopping and the
    simulator's classification use.
    """

    code: str
    points: float
    max_points: float
    theta: float
    se: float | None
    n_answered: int
    n_items: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "points": self.points,
            "max_points": self.max_points,
            "theta": self.theta,
            "se": self.se,
            "n_answered": self.n_answered,
            "n_items": self.n_items,
        }


@dataclass(frozen=True)
class TestScore:
    """Per-section scores and the total points (the sum over sections)."""

    __test__ = False

    mode: str
    sections: list[SectionScore] = field(default_factory=list)

    @property
    def total(self) -> float:
        return float(sum(s.points for s in self.sections))

    @property
    def max_total(self) -> float:
        return float(sum(s.max_points for s in self.sections))

    def section(self, code: str) -> SectionScore:
        for s in self.sections:
            if s.code == code:
                return s
        raise KeyError(code)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "sections": [s.to_dict() for s in self.sections],
            "total": self.total,
            "max_total": self.max_total,
        }


def _check_bank(state: TestState, bank: BankArrays) -> None:
    for sec in state.sections:
        for i, item_id in zip(sec.items, sec.item_ids, strict=True):
            if i >= bank.n_items or bank.item_ids[i] != item_id:
                raise EngineError(
                    "bank_mismatch",
                    f"item {item_id!r} is no longer at bank position {i}: "
                    "resume the test with the bank it started with",
                )


def score(state: TestState, bank: BankArrays) -> TestScore:
    """Scores per section on the published scale (see :mod:`cat_engine.scoring`)."""
    _check_bank(state, bank)
    out = []
    for s, section in enumerate(state.design.sections):
        sec = state.sections[s]
        scored = [p for p in range(len(sec.items)) if not sec.pretest[p]]
        answered = [p for p in scored if sec.options[p] >= 0]
        _, theta, se = _estimate(state, bank, s)
        if state.design.mode == "linear":
            items = np.array([sec.items[p] for p in scored], dtype=np.int64)
            opts = np.array([sec.options[p] for p in scored], dtype=np.int64)
            points = float(bank.points_of(items, opts).sum())
            max_points = float(bank.max_points()[items].sum()) if items.size else 0.0
        else:
            responded = [p for p in _responded(state, s) if not sec.pretest[p]]
            points = float(reference_tcc(bank, section, [theta])[0]) if responded else 0.0
            max_points = reference_max_points(bank, section)
        out.append(
            SectionScore(
                code=section.code,
                points=points,
                max_points=max_points,
                theta=theta,
                se=finite_or_none(se),
                n_answered=len(answered),
                n_items=len(scored),
            )
        )
    return TestScore(mode=state.design.mode, sections=out)
