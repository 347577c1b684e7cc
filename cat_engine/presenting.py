"""Putting one more item on a candidate's adaptive test: the enemy groups
already shown, the pretest item to place, and appending the presented item to
its section.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from cat_engine.bank import BankArrays
from cat_engine.pool import n_enemy_groups, pick_pretest, pretest_blocked, section_items
from cat_engine.state import TestState

IntArray = NDArray[np.int64]


def _enemy_groups(state: TestState, bank: BankArrays) -> IntArray:
    """Enemy groups of every item presented so far. (g,)"""
    items = [i for sec in state.sections for i in sec.items]
    if not items:
        return np.zeros(0, dtype=np.int64)
    groups = bank.enemy_group[items]
    return np.asarray(groups[groups >= 0], dtype=np.int64)


def _present(state: TestState, bank: BankArrays, s: int, item: int, pretest: bool) -> None:
    sec = state.sections[s]
    sec.items.append(int(item))
    sec.item_ids.append(bank.item_ids[item])
    sec.options.append(-1)
    sec.answered.append(False)
    sec.flagged.append(False)
    sec.pretest.append(pretest)
    sec.elapsed.append(0.0)
    state.current = int(item)
    state.step += 1


def _pick_pretest(state: TestState, bank: BankArrays, s: int) -> int | None:
    candidates = section_items(bank, state.design.sections[s], pretest=True)
    shown = np.isin(candidates, [i for sec in state.sections for i in sec.items])[None, :]
    used = np.zeros((1, n_enemy_groups(bank)), dtype=bool)
    used[0, _enemy_groups(state, bank)] = True
    blocked = pretest_blocked(bank, candidates, shown, used)
    seeds = np.array([state.seed], dtype=np.int64)
    item = int(pick_pretest(candidates, blocked, seeds, np.array([state.step]))[0])
    return None if item < 0 else item
