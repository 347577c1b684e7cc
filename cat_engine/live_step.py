"""What the live adaptive step keeps between steps, so each answer costs little.

:func:`cat_engine.engine.record` runs on every answer of an adaptive test.
This module holds what that step reuses rather than rebuilds (issue 17):
the bank's lookups as lists, the running log-likelihood row of a section
whose items are all answered and scored, the mask of the pool items given,
and per design, bank and section the :class:`_LiveSection` that the lean
step (:func:`cat_engine.engine._estimate_live`,
:func:`cat_engine.engine._next_lean`) and the general path both read.
Each is the general computation's exact result, kept or extended, never an
approximation. The switch that turns the shortcuts off,
``cat_engine.engine.SHORTCUTS``, stays with the step in the engine.

The engine imports this module; this module imports nothing from the engine.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from cat_engine.bank import BankArrays
from cat_engine.design import TestDesign
from cat_engine.estimators import EAP
from cat_engine.exposure import NoControl, sympson_hetter_k
from cat_engine.prepared import SectionTables, bank_extra, section_tables
from cat_engine.scoring import cut_theta
from cat_engine.selection.max_info import MaxInfo
from cat_engine.state import SectionState

BoolArray = NDArray[np.bool_]
FloatArray = NDArray[np.float64]


def _local_of(tables: SectionTables) -> list[int]:
    """``tables.local_of`` as a list (bank index → pool position, −1 outside), built once."""
    local_of: list[int] = tables.extras.get("local_of_list") or tables.extras.setdefault(
        "local_of_list", tables.local_of.tolist()
    )
    return local_of


def _option_category(bank: BankArrays) -> list[list[int]]:
    """``bank.option_category`` as nested lists (item → option → category), built once per bank."""
    table: list[list[int]] = bank_extra(bank, "option_category_list", bank.option_category.tolist)
    return table


def _all_scored(sec: SectionState) -> bool:
    """Every presented item of an adaptive section answered and scored (no
    pretest): the live step, whose log-likelihood is kept running."""
    return False not in sec.answered and True not in sec.pretest


def _running_loglik(
    sec: SectionState,
    tables: SectionTables,
    local_of: list[int],
    option_category: list[list[int]],
) -> tuple[FloatArray, list[int]]:
    """The (q,) log-likelihood row of an adaptive section whose presented items
    are all answered and scored, and their IRT categories (blank = 0, see the
    module doc). Kept in ``sec.evidence_cache`` for the next step.

    Answers never change on an adaptive test, so the row of the first answers
    (kept by the previous step) only gains the new rows: the same row
    additions in the same order as the full sum, bit-identical.
    """
    k = tables.logp.shape[2]
    item_list, option_list = sec.items, sec.options
    n = len(item_list)
    cache = sec.evidence_cache
    if cache is not None and 0 < cache[0] <= n and len(cache[1]) == cache[0]:
        done, cat_done, row = cache
        cat_list = cat_done + [
            option_category[i][o] if o >= 0 else 0
            for i, o in zip(item_list[done:], option_list[done:], strict=True)
        ]
        logp_rows = tables.logp_rows
        for i, c in zip(item_list[done:], cat_list[done:], strict=True):
            row = row + logp_rows[local_of[i] * k + c]
    else:
        cat_list = [
            option_category[i][o] if o >= 0 else 0
            for i, o in zip(item_list, option_list, strict=True)
        ]
        rows = [local_of[i] * k + c for i, c in zip(item_list, cat_list, strict=True)]
        row = tables.logp_rows.take(np.array(rows, dtype=np.int64), axis=0).sum(axis=0)
    sec.evidence_cache = (n, cat_list, row)
    return row, cat_list


def _given_mask(sec: SectionState, tables: SectionTables) -> tuple[BoolArray, int]:
    """The pool items given in ``sec`` as a (1, n) mask, and how many they are.

    Pretest items are outside the pool. On a live adaptive test items are only
    ever appended, so the previous step's mask (``sec.given_cache``) gains the
    new items: a copy and one assignment instead of a pass over every item
    given, each step (issue 17). The same mask either way.
    """
    items = sec.items
    local_of = _local_of(tables)
    cache = sec.given_cache
    if cache is not None and cache[3] is tables and cache[0] <= len(items):
        done, mask, count, _ = cache
        if done < len(items):
            new = [j for j in (local_of[i] for i in items[done:]) if j >= 0]
            if new:
                mask = mask.copy()  # the stored mask may be another state's
                if len(new) == 1:
                    mask[0, new[0]] = True  # the live step: one item; a scalar store
                else:
                    mask[0, new] = True
                count += len(new)
    else:
        mask = np.zeros((1, tables.pool.n_items), dtype=bool)
        local = [j for j in (local_of[i] for i in items) if j >= 0]
        mask[0, local] = True
        count = len(local)
    sec.given_cache = (len(items), mask, count, tables)
    return mask, count


class _LiveSection:
    """What an adaptive step of one section needs that no answer changes: built
    once per design, bank and section (:func:`_live_sections`), not per step.

    evidence_tables / select_tables: the section's tables without and with the
    design's Sympson–Hetter k (the same object when there is none); local_of,
    option_category, pool_index: their lookups as lists; has_enemy: the pool
    has enemy groups; cut_theta: the SPRT cut (:func:`cut_theta`).

    The live step's two shortcuts (issue 17), each the general path's exact
    special case: ``eap`` is the section's estimator when it is EAP (the step
    then estimates from the running log-likelihood row, without an Evidence
    unless a stopping rule reads one), else None; ``max_info`` is the
    section's selector when it is maximum information, the exposure control
    is ``none`` and the pool has neither enemies nor a blueprint, so that only
    the items given can be ineligible (the step then skips the eligibility
    masks and the selection context), else None. What varies by step (an
    exposure limit, refusals, pretest positions, replay) is checked there.
    """

    __slots__ = (
        "cut_theta",
        "eap",
        "evidence_tables",
        "has_enemy",
        "local_of",
        "max_info",
        "option_category",
        "pool_index",
        "select_tables",
    )

    def __init__(self, design: TestDesign, bank: BankArrays, s: int) -> None:
        section = design.sections[s]
        strategies = design.strategies[s]
        self.evidence_tables = section_tables(bank, section)
        self.select_tables = section_tables(
            bank, section, sympson_hetter_k(design.exposure_control, bank)
        )
        pool = self.select_tables.pool
        self.local_of = _local_of(self.evidence_tables)
        self.option_category = _option_category(bank)
        # Kept with the tables (they live with the bank), so a design used
        # with another bank rebuilds this cheaply.
        extras = self.select_tables.extras
        self.pool_index: list[int] = extras.get("pool_index_list") or extras.setdefault(
            "pool_index_list", pool.index.tolist()
        )
        has_enemy = extras.get("has_enemy")
        if has_enemy is None:
            has_enemy = extras["has_enemy"] = bool(np.any(pool.enemy >= 0))
        self.has_enemy: bool = has_enemy
        self.cut_theta = cut_theta(bank, section)
        self.eap: EAP | None = strategies.estimator if type(strategies.estimator) is EAP else None
        plain = (
            type(strategies.selector) is MaxInfo
            and type(design.exposure_control) is NoControl
            and not self.has_enemy
            and not pool.has_blueprint
        )
        self.max_info: MaxInfo | None = strategies.selector if plain else None


_LIVE_KEY = "_cat_engine_live_sections"


def _live_sections(design: TestDesign, bank: BankArrays) -> tuple[_LiveSection, ...]:
    """The design's :class:`_LiveSection` per section on ``bank``, kept on the
    (frozen, immutable) design object as ``functools.cached_property`` would,
    for the last bank it was used with: one slot, so it never grows."""
    slot = design.__dict__.get(_LIVE_KEY)
    if slot is not None and slot[0] is bank:
        lives: tuple[_LiveSection, ...] = slot[1]
        return lives
    lives = tuple(_LiveSection(design, bank, s) for s in range(len(design.sections)))
    design.__dict__[_LIVE_KEY] = (bank, lives)
    return lives
