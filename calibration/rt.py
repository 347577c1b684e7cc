"""Calibration of the lognormal response-time model (van der Linden, 2006).

``ln T_ij = β_j − τ_i + ε_ij / α_j`` with ``ε ~ N(0, 1)``: β_j is item j's
time intensity (mean ln seconds of a candidate of average speed), α_j its
time discrimination (1 / the sd of ln seconds around that), τ_i candidate
i's speed, fixed at mean 0 over the calibration sample (the scale's origin).

:class:`LognormalTimes` fits all three by maximising the joint likelihood,
alternating the closed-form updates

* ``τ_i = Σ_j α_j² (β_j − ln t_ij) / Σ_j α_j²``, then centred to mean 0;
* ``β_j = mean_i (ln t_ij + τ_i)``;
* ``α_j = 1 / sqrt(Σ_i (ln t_ij − β_j + τ_i)² / (n_j − 1))``

(the last with n_j − 1: the joint estimate of a variance with one mean
fitted per item is otherwise biased low in short samples). Standard errors
of β: ``1 / (α_j sqrt(n_j))``. The forensic indices (``forensics.rt``) use
α and β; the fitted τ are a by-product.
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


class LognormalTimes:
    """Settings: min_count — items with fewer observed times get NaN parameters
    (≥ 2); max_iter (≥ 1); tol — stop when no parameter moves more than this.

    After :meth:`fit`: ``alpha_``, ``beta_``, ``beta_se_``, ``count_`` (n,);
    ``tau_`` (p,); ``n_iter_``; ``converged_``.
    """

    def __init__(self, min_count: int = 20, max_iter: int = 200, tol: float = 1e-6) -> None:
        if not isinstance(min_count, int) or min_count < 2:
            raise ValueError(f"min_count must be an integer ≥ 2, got {min_count!r}")
        if not isinstance(max_iter, int) or max_iter < 1:
            raise ValueError(f"max_iter must be an integer ≥ 1, got {max_iter!r}")
        if not tol > 0:
            raise ValueError(f"tol must be > 0, got {tol!r}")
        self.min_count = min_count
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, seconds: ArrayLike) -> LognormalTimes:
        """seconds: (p, n) response times, NaN = not observed. Returns self.

        Raises ``ValueError`` naming the first row and column with a time that
        is not a positive finite number of seconds."""
        t = np.asarray(seconds, dtype=np.float64)
        if t.ndim != 2:
            raise ValueError(f"seconds must be a (persons, items) matrix, got shape {t.shape}")
        bad = ~np.isnan(t) & ~(np.isfinite(t) & (t > 0))
        if bad.any():
            r, c = np.argwhere(bad)[0]
            raise ValueError(
                f"seconds[{r}, {c}] = {t[r, c]}: a response time must be a positive number"
            )
        obs = np.isfinite(t)
        count = obs.sum(axis=0)
        usable = count >= self.min_count
        obs &= usable[None, :]
        lt = np.where(obs, np.log(np.where(obs, t, 1.0)), 0.0)
        n_j = np.maximum(obs.sum(axis=0), 1)
        beta = lt.sum(axis=0) / n_j
        alpha = np.ones(t.shape[1])
        tau = np.zeros(t.shape[0])
        converged = False
        it = 0
        for it in range(1, self.max_iter + 1):  # noqa: B007 (the count is reported)
            w = np.where(obs, alpha[None, :] ** 2, 0.0)
            wsum = w.sum(axis=1)
            new_tau = np.where(
                wsum > 0, (w * (beta[None, :] - lt)).sum(axis=1) / np.maximum(wsum, 1e-300), 0.0
            )
            persons = wsum > 0
            new_tau -= new_tau[persons].mean() if persons.any() else 0.0
            new_beta = np.where(obs, lt + new_tau[:, None], 0.0).sum(axis=0) / n_j
            resid = np.where(obs, lt - new_beta[None, :] + new_tau[:, None], 0.0)
            var = (resid**2).sum(axis=0) / np.maximum(n_j - 1, 1)
            new_alpha = np.where(usable, 1.0 / np.sqrt(np.maximum(var, 1e-12)), 1.0)
            moved = max(
                float(np.max(np.abs(new_tau - tau), initial=0.0)),
                float(np.max(np.abs(new_beta - beta), initial=0.0)),
                float(np.max(np.abs(new_alpha - alpha), initial=0.0)),
            )
            tau, beta, alpha = new_tau, new_beta, new_alpha
            if moved < self.tol:
                converged = True
                break
        if not converged:
            warnings.warn(
                f"LognormalTimes did not converge in {self.max_iter} iterations",
                RuntimeWarning,
                stacklevel=2,
            )
        self.alpha_ = np.where(usable, alpha, np.nan)
        self.beta_ = np.where(usable, beta, np.nan)
        self.beta_se_ = np.where(usable, 1.0 / (alpha * np.sqrt(n_j)), np.nan)
        self.count_ = count
        self.tau_ = tau
        self.n_iter_ = it
        self.converged_ = converged
        return self
