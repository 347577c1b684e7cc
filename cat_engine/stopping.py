"""Stopping rules for adaptive sections, vectorised over candidates.

Each rule has one method, ``stop(ctx) -> (m,) bool``. The engine asks the
rules only once a candidate has reached the section's ``min_items``, and ends
the section anyway at its maximum length (``n_items``), when no eligible item
is left, or when time runs out; so ``fixed_length`` is the rule that never
stops early.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, overload

import numpy as np
from numpy.typing import NDArray

from cat_engine.estimators import Evidence
from cat_engine.response import gathered_probabilities

if TYPE_CHECKING:
    from cat_engine.design import SectionDesign

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class StopContext:
    """theta, se: (m,); n_given: (m,) scored items answered; time_used: (m,)
    seconds in this section; time_limit: seconds or None; cut_theta: the
    passing grade on the θ scale (from the reference TCC) or None."""

    evidence: Evidence
    theta: FloatArray
    se: FloatArray
    n_given: NDArray[np.int64]
    time_used: FloatArray
    time_limit: float | None
    cut_theta: float | None


class FixedLength:
    """Never stops before the maximum length."""

    def stop(self, ctx: StopContext) -> BoolArray:
        return np.zeros(ctx.theta.shape[0], dtype=bool)


class SETarget:
    """Stops once the standard error is at most ``se`` (logits)."""

    def __init__(self, se: float = 0.3) -> None:
        if not (isinstance(se, int | float) and 0 < se < 10):
            raise ValueError(f"se_target se must be a positive number of logits, got {se!r}")
        self.se = float(se)

    def stop(self, ctx: StopContext) -> BoolArray:
        return np.asarray(ctx.se <= self.se)


class TimeLimit:
    """Stops when the section's time limit is used up (no limit: never)."""

    def stop(self, ctx: StopContext) -> BoolArray:
        if ctx.time_limit is None:
            return np.zeros(ctx.theta.shape[0], dtype=bool)
        return np.asarray(ctx.time_used >= ctx.time_limit)


class SPRT:
    """Wald's sequential probability ratio test against a cut score (Reckase 1983).

    H0: θ = cut − delta against H1: θ = cut + delta; stops when the log
    likelihood ratio leaves (log(β/(1−α)), log((1−β)/α)). ``cut`` is on the θ
    scale; by default the section's passing grade mapped through the
    reference test characteristic curve.
    """

    def __init__(
        self,
        cut: float | None = None,
        delta: float = 0.3,
        alpha: float = 0.05,
        beta: float = 0.05,
    ) -> None:
        if cut is not None and not (isinstance(cut, int | float) and np.isfinite(cut)):
            raise ValueError(f"sprt cut must be a number (θ scale), got {cut!r}")
        if not (isinstance(delta, int | float) and delta > 0):
            raise ValueError(f"sprt delta must be positive, got {delta!r}")
        for name, v in (("alpha", alpha), ("beta", beta)):
            if not (isinstance(v, int | float) and 0 < v < 0.5):
                raise ValueError(f"sprt {name} must be in (0, 0.5), got {v!r}")
        self.cut = None if cut is None else float(cut)
        self.delta = float(delta)
        self.upper = float(np.log((1 - beta) / alpha))
        self.lower = float(np.log(beta / (1 - alpha)))

    def stop(self, ctx: StopContext) -> BoolArray:
        cut = self.cut if self.cut is not None else ctx.cut_theta
        m = ctx.theta.shape[0]
        if cut is None:
            return np.zeros(m, dtype=bool)
        ev = ctx.evidence
        answered = ev.categories >= 0
        k = np.where(answered, ev.categories, 0)[..., None]
        llr = np.zeros(m)
        for sign in (1.0, -1.0):
            p = gathered_probabilities(np.full(m, cut + sign * self.delta), ev.params, ev.items)
            px = np.take_along_axis(p, k, axis=2)[..., 0]
            llr += sign * np.sum(np.where(answered, np.log(np.clip(px, 1e-12, 1.0)), 0.0), axis=1)
        return np.asarray((llr >= self.upper) | (llr <= self.lower))


STOPPING_RULES = {
    "fixed_length": FixedLength,
    "se_target": SETarget,
    "time": TimeLimit,
    "sprt": SPRT,
}


