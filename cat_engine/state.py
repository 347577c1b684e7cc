"""The state of one candidate's test: plain data, JSON-safe, round trip exact.

The server stores :meth:`TestState.to_json` (the JSON of
:meth:`TestState.to_dict`) with every answer; after a crash
:meth:`TestState.from_dict` gives back a state from which the engine makes
exactly the same choices. Item positions are bank indices; the matching item
ids are kept too, so a state is never applied to a different bank by mistake.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cat_engine.design import TestDesign

STATE_VERSION = 1


@dataclass
class SectionState:
    """One section of a candidate's test.

    items / item_ids: presented items in order (linear: the whole form);
    options: chosen option per item (−1 = blank); answered: the candidate
    has responded (adaptive: a blank response counts; the item on screen at
    a time-out does not); flagged: the "ragu-ragu"
    flag; pretest: True for unscored pretest items; elapsed: seconds spent on
    each item; theta, se: current estimate (se None while undefined; linear:
    the start value, the estimate is made at score time);
    refused: bank indices the exposure lottery refused this candidate;
    pretest_positions: positions (0-based) where adaptive pretest items go;
    time_used: seconds in this section; complete / stop_reason.
    """

    code: str
    items: list[int] = field(default_factory=list)
    item_ids: list[str] = field(default_factory=list)
    options: list[int] = field(default_factory=list)
    answered: list[bool] = field(default_factory=list)
    flagged: list[bool] = field(default_factory=list)
    pretest: list[bool] = field(default_factory=list)
    elapsed: list[float] = field(default_factory=list)
    theta: float = 0.0
    se: float | None = None
    refused: list[int] = field(default_factory=list)
    pretest_positions: list[int] = field(default_factory=list)
    time_used: float = 0.0
    complete: bool = False
    stop_reason: str | None = None
    # The adaptive live step's running evidence (:func:`cat_engine.live_step._running_loglik`):
    # (answers summed, their IRT categories, the (q,) log-likelihood row). Not
    # part of the state: never serialised or compared, dropped by from_dict
    # (rebuilt from the answers on the next step), so a resumed test is
    # bit-identical to an uninterrupted one.
    evidence_cache: tuple[int, list[int], Any] | None = field(
        default=None, compare=False, repr=False
    )
    # The adaptive live step's pool mask of the items given
    # (:func:`cat_engine.engine._given_mask`): (items counted, the (1, n) mask,
    # how many of them are pool items, the section tables it is over). The
    # mask is never changed once stored (a later step copies it), so states
    # sharing it stay independent. Transient like ``evidence_cache``.
    given_cache: tuple[int, Any, int, Any] | None = field(default=None, compare=False, repr=False)

    def copy(self) -> SectionState:
        # An explicit constructor: dataclasses.replace costs more than the
        # engine's whole estimate on a live step.
        return SectionState(
            self.code,
            self.items[:],
            self.item_ids[:],
            self.options[:],
            self.answered[:],
            self.flagged[:],
            self.pretest[:],
            self.elapsed[:],
            self.theta,
            self.se,
            self.refused[:],
            self.pretest_positions[:],
            self.time_used,
            self.complete,
            self.stop_reason,
            self.evidence_cache,
            self.given_cache,
        )

    @property
    def n_scored(self) -> int:
        return sum(1 for p in self.pretest if not p)

    def to_dict(self, *, copy_lists: bool = True) -> dict[str, Any]:
        """The section as plain data. copy_lists=False hands out the state's
        own lists (for a caller that only serialises them at once)."""
        c: Callable[[list[Any]], list[Any]] = list if copy_lists else _same
        return {
            "code": self.code,
            "items": c(self.items),
            "item_ids": c(self.item_ids),
            "options": c(self.options),
            "answered": c(self.answered),
            "flagged": c(self.flagged),
            "pretest": c(self.pretest),
            "elapsed": c(self.elapsed),
            "theta": self.theta,
            "se": self.se,
            "refused": c(self.refused),
            "pretest_positions": c(self.pretest_positions),
            "time_used": self.time_used,
            "complete": self.complete,
            "stop_reason": self.stop_reason,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SectionState:
        return cls(
            code=str(d["code"]),
            items=[int(i) for i in d["items"]],
            item_ids=[str(i) for i in d["item_ids"]],
            options=[int(o) for o in d["options"]],
            answered=[bool(a) for a in d["answered"]],
            flagged=[bool(f) for f in d["flagged"]],
            pretest=[bool(p) for p in d["pretest"]],
            elapsed=[float(e) for e in d["elapsed"]],
            theta=float(d["theta"]),
            se=None if d["se"] is None else float(d["se"]),
            refused=[int(i) for i in d["refused"]],
            pretest_positions=[int(p) for p in d["pretest_positions"]],
            time_used=float(d["time_used"]),
            complete=bool(d["complete"]),
            stop_reason=d["stop_reason"],
        )


@dataclass
class TestState:
    """A candidate's whole test.

    design: the design the test runs under (carried, so a stored state is
    self-contained); seed: the candidate's random seed; sections: in design
    order; section_index: the section in progress; current: the bank index
    of the item the candidate is on (None when complete); step: items
    presented so far (the counter of the random draws); time_used: seconds;
    finished / finish_reason ("completed", "time", "submitted", ...).
    """

    __test__ = False  # not a pytest class

    design: TestDesign
    seed: int
    sections: list[SectionState]
    section_index: int = 0
    current: int | None = None
    step: int = 0
    time_used: float = 0.0
    finished: bool = False
    finish_reason: str | None = None

    def copy(self, first: int = 0, last: int | None = None) -> TestState:
        """A copy whose lists may be changed without touching this state.

        first, last: copy only sections ``first`` … ``last`` (inclusive; None:
        to the end); the others are shared with this state, so the caller must
        change only the sections it asked for (``record`` copies the answered
        section, not the whole test).
        """
        end = len(self.sections) if last is None else last + 1
        return TestState(
            self.design,
            self.seed,
            [sec.copy() if first <= k < end else sec for k, sec in enumerate(self.sections)],
            self.section_index,
            self.current,
            self.step,
            self.time_used,
            self.finished,
            self.finish_reason,
        )

    def _fields(self, copy_lists: bool) -> dict[str, Any]:
        """Everything but the version and the design, in :meth:`to_dict` order."""
        return {
            "seed": self.seed,
            "sections": [s.to_dict(copy_lists=copy_lists) for s in self.sections],
            "section_index": self.section_index,
            "current": self.current,
            "step": self.step,
            "time_used": self.time_used,
            "finished": self.finished,
            "finish_reason": self.finish_reason,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "design": self.design.to_dict(),
            **self._fields(copy_lists=True),
        }

    def to_json(self, dumps: Callable[[dict[str, Any]], str] | None = None) -> str:
        """``json.dumps(self.to_dict())`` (compact), made cheap for a server that
        stores the state with every answer: the design's JSON (about half of the
        text, and of the time) is built once per design object and spliced in,
        and the lists are dumped without copying them first. The text parses
        to exactly :meth:`to_dict`.

        dumps: a faster encoder of compact JSON text (the server passes orjson's;
        this package stays stdlib-only); its floats must round-trip exactly.
        """
        rest = (dumps or _compact)(self._fields(copy_lists=False))
        return f'{{"version":{STATE_VERSION},"design":{_design_json(self.design)},{rest[1:]}'

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TestState:
        if not isinstance(d, dict) or d.get("version") != STATE_VERSION:
            raise ValueError(f"test state: expected version {STATE_VERSION}")
        return cls(
            design=TestDesign.from_dict(d["design"]),
            seed=int(d["seed"]),
            sections=[SectionState.from_dict(s) for s in d["sections"]],
            section_index=int(d["section_index"]),
            current=None if d["current"] is None else int(d["current"]),
            step=int(d["step"]),
            time_used=float(d["time_used"]),
            finished=bool(d["finished"]),
            finish_reason=d["finish_reason"],
        )


def _same(x: list[Any]) -> list[Any]:
    return x


def _compact(obj: dict[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _design_json(design: TestDesign) -> str:
    """The compact JSON of ``design``, kept on the (frozen, immutable) design
    object itself as ``functools.cached_property`` would: it lives exactly as
    long as the design, with no module-level cache."""
    cache = design.__dict__
    text = cache.get("_state_design_json")
    if text is None:
        text = json.dumps(design.to_dict(), separators=(",", ":"))
        cache["_state_design_json"] = text
    return text


def finite_or_none(x: float) -> float | None:
    """JSON has no infinity: an undefined standard error is stored as None."""
    return float(x) if math.isfinite(x) else None
