"""Exposure control: from a selector's ranks to one item per candidate.

Each control has one method, ``choose(ctx, ranks) -> Choice``. The hard
maximum exposure rate (the *restricted* rule of Revuelta & Ponsoda 1998) is
not here: the engine removes over-exposed items from ``ctx.eligible`` before
any selector sees them, so it holds whatever the selector and control are.

* ``none`` — the best-ranked item.
* ``sympson_hetter`` (Sympson & Hetter 1985) — items are considered in rank
  order; item i is given with probability k_i, else refused for the rest of
  this candidate's test. The k_i come from :func:`cat_engine.simulation.calibrate_sympson_hetter`,
  the iterative simulation that sets them so that no item's rate exceeds the
  target.
* ``progressive`` (Revuelta & Ponsoda 1998) — the rank is mixed with a random
  component whose weight falls from 1 at the first item to 0 at the last, so
  early items (chosen on a poor estimate anyway) spread over the bank.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from cat_engine import rng
from cat_engine.bank import BankArrays, bank_extra
from cat_engine.selection.base import SelectionContext

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class Choice:
    """items: (m,) pool-local index, −1 when nothing is selectable;
    refused: (m, n) items the exposure lottery refused this step (or None)."""

    items: IntArray
    refused: BoolArray | None = None


def remaining_places(counts: IntArray, n_tests: int, max_rate: float, warmup: int) -> IntArray:
    """How many more tests may give each item under the hard maximum rate. (n,)

    counts: (n,) times each item was given; n_tests: tests counted, including
    those about to be given the items. An item may go to ``floor(max_rate ·
    max(n_tests, warmup))`` tests in all: the rate is counted over at least
    ``warmup`` tests so the first tests are not starved of items. This is the
    one home of the restricted rule (Revuelta & Ponsoda 1998); the engine
    asks it through :meth:`ExposureUsage.allowed`, the simulator for a wave.
    """
    # 1e-9: max_rate · tests is often an integer computed in floating point (0.2 · 50).
    limit = np.floor(max_rate * max(n_tests, warmup) + 1e-9)
    return np.asarray(limit - counts, dtype=np.int64)


@dataclass(frozen=True)
class ExposureUsage:
    """How often each bank item was given: counts (n_bank,) over ``n_tests`` tests
    started before this one. The live server keeps these per exam and passes
    them to ``engine.start`` and ``engine.record``; the simulator keeps them
    across simulees. Any integer array-like works for ``counts`` (it is copied
    to int64). withdrawn: (n_bank,) items no test may give any more (retired
    after a leak review, ``exam_server.forensics``), or None."""

    counts: IntArray
    n_tests: int
    withdrawn: BoolArray | None = None

    def __post_init__(self) -> None:
        counts = np.array(self.counts, dtype=np.int64, copy=True)
        if counts.ndim != 1:
            raise ValueError(f"ExposureUsage counts must be 1-D (n_bank,), got {counts.shape}")
        if counts.size and counts.min() < 0:
            raise ValueError("ExposureUsage counts must be ≥ 0")
        if not isinstance(self.n_tests, int | np.integer) or self.n_tests < 0:
            raise ValueError(f"ExposureUsage n_tests must be an integer ≥ 0, got {self.n_tests!r}")
        object.__setattr__(self, "counts", counts)
        object.__setattr__(self, "n_tests", int(self.n_tests))
        if self.withdrawn is not None:
            withdrawn = np.array(self.withdrawn, dtype=bool, copy=True)
            if withdrawn.shape != counts.shape:
                raise ValueError(f"ExposureUsage withdrawn must be {counts.shape}")
            object.__setattr__(self, "withdrawn", withdrawn)

    def allowed(self, max_rate: float | None, warmup: int) -> BoolArray:
        """(n_bank,) items one more test may give without any rate passing
        ``max_rate`` (None: no rate limit), never a withdrawn item."""
        if max_rate is None:
            ok = np.ones(self.counts.shape[0], dtype=bool)
        else:
            ok = np.asarray(remaining_places(self.counts, self.n_tests + 1, max_rate, warmup) > 0)
        return ok if self.withdrawn is None else ok & ~self.withdrawn


def sympson_hetter_k(control: object, bank: BankArrays) -> FloatArray | None:
    """The bank-aligned Sympson–Hetter parameters (n_bank,) of ``control``, or None
    when the control is not Sympson–Hetter. Built once per bank and control
    object (the cache entry holds the control, so its id is not reused)."""
    if not isinstance(control, SympsonHetter):
        return None
    sh = control
    entry = bank_extra(bank, ("sympson_hetter", id(sh)), lambda: (sh, sh.k_for(bank.item_ids)))
    k: FloatArray = entry[1]
    return k


def _argmax(ranks: FloatArray) -> IntArray:
    if ranks.shape[0] == 1:
        # The live engine's one candidate: plain Python beats the fancy indexing.
        row = ranks[0]
        b = int(row.argmax())
        return np.array([b if math.isfinite(row[b]) else -1], dtype=np.int64)
    best = np.argmax(ranks, axis=1)
    ok = np.isfinite(ranks[np.arange(ranks.shape[0]), best])
    return np.asarray(np.where(ok, best, -1), dtype=np.int64)


class NoControl:
    """The best-ranked item."""

    def choose(self, ctx: SelectionContext, ranks: FloatArray) -> Choice:
        return Choice(_argmax(ranks))


class SympsonHetter:
    """Probabilistic filter with per-item parameters k (bank index → k in [0, 1]).

    parameters: mapping item id → k; items not named get k = 1. The engine
    puts the pool's values in ``Pool.exposure_k`` (:meth:`k_for`).
    """

    def __init__(self, parameters: Mapping[str, float] | None = None) -> None:
        params = dict(parameters or {})
        for item_id, k in params.items():
            if not (isinstance(k, int | float) and 0.0 <= float(k) <= 1.0):
                raise ValueError(f"sympson_hetter parameter for {item_id!r} must be in [0, 1]")
        self.parameters = {str(i): float(k) for i, k in params.items()}
        self._k_local: FloatArray | None = None

    def k_for(self, item_ids: tuple[str, ...]) -> FloatArray:
        """k for each item in ``item_ids`` order. (n,)"""
        return np.array([self.parameters.get(i, 1.0) for i in item_ids], dtype=np.float64)

    def choose(self, ctx: SelectionContext, ranks: FloatArray) -> Choice:
        k = ctx.pool.exposure_k if ctx.pool.exposure_k is not None else np.ones(ctx.pool.n_items)
        u = ctx.uniforms(rng.EXPOSURE, ctx.pool.n_items)
        accept = u < k[None, :]
        finite = np.isfinite(ranks)
        chosen = _argmax(np.where(accept, ranks, -np.inf))
        # If the lottery refuses everything, the last resort is the best item.
        fallback = _argmax(ranks)
        items = np.where(chosen >= 0, chosen, fallback)
        rows = np.arange(ranks.shape[0])
        chosen_rank = np.where(items >= 0, ranks[rows, np.maximum(items, 0)], -np.inf)
        refused = finite & ~accept & (ranks > chosen_rank[:, None])
        return Choice(np.asarray(items, dtype=np.int64), refused)


class Progressive:
    """Revuelta & Ponsoda's progressive method: (1 − w)·U + w·rank, w = given / length.

    Ranks are rescaled to [0, 1] per candidate first, so the random
    component and the criterion are on one scale.
    """

    def choose(self, ctx: SelectionContext, ranks: FloatArray) -> Choice:
        finite = np.isfinite(ranks)
        lo = np.min(np.where(finite, ranks, np.inf), axis=1, keepdims=True)
        hi = np.max(np.where(finite, ranks, -np.inf), axis=1, keepdims=True)
        span = np.where(hi > lo, hi - lo, 1.0)
        scaled = np.where(finite, (ranks - np.where(finite, lo, 0.0)) / span, 0.0)
        w = (ctx.n_given / max(ctx.test_length, 1))[:, None]
        u = ctx.uniforms(rng.EXPOSURE, ctx.pool.n_items)
        mixed = np.where(finite, (1.0 - w) * u + w * scaled, -np.inf)
        return Choice(_argmax(mixed))


EXPOSURE_METHODS = ("none", "sympson_hetter", "progressive")
