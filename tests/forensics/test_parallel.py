"""Parallel items for a retired one (``forensics.parallel``), on small banks."""

from __future__ import annotations

import dataclasses

import numpy as np

from cat_engine import engine as cat
from exam_server.testing import small_bank, small_design
from forensics.parallel import parallel_candidates, points_signature, replace_unseen


def _state(seed: int = 3):  # type: ignore[no-untyped-def]
    bank, _ = small_bank()
    return bank, cat.start(small_design("linear"), bank, seed)


def test_an_unseen_retired_item_gets_the_closest_item_of_its_kind() -> None:
    bank, state = _state()
    old = state.sections[0].items[1]
    gone = np.zeros(bank.n_items, dtype=bool)
    gone[old] = True
    new, swaps, missing = replace_unseen(state, bank, gone)
    assert missing == [] and len(swaps) == 1
    repl = swaps[0].new_index
    assert new.sections[0].items[1] == repl and new.sections[0].item_ids[1] == bank.item_ids[repl]
    assert state.sections[0].items[1] == old  # the given state is not changed
    assert bank.subtest[repl] == bank.subtest[old]
    assert points_signature(bank, repl) == points_signature(bank, old)
    assert repl not in cat.presented(state)


def test_answered_places_stay_and_a_bank_without_parallel_items_keeps_the_item() -> None:
    bank, state = _state()
    sec = state.sections[2]  # TKP
    answered_item, open_item = sec.items[0], sec.items[1]
    sec.options[0], sec.answered[0] = 2, True
    gone = np.zeros(bank.n_items, dtype=bool)
    gone[[answered_item, open_item]] = True
    # Every TKP item is withdrawn: nothing parallel is left for the open places.
    gone[bank.subtest == 2] = True
    new, swaps, missing = replace_unseen(state, bank, gone)
    assert swaps == [] and missing == [("TKP", p) for p in range(1, len(sec.items))]
    assert new.sections[2].items[:2] == [answered_item, open_item]


def test_enemies_of_the_test_are_never_parallel() -> None:
    bank, state = _state()
    old = state.sections[1].items[0]
    other = state.sections[1].items[1]
    enemy = np.full(bank.n_items, -1, dtype=np.int64)
    free = [i for i in np.flatnonzero(bank.subtest == 1) if i not in cat.presented(state)]
    enemy[other] = enemy[free[0]] = 7  # free[0] may not sit beside `other`
    bank = dataclasses.replace(bank, enemy_group=enemy)
    gone = np.zeros(bank.n_items, dtype=bool)
    gone[old] = True
    assert free[0] not in parallel_candidates(bank, state, 1, 0, gone).tolist()


def test_forms_patched_together_are_spread_over_the_nearest_items() -> None:
    bank, _ = small_bank()
    old = 0
    states = []
    for seed in range(40):
        st = cat.start(small_design("linear"), bank, seed)
        if old in cat.presented(st):
            states.append(st)
    assert len(states) >= 3
    gone = np.zeros(bank.n_items, dtype=bool)
    gone[old] = True
    counts = np.zeros(bank.n_items, dtype=np.int64)
    given = []
    for st in states:
        _, swaps, _ = replace_unseen(st, bank, gone, counts)
        given.append(swaps[0].new_index)
        counts[swaps[0].new_index] += 1
    assert len(set(given)) > 1
