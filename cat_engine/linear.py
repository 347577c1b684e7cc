"""What linear tests do apart from answering: assemble every section's form
when the test starts, flag items as doubtful ("ragu-ragu"), and move freely
between presented items.
"""

from __future__ import annotations

import numpy as np

from cat_engine.ability import _estimate
from cat_engine.assembly import assemble_form
from cat_engine.bank import BankArrays
from cat_engine.errors import EngineError
from cat_engine.exposure import ExposureUsage
from cat_engine.exposure_limits import _allowed
from cat_engine.pool import place_linear_pretest
from cat_engine.queries import _find
from cat_engine.state import TestState, finite_or_none


def _start_linear(state: TestState, bank: BankArrays, usage: ExposureUsage | None) -> None:
    design = state.design
    allowed = _allowed(design, bank, usage)
    allowed = np.ones(bank.n_items, dtype=bool) if allowed is None else allowed.copy()
    for s, section in enumerate(design.sections):
        scored = assemble_form(bank, section, design.assembly, state.seed, s, allowed)
        form, pretest = place_linear_pretest(bank, section, state.seed, s, list(scored))
        used_groups = bank.enemy_group[np.asarray(form, dtype=np.int64)]
        allowed &= ~np.isin(bank.enemy_group, used_groups[used_groups >= 0])
        sec = state.sections[s]
        sec.items = [int(i) for i in form]
        sec.item_ids = [bank.item_ids[i] for i in form]
        sec.options = [-1] * len(form)
        sec.answered = [False] * len(form)
        sec.flagged = [False] * len(form)
        sec.pretest = pretest
        sec.elapsed = [0.0] * len(form)
        _, theta, se = _estimate(state, bank, s)
        sec.theta, sec.se = theta, finite_or_none(se)
    state.current = state.sections[0].items[0]
    state.step = sum(len(sec.items) for sec in state.sections)


def flag(state: TestState, item: int, flagged: bool) -> TestState:
    """Set or clear the "ragu-ragu" (doubtful) flag on a presented item (linear only)."""
    if state.finished:
        raise EngineError("complete", "the test is over")
    if state.design.mode != "linear":
        raise EngineError("navigation_not_allowed", "adaptive tests have no doubtful flags")
    s, p = _find(state, item)
    new = state.copy()
    new.sections[s].flagged[p] = bool(flagged)
    return new


def navigate(state: TestState, item: int) -> TestState:
    """Move to a presented item (linear only; adaptive accepts only the current item)."""
    if state.finished:
        raise EngineError("complete", "the test is over")
    if state.design.mode != "linear":
        if item == state.current:
            return state.copy()
        raise EngineError("navigation_not_allowed", "adaptive tests cannot go back or skip")
    s, _ = _find(state, item)
    new = state.copy()
    new.current = int(item)
    new.section_index = s
    return new
