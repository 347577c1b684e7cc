"""Linking a new calibration onto the bank's scale over common items.

A linear transformation ``θ_bank = A θ_new + B`` carries item parameters as
``a* = a / A``, ``b* = A b + B`` (every threshold likewise), ``c`` and ``d``
unchanged. Three ways to find (A, B) from the common items:

* **mean–sigma** (Marco 1977): ``A = sd(b_bank) / sd(b_new)``,
  ``B = mean(b_bank) − A mean(b_new)``, over all difficulties and thresholds;
* **Haebara** (1980): minimise Σ_θ w(θ) Σ_j Σ_k (P_bank,jk(θ) − P*_new,jk(θ))²;
* **Stocking–Lord** (1983): minimise Σ_θ w(θ) (Σ_j E_bank,j(θ) − Σ_j E*_new,j(θ))²
  (the squared difference of the test characteristic curves),

with θ on a grid over the bank scale weighted by N(0, 1) (a one-directional
criterion, as in Kolen & Brennan 2014, ch. 6). Both characteristic-curve
methods start from mean–sigma and use BFGS.

Fixed-parameter calibration (pretest items calibrated with operational items
held at their bank values) is :class:`calibration.em.MMLEstimator` with
``anchor`` / ``anchor_items``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import optimize

from cat_engine.irt import ItemParameters, category_probabilities, expected_score

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class LinearTransform:
    """θ_bank = A θ_new + B."""

    A: float
    B: float
    method: str = ""

    def __post_init__(self) -> None:
        if not (np.isfinite(self.A) and self.A > 0 and np.isfinite(self.B)):
            raise ValueError(f"invalid linking constants A={self.A}, B={self.B}")

    def apply(self, params: ItemParameters) -> ItemParameters:
        """Parameters on the bank scale."""
        return ItemParameters(
            model=params.model.copy(),
            a=params.a / self.A,
            b=params.b * self.A + self.B,
            c=params.c.copy(),
            d=params.d.copy(),
            thresholds=params.thresholds * self.A + self.B,
        )

    def apply_se(self, se: dict[str, FloatArray]) -> dict[str, FloatArray]:
        """Standard errors on the bank scale (treating A, B as known)."""
        out = dict(se)
        out["a"] = se["a"] / self.A
        out["b"] = se["b"] * self.A
        out["thresholds"] = se["thresholds"] * self.A
        return out


def _locations(params: ItemParameters) -> FloatArray:
    vals = np.concatenate([params.b, params.thresholds.ravel()])
    return vals[np.isfinite(vals)]


def _check(new: ItemParameters, bank: ItemParameters) -> None:
    if new.n_items != bank.n_items:
        raise ValueError(f"{new.n_items} new vs {bank.n_items} bank common items")
    if new.n_items < 2:
        raise ValueError("linking needs at least 2 common items")
    if not np.array_equal(new.model, bank.model):
        j = int(np.flatnonzero(new.model != bank.model)[0])
        raise ValueError(f"common item {j}: different models in the new and bank calibrations")


def mean_sigma(new: ItemParameters, bank: ItemParameters) -> LinearTransform:
    """Mean–sigma constants from the common items (same order in both)."""
    _check(new, bank)
    bn, bb = _locations(new), _locations(bank)
    if bn.shape != bb.shape:
        raise ValueError("common items have different numbers of thresholds")
    sd_new = float(np.std(bn))
    if sd_new <= 0:
        raise ValueError("the common items' difficulties have no spread")
    a_const = float(np.std(bb)) / sd_new
    return LinearTransform(a_const, float(np.mean(bb) - a_const * np.mean(bn)), "mean-sigma")


def _grid(n: int = 41) -> tuple[FloatArray, FloatArray]:
    theta = np.linspace(-4.0, 4.0, n)
    w = np.exp(-0.5 * theta**2)
    return theta, w / w.sum()


def _criterion(
    method: str, new: ItemParameters, bank: ItemParameters
) -> Callable[[FloatArray], float]:
    theta, w = _grid()
    if method == "stocking-lord":
        target = expected_score(theta, bank).sum(axis=1)

        def f(x: FloatArray) -> float:
            moved = LinearTransform(float(np.exp(x[0])), float(x[1])).apply(new)
            diff = target - expected_score(theta, moved).sum(axis=1)
            return float(w @ diff**2)

        return f
    target_p = category_probabilities(theta, bank)

    def g(x: FloatArray) -> float:
        moved = LinearTransform(float(np.exp(x[0])), float(x[1])).apply(new)
        diff = target_p - category_probabilities(theta, moved)
        return float(w @ (diff**2).sum(axis=(1, 2)))

    return g


def characteristic_curve(
    new: ItemParameters, bank: ItemParameters, method: str = "stocking-lord"
) -> LinearTransform:
    """Stocking–Lord (``"stocking-lord"``) or Haebara (``"haebara"``) constants."""
    if method not in ("stocking-lord", "haebara"):
        raise ValueError(f"unknown linking method {method!r}")
    start = mean_sigma(new, bank)
    fn = _criterion(method, new, bank)
    res = optimize.minimize(
        fn,
        np.array([np.log(start.A), start.B]),
        method="BFGS",
        options={"gtol": 1e-10},
    )
    return LinearTransform(float(np.exp(res.x[0])), float(res.x[1]), method)


def link(
    new: ItemParameters, bank: ItemParameters, method: str = "stocking-lord"
) -> LinearTransform:
    """Linking constants by ``"mean-sigma"``, ``"stocking-lord"`` or ``"haebara"``."""
    if method == "mean-sigma":
        return mean_sigma(new, bank)
    return characteristic_curve(new, bank, method)
