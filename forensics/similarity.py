"""Answer similarity: Wollack's ω (1997) between a possible copier and a source.

For a copier c and a source s over the items both answered, let ``h`` be the
number of identical answers and ``p_j`` the probability that c, answering
alone at θ̂_c, chooses the option s chose on item j (the IRT probability of
that option's category times its share of the category in the session,
:func:`forensics.ability.option_probabilities`). Independent answering gives
``E = Σ p_j``, ``V = Σ p_j (1 − p_j)`` and ``ω = (h − E) / sqrt(V)``,
approximately N(0, 1) (Wollack, 1997, Applied Psychological Measurement
21(4), 307–320); large ω = more matches than chance explains. Its p-value
here is exact: h is a sum of independent Bernoulli(p_j) given the source's
answers, so ``P(H ≥ h)`` is the Poisson-binomial tail (the normal
approximation Wollack used is a little liberal at 1 % on 110 items).
ω is directional (c copied from s), so both directions of a pair are tested.

A candidate's similarity p-value is the smallest over the partners
considered, times their number (Bonferroni): the neighbours seated next to
them (the room's seating layout), or every other candidate of the session.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from forensics.data import SessionData
from forensics.pvalues import poisson_binomial_sf

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: Directional pairs per block (keeps (pairs, n) arrays to a few MB).
CHUNK = 4096


def omega(
    data: SessionData, probs: FloatArray, pairs: IntArray
) -> tuple[FloatArray, FloatArray, IntArray, FloatArray]:
    """ω of each directional pair.

    probs: (m, n, O) option probabilities at each candidate's θ̂; pairs:
    (P, 2) rows ``(copier, source)``. Returns ``(omega, p, matches,
    expected)``, each (P,); NaN where the pair shares fewer than 5 answered
    items.
    """
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    n = data.items.n_items
    out_w = np.full(pairs.shape[0], np.nan)
    out_h = np.zeros(pairs.shape[0], dtype=np.int64)
    out_e = np.full(pairs.shape[0], np.nan)
    out_p = np.full(pairs.shape[0], np.nan)
    cols = np.arange(n)[None, :]
    for start in range(0, pairs.shape[0], CHUNK):
        blk = pairs[start : start + CHUNK]
        c, s = blk[:, 0], blk[:, 1]
        oc, os_ = data.options[c], data.options[s]
        both = (oc >= 0) & (os_ >= 0)
        pj = probs[c[:, None], cols, np.clip(os_, 0, None)]
        pj = np.where(both, pj, 0.0)
        h = np.sum(both & (oc == os_), axis=1)
        e = pj.sum(axis=1)
        v = (pj * (1.0 - pj)).sum(axis=1)
        enough = both.sum(axis=1) >= 5
        with np.errstate(divide="ignore", invalid="ignore"):
            w = np.where(enough & (v > 0), (h - e) / np.sqrt(v), np.nan)
        out_w[start : start + blk.shape[0]] = w
        # Each pair's probabilities packed to the left: the exact tail runs
        # over the most items any pair of the block shares, not the whole
        # bank (candidates with different forms share few).
        k = max(int(both.sum(axis=1).max(initial=0)), 1)
        order = np.argsort(~both, axis=1, kind="stable")[:, :k]
        exact = poisson_binomial_sf(np.take_along_axis(pj, order, axis=1), h)
        out_p[start : start + blk.shape[0]] = np.where(np.isfinite(w), exact, np.nan)
        out_h[start : start + blk.shape[0]] = h
        out_e[start : start + blk.shape[0]] = e
    return out_w, out_p, out_h, out_e


def neighbour_pairs(data: SessionData) -> IntArray:
    """(P, 2) directional pairs of candidates seated next to each other
    (same room, row and column each within one seat, diagonals included)."""
    known = np.isfinite(data.row) & np.isfinite(data.col)
    idx = np.flatnonzero(known)
    if idx.size < 2:
        return np.zeros((0, 2), dtype=np.int64)
    r, c, room = data.row[idx], data.col[idx], data.room[idx]
    near = (
        (room[:, None] == room[None, :])
        & (np.abs(r[:, None] - r[None, :]) <= 1)
        & (np.abs(c[:, None] - c[None, :]) <= 1)
    )
    np.fill_diagonal(near, False)
    a, b = np.nonzero(near)
    return np.stack([idx[a], idx[b]], axis=1).astype(np.int64)


def all_pairs(m: int) -> IntArray:
    """(m(m−1), 2) every ordered pair of distinct candidates."""
    a, b = np.nonzero(~np.eye(m, dtype=bool))
    return np.stack([a, b], axis=1).astype(np.int64)


def per_candidate(
    m: int, pairs: IntArray, p: FloatArray, w: FloatArray
) -> tuple[FloatArray, FloatArray, IntArray]:
    """Each candidate as a copier: the Bonferroni p-value over its partners,
    its largest ω and that partner (``-1`` none). Returns three (m,) arrays."""
    best_w = np.full(m, -np.inf)
    partner = np.full(m, -1, dtype=np.int64)
    low_p = np.ones(m)
    count = np.zeros(m, dtype=np.int64)
    ok = np.isfinite(p)
    copier = pairs[:, 0]
    np.add.at(count, copier[ok], 1)
    np.minimum.at(low_p, copier[ok], p[ok])
    order = np.argsort(np.where(ok, w, -np.inf), kind="stable")
    # Assigned in ascending ω, so the last write per copier is its largest ω.
    best_w[copier[order]] = np.where(ok[order], w[order], -np.inf)
    partner[copier[order]] = np.where(ok[order], pairs[order, 1], -1)
    p_cand = np.where(count > 0, np.minimum(low_p * count, 1.0), np.nan)
    best = np.where(np.isfinite(best_w), best_w, np.nan)
    return np.asarray(p_cand), np.asarray(best), partner
