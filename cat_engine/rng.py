"""Counter-based random numbers: the same (seed, step, purpose) gives the same draws.

A test state holds only its seed and its step, so any random choice the
engine makes (randomesque, exposure lotteries, pretest positions, the order
of a linear form) must be a pure function of them. SplitMix64 (Steele, Lea &
Flood 2014) hashes the counter; it is vectorised over candidates, so the
simulator draws for a thousand simulees at once and each draw equals what the
live engine would draw for that simulee alone.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

U64 = NDArray[np.uint64]

# Purposes keep draws for different decisions independent of one another.
SELECT = 1
EXPOSURE = 2
PRETEST = 3
ASSEMBLY = 4
RESPONSE = 5

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(x: U64) -> U64:
    # Array arithmetic on uint64 wraps modulo 2**64 without warnings, as intended.
    z = x + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return np.asarray(z ^ (z >> np.uint64(31)), dtype=np.uint64)


def _as_u64(x: ArrayLike) -> U64:
    arr = np.atleast_1d(np.asarray(x, dtype=np.int64))
    return arr.astype(np.uint64)


def stream_keys(seed: ArrayLike, step: ArrayLike, purpose: int) -> U64:
    """One 64-bit key per candidate for (seed, step, purpose). seed, step: (m,) or scalars."""
    s, t = np.broadcast_arrays(_as_u64(seed), _as_u64(step))
    key = _mix(s ^ np.uint64((purpose * 0x94D049BB133111EB) % 2**64))
    return _mix(key ^ _mix(t))


def uniforms(seed: ArrayLike, step: ArrayLike, purpose: int, k: int) -> NDArray[np.float64]:
    """``k`` uniform draws in [0, 1) per candidate. Returns (m, k)."""
    keys = stream_keys(seed, step, purpose)
    ctr = keys[:, None] + np.arange(1, k + 1, dtype=np.uint64)[None, :] * _GOLDEN
    bits = _mix(ctr) >> np.uint64(11)
    return np.asarray(bits.astype(np.float64) * (1.0 / 9007199254740992.0), dtype=np.float64)


def uniforms_at(
    seed: ArrayLike, step: ArrayLike, purpose: int, index: ArrayLike
) -> NDArray[np.float64]:
    """Uniform draws at chosen counters: ``index`` (m, j) → (m, j).

    Drawing at counter ``i`` gives the same number as column ``i`` of
    :func:`uniforms` with ``k > i``, so a simulee's answer to item ``i`` can be
    drawn without materialising a row for the whole bank.
    """
    keys = stream_keys(seed, step, purpose)
    idx = np.asarray(index, dtype=np.int64)
    if idx.ndim == 1:
        idx = idx[:, None]
    ctr = keys[:, None] + (idx.astype(np.uint64) + np.uint64(1)) * _GOLDEN
    bits = _mix(ctr) >> np.uint64(11)
    return np.asarray(bits.astype(np.float64) * (1.0 / 9007199254740992.0), dtype=np.float64)
