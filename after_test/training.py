"""Training needs of new hires: per group (agency, formation), the mean score in
each content area or SKB component against the policy's standard, the gap,
and the catalogue's programmes ranked by the gaps they address.

Scores are on the 0–100 report scale (content areas ``50 + 10·θ``, SKB
components as scored). A group's need in area ``k`` is ``max(0, standard_k −
mean_k)``;
a programme's priority for a group is the sum of the needs of the areas it
covers. Vectorised over candidates (``np.add.at``); no web, no database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from after_test.policy import Programme, TrainingRules

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class NeedsTable:
    """groups: (G,) labels; areas: (A,) codes; n: (G,) candidates; mean, need: (G, A)
    on the report scale (NaN where a group has no score in an area); standard: (A,)."""

    groups: tuple[str, ...]
    areas: tuple[str, ...]
    n: NDArray[np.int64]
    mean: FloatArray
    need: FloatArray
    standard: FloatArray

    def programmes(self, rules: TrainingRules, g: int) -> list[tuple[Programme, float]]:
        """The catalogue's programmes for group ``g`` with a positive priority, highest first."""
        col = {a: i for i, a in enumerate(self.areas)}
        out = []
        for p in rules.catalogue:
            idx = [col[a] for a in p.areas if a in col]
            score = float(np.nansum(self.need[g, idx])) if idx else 0.0
            if score > 0:
                out.append((p, score))
        return sorted(out, key=lambda x: (-x[1], x[0].code))


def training_needs(
    group_of: Sequence[str], scores: ArrayLike, areas: Sequence[str], rules: TrainingRules
) -> NeedsTable:
    """group_of: (m,) group label per candidate; scores: (m, A) per area on the
    report scale (NaN: none)."""
    x = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    if x.shape != (len(group_of), len(areas)):
        raise ValueError(f"scores have shape {x.shape}; expected ({len(group_of)}, {len(areas)})")
    labels, inv = np.unique(np.asarray(group_of, dtype=object), return_inverse=True)
    g = len(labels)
    have = ~np.isnan(x)
    sums = np.zeros((g, len(areas)))
    counts = np.zeros((g, len(areas)))
    np.add.at(sums, inv, np.where(have, x, 0.0))
    np.add.at(counts, inv, have.astype(np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(counts > 0, sums / counts, np.nan)
    standard = np.array([rules.standard_of(a) for a in areas])
    need = np.where(np.isnan(mean), np.nan, np.maximum(0.0, standard - mean))
    n = np.bincount(inv, minlength=g).astype(np.int64)
    return NeedsTable(tuple(str(v) for v in labels), tuple(areas), n, mean, need, standard)
