"""Ability estimates from calibrated items: EAP and MAP with standard errors.

Both work on the same indicator-matrix products as the EM (see
:mod:`calibration.data`), so every candidate of a national data set is scored
in a few matrix products:

* **EAP** — the posterior mean over a grid of ``n_quad`` nodes with a
  N(``prior_mean``, ``prior_sd``²) prior; SE = the posterior SD.
* **MAP** — the posterior mode, found on a fine grid and refined by fitting a
  parabola through the best node and its neighbours; SE = 1/√(−∂² log
  posterior/∂θ²) from the same parabola (the observed posterior information).

Candidates who answered nothing get the prior mean and SD.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from calibration.data import ResponseData
from cat_engine.irt import ItemParameters, category_probabilities

FloatArray = NDArray[np.float64]


def _as_data(responses: ResponseData | ArrayLike) -> ResponseData:
    if isinstance(responses, ResponseData):
        return responses
    return ResponseData.from_dense(responses)


def log_table(params: ItemParameters, data: ResponseData, theta: FloatArray) -> FloatArray:
    """log P(category | θ) laid out like the indicator columns: (Σ K_j, Q)."""
    if params.n_items != data.n_items:
        raise ValueError(f"{params.n_items} items have parameters but the data have {data.n_items}")
    too_many = np.flatnonzero(data.n_categories > params.n_categories)
    if too_many.size:
        j = int(too_many[0])
        raise ValueError(
            f"item {j}: responses up to category {data.n_categories[j] - 1} but the model "
            f"has {params.n_categories[j]} categories"
        )
    p = category_probabilities(theta, params)  # (Q, n, K)
    logp = np.log(np.clip(p, 1e-300, 1.0))
    off = data.offsets
    cols = np.concatenate([off[j] + np.arange(data.n_categories[j]) for j in range(data.n_items)])
    items = np.repeat(np.arange(data.n_items), data.n_categories)
    cats = cols - off[items]
    return np.asarray(logp[:, items, cats].T, dtype=np.float64)


def _loglik_grid(
    params: ItemParameters, data: ResponseData, theta: FloatArray, chunk: int = 50_000
) -> list[FloatArray]:
    table = log_table(params, data, theta)
    out = []
    for y in data.indicator_chunks(chunk):
        out.append(y @ table if isinstance(y, np.ndarray) else np.asarray(y @ table))
    return out


def eap(
    params: ItemParameters,
    responses: ResponseData | ArrayLike,
    *,
    n_quad: int = 61,
    theta_range: tuple[float, float] = (-6.0, 6.0),
    prior_mean: float = 0.0,
    prior_sd: float = 1.0,
) -> tuple[FloatArray, FloatArray]:
    """EAP θ and posterior SD for every person: two (n_persons,) arrays."""
    if prior_sd <= 0:
        raise ValueError("prior_sd must be > 0")
    data = _as_data(responses)
    theta = np.linspace(theta_range[0], theta_range[1], n_quad)
    logprior = -0.5 * ((theta - prior_mean) / prior_sd) ** 2
    est, se = [], []
    for lik in _loglik_grid(params, data, theta):
        lik += logprior
        lik -= lik.max(axis=1, keepdims=True)
        np.exp(lik, out=lik)
        lik /= lik.sum(axis=1, keepdims=True)
        m = lik @ theta
        v = lik @ theta**2 - m**2
        est.append(m)
        se.append(np.sqrt(np.maximum(v, 0.0)))
    return np.concatenate(est), np.concatenate(se)


def map_estimate(
    params: ItemParameters,
    responses: ResponseData | ArrayLike,
    *,
    step: float = 0.02,
    theta_range: tuple[float, float] = (-6.0, 6.0),
    prior_mean: float = 0.0,
    prior_sd: float = 1.0,
) -> tuple[FloatArray, FloatArray]:
    """MAP θ and its SE for every person: two (n_persons,) arrays.

    ``step`` is the grid spacing before the parabolic refinement (the error
    of the refined mode is of order step², ~1e-4 by default).
    """
    if prior_sd <= 0 or step <= 0:
        raise ValueError("prior_sd and step must be > 0")
    data = _as_data(responses)
    theta = np.arange(theta_range[0], theta_range[1] + step / 2, step)
    logprior = -0.5 * ((theta - prior_mean) / prior_sd) ** 2
    est, se = [], []
    for lik in _loglik_grid(params, data, theta):
        lik += logprior
        i = np.clip(lik.argmax(axis=1), 1, theta.shape[0] - 2)
        rows = np.arange(lik.shape[0])
        f0, fm, fp = lik[rows, i], lik[rows, i - 1], lik[rows, i + 1]
        curv = (fp - 2 * f0 + fm) / step**2  # < 0 at a maximum
        safe = np.where(curv < 0, curv, -1e-12)
        shift = np.clip(-(fp - fm) / (2 * step * safe), -step, step)  # parabola vertex
        est.append(theta[i] + shift)
        se.append(1.0 / np.sqrt(-safe))
    return np.concatenate(est), np.concatenate(se)
