"""Item drift and leak watch: a CUSUM per item on standardised residuals.

Each administration of item j to a candidate with estimates (θ̂, τ̂) gives

* a score residual ``r = (x − P_j(θ̂)) / sqrt(P_j(θ̂) (1 − P_j(θ̂)))`` (right/wrong
  items; positive = easier than its parameters say), and
* a time residual ``−z = −α_j (ln t − (β_j − τ̂))`` (positive = faster),

combined as ``u = (r − z) / √2`` (either alone where the other is missing).
Under the item's parameters u has mean 0 and variance about 1. The
one-sided CUSUM (Page, 1954), as proposed for CAT item pools by van
Krimpen-Stoop & Meijer (2001) and Veerkamp & Glas (2000),
``S ← max(0, S + u − k)``, flags the item when ``S > h``: an item that
suddenly becomes easier or faster (leaked keys) pushes S up by about
``(shift − k)`` per administration. k is half the shift worth detecting; h
is set for the false-flag rate wanted (``benchmarks/forensics.py`` measures
both, docs/benchmarks.md).

:func:`parameter_drift` compares an item's difficulty between two
calibrations already on one scale (``calibration.linking``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class CusumSettings:
    """k: reference value (standardised units, > 0); h: decision threshold (> 0).

    The defaults give at most about one false flag per 1,000 items per day
    at 300 administrations per item per day, and flag an item whose keys 30 %
    of later candidates know after a median of about 100 administrations
    (docs/benchmarks.md, "Forensics")."""

    k: float = 0.25
    h: float = 22.0

    def __post_init__(self) -> None:
        if not (np.isfinite(self.k) and self.k > 0):
            raise ValueError(f"CUSUM reference value k must be > 0, got {self.k!r}")
        if not (np.isfinite(self.h) and self.h > 0):
            raise ValueError(f"CUSUM threshold h must be > 0, got {self.h!r}")


def administration_scores(
    correct: FloatArray, p_correct: FloatArray, z_time: FloatArray
) -> FloatArray:
    """(e,) the combined residual u of e administrations.

    correct: 1/0, NaN = not a right/wrong item; p_correct: P_j(θ̂);
    z_time: the lognormal residual (NaN = no time).
    """
    p = np.clip(p_correct, 1e-6, 1 - 1e-6)
    with np.errstate(invalid="ignore"):
        r = (correct - p) / np.sqrt(p * (1.0 - p))
    t = -np.asarray(z_time, dtype=np.float64)
    has_r, has_t = np.isfinite(r), np.isfinite(t)
    both = (np.nan_to_num(r) + np.nan_to_num(t)) / np.sqrt(2.0)
    out = np.where(has_r & has_t, both, np.where(has_r, r, np.where(has_t, t, np.nan)))
    return np.asarray(out)


@dataclass
class ItemWatch:
    """CUSUM state of n items. cusum: (n,) S; count: (n,) administrations
    seen; flagged_at: (n,) the administration count when flagged (``-1``
    not flagged). Flagged items keep accumulating until :meth:`clear`."""

    n_items: int
    settings: CusumSettings = field(default_factory=CusumSettings)
    cusum: FloatArray = field(init=False)
    count: IntArray = field(init=False)
    flagged_at: IntArray = field(init=False)

    def __post_init__(self) -> None:
        if self.n_items < 0:
            raise ValueError(f"n_items must be ≥ 0, got {self.n_items}")
        self.cusum = np.zeros(self.n_items)
        self.count = np.zeros(self.n_items, dtype=np.int64)
        self.flagged_at = np.full(self.n_items, -1, dtype=np.int64)

    def update(self, items: IntArray, scores: FloatArray) -> IntArray:
        """Add administrations in order: items (e,) indices, scores (e,) u.

        Events of one item are applied in their order; different items at
        once (one pass per repeat of an item in the batch). NaN scores are
        skipped. Returns the items newly flagged by this batch.
        """
        idx = np.asarray(items, dtype=np.int64)
        u = np.asarray(scores, dtype=np.float64)
        if idx.shape != u.shape:
            raise ValueError(f"items {idx.shape} and scores {u.shape} differ in shape")
        if idx.size and (idx.min() < 0 or idx.max() >= self.n_items):
            raise ValueError(f"item index out of range 0..{self.n_items - 1}")
        keep = np.isfinite(u)
        idx, u = idx[keep], u[keep]
        before = self.flagged_at >= 0
        order = np.argsort(idx, kind="stable")
        sorted_idx = idx[order]
        starts = np.searchsorted(sorted_idx, sorted_idx, side="left")
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size) - starts
        for r in range(int(rank.max()) + 1 if rank.size else 0):
            sel = rank == r
            self._step(idx[sel], u[sel])
        return np.flatnonzero((self.flagged_at >= 0) & ~before)

    def run(self, scores: FloatArray) -> IntArray:
        """Feed an (n, T) matrix: column t is every item's t-th administration
        (NaN = none). Returns the items newly flagged."""
        before = self.flagged_at >= 0
        every = np.arange(self.n_items)
        for t in range(scores.shape[1]):
            col = scores[:, t]
            ok = np.isfinite(col)
            self._step(every[ok], col[ok])
        return np.flatnonzero((self.flagged_at >= 0) & ~before)

    def _step(self, idx: IntArray, u: FloatArray) -> None:
        s = np.maximum(0.0, self.cusum[idx] + u - self.settings.k)
        self.cusum[idx] = s
        self.count[idx] += 1
        new = (s > self.settings.h) & (self.flagged_at[idx] < 0)
        self.flagged_at[idx[new]] = self.count[idx[new]]

    def clear(self, items: IntArray) -> None:
        """An item reviewed and cleared starts over (S = 0, not flagged)."""
        idx = np.asarray(items, dtype=np.int64)
        self.cusum[idx] = 0.0
        self.flagged_at[idx] = -1

    def to_dict(self) -> dict[str, Any]:
        return {
            "k": self.settings.k,
            "h": self.settings.h,
            "cusum": self.cusum.tolist(),
            "count": self.count.tolist(),
            "flagged_at": self.flagged_at.tolist(),
        }


def parameter_drift(
    b_old: FloatArray, se_old: FloatArray, b_new: FloatArray, se_new: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Difficulty change between two calibrations on one scale, per item (n,):
    ``z = (b_new − b_old) / sqrt(SE_old² + SE_new²)`` and its one-sided p-value
    for an item that became easier (z < 0)."""
    z = (np.asarray(b_new) - np.asarray(b_old)) / np.sqrt(
        np.asarray(se_old) ** 2 + np.asarray(se_new) ** 2
    )
    return np.asarray(z), np.asarray(stats.norm.cdf(z))
