"""A section's ability estimate from the answers in a :class:`TestState`.

The general path of the engine: the Evidence of a section's answers and the
section's estimator applied to it (the live adaptive step's shortcut from the
running row is :func:`cat_engine.engine._estimate_live`).

For the ability estimate a blank answer on a presented item counts as the
lowest category (wrong), as it scores 0 points: otherwise skipping hard
adaptive items would raise the estimate.
"""

from __future__ import annotations

import numpy as np

from cat_engine.bank import BankArrays
from cat_engine.estimators import Evidence, OneEvidence
from cat_engine.live_step import (
    _all_scored,
    _local_of,
    _option_category,
    _running_loglik,
)
from cat_engine.prepared import section_tables
from cat_engine.state import TestState


def _responded(state: TestState, s: int) -> list[int]:
    """Positions of section s that count as responded (linear: not blank)."""
    sec = state.sections[s]
    if state.design.mode == "linear":
        return [p for p, o in enumerate(sec.options) if o >= 0]
    return [p for p, a in enumerate(sec.answered) if a]


def _evidence(state: TestState, bank: BankArrays, s: int) -> Evidence:
    sec = state.sections[s]
    linear = state.design.mode == "linear"
    # Plain Python over the ≤ a few hundred answers, then one row gather from
    # the section's (n·K, q) log-probability table: this runs on every answer.
    tables = section_tables(bank, state.design.sections[s])
    local_of = _local_of(tables)
    option_category = _option_category(bank)
    k = tables.logp.shape[2]
    if not linear and _all_scored(sec):
        row, cat_list = _running_loglik(sec, tables, local_of, option_category)
        # The lists as they are now: the section's own list grows on the next step.
        return OneEvidence(bank.params, sec.items[:], cat_list, row)
    pos = [p for p in _responded(state, s) if not sec.pretest[p]]
    item_list = [sec.items[p] for p in pos]
    option_list = [sec.options[p] for p in pos]
    # blank = lowest category (see module doc); linear forms never get here with a blank.
    cat_list = [
        option_category[i][o] if o >= 0 else 0 for i, o in zip(item_list, option_list, strict=True)
    ]
    rows = [local_of[i] * k + c for i, c in zip(item_list, cat_list, strict=True)]
    loglik = tables.logp_rows.take(np.array(rows, dtype=np.int64), axis=0).sum(axis=0)[None, :]
    items = np.array([item_list], dtype=np.int64).reshape(1, -1)
    cats = np.array([cat_list], dtype=np.int64).reshape(1, -1)
    return Evidence(bank.params, items, cats, loglik)


def _estimate(state: TestState, bank: BankArrays, s: int) -> tuple[Evidence, float, float]:
    ev = _evidence(state, bank, s)
    theta, se = state.design.strategies[s].estimator.estimate(ev)
    return ev, float(theta[0]), float(se[0])
