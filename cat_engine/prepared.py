"""Per-bank tables the engine reuses between calls, kept on the bank object itself.

A live server calls the engine once per answer with the same bank. Building a
section's pool, its log-probabilities on the θ grid and its reference curve
each time would cost more than choosing the item. These tables are computed
on first use and stored in the bank's instance ``__dict__`` (as
``functools.cached_property`` does), so they live exactly as long as the bank
and never leak between banks: no module-level cache.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cat_engine.bank import BankArrays, bank_extra
from cat_engine.design import SectionDesign
from cat_engine.estimators import THETA_GRID
from cat_engine.irt import EPS, category_probabilities
from cat_engine.pool import build_pool
from cat_engine.selection.base import Pool

__all__ = ["SectionTables", "bank_extra", "section_tables"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

_KEY = "_cat_engine_section_tables"
_FAST_KEY = "_cat_engine_section_tables_by_id"


@dataclass
class SectionTables:
    """pool; local_of: (n_bank,) pool position of each bank item (−1 outside);
    logp: (n, q, K) log P(category | grid point) of each pool item;
    logp_rows: (n·K, q) the same values, row ``local·K + category``, so one
    candidate's log-likelihood is a contiguous row gather and a sum."""

    pool: Pool
    local_of: IntArray
    logp: FloatArray
    logp_rows: FloatArray
    extras: dict[str, Any] = field(default_factory=dict)


def section_tables(
    bank: BankArrays, section: SectionDesign, exposure_k: FloatArray | None = None
) -> SectionTables:
    """The tables of ``section`` on ``bank`` (built once per bank, section and exposure k).

    exposure_k: bank-aligned Sympson–Hetter parameters (n_bank,) or None; the
    tables with k share the θ-grid tables of those without (only the pool
    differs), so a calibration that tries many k does not copy them.
    """
    # By identity first: the live engine asks twice per answer with the same
    # section (and k) objects, and building the key below costs more than the
    # lookup. The entry holds both objects, so their ids cannot be reused.
    fast: dict[tuple[int, int], tuple[Any, Any, SectionTables]] = bank.__dict__.setdefault(
        _FAST_KEY, {}
    )
    hit = fast.get((id(section), id(exposure_k)))
    if hit is not None and hit[0] is section and hit[1] is exposure_k:
        return hit[2]
    tables = _section_tables(bank, section, exposure_k)
    fast[(id(section), id(exposure_k))] = (section, exposure_k, tables)
    return tables


def _section_tables(
    bank: BankArrays, section: SectionDesign, exposure_k: FloatArray | None
) -> SectionTables:
    store: dict[Any, SectionTables] = bank.__dict__.setdefault(_KEY, {})
    base_key = (section.code, tuple(section.blueprint.items()), None)
    key = base_key if exposure_k is None else (*base_key[:2], id(exposure_k))
    tables = store.get(key)
    if tables is None:
        base = store.get(base_key)
        if base is None:
            pool = build_pool(bank, section)
            local_of = np.full(bank.n_items, -1, dtype=np.int64)
            local_of[pool.index] = np.arange(pool.n_items)
            probs = category_probabilities(THETA_GRID, pool.params)  # (q, n, K)
            logp = np.ascontiguousarray(np.log(np.clip(probs, EPS, 1.0)).transpose(1, 0, 2))
            n, q, k = logp.shape
            logp_rows = np.ascontiguousarray(logp.transpose(0, 2, 1)).reshape(n * k, q)
            base = store[base_key] = SectionTables(pool, local_of, logp, logp_rows)
        if exposure_k is None:
            return base
        pool = build_pool(bank, section, exposure_k)
        tables = store[key] = SectionTables(pool, base.local_of, base.logp, base.logp_rows)
    return tables
