"""a-stratified selection with b-blocking (Chang, Qian & Ying 2001)."""

from __future__ import annotations

import numpy as np

from cat_engine.selection.base import FloatArray, IntArray, Pool, SelectionContext


def strata_of(pool: Pool, n_strata: int) -> IntArray:
    """Stratum (0 = lowest a) of each pool item, after blocking on difficulty.

    Items are sorted by difficulty (b; the mean threshold for polytomous
    items) into consecutive blocks of ``n_strata``; within each block the
    k-th lowest a goes to stratum k, so every stratum spans the whole range
    of difficulty. Returns (n,).
    """
    b = difficulty(pool)
    n = pool.n_items
    order = np.argsort(b, kind="stable")
    strata = np.zeros(n, dtype=np.int64)
    for start in range(0, n, n_strata):  # blocks of items, not a per-candidate loop
        block = order[start : start + n_strata]
        by_a = block[np.argsort(pool.params.a[block], kind="stable")]
        # A short last block spreads over the strata evenly.
        strata[by_a] = (np.arange(by_a.shape[0]) * n_strata) // by_a.shape[0]
    return strata


def difficulty(pool: Pool) -> FloatArray:
    """b, or the mean threshold for polytomous items. (n,)"""
    th = pool.params.thresholds
    count = np.sum(~np.isnan(th), axis=1)
    mean_th = np.nansum(th, axis=1) / np.maximum(count, 1)
    b = pool.params.b
    return np.asarray(np.where(np.isnan(b), mean_th, b), dtype=np.float64)


class AStratified:
    """Low-a items early, high-a items late; within a stratum, b closest to θ̂.

    The test is cut into ``n_strata`` equal stages; stage k draws from
    stratum k. If a candidate has no eligible item left in the stratum, the
    other strata are used, so the blueprint can always be met.
    """

    def __init__(self, n_strata: int = 4) -> None:
        if not isinstance(n_strata, int) or isinstance(n_strata, bool) or n_strata < 1:
            raise ValueError(f"a_stratified n_strata must be a positive integer, got {n_strata!r}")
        self.n_strata = n_strata

    def rank(self, ctx: SelectionContext) -> FloatArray:
        strata = strata_of(ctx.pool, self.n_strata)
        b = difficulty(ctx.pool)
        stage = ctx.n_given * self.n_strata // max(ctx.test_length, 1)
        stage = np.minimum(stage, self.n_strata - 1)
        closeness = -np.abs(b[None, :] - ctx.theta[:, None])
        in_stage = strata[None, :] == stage[:, None]
        any_in_stage = (ctx.eligible & in_stage).any(axis=1, keepdims=True)
        # Outside the stage an item ranks below every item of it (shift by −100).
        ranked = np.where(in_stage | ~any_in_stage, closeness, closeness - 100.0)
        return np.where(ctx.eligible, ranked, -np.inf)
