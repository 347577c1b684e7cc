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
    """

    def __init__(self, time_limit: float = 1.0) -> None:
        if not (isinstance(time_limit, int | float) and time_limit > 0):
            raise ValueError(f"shadow time_limit must be a positive number, got {time_limit!r}")
        self.time_limit = float(time_limit)

    def rank(self, ctx: SelectionContext) -> FloatArray:
        info = ctx.pool.information(ctx.theta)  # (m, n)
        out = np.full(info.shape, -np.inf)
        for j in range(ctx.m):  # one 0–1 program per candidate: inherently sequential
            shadow = self._solve(ctx, j, info[j])
            free = ctx.eligible[j] & (shadow if shadow is not None else True)
            out[j] = np.where(free, info[j], -np.inf)
        return out

    def _solve(self, ctx: SelectionContext, j: int, info: FloatArray) -> BoolArray | None:
        pool = ctx.pool
        n = pool.n_items
        given = ctx.given[j]
        allowed = ctx.eligible[j] | given
        lower = given.astype(np.float64)
        upper = allowed.astype(np.float64)
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
