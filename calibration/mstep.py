"""The EM's M-step: one group's items by Fisher scoring with step halving.

Given the expected counts ``r_jk(θ_q)`` of the E-step, the items are
independent; all items of an :class:`~calibration.item_groups.ItemGroup` are
updated together by vectorised Fisher scoring (Newton for the 2PL and GPCM,
whose Fisher and observed informations coincide). A step is halved item by
item until the expected complete-data log-posterior does not decrease, so the
EM stays a generalised EM. The 1PL slope, shared by the group, gets a scalar
step of its own.

Shapes: ``theta`` (Q,) quadrature nodes; ``eta`` (n, L) a group's
slope–intercept parameters; ``r`` (n, Q, K) its expected counts per node and
category; ``nq`` (n, Q) their sums over categories.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from calibration import kernels
from calibration.item_groups import ItemGroup
from calibration.kernels import PMIN, Priors
from cat_engine.irt import Model

FloatArray = NDArray[np.float64]


def qfun(
    g: ItemGroup, r: FloatArray, eta: FloatArray, pri: Priors, theta: FloatArray
) -> FloatArray:
    """Expected complete-data log-posterior per item (n,); −inf if invalid."""
    p = kernels.probs(g.model, eta, theta)
    bad = (p <= 0).any(axis=(1, 2)) | ~np.isfinite(eta).all(axis=1)
    val = np.einsum("nqk,nqk->n", r, np.log(np.maximum(p, PMIN)))
    val += kernels.log_prior(g.model, eta, pri)[0]
    if pri.slope_lognormal is not None:
        bad |= eta[:, 0] <= 0
    return np.where(bad, -np.inf, val)


def update_group(
    g: ItemGroup, counts: FloatArray, theta: FloatArray, pri: Priors, max_m_iter: int
) -> None:
    """Up to ``max_m_iter`` scoring steps on ``g.eta`` (in place).

    ``counts`` (ncol, Q) are the E-step's expected counts of every indicator
    column; ``pri`` the priors of the group's model.
    """
    r = counts[g.cols].transpose(0, 2, 1)  # (n, Q, K)
    nq = r.sum(axis=2)  # (n, Q)
    shared_a = g.model == Model.ONE_PL
    for _ in range(max_m_iter):
        p, dp = kernels.probs_and_derivs(g.model, g.eta, theta)
        pc = np.maximum(p, PMIN)
        grad = np.einsum("nqk,nqkl->nl", r / pc, dp)
        fish = np.einsum("nqkl,nqkm->nlm", dp * (nq[:, :, None] / pc)[..., None], dp)
        _, pg, ph = kernels.log_prior(g.model, g.eta, pri)
        grad += pg
        big_l = grad.shape[1]
        fish[:, np.arange(big_l), np.arange(big_l)] -= ph
        fish[:, np.arange(big_l), np.arange(big_l)] += 1e-9
        if shared_a:
            step = np.zeros_like(g.eta)
            step[:, 1] = grad[:, 1] / fish[:, 1, 1]
        else:
            step = np.linalg.solve(fish, grad[:, :, None])[:, :, 0]
        # trust region: no coordinate moves more than 1 per Newton step
        big = np.abs(step).max(axis=1, keepdims=True)
        step = np.where(big > 1.0, step / np.maximum(big, 1e-300), step)
        moved = halve(g, r, pri, step, theta)
        if shared_a:
            moved = max(moved, shared_slope_step(g, r, nq, pri, theta))
        if moved < 1e-8:
            break


def halve(g: ItemGroup, r: FloatArray, pri: Priors, step: FloatArray, theta: FloatArray) -> float:
    """Apply ``step`` item by item, halving where it would lower Q."""
    base = qfun(g, r, g.eta, pri, theta)
    t = np.ones(g.eta.shape[0])
    accepted = np.zeros(g.eta.shape[0], dtype=bool)
    for _ in range(12):
        trial = g.eta + t[:, None] * step
        q = qfun(g, r, trial, pri, theta)
        ok = ~accepted & (q >= base - 1e-10 * np.abs(base))
        g.eta[ok] = trial[ok]
        accepted |= ok
        if accepted.all():
            break
        t = np.where(accepted, t, t * 0.5)
    t = np.where(accepted, t, 0.0)
    return float(np.max(np.abs(t[:, None] * step), initial=0.0))


def shared_slope_step(
    g: ItemGroup, r: FloatArray, nq: FloatArray, pri: Priors, theta: FloatArray
) -> float:
    """One halving scoring step on the 1PL group's shared slope; the move made."""
    p, dp = kernels.probs_and_derivs(g.model, g.eta, theta)
    pc = np.maximum(p, PMIN)
    grad = float(np.einsum("nqk,nqk->", r / pc, dp[..., 0]))
    fish = float(np.sum(dp[..., 0] ** 2 * (nq[:, :, None] / pc)))
    _, pg, ph = kernels.log_prior(g.model, g.eta[:1], pri)
    grad += float(pg[0, 0])
    fish -= float(ph[0, 0])
    step = float(np.clip(grad / max(fish, 1e-12), -0.5, 0.5))
    base = float(qfun(g, r, g.eta, pri, theta).sum())
    for _ in range(12):
        trial = g.eta.copy()
        trial[:, 0] += step
        if float(qfun(g, r, trial, pri, theta).sum()) >= base - 1e-10 * abs(base):
            g.eta[:] = trial
            return abs(step)
        step *= 0.5
    return 0.0
