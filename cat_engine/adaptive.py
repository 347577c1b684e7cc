"""One adaptive step for m candidates at once: eligibility, selection, exposure.

The live engine calls this with m = 1, the simulator with every simulee
still in the section; both get the same choice for the same candidate,
because every random draw comes from the candidate's (seed, step).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from cat_engine.design import SectionStrategies
from cat_engine.exposure import Choice
from cat_engine.selection.base import Pool, SelectionContext

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


def eligibility(
    pool: Pool,
    given: BoolArray,
    refused: BoolArray,
    enemy_used: BoolArray,
    allowed: BoolArray | None,
) -> tuple[BoolArray, IntArray]:
    """Items each candidate may get next, and items given per area.

    given, refused, enemy_used: (m, n) over the pool; allowed: (n,) items
    under the exposure limit, or None. Returns eligible (m, n) and
    area_count (m, A).
    """
    eligible = ~given & ~enemy_used
    if allowed is not None:
        eligible &= allowed[None, :]
    if pool.has_blueprint:
        n_areas = pool.area_target.shape[0]
        onehot = (pool.area[:, None] == np.arange(n_areas)[None, :]).astype(np.int64)  # (n, A)
        area_count = given.astype(np.int64) @ onehot
        full = area_count >= pool.area_target[None, :]  # (m, A)
        in_blueprint = pool.area >= 0
        item_full = np.where(in_blueprint[None, :], full[:, np.maximum(pool.area, 0)], True)
        eligible &= ~item_full
        # An exposure refusal must never make the blueprint impossible: where
        # an area would be left with fewer items than it still needs, its
        # refused items come back.
        need = pool.area_target[None, :] - area_count
        left = (eligible & ~refused).astype(np.int64) @ onehot
        short = left < need
        item_short = np.where(in_blueprint[None, :], short[:, np.maximum(pool.area, 0)], False)
        eligible &= ~refused | item_short
    else:
        area_count = np.zeros((given.shape[0], 0), dtype=np.int64)
        eligible &= ~refused
    return eligible, area_count


def select_next(
    strategies: SectionStrategies,
    control: object,
    pool: Pool,
    theta: FloatArray,
    se: FloatArray,
    given: BoolArray,
    eligible: BoolArray,
    area_count: IntArray,
    test_length: int,
    seed: IntArray,
    step: IntArray,
    n_given: IntArray | None = None,
) -> Choice:
    """The next pool item for each candidate (−1: nothing eligible).

    n_given: (m,) items given so far, when the caller knows it (the live
    engine: its list's length); else counted from ``given``.
    """
    ctx = SelectionContext(
        pool=pool,
        theta=theta,
        se=se,
        eligible=eligible,
        given=given,
        area_count=area_count,
        n_given=given.sum(axis=1).astype(np.int64) if n_given is None else n_given,
        test_length=test_length,
        seed=seed,
        step=step,
    )
    ranks = strategies.selector.rank(ctx)
    choice: Choice = control.choose(ctx, ranks)  # type: ignore[attr-defined]
    return choice
