"""Parallel items for a retired one in a test not yet seen by its candidate.

When the leak watch retires an item, tests assembled before the decision
may still hold it. Where the candidate has not been shown it yet, the item
is replaced by a *parallel* item: one the same section could have given at
that place, scored the same way, and as close as the bank allows to what
the form was assembled for (:func:`cat_engine.assembly.form_profile`: the
expected points and the information at the design's assembly θ points,
the same criteria the linear assembly holds forms to).

Pure functions of a :class:`~cat_engine.state.TestState` and the exam's
frozen bank; the server decides which tests may be changed
(``exam_server.forensics.forms``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from cat_engine.assembly import form_profile
from cat_engine.bank import BankArrays
from cat_engine.pool import section_items
from cat_engine.state import TestState

IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

#: Among this many nearest parallel items, the least used one is taken, so
#: that the tests patched at one retirement do not all get the same item.
NEAREST = 5


@dataclass(frozen=True)
class Swap:
    """One replaced place: section ``section`` (code), ``position`` in it
    (0-based), the bank index and id given before and after."""

    section: str
    position: int
    old_index: int
    old_id: str
    new_index: int
    new_id: str

    def to_dict(self) -> dict[str, object]:
        return {
            "section": self.section,
            "position": self.position,
            "old": self.old_id,
            "new": self.new_id,
        }


def points_signature(bank: BankArrays, i: int) -> tuple[float, ...]:
    """How item ``i`` scores, whatever option holds the key: its options' points, sorted."""
    k = int(bank.n_options[i])
    return tuple(sorted(float(x) for x in bank.option_points[i, :k]))


def parallel_candidates(
    bank: BankArrays, state: TestState, section: int, position: int, unavailable: BoolArray
) -> IntArray:
    """Bank indices that may stand at ``position`` of section ``section`` of
    ``state``: the section's items of the same kind (scored or pretest), the
    same content area, IRT model and points per option as the item there,
    not ``unavailable`` (n_bank,) (e.g. withdrawn), not in the test already,
    and in no enemy group of the test's other items. (k,)"""
    sec = state.sections[section]
    old = sec.items[position]
    design = state.design.sections[section]
    pool = section_items(bank, design, pretest=bool(sec.pretest[position]))
    others = [i for s in state.sections for i in s.items if i != old]
    groups = bank.enemy_group[np.asarray(others, dtype=np.int64)] if others else np.zeros(0)
    groups = groups[groups >= 0]
    keep = (
        (bank.content_area[pool] == bank.content_area[old])
        & (bank.params.model[pool] == bank.params.model[old])
        & (bank.n_options[pool] == bank.n_options[old])
        & ~unavailable[pool]
        & ~np.isin(pool, np.asarray([*others, old], dtype=np.int64))
        & ~np.isin(bank.enemy_group[pool], groups)
    )
    signature = points_signature(bank, old)
    found = [int(i) for i in pool[keep] if points_signature(bank, int(i)) == signature]
    return np.asarray(found, dtype=np.int64)


def parallel_item(
    bank: BankArrays,
    state: TestState,
    section: int,
    position: int,
    unavailable: BoolArray,
    counts: IntArray | None = None,
) -> int | None:
    """The parallel item for ``position`` of section ``section`` (None: the
    bank has none). Of the :data:`NEAREST` candidates closest to the item
    there (Σ over the assembly θ points of |Δ expected points| / its most
    points + Σ |Δ information| / its Σ information), the one with the
    fewest ``counts`` (n_bank,) uses; ties go to the closer, then the lower
    index. Items without finite parameters (pretest drafts) are all equally close."""
    found = parallel_candidates(bank, state, section, position, unavailable)
    if found.shape[0] == 0:
        return None
    old = state.sections[section].items[position]
    both = np.asarray([old, *found.tolist()], dtype=np.int64)
    with np.errstate(invalid="ignore"):
        expected, info = form_profile(bank, both, state.design.assembly.theta_points)
    scale_e = max(float(bank.max_points()[old]), 1e-9)
    scale_i = max(float(info[0].sum()), 1e-9)
    distance = (
        np.abs(expected[1:] - expected[0]).sum(axis=1) / scale_e
        + np.abs(info[1:] - info[0]).sum(axis=1) / scale_i
    )
    distance = np.where(np.isfinite(distance), distance, 0.0)
    order = np.lexsort((found, distance))[:NEAREST]
    used = np.zeros(found.shape[0], dtype=np.int64) if counts is None else counts[found]
    best = min(order.tolist(), key=lambda j: (int(used[j]), float(distance[j]), int(found[j])))
    return int(found[best])


def replace_unseen(
    state: TestState,
    bank: BankArrays,
    unavailable: BoolArray,
    counts: IntArray | None = None,
) -> tuple[TestState, list[Swap], list[tuple[str, int]]]:
    """``state`` with every ``unavailable`` item it holds unanswered replaced by
    a parallel item (:func:`parallel_item`), for a test whose candidate has
    seen none of it yet. Returns the new state (``state`` is not changed),
    the swaps, and the places (section code, position) left as they were
    because the bank has no parallel item. counts: (n_bank,) uses, raised
    here by one for each item given (the caller's array is not changed)."""
    new = state.copy()
    used = None if counts is None else np.array(counts, dtype=np.int64)
    swaps: list[Swap] = []
    missing: list[tuple[str, int]] = []
    for s, sec in enumerate(new.sections):
        for pos, idx in enumerate(sec.items):
            if not unavailable[idx] or sec.answered[pos] or sec.options[pos] >= 0:
                continue
            repl = parallel_item(bank, new, s, pos, unavailable, used)
            if repl is None:
                missing.append((sec.code, pos))
                continue
            swaps.append(Swap(sec.code, pos, idx, sec.item_ids[pos], repl, bank.item_ids[repl]))
            sec.items[pos] = repl
            sec.item_ids[pos] = bank.item_ids[repl]
            if new.current == idx:
                new.current = repl
            if used is not None:
                used[repl] += 1
    return new, swaps, missing
