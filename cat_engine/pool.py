"""From a bank and a section design to the section's item pool, and where pretest items go.

The pretest rules (:func:`pretest_positions`, :func:`pick_pretest`,
:func:`place_linear_pretest`) are the one home of pretest placement: the
engine calls them for one candidate, the simulator for a wave of simulees.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from cat_engine import rng
from cat_engine.bank import BankArrays
from cat_engine.design import SectionDesign, TestDesign
from cat_engine.errors import EngineError
from cat_engine.selection.base import Pool

IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


def subtest_index(bank: BankArrays, code: str) -> int:
    try:
        return bank.subtest_codes.index(code)
    except ValueError:
        raise EngineError(
            "design_bank_mismatch",
            f"section {code!r}: the bank has no such subtest "
            f"(it has {', '.join(bank.subtest_codes) or 'none'})",
        ) from None


def section_items(bank: BankArrays, section: SectionDesign, *, pretest: bool = False) -> IntArray:
    """Bank indices of the section's scored (or, with ``pretest``, pretest) items. (k,)"""
    sub = subtest_index(bank, section.code)
    mask = (bank.subtest == sub) & (bank.pretest if pretest else ~bank.pretest)
    return np.flatnonzero(mask).astype(np.int64)


def build_pool(
    bank: BankArrays, section: SectionDesign, exposure_k: NDArray[np.float64] | None = None
) -> Pool:
    """The section's scored items as a :class:`Pool`; exposure_k: bank-aligned (n_bank,) or None."""
    idx = section_items(bank, section)
    area_codes = tuple(section.blueprint)
    if area_codes:
        lookup = np.full(len(bank.content_codes), -1, dtype=np.int64)
        for a, code in enumerate(area_codes):
            if code in bank.content_codes:
                lookup[bank.content_codes.index(code)] = a
        area = lookup[bank.content_area[idx]]
        target = np.array([section.blueprint[c] for c in area_codes], dtype=np.int64)
    else:
        area = np.zeros(idx.shape[0], dtype=np.int64)
        target = np.zeros(0, dtype=np.int64)
    return Pool(
        index=idx,
        params=bank.params.subset(idx),
        area=area,
        area_codes=area_codes,
        area_target=target,
        enemy=bank.enemy_group[idx],
        exposure_k=None if exposure_k is None else exposure_k[idx],
    )


def check_design_against_bank(design: TestDesign, bank: BankArrays) -> None:
    """Raise ``EngineError('design_bank_mismatch')`` naming the first thing the bank lacks."""
    for i, section in enumerate(design.sections):
        idx = section_items(bank, section)
        if idx.shape[0] < section.n_items:
            raise EngineError(
                "design_bank_mismatch",
                f"sections[{i}] ({section.code}): needs {section.n_items} items, "
                f"the bank has {idx.shape[0]} scored items of that subtest",
            )
        for code, count in section.blueprint.items():
            if code not in bank.content_codes:
                raise EngineError(
                    "design_bank_mismatch",
                    f"sections[{i}].blueprint.{code}: the bank has no such content area",
                )
            have = int(np.sum(bank.content_area[idx] == bank.content_codes.index(code)))
            if have < count:
                raise EngineError(
                    "design_bank_mismatch",
                    f"sections[{i}].blueprint.{code}: needs {count} items, the bank has {have}",
                )


def pretest_positions(seeds: IntArray, s: int, section: SectionDesign) -> IntArray:
    """Where an adaptive section's pretest items go, per candidate. seeds (m,) → (m, k), sorted.

    A position is the number of items (scored or pretest) already shown in
    the section when the pretest item comes; positions lie in 1 .. min_items
    + k − 2, never 0 (the first item is always scored), drawn from the
    candidate's seed and the section number ``s``. So fewer than
    ``min_items`` scored items precede every pretest item, and no stopping
    rule or length cap can end the section before it (with min_items = 1 the
    positions are 1 .. k and a rule may end the section first).
    """
    k = section.pretest_items
    seeds = np.asarray(seeds, dtype=np.int64)
    if k == 0:
        return np.zeros((seeds.shape[0], 0), dtype=np.int64)
    # The j-th pretest item (0-based) at position p follows p − j scored items.
    span = max(section.minimum + k - 2, k)
    u = rng.uniforms(seeds, np.full(seeds.shape[0], s), rng.PRETEST + 10, span)
    return np.sort(np.argsort(u, axis=1)[:, :k] + 1, axis=1).astype(np.int64)


def n_enemy_groups(bank: BankArrays) -> int:
    """Size of an enemy-group mask over ``bank`` (at least 1)."""
    return max(int(bank.enemy_group.max()) + 1 if bank.n_items else 0, 1)


def pretest_blocked(
    bank: BankArrays, candidates: IntArray, shown: BoolArray, used_groups: BoolArray
) -> BoolArray:
    """Which pretest ``candidates`` (c,) each candidate may not get. → (m, c)

    shown: (m, c) already given to the candidate; used_groups: (m,
    :func:`n_enemy_groups`) enemy groups of every item the candidate was shown.
    """
    groups = bank.enemy_group[candidates]
    enemy = used_groups[:, np.maximum(groups, 0)] & (groups >= 0)[None, :]
    return np.asarray(shown | enemy, dtype=bool)


def pick_pretest(
    candidates: IntArray, blocked: BoolArray, seeds: IntArray, steps: IntArray
) -> IntArray:
    """One pretest item per candidate, uniform over its unblocked ``candidates``.

    candidates: (c,) bank indices (``section_items(..., pretest=True)``);
    blocked: (m, c); seeds, steps: (m,) the candidates' seeds and steps.
    Returns (m,) bank indices, −1 where none is left.
    """
    ok = ~np.asarray(blocked, dtype=bool)
    n_ok = ok.sum(axis=1)
    u = rng.uniforms(seeds, steps, rng.PRETEST, 1)[:, 0]
    pick = (u * n_ok).astype(np.int64)  # the pick-th allowed item, in bank order
    if candidates.shape[0] == 0:
        return np.full(ok.shape[0], -1, dtype=np.int64)
    col = np.argmax(np.cumsum(ok, axis=1) > pick[:, None], axis=1)
    return np.asarray(np.where(n_ok > 0, candidates[col], -1), dtype=np.int64)


def place_linear_pretest(
    bank: BankArrays, section: SectionDesign, seed: int, s: int, form: list[int]
) -> tuple[list[int], list[bool]]:
    """A linear form with the section's pretest items inserted at random positions.

    form: the assembled scored items of section ``s``. Returns the items in
    order and, per item, whether it is a pretest item.
    """
    form = list(form)
    pretest = [False] * len(form)
    if section.pretest_items:
        pool = section_items(bank, section, pretest=True)
        u = rng.uniforms(seed, s, rng.PRETEST, pool.shape[0] + 1)[0]
        picks = pool[np.argsort(u[: pool.shape[0]])][: section.pretest_items]
        for j, item in enumerate(picks):
            u_pos = rng.uniforms(seed, s * 1000 + j, rng.PRETEST + 20, 1)[0, 0]
            pos = int(u_pos * (len(form) + 1))
            form.insert(pos, int(item))
            pretest.insert(pos, True)
    return form, pretest
