"""The shadow test (van der Linden & Reese 1998), solved with scipy's HiGHS MILP.

At every step a whole full-length test is assembled that (a) contains every
item already given, (b) meets the blueprint exactly, (c) holds at most one
item of each enemy group, (d) avoids items over the exposure limit or
refused by the exposure lottery, and (e) has maximum information at θ̂. The
candidate then gets the most informative not-yet-given item of that test, so
the blueprint can never become impossible to finish.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_array

from cat_engine.selection.base import BoolArray, FloatArray, SelectionContext


class ShadowTest:
    """Rank = information on the free items of the shadow test, −inf elsewhere.

    time_limit: seconds HiGHS may spend on one candidate's program. If the
    program has no solution (a pool too small for its blueprint, for
    instance), the candidate falls back to maximum information over the
    eligible items and the blueprint's upper bounds still hold.

    shortcut: the blueprint is a partition of the pool into areas with exact
    counts, and the objective is a sum over items, so without enemies the
    optimum is, per area, the items given plus the most informative free
    items up to the count. When that selection holds at most one item of
    every enemy group it is the program's optimum (the enemy constraints only
    remove solutions) and no solver is needed; otherwise the 0–1 program is
    solved. ``shortcut=False`` always solves it.
    """

    def __init__(self, time_limit: float = 1.0, shortcut: bool = True) -> None:
        if not (isinstance(time_limit, int | float) and time_limit > 0):
            raise ValueError(f"shadow time_limit must be a positive number, got {time_limit!r}")
        if not isinstance(shortcut, bool):
            raise ValueError(f"shadow shortcut must be true or false, got {shortcut!r}")
        self.time_limit = float(time_limit)
        self.shortcut = shortcut

    def rank(self, ctx: SelectionContext) -> FloatArray:
        info = ctx.pool.information(ctx.theta)  # (m, n)
        out = np.full(info.shape, -np.inf)
        for j in range(ctx.m):  # one 0–1 program per candidate: inherently sequential
            shadow = self._solve(ctx, j, info[j])
            free = ctx.eligible[j] & (shadow if shadow is not None else True)
            out[j] = np.where(free, info[j], -np.inf)
        return out

    def _greedy(self, ctx: SelectionContext, j: int, info: FloatArray) -> BoolArray | None:
        """The optimum when no enemy pair gets in the way, else None."""
        pool = ctx.pool
        given = ctx.given[j]
        free = ctx.eligible[j] & ~given
        shadow = given.copy()
        if pool.has_blueprint:
            for a, target in enumerate(pool.area_target):
                need = int(target) - int(np.sum(given & (pool.area == a)))
                if need <= 0:
                    continue
                cand = np.flatnonzero(free & (pool.area == a))
                if cand.shape[0] < need:
                    return None
                top = cand[np.argpartition(-info[cand], need - 1)[:need]]
                shadow[top] = True
        else:
            need = ctx.test_length - int(given.sum())
            cand = np.flatnonzero(free)
            if need > 0:
                if cand.shape[0] < need:
                    return None
                shadow[cand[np.argpartition(-info[cand], need - 1)[:need]]] = True
        groups = pool.enemy[shadow]
        groups = groups[groups >= 0]
        if groups.shape[0] != np.unique(groups).shape[0]:
            return None
        return shadow

    def _solve(self, ctx: SelectionContext, j: int, info: FloatArray) -> BoolArray | None:
        if self.shortcut:
            shadow = self._greedy(ctx, j, info)
            if shadow is not None:
                return shadow
        pool = ctx.pool
        n = pool.n_items
        given = ctx.given[j]
        allowed = ctx.eligible[j] | given
        lower = given.astype(np.float64)
        upper = allowed.astype(np.float64)
        # Exact reduction: within an area an optimal test never leaves out a
        # free item outside every enemy group for a less informative one, so
        # only the enemy-group items and each area's top free non-enemy items
        # (as many as the area still needs) can be in it. HiGHS's presolve
        # drops the rest (upper bound 0).
        free_plain = ctx.eligible[j] & ~given & (pool.enemy < 0)
        keep = given | (allowed & (pool.enemy >= 0))
        areas = range(pool.area_target.shape[0]) if pool.has_blueprint else [None]
        for a in areas:
            in_area = free_plain if a is None else free_plain & (pool.area == a)
            target = ctx.test_length if a is None else int(pool.area_target[a])
            have = int(np.sum(given if a is None else given & (pool.area == a)))
            need = max(target - have, 0)
            cand = np.flatnonzero(in_area)
            if need and cand.shape[0] > need:
                cand = cand[np.argpartition(-info[cand], need - 1)[:need]]
            keep[cand] = True
        upper[~keep] = 0.0
        rows: list[np.ndarray] = []
        lo: list[float] = []
        hi: list[float] = []
        length = ctx.test_length
        rows.append(np.ones(n))
        lo.append(length)
        hi.append(length)
        if pool.has_blueprint:
            for a, target in enumerate(pool.area_target):
                rows.append((pool.area == a).astype(np.float64))
                lo.append(float(target))
                hi.append(float(target))
        groups, counts = np.unique(pool.enemy[(pool.enemy >= 0) & allowed], return_counts=True)
        for g in groups[counts > 1]:
            rows.append((pool.enemy == g).astype(np.float64))
            lo.append(0.0)
            hi.append(1.0)
        a_mat = csr_array(np.vstack(rows))
        res = milp(
            c=-info,
            constraints=LinearConstraint(a_mat, np.array(lo), np.array(hi)),
            integrality=np.ones(n),
            bounds=Bounds(lower, upper),
            options={"time_limit": self.time_limit, "disp": False},
        )
        if res.x is None:
            return None
        return np.asarray(res.x > 0.5)
