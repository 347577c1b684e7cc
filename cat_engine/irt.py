"""Item response models: probability, information and log-likelihood.

Every function is vectorised over ability points and items. The logistic
metric is used throughout (scaling constant D = 1), with parameters reported
as mirt's ``IRTpars=TRUE`` does:

* 1PL/Rasch, 2PL, 3PL, 4PL (dichotomous)::

      P(X=1 | θ) = c + (d − c) / (1 + exp(−a (θ − b)))

  with ``a = 1`` for Rasch, ``c = 0`` below 3PL, ``d = 1`` below 4PL.

* GRM, Samejima's graded response model, categories ``k = 0..m``::

      P*(X ≥ k | θ) = 1 / (1 + exp(−a (θ − b_k))),   k = 1..m
      P(X = k) = P*(X ≥ k) − P*(X ≥ k+1)

  with ``P*(X ≥ 0) = 1`` and ``P*(X ≥ m+1) = 0``; ``b_1 < … < b_m``.

* GPCM, Muraki's generalised partial credit model::

      P(X = k | θ) ∝ exp(Σ_{v=1..k} a (θ − b_v)),   k = 0..m

  (the empty sum for ``k = 0`` is 0); the step parameters ``b_v`` need not be
  ordered.

Shapes: ``theta`` is ``(q,)``; item arrays are ``(n,)``; thresholds are
``(n, m_max)`` padded with NaN for items with fewer categories. Category
probabilities are ``(q, n, K)`` with ``K = m_max + 1``, zero in the padded
categories.

References: Lord (1980), *Applications of Item Response Theory to Practical
Testing Problems*; Samejima (1969), Psychometrika Monograph 17; Muraki (1992),
Applied Psychological Measurement 16(2); Baker & Kim (2004), *Item Response
Theory: Parameter Estimation Techniques*, 2nd ed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# Probabilities are kept inside (EPS, 1 − EPS) before logs and divisions so
# that a perfectly answered item never yields −inf or a division by zero.
EPS = 1e-12


class Model(IntEnum):
    """The response model of an item; the integer codes are stable (stored)."""

    ONE_PL = 0
    TWO_PL = 1
    THREE_PL = 2
    FOUR_PL = 3
    GRM = 4
    GPCM = 5

    @property
    def label(self) -> str:
        return MODEL_LABELS[self]

    @property
    def is_dichotomous(self) -> bool:
        return self <= Model.FOUR_PL

    @classmethod
    def parse(cls, name: str) -> Model:
        """``"3pl"``, ``"3PL"``, ``"Rasch"`` … → :class:`Model`; ``ValueError`` otherwise."""
        key = name.strip().upper()
        if key == "RASCH":
            key = "1PL"
        for model, label in MODEL_LABELS.items():
            if label == key:
                return model
        raise ValueError(
            f"unknown IRT model {name!r}; expected one of {', '.join(MODEL_LABELS.values())}"
        )


MODEL_LABELS: dict[Model, str] = {
    Model.ONE_PL: "1PL",
    Model.TWO_PL: "2PL",
    Model.THREE_PL: "3PL",
    Model.FOUR_PL: "4PL",
    Model.GRM: "GRM",
    Model.GPCM: "GPCM",
}


def _as_theta(theta: ArrayLike) -> FloatArray:
    return np.atleast_1d(np.asarray(theta, dtype=np.float64))


# ---------------------------------------------------------------------------
# Dichotomous models
# ---------------------------------------------------------------------------


def prob_4pl(
    theta: ArrayLike, a: ArrayLike, b: ArrayLike, c: ArrayLike = 0.0, d: ArrayLike = 1.0
) -> FloatArray:
    """P(correct) under the 4PL (and 1PL–3PL as special cases).

    theta: (q,) abilities; a, b, c, d: (n,) or scalars. Returns (q, n).
    """
    t = _as_theta(theta)[:, None]
    a_ = np.asarray(a, dtype=np.float64)
    b_ = np.asarray(b, dtype=np.float64)
    c_ = np.asarray(c, dtype=np.float64)
    d_ = np.asarray(d, dtype=np.float64)
    logistic = 1.0 / (1.0 + np.exp(-a_ * (t - b_)))
    return np.asarray(c_ + (d_ - c_) * logistic, dtype=np.float64)


def info_4pl(
    theta: ArrayLike, a: ArrayLike, b: ArrayLike, c: ArrayLike = 0.0, d: ArrayLike = 1.0
) -> FloatArray:
    """Fisher information of 4PL items: ``a² (P − c)² (d − P)² / ((d − c)² P (1 − P))``.

    Returns (q, n).
    """
    p = np.clip(prob_4pl(theta, a, b, c, d), EPS, 1.0 - EPS)
    a_ = np.asarray(a, dtype=np.float64)
    c_ = np.asarray(c, dtype=np.float64)
    d_ = np.asarray(d, dtype=np.float64)
    num = a_**2 * (p - c_) ** 2 * (d_ - p) ** 2
    return np.asarray(num / ((d_ - c_) ** 2 * p * (1.0 - p)), dtype=np.float64)


# ---------------------------------------------------------------------------
# Polytomous models
# ---------------------------------------------------------------------------


def prob_grm(theta: ArrayLike, a: ArrayLike, thresholds: ArrayLike) -> FloatArray:
    """Category probabilities of the graded response model.

    theta: (q,); a: (n,); thresholds: (n, m) ordered, NaN-padded on the right.
    Returns (q, n, m + 1), zero in padded categories.
    """
    t = _as_theta(theta)[:, None, None]
    a_ = np.asarray(a, dtype=np.float64)[None, :, None]
    bk = np.atleast_2d(np.asarray(thresholds, dtype=np.float64))[None, :, :]
    star = 1.0 / (1.0 + np.exp(-a_ * (t - bk)))
    star = np.where(np.isnan(bk), 0.0, star)  # a missing boundary is P* = 0
    q, n, _ = star.shape
    upper = np.concatenate([np.ones((q, n, 1)), star], axis=2)
    lower = np.concatenate([star, np.zeros((q, n, 1))], axis=2)
    return np.asarray(np.clip(upper - lower, 0.0, 1.0), dtype=np.float64)


def info_grm(theta: ArrayLike, a: ArrayLike, thresholds: ArrayLike) -> FloatArray:
    """Fisher information of GRM items, ``Σ_k (P_k')² / P_k``. Returns (q, n)."""
    t = _as_theta(theta)[:, None, None]
    a_ = np.asarray(a, dtype=np.float64)[None, :, None]
    bk = np.atleast_2d(np.asarray(thresholds, dtype=np.float64))[None, :, :]
    star = 1.0 / (1.0 + np.exp(-a_ * (t - bk)))
    star = np.where(np.isnan(bk), 0.0, star)
    dstar = a_ * star * (1.0 - star)
    q, n, _ = star.shape
    p_up = np.concatenate([np.ones((q, n, 1)), star], axis=2)
    p_lo = np.concatenate([star, np.zeros((q, n, 1))], axis=2)
    d_up = np.concatenate([np.zeros((q, n, 1)), dstar], axis=2)
    d_lo = np.concatenate([dstar, np.zeros((q, n, 1))], axis=2)
    p = p_up - p_lo
    dp = d_up - d_lo
    valid = p > EPS
    return np.asarray(
        np.sum(np.where(valid, dp**2 / np.where(valid, p, 1.0), 0.0), axis=2), dtype=np.float64
    )


def prob_gpcm(theta: ArrayLike, a: ArrayLike, thresholds: ArrayLike) -> FloatArray:
    """Category probabilities of the generalised partial credit model.

    theta: (q,); a: (n,); thresholds (step parameters): (n, m), NaN-padded.
    Returns (q, n, m + 1), zero in padded categories.
    """
    t = _as_theta(theta)[:, None, None]
    a_ = np.asarray(a, dtype=np.float64)[None, :, None]
    bk = np.atleast_2d(np.asarray(thresholds, dtype=np.float64))
    steps = a_ * (t - bk[None, :, :])  # (q, n, m)
    q, n, _ = steps.shape
    z = np.concatenate([np.zeros((q, n, 1)), np.cumsum(np.nan_to_num(steps), axis=2)], axis=2)
    valid = np.concatenate([np.ones((n, 1), dtype=bool), ~np.isnan(bk)], axis=1)[None, :, :]
    z = np.where(valid, z, -np.inf)
    z = z - z.max(axis=2, keepdims=True)
    ez = np.exp(z)
    return np.asarray(ez / ez.sum(axis=2, keepdims=True), dtype=np.float64)


def info_gpcm(theta: ArrayLike, a: ArrayLike, thresholds: ArrayLike) -> FloatArray:
    """Fisher information of GPCM items, ``a² Var(X | θ)``. Returns (q, n)."""
    p = prob_gpcm(theta, a, thresholds)
    k = np.arange(p.shape[2], dtype=np.float64)
    mean = p @ k
    second = p @ (k**2)
    a_ = np.asarray(a, dtype=np.float64)
    return np.asarray(a_**2 * (second - mean**2), dtype=np.float64)


# ---------------------------------------------------------------------------
# Mixed banks
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemParameters:
    """IRT parameters of a set of items of any models, as flat arrays.

    model: (n,) int8 :class:`Model` codes; a, b, c, d: (n,) (``b`` is NaN for
    polytomous items; ``c = 0``, ``d = 1`` where a model has none);
    thresholds: (n, m_max) NaN-padded (polytomous items only; all NaN for
    dichotomous ones). ``n_categories``: (n,) — 2 for dichotomous items,
    ``m + 1`` for polytomous ones.
    """

    model: NDArray[np.int8]
    a: FloatArray
    b: FloatArray
    c: FloatArray
    d: FloatArray
    thresholds: FloatArray
    n_categories: IntArray = field(init=False)

    def __post_init__(self) -> None:
        n = self.model.shape[0]
        for name in ("a", "b", "c", "d"):
            arr = getattr(self, name)
            if arr.shape != (n,):
                raise ValueError(f"ItemParameters.{name} has shape {arr.shape}, expected ({n},)")
        if self.thresholds.ndim != 2 or self.thresholds.shape[0] != n:
            raise ValueError(
                f"ItemParameters.thresholds has shape {self.thresholds.shape}, expected ({n}, m)"
            )
        poly = self.model >= Model.GRM
        m = np.sum(~np.isnan(self.thresholds), axis=1)
        n_cat = np.where(poly, m + 1, 2).astype(np.int64)
        object.__setattr__(self, "n_categories", n_cat)

    @property
    def n_items(self) -> int:
        return int(self.model.shape[0])

    @property
    def max_categories(self) -> int:
        return int(self.n_categories.max()) if self.n_items else 2

    def subset(self, index: ArrayLike) -> ItemParameters:
        """The parameters of the items at ``index`` (any numpy index)."""
        idx = np.asarray(index)
        return ItemParameters(
            model=self.model[idx],
            a=self.a[idx],
            b=self.b[idx],
            c=self.c[idx],
            d=self.d[idx],
            thresholds=self.thresholds[idx],
        )

    @classmethod
    def dichotomous(
        cls,
        a: ArrayLike,
        b: ArrayLike,
        c: ArrayLike | None = None,
        d: ArrayLike | None = None,
    ) -> ItemParameters:
        """Items of the 2PL (or 3PL/4PL when ``c``/``d`` are given)."""
        b_ = np.atleast_1d(np.asarray(b, dtype=np.float64))
        n = b_.shape[0]
        a_ = np.broadcast_to(np.asarray(a, dtype=np.float64), (n,)).copy()
        c_ = np.zeros(n) if c is None else np.broadcast_to(np.asarray(c, float), (n,)).copy()
        d_ = np.ones(n) if d is None else np.broadcast_to(np.asarray(d, float), (n,)).copy()
        model = np.full(n, Model.TWO_PL, dtype=np.int8)
        model[c_ != 0.0] = Model.THREE_PL
        model[d_ != 1.0] = Model.FOUR_PL
        return cls(model, a_, b_, c_, d_, np.full((n, 1), np.nan))


def category_probabilities(theta: ArrayLike, params: ItemParameters) -> FloatArray:
    """P(X = k | θ) for every item of a mixed set.

    Dichotomous items have categories 0 (wrong) and 1 (right). Returns
    (q, n, K) with K = ``params.max_categories``; padded categories are 0.
    """
    t = _as_theta(theta)
    q, n, k_max = t.shape[0], params.n_items, params.max_categories
    out = np.zeros((q, n, k_max))
    dich = np.flatnonzero(params.model <= Model.FOUR_PL)
    if dich.size:
        p = prob_4pl(t, params.a[dich], params.b[dich], params.c[dich], params.d[dich])
        out[:, dich, 0] = 1.0 - p
        out[:, dich, 1] = p
    for model, fn in ((Model.GRM, prob_grm), (Model.GPCM, prob_gpcm)):
        idx = np.flatnonzero(params.model == model)
        if idx.size:
            m = params.max_categories - 1
            pk = fn(t, params.a[idx], params.thresholds[idx, :m])
            out[:, idx, : pk.shape[2]] = pk
    return out


def information(theta: ArrayLike, params: ItemParameters) -> FloatArray:
    """Fisher information of every item at every θ. Returns (q, n)."""
    t = _as_theta(theta)
    out = np.zeros((t.shape[0], params.n_items))
    dich = np.flatnonzero(params.model <= Model.FOUR_PL)
    if dich.size:
        out[:, dich] = info_4pl(t, params.a[dich], params.b[dich], params.c[dich], params.d[dich])
    for model, fn in ((Model.GRM, info_grm), (Model.GPCM, info_gpcm)):
        idx = np.flatnonzero(params.model == model)
        if idx.size:
            out[:, idx] = fn(t, params.a[idx], params.thresholds[idx])
    return out


def expected_score(theta: ArrayLike, params: ItemParameters) -> FloatArray:
    """Expected category (0..K−1) of each item at each θ. Returns (q, n)."""
    p = category_probabilities(theta, params)
    return np.asarray(p @ np.arange(p.shape[2], dtype=np.float64), dtype=np.float64)


def log_likelihood(theta: ArrayLike, params: ItemParameters, responses: ArrayLike) -> FloatArray:
    """Log-likelihood of response patterns at each θ.

    responses: (n,) or (p, n) category indices, negative = not presented (the
    item contributes nothing). Returns (q,) for one pattern or (p, q).
    """
    r = np.asarray(responses, dtype=np.int64)
    single = r.ndim == 1
    r2 = np.atleast_2d(r)
    logp = np.log(np.clip(category_probabilities(theta, params), EPS, 1.0))  # (q, n, K)
    out = np.zeros((r2.shape[0], logp.shape[0]))
    for k in range(logp.shape[2]):
        mask = (r2 == k).astype(np.float64)  # (p, n)
        out += mask @ logp[:, :, k].T
    return out[0] if single else out