class StoppingRule(Protocol):
    def stop(self, ctx: StopContext) -> BoolArray: ...


# Codes of :func:`section_stop`; 2 + j means ``section.stopping[j]`` fired.
GO_ON = -1
MAX_LENGTH = 0
SECTION_TIME = 1


@overload
def section_stop(
    section: SectionDesign,
    rules: Sequence[StoppingRule],
    *,
    evidence: Evidence | None,
    theta: float,
    se: float,
    n_scored: int,
    time_used: float,
    cut_theta: float | None,
) -> int: ...


@overload
def section_stop(
    section: SectionDesign,
    rules: Sequence[StoppingRule],
    *,
    evidence: Evidence,
    theta: FloatArray,
    se: FloatArray,
    n_scored: IntArray,
    time_used: FloatArray,
    cut_theta: float | None,
) -> IntArray: ...


def section_stop(
    section: SectionDesign,
    rules: Sequence[StoppingRule],
    *,
    evidence: Evidence | None,
    theta: FloatArray | float,
    se: FloatArray | float,
    n_scored: IntArray | int,
    time_used: FloatArray | float,
    cut_theta: float | None,
) -> IntArray | int:
    """Whether, and why, each candidate's section ends after its latest answer.

    The one home of a section's end: the length cap first (``n_items``
    scored items: :data:`MAX_LENGTH`), then the section's time limit
    (:data:`SECTION_TIME`), then — once ``min_items`` scored items are in —
    the design's stopping rules in order (2 + j for rule j), else
    :data:`GO_ON`. theta, se: logits (se inf while undefined); n_scored:
    scored items presented; time_used: seconds in the section; cut_theta:
    :func:`cat_engine.scoring.cut_theta`; rules: the section's strategy
    objects, in ``section.stopping`` order. The simulator passes (m,) arrays
    and gets (m,) codes; the live engine passes one candidate's scalars and
    gets one code. evidence: the answers, read by some rules; the live engine
    passes None when the rules are not asked (fewer than ``min_items`` or at
    least ``n_items`` scored items), so it builds no Evidence on such steps.
    """
    limit = section.time_limit_seconds
    if isinstance(n_scored, int):
        # One candidate, on every live answer: plain Python, as each operation
        # on a (1,) array costs about 0.5 µs. Same order as the array path.
        if n_scored >= section.n_items:
            return MAX_LENGTH
        if limit is not None and float(time_used) >= limit:
            return SECTION_TIME
        if n_scored < section.minimum:
            return GO_ON
        if evidence is None:
            raise ValueError("section_stop: the stopping rules are asked, evidence is required")
        codes = section_stop(
            section,
            rules,
            evidence=evidence,
            theta=np.array([theta], dtype=np.float64),
            se=np.array([se], dtype=np.float64),
            n_scored=np.array([n_scored], dtype=np.int64),
            time_used=np.array([time_used], dtype=np.float64),
            cut_theta=cut_theta,
        )
        return int(codes[0])
    th = np.asarray(theta, dtype=np.float64)
    n = np.asarray(n_scored, dtype=np.int64)
    used = np.asarray(time_used, dtype=np.float64)
    code = np.full(th.shape[0], GO_ON, dtype=np.int64)
    if limit is not None:
        code[used >= limit] = SECTION_TIME
    code[n >= section.n_items] = MAX_LENGTH
    can = (code == GO_ON) & (n >= section.minimum)
    if can.any():
        if evidence is None:
            raise ValueError("section_stop: the stopping rules are asked, evidence is required")
        ctx = StopContext(
            evidence=evidence,
            theta=th,
            se=np.asarray(se, dtype=np.float64),
            n_given=n,
            time_used=used,
            time_limit=limit,
            cut_theta=cut_theta,
        )
        for j, rule in enumerate(rules):
            fired = can & (code == GO_ON) & rule.stop(ctx)
            code[fired] = 2 + j
    return code


def stop_reason(section: SectionDesign, code: int) -> str | None:
    """The ``stop_reason`` a :func:`section_stop` code stands for (None: go on)."""
    if code == GO_ON:
        return None
    if code == MAX_LENGTH:
        return "max_length"
    if code == SECTION_TIME:
        return "time"
    return section.stopping[code - 2].name
