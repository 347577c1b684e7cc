"""Maximum Fisher information, and its randomesque variant (Kingsbury & Zara 1989)."""

from __future__ import annotations

import math

import numpy as np

from cat_engine import rng
from cat_engine.selection.base import BoolArray, FloatArray, Pool, SelectionContext, masked


class MaxInfo:
    """The eligible item most informative at the current estimate."""

    def rank(self, ctx: SelectionContext) -> FloatArray:
        info = ctx.pool.information(ctx.theta)  # a fresh array: masked in place
        np.copyto(info, -np.inf, where=~ctx.eligible)
        return info

    def best_one(self, pool: Pool, theta: float, given: BoolArray) -> int:
        """One candidate's best pool item when only the items given are
        ineligible (no blueprint, enemies, exposure limit or refusals), or −1.

        given: (n,) pool items given. The live step's shortcut for :meth:`rank`
        followed by the ``none`` exposure control's argmax: the same
        information values, the same −inf mask, the same first maximum.
        """
        info = pool.information_one(theta)
        np.copyto(info, -np.inf, where=given)
        best = int(info.argmax())
        return best if math.isfinite(info[best]) else -1


class Randomesque:
    """A uniformly random item among the ``k`` most informative eligible ones.

    The top ``k`` get ranks above every other item, in random order; the rest
    keep their information, so an exposure control that refuses the first
    choice falls back to the next best.
    """

    def __init__(self, k: int = 5) -> None:
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ValueError(f"randomesque k must be a positive integer, got {k!r}")
        self.k = k

    def rank(self, ctx: SelectionContext) -> FloatArray:
        info = masked(ctx, ctx.pool.information(ctx.theta))
        n = info.shape[1]
        k = min(self.k, n)
        top = np.argpartition(-info, k - 1, axis=1)[:, :k]  # (m, k)
        top_vals = np.take_along_axis(info, top, axis=1)
        u = ctx.uniforms(rng.SELECT, k)
        # Above any information value, in random order; ineligible stays −inf.
        lifted = np.where(np.isfinite(top_vals), 1e12 + u, -np.inf)
        out = info.copy()
        np.put_along_axis(out, top, lifted, axis=1)
        return out
