"""Questions asked of a :class:`TestState`, which change nothing: the items
presented (all, or newly by one step), the current item, whether the test is
over, and where a presented item sits.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from cat_engine.errors import EngineError
from cat_engine.state import TestState

IntArray = NDArray[np.int64]


def _find(state: TestState, item: int) -> tuple[int, int]:
    """(section number, position) of a presented item."""
    if item == state.current and not state.finished:
        # The usual case: the item on screen, the last one presented in its section.
        sec = state.sections[state.section_index]
        if sec.items and sec.items[-1] == item:
            return state.section_index, len(sec.items) - 1
    for s, sec in enumerate(state.sections):
        for p, i in enumerate(sec.items):
            if i == item:
                return s, p
    raise EngineError("not_presented", f"item {item} is not on this candidate's test")


def presented(state: TestState) -> list[int]:
    """Bank indices shown so far, in order (linear: the whole form)."""
    return [i for sec in state.sections for i in sec.items]


def administered(before: TestState | None, after: TestState) -> IntArray:
    """Bank indices one engine step newly presented: what to count as used. (k,) int64

    before: the state passed to the step (None for
    :func:`~cat_engine.engine.start`); after: the state it returned. For
    ``start`` that is the whole linear form, or the first adaptive item; for
    ``record`` on an adaptive test the next item (none when the test ended),
    on a linear test nothing. Pretest items count too: they were shown. A
    server adds these to its per-exam usage counts, in the same transaction
    that stores ``after``, before building the
    :class:`~cat_engine.exposure.ExposureUsage` for the next step. Raises
    ``ValueError`` when the two states are not one test's before and after.
    """
    if before is None:
        return np.asarray(presented(after), dtype=np.int64)
    if before.seed != after.seed or len(before.sections) != len(after.sections):
        raise ValueError("administered: the two states are not the same test")
    new: list[int] = []
    for b, a in zip(before.sections, after.sections, strict=True):
        if a.items[: len(b.items)] != b.items:
            raise ValueError("administered: 'after' does not continue 'before'")
        new.extend(a.items[len(b.items) :])
    return np.asarray(new, dtype=np.int64)


def current(state: TestState) -> int | None:
    """The item the candidate is on (adaptive: the one to answer next); None when complete."""
    return None if state.finished else state.current


def is_complete(state: TestState) -> bool:
    """True once the test is over (adaptive: last section done; linear: submitted or timed out)."""
    return state.finished
