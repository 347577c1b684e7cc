"""Shared simulated data for the calibration tests (fixed seeds)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from cat_engine.irt import prob_4pl, prob_gpcm, prob_grm


def simulate_dichotomous(
    n: int,
    j: int,
    seed: int,
    c: float | None = None,
    d: float | None = None,
    slope: float | None = None,
) -> tuple[NDArray[np.int8], dict[str, NDArray[np.float64]], NDArray[np.float64]]:
    """(responses, true parameters, θ) for 1PL–4PL items."""
    rng = np.random.default_rng(seed)
    a = np.full(j, slope) if slope is not None else rng.lognormal(0.0, 0.25, j)
    b = np.linspace(-1.8, 1.8, j)
    cc = rng.uniform(0.1, 0.25, j) if c is not None else np.zeros(j)
    dd = rng.uniform(0.85, 0.95, j) if d is not None else np.ones(j)
    theta = rng.normal(size=n)
    p = prob_4pl(theta, a, b, cc, dd)
    x = (rng.random(p.shape) < p).astype(np.int8)
    return x, {"a": a, "b": b, "c": cc, "d": dd}, theta


def simulate_polytomous(
    n: int, j: int, k: int, model: str, seed: int
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """(responses, a, thresholds) for GRM or GPCM items with k categories."""
    rng = np.random.default_rng(seed)
    a = rng.lognormal(0.0, 0.25, j)
    base = np.linspace(-1.5, 1.5, k - 1)
    thr = base[None, :] + rng.normal(0, 0.3, (j, 1))
    theta = rng.normal(size=n)
    p = prob_grm(theta, a, thr) if model == "grm" else prob_gpcm(theta, a, thr)
    u = rng.random((n, j, 1))
    x = (u > np.cumsum(p, axis=2)).sum(axis=2)
    return x, a, thr
