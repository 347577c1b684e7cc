"""Per-model kernels used by the EM loop: probabilities and their derivatives.

Inside calibration every item is held in a *slope–intercept* parameterisation
``eta`` (unbounded, well conditioned for Newton steps), as mirt does
internally; :func:`to_irt` converts to the reported IRT metric (a, b, c, d,
thresholds) with the Jacobian used for delta-method standard errors.

=========  ===========================================  ==============================
model      eta columns                                   response function
=========  ===========================================  ==============================
1PL        (a, d)  — ``a`` shared by all 1PL items       σ(aθ + d)
2PL        (a, d)                                        σ(aθ + d)
3PL        (a, d, γ_c)                                   c + (1 − c) σ(aθ + d)
4PL        (a, d, γ_c, γ_u)                              c + (u − c) σ(aθ + d)
GRM        (a, d_1 … d_m), d_1 > … > d_m                 P*_k = σ(aθ + d_k)
GPCM       (a, g_1 … g_m), cumulative intercepts         P_k ∝ exp(k a θ + g_k), g_0 = 0
=========  ===========================================  ==============================

with ``c = σ(γ_c)`` and ``u = σ(γ_u)``. Conversions: ``b = −d / a``; GRM
``b_k = −d_k / a``; GPCM step ``b_v = −(g_v − g_{v−1}) / a``.

Shapes: ``eta`` is (n, L); ``theta`` (Q,); probabilities (n, Q, K);
derivatives (n, Q, K, L).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from cat_engine.irt import Model

FloatArray = NDArray[np.float64]

# Probabilities are kept away from 0 and 1 before logs and divisions.
PMIN = 1e-10


def n_eta(model: Model, n_categories: int) -> int:
    """Number of eta columns of an item of ``model`` with ``n_categories``."""
    if model in (Model.ONE_PL, Model.TWO_PL):
        return 2
    if model == Model.THREE_PL:
        return 3
    if model == Model.FOUR_PL:
        return 4
    return n_categories  # a + (K − 1) intercepts


def _sigmoid(z: FloatArray) -> FloatArray:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * z)), dtype=np.float64)


def probs(model: Model, eta: FloatArray, theta: FloatArray) -> FloatArray:
    """Category probabilities (n, Q, K) of items of one model."""
    return probs_and_derivs(model, eta, theta, derivs=False)[0]


def probs_and_derivs(
    model: Model, eta: FloatArray, theta: FloatArray, derivs: bool = True
) -> tuple[FloatArray, FloatArray]:
    """Category probabilities (n, Q, K) and ∂P/∂eta (n, Q, K, L).

    When ``derivs`` is False the second array is empty.
    """
    t = theta[None, :]
    a = eta[:, 0:1]
    n, q = eta.shape[0], theta.shape[0]
    if model.is_dichotomous:
        s = _sigmoid(a * t + eta[:, 1:2])  # (n, Q)
        c = _sigmoid(eta[:, 2:3]) if model >= Model.THREE_PL else np.zeros((n, 1))
        u = _sigmoid(eta[:, 3:4]) if model == Model.FOUR_PL else np.ones((n, 1))
        p1 = c + (u - c) * s
        p = np.stack([1.0 - p1, p1], axis=2)
        if not derivs:
            return p, np.empty(0)
        big_l = eta.shape[1]
        d1 = np.empty((n, q, big_l))
        ds = (u - c) * s * (1.0 - s)
        d1[:, :, 0] = ds * t
        d1[:, :, 1] = ds
        if big_l > 2:
            d1[:, :, 2] = (1.0 - s) * (c * (1.0 - c))
        if big_l > 3:
            d1[:, :, 3] = s * (u * (1.0 - u))
        dp = np.stack([-d1, d1], axis=2)
        return p, dp
    if model == Model.GRM:
        m = eta.shape[1] - 1
        star = _sigmoid(a[:, :, None] * t[:, :, None] + eta[:, None, 1:])  # (n, Q, m)
        ones = np.ones((n, q, 1))
        zeros = np.zeros((n, q, 1))
        up = np.concatenate([ones, star], axis=2)
        lo = np.concatenate([star, zeros], axis=2)
        p = up - lo
        if not derivs:
            return p, np.empty(0)
        w = star * (1.0 - star)  # dP*_k / dz_k, (n, Q, m)
        wu = np.concatenate([zeros, w], axis=2)  # for the upper boundary of category k
        wl = np.concatenate([w, zeros], axis=2)
        dp = np.zeros((n, q, m + 1, m + 1))
        dp[:, :, :, 0] = (wu - wl) * theta[None, :, None]
        for k in range(1, m + 1):  # intercept d_k bounds category k−1 (below) and k (above)
            dp[:, :, k, k] = w[:, :, k - 1]
            dp[:, :, k - 1, k] = -w[:, :, k - 1]
        return p, dp
    if model == Model.GPCM:
        m = eta.shape[1] - 1
        kk = np.arange(m + 1, dtype=np.float64)
        g = np.concatenate([np.zeros((n, 1)), eta[:, 1:]], axis=1)  # (n, K)
        z = a[:, :, None] * t[:, :, None] * kk[None, None, :] + g[:, None, :]
        z -= z.max(axis=2, keepdims=True)
        ez = np.exp(z)
        p = ez / ez.sum(axis=2, keepdims=True)
        if not derivs:
            return p, np.empty(0)
        # multinomial logit: dP_k/dη = P_k (f_k − Σ_j P_j f_j); features f_k = (kθ, e_k)
        feats = np.zeros((1, q, m + 1, m + 1))
        feats[0, :, :, 0] = theta[:, None] * kk[None, :]
        for k in range(1, m + 1):
            feats[0, :, k, k] = 1.0
        mean = np.einsum("nqk,xqkl->nql", p, feats)
        dp = p[:, :, :, None] * (feats - mean[:, :, None, :])
        return p, dp
    raise ValueError(f"no kernel for model {model!r}")


# ---------------------------------------------------------------------------
# Priors
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Priors:
    """Prior densities on item parameters (MAP rather than ML estimates).

    ``slope_lognormal``: (μ, σ) of a log-normal on ``a`` (``log a ~ N(μ, σ²)``),
    or None; ``guess_beta``: (α, β) of a beta on ``c``, or None;
    ``upper_beta``: (α, β) of a beta on the upper asymptote ``u`` (4PL), or None;
    ``intercept_normal``: (μ, σ) of a normal on the intercept ``d = −a b`` of
    dichotomous items, or None (keeps ``b`` finite when an item's curve is
    flat at its asymptote, the classic 3PL drift).
    """

    slope_lognormal: tuple[float, float] | None = None
    guess_beta: tuple[float, float] | None = None
    upper_beta: tuple[float, float] | None = None
    intercept_normal: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.slope_lognormal is not None and not self.slope_lognormal[1] > 0:
            raise ValueError("slope_lognormal: σ must be > 0")
        if self.intercept_normal is not None and not self.intercept_normal[1] > 0:
            raise ValueError("intercept_normal: σ must be > 0")
        for name in ("guess_beta", "upper_beta"):
            ab = getattr(self, name)
            if ab is not None and not (ab[0] >= 1 and ab[1] >= 1):
                raise ValueError(f"{name}: α and β must be ≥ 1 (a concave log-density)")

    @classmethod
    def default(cls, model: Model) -> Priors:
        """The defaults: none for 1PL/2PL/GRM/GPCM (plain ML, as mirt and ltm);
        for 3PL ``log a ~ N(0, 0.5²)`` and ``c ~ Beta(5, 17)`` (BILOG-MG's
        defaults for a five-option item) and a weak ``d ~ N(0, 3²)`` on the
        intercept; 4PL also ``u ~ Beta(17, 5)``."""
        if model == Model.THREE_PL:
            return cls((0.0, 0.5), (5.0, 17.0), None, (0.0, 3.0))
        if model == Model.FOUR_PL:
            return cls((0.0, 0.5), (5.0, 17.0), (17.0, 5.0), (0.0, 3.0))
        return cls()


def log_prior(
    model: Model, eta: FloatArray, priors: Priors
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """log prior (n,), its gradient (n, L) and a negative-definite diagonal
    Hessian approximation (n, L) on ``eta`` (the density of ``a``/``c``/``u``,
    without Jacobian: the prior is on the reported parameter)."""
    n, big_l = eta.shape
    lp = np.zeros(n)
    grad = np.zeros((n, big_l))
    hess = np.zeros((n, big_l))
    if priors.slope_lognormal is not None:
        mu, sd = priors.slope_lognormal
        a = np.maximum(eta[:, 0], 1e-6)
        la = np.log(a)
        lp += -la - (la - mu) ** 2 / (2 * sd**2)
        grad[:, 0] = -1.0 / a - (la - mu) / (sd**2 * a)
        hess[:, 0] = -1.0 / (sd**2 * a**2)
    if model.is_dichotomous and priors.intercept_normal is not None:
        mu, sd = priors.intercept_normal
        lp += -((eta[:, 1] - mu) ** 2) / (2 * sd**2)
        grad[:, 1] = -(eta[:, 1] - mu) / sd**2
        hess[:, 1] = -1.0 / sd**2
    if model.is_dichotomous:
        for col, ab in ((2, priors.guess_beta), (3, priors.upper_beta)):
            if ab is None or big_l <= col:
                continue
            al, be = ab
            x = _sigmoid(eta[:, col])
            x = np.clip(x, 1e-12, 1 - 1e-12)
            lp += (al - 1) * np.log(x) + (be - 1) * np.log1p(-x)
            grad[:, col] = (al - 1) * (1 - x) - (be - 1) * x
            hess[:, col] = -(al + be - 2) * x * (1 - x) - 1e-8
    return lp, grad, hess


# ---------------------------------------------------------------------------
# Conversion to the IRT metric
# ---------------------------------------------------------------------------


def to_irt(model: Model, eta: FloatArray) -> tuple[dict[str, FloatArray], FloatArray]:
    """Reported parameters and their Jacobian with respect to ``eta``.

    Returns ``(values, jac)``: values has ``a``, ``b``, ``c``, ``d`` (n,) and
    ``thresholds`` (n, K−1) (NaN for dichotomous items); ``jac`` is
    (n, R, L) for the R reported free parameters, in the order of
    :func:`reported_names`.
    """
    n, big_l = eta.shape
    a = eta[:, 0]
    safe_a = np.where(np.abs(a) < 1e-8, 1e-8, a)
    vals: dict[str, FloatArray] = {
        "a": a.copy(),
        "b": np.full(n, np.nan),
        "c": np.zeros(n),
        "d": np.ones(n),
    }
    names = reported_names(model, big_l)
    jac = np.zeros((n, len(names), big_l))
    jac[:, 0, 0] = 1.0
    if model.is_dichotomous:
        d = eta[:, 1]
        vals["b"] = -d / safe_a
        jac[:, 1, 0] = d / safe_a**2
        jac[:, 1, 1] = -1.0 / safe_a
        if big_l > 2:
            c = _sigmoid(eta[:, 2])
            vals["c"] = c
            jac[:, 2, 2] = c * (1 - c)
        if big_l > 3:
            u = _sigmoid(eta[:, 3])
            vals["d"] = u
            jac[:, 3, 3] = u * (1 - u)
        vals["thresholds"] = np.full((n, 1), np.nan)
        return vals, jac
    m = big_l - 1
    ints = eta[:, 1:]
    if model == Model.GRM:
        th = -ints / safe_a[:, None]
        for k in range(m):
            jac[:, 1 + k, 0] = ints[:, k] / safe_a**2
            jac[:, 1 + k, 1 + k] = -1.0 / safe_a
    else:
        prev = np.concatenate([np.zeros((n, 1)), ints[:, :-1]], axis=1)
        th = -(ints - prev) / safe_a[:, None]
        for k in range(m):
            jac[:, 1 + k, 0] = (ints[:, k] - prev[:, k]) / safe_a**2
            jac[:, 1 + k, 1 + k] = -1.0 / safe_a
            if k > 0:
                jac[:, 1 + k, k] = 1.0 / safe_a
    vals["thresholds"] = th
    return vals, jac


def reported_names(model: Model, big_l: int) -> list[str]:
    """Names of the reported free parameters, matching :func:`to_irt`'s Jacobian."""
    if model.is_dichotomous:
        return ["a", "b", "c", "d"][:big_l]
    return ["a"] + [f"b{k}" for k in range(1, big_l)]


def from_irt(
    model: Model, a: FloatArray, b: FloatArray, c: FloatArray, d: FloatArray, thr: FloatArray
) -> FloatArray:
    """eta (n, L) from IRT-metric parameters (the inverse of :func:`to_irt`)."""
    n = a.shape[0]
    if model.is_dichotomous:
        big_l = n_eta(model, 2)
        eta = np.zeros((n, big_l))
        eta[:, 0] = a
        eta[:, 1] = -a * b
        if big_l > 2:
            cc = np.clip(c, 1e-6, 1 - 1e-6)
            eta[:, 2] = np.log(cc / (1 - cc))
        if big_l > 3:
            dd = np.clip(d, 1e-6, 1 - 1e-6)
            eta[:, 3] = np.log(dd / (1 - dd))
        return eta
    m = thr.shape[1]
    eta = np.zeros((n, m + 1))
    eta[:, 0] = a
    if model == Model.GRM:
        eta[:, 1:] = -a[:, None] * thr
    else:
        eta[:, 1:] = np.cumsum(-a[:, None] * thr, axis=1)
    return eta
