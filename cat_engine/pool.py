"""From a bank and a section design to the section's item pool."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from cat_engine.bank import BankArrays
from cat_engine.design import SectionDesign, TestDesign
from cat_engine.errors import EngineError
from cat_engine.selection.base import Pool

IntArray = NDArray[np.int64]


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
