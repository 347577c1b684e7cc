"""Kullback–Leibler information over an interval (Chang & Ying 1996)."""

from __future__ import annotations

import numpy as np

from cat_engine.irt import EPS, category_probabilities
from cat_engine.selection.base import FloatArray, SelectionContext, masked

# 8-point Gauss–Legendre nodes on [−1, 1]: the KL integrand is smooth.
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(8)


class KullbackLeibler:
    """Rank by ∫ KL(θ̂ ‖ θ) dθ over θ̂ ± z/√n (n = items given, at least 1).

    Early in a test the estimate is poor, so a global criterion over an
    interval beats Fisher information at a point; the interval shrinks as
    the test goes on.
    """

    def __init__(self, z: float = 3.0, chunk: int = 64) -> None:
        if not (isinstance(z, int | float) and np.isfinite(z) and z > 0):
            raise ValueError(f"kl z must be a positive number, got {z!r}")
        self.z = float(z)
        self.chunk = int(chunk)

    def rank(self, ctx: SelectionContext) -> FloatArray:
        params = ctx.pool.params
        delta = self.z / np.sqrt(np.maximum(ctx.n_given, 1))
        out = np.empty((ctx.m, ctx.pool.n_items))
        g = _NODES.shape[0]
        for lo in range(0, ctx.m, self.chunk):  # chunks bound memory (m·g·n·K)
            th = ctx.theta[lo : lo + self.chunk]
            dl = delta[lo : lo + self.chunk]
            p_hat = np.clip(category_probabilities(th, params), EPS, 1.0)  # (c, n, K)
            pts = (th[:, None] + dl[:, None] * _NODES[None, :]).ravel()
            p = np.clip(category_probabilities(pts, params), EPS, 1.0)
            p = p.reshape(th.shape[0], g, params.n_items, -1)
            kl = np.sum(p_hat[:, None] * (np.log(p_hat[:, None]) - np.log(p)), axis=3)
            out[lo : lo + self.chunk] = (kl * _WEIGHTS[None, :, None]).sum(axis=1) * dl[:, None]
        return masked(ctx, out)
