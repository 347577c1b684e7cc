"""Items grouped for the EM updates: their parameters, start, count and report.

:class:`calibration.em.MMLEstimator` splits the items into groups sharing a
model and a number of categories (anchor items in groups of their own), so
that every kernel call works on a whole group at once. Each group holds its
items' slope–intercept parameters ``eta`` (n, L) (see
:mod:`calibration.kernels`). This module holds the group and what is computed
from the groups alone: starting values, the prior's total, the number of
estimated parameters and the reported :class:`ItemParameters`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from calibration import kernels
from calibration.kernels import Priors
from cat_engine.irt import ItemParameters, Model

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass
class ItemGroup:
    """Items sharing a model and a number of categories, updated together."""

    model: Model
    n_cat: int
    items: IntArray  # global item indices
    eta: FloatArray  # (n, L)
    fixed: bool  # held at given values (anchor items)

    @property
    def cols(self) -> IntArray:  # filled by the estimator: (n, K) indicator columns
        return self._cols

    @cols.setter
    def cols(self, value: IntArray) -> None:
        self._cols = value


def starting_values(model: Model, r: FloatArray) -> FloatArray:
    """Starting values from the observed category proportions r: (n, K)."""
    n, k = r.shape
    prop = r / np.maximum(r.sum(axis=1, keepdims=True), 1e-12)
    a0 = 1.0
    scale = math.sqrt(1.0 + 0.346 * a0**2)  # logistic-normal marginal approximation
    big_l = kernels.n_eta(model, k)
    eta = np.zeros((n, big_l))
    eta[:, 0] = a0
    if model.is_dichotomous:
        c0 = 0.2 if model >= Model.THREE_PL else 0.0
        p = np.clip((prop[:, 1] - c0) / (1 - c0), 0.02, 0.98)
        eta[:, 1] = np.log(p / (1 - p)) * scale
        if big_l > 2:
            eta[:, 2] = math.log(c0 / (1 - c0))
        if big_l > 3:
            eta[:, 3] = math.log(0.98 / 0.02)
        return eta
    cum = np.clip(1.0 - np.cumsum(prop, axis=1)[:, :-1], 0.01, 0.99)  # P(X ≥ k), k=1..m
    d = np.log(cum / (1 - cum)) * scale
    d = np.minimum.accumulate(d - np.arange(d.shape[1]) * 1e-3, axis=1)
    if model == Model.GRM:
        eta[:, 1:] = d
    else:
        # GPCM: steps b_v ≈ cumulative-logit thresholds, then cumulative intercepts
        eta[:, 1:] = np.cumsum(d, axis=1)
    return eta


def log_prior_total(free: list[ItemGroup], priors_for: Callable[[Model], Priors]) -> float:
    """The log-prior of the free groups' parameters, summed (a scalar).

    ``priors_for`` gives the priors of a model. The 1PL slope is shared, so its
    prior counts once.
    """
    total = 0.0
    for g in free:
        lp = kernels.log_prior(g.model, g.eta, priors_for(g.model))[0]
        total += float(lp[:1].sum()) if g.model == Model.ONE_PL else float(lp.sum())
    return total


def count_parameters(free: list[ItemGroup]) -> int:
    """The number of estimated item parameters (one shared slope for 1PL)."""
    n = 0
    for g in free:
        if g.model == Model.ONE_PL:
            n += g.items.size + 1
        else:
            n += g.eta.size
    return n


def assemble_parameters(groups: list[ItemGroup], n_items: int, ncat: IntArray) -> ItemParameters:
    """The groups' parameters in the IRT metric, in item order.

    ``ncat`` (n_items,) holds each item's number of categories; the thresholds
    are (n_items, max(ncat) − 1) (at least one column), NaN where an item has
    fewer.
    """
    m_max = max(int(ncat.max()) - 1, 1)
    model = np.zeros(n_items, dtype=np.int8)
    a, b = np.zeros(n_items), np.full(n_items, np.nan)
    c, d = np.zeros(n_items), np.ones(n_items)
    thr = np.full((n_items, m_max), np.nan)
    for g in groups:
        vals, _ = kernels.to_irt(g.model, g.eta)
        model[g.items] = g.model
        a[g.items] = vals["a"]
        b[g.items] = vals["b"]
        c[g.items] = vals["c"]
        d[g.items] = vals["d"]
        if not g.model.is_dichotomous:
            thr[g.items, : g.n_cat - 1] = vals["thresholds"]
    return ItemParameters(model, a, b, c, d, thr)
