"""The explicit state a selector sees: one section's pool and m candidates."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from cat_engine import rng
from cat_engine.irt import EPS, ItemParameters, Model, information

FloatArray = NDArray[np.float64]

# Plain ints: comparing arrays with IntEnum members is slow (attribute lookups).
_FOUR_PL = int(Model.FOUR_PL)
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class Pool:
    """The scored items one section may draw from, as local arrays of length n.

    index: (n,) bank indices; params: their IRT parameters; area: (n,) local
    content-area index into ``area_codes`` (−1 = an area outside the
    blueprint, never selectable when a blueprint is set); area_target: (A,)
    items per area in a full-length section (empty when the section has no
    blueprint); enemy: (n,) enemy group, −1 = none; exposure_k: (n,)
    Sympson–Hetter parameters when that control is in use.
    """

    index: IntArray
    params: ItemParameters
    area: IntArray
    area_codes: tuple[str, ...]
    area_target: IntArray
    enemy: IntArray
    exposure_k: FloatArray | None = None

    @property
    def n_items(self) -> int:
        return int(self.index.shape[0])

    @property
    def has_blueprint(self) -> bool:
        return self.area_target.shape[0] > 0

    @cached_property
    def _three_pl_scale(self) -> FloatArray | None:
        """a²(1 − c) per item when every item is 1PL–3PL (d = 1), else None. (n,)

        Checked once per pool (the pool lives with the bank's tables): the
        checks over the whole pool cost more than the information itself.
        """
        p = self.params
        if np.all(p.model <= _FOUR_PL) and np.all(p.d == 1.0):
            return np.asarray(p.a * p.a * (1.0 - p.c), dtype=np.float64)
        return None

    @cached_property
    def _z_bounds(self) -> tuple[float, float]:
        """(max |a|, max |b|) over the pool: |a(b − θ)| ≤ max|a|·(max|b| + |θ|)."""
        p = self.params
        if self.n_items == 0:
            return 0.0, 0.0
        return float(np.max(np.abs(p.a))), float(np.max(np.abs(p.b)))

    def information(self, theta: FloatArray) -> FloatArray:
        """Fisher information of every pool item at each θ. theta (m,) → (m, n)."""
        p = self.params
        scale = self._three_pl_scale
        if scale is not None:
            # 1PL–3PL, the common pool: see _three_pl_information.
            z = p.b[None, :] - np.asarray(theta, dtype=np.float64)[:, None]
            th = np.asarray(theta, dtype=np.float64)
            t_max = abs(float(th[0])) if th.shape[0] == 1 else float(np.max(np.abs(th), initial=0))
            return self._three_pl_information(z, t_max, scale)
        return self._general_information(theta)

    def information_one(self, theta: float) -> FloatArray:
        """Fisher information of every pool item at one θ. (n,)

        The live step's call: the same operations as :meth:`information` on a
        1-D row (the same values bit for bit), without the (1,) θ array.
        """
        scale = self._three_pl_scale
        if scale is not None:
            return self._three_pl_information(self.params.b - theta, abs(theta), scale)
        return self._general_information(np.array([theta], dtype=np.float64))[0]

    def _three_pl_information(self, z: FloatArray, t_max: float, scale: FloatArray) -> FloatArray:
        """Information of 1PL–3PL items from z = b − θ ((m, n) or (n,), a fresh
        array, overwritten and returned); t_max: max |θ|.

        With e = exp(a(b − θ)), I = a²(1 − c)·e / ((1 + e)²(1 + c·e)): fewer
        passes over the items than the general 4PL formula, done in place.
        """
        p = self.params
        z *= p.a
        a_max, b_max = self._z_bounds
        # 29, not 30: a margin for the rounding of the bound itself.
        if not a_max * (b_max + t_max) < 29.0:
            # = np.clip(z, −30, 30) (exp stays finite), without clip's
            # Python-level overhead; skipped when no |z| can reach 30.
            np.minimum(z, 30.0, out=z)
            np.maximum(z, -30.0, out=z)
        e = np.exp(z, out=z)
        den = e + 1.0
        den *= den
        ce = p.c * e
        ce += 1.0
        den *= ce
        e *= scale
        e /= den
        return e

    def _general_information(self, theta: FloatArray) -> FloatArray:
        """4PL closed form, or the polytomous models' information. (m,) → (m, n)"""
        p = self.params
        if np.all(p.model <= _FOUR_PL):
            t = np.asarray(theta, dtype=np.float64)[:, None]
            prob = p.c + (p.d - p.c) / (1.0 + np.exp(-p.a * (t - p.b)))
            prob = np.clip(prob, EPS, 1.0 - EPS)
            num = p.a**2 * (prob - p.c) ** 2 * (p.d - prob) ** 2
            return np.asarray(num / ((p.d - p.c) ** 2 * prob * (1.0 - prob)), dtype=np.float64)
        return information(theta, p)


@dataclass(frozen=True)
class SelectionContext:
    """Everything a selector may use for m candidates at one step of one section.

    theta, se: (m,) current estimates; eligible: (m, n) items each candidate
    may still get (not given, not blocked, blueprint quota left, no enemy
    given, under the exposure limit); given: (m, n) pool items already given;
    area_count: (m, A) items given per area; n_given: (m,); test_length: the
    section's maximum length; seed, step: (m,) for reproducible draws;
    usage_rate: (n,) exposure rates so far, or None when unknown.
    """

    pool: Pool
    theta: FloatArray
    se: FloatArray
    eligible: BoolArray
    given: BoolArray
    area_count: IntArray
    n_given: IntArray
    test_length: int
    seed: IntArray
    step: IntArray
    usage_rate: FloatArray | None = None

    @property
    def m(self) -> int:
        return int(self.theta.shape[0])

    def uniforms(self, purpose: int, k: int) -> FloatArray:
        """k uniform draws per candidate for this step. (m, k)"""
        return rng.uniforms(self.seed, self.step, purpose, k)


class Selector(Protocol):
    def rank(self, ctx: SelectionContext) -> FloatArray:
        """(m, n) ranks; −inf where an item may not be given."""
        ...


def masked(ctx: SelectionContext, values: FloatArray) -> FloatArray:
    """``values`` where eligible, −inf elsewhere."""
    return np.where(ctx.eligible, values, -np.inf)
