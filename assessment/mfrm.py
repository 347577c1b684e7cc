"""A many-facet Rasch model: candidates × criteria × assessors (rating-scale or
partial-credit form).

The probability that assessor ``j`` gives candidate ``n`` level ``k`` (of
``0..m``) on criterion ``i`` is (Linacre 1989; Eckes 2015, ch. 4)::

    log P(k) / P(k-1) = theta_n - delta_i - alpha_j - tau_k

with ``theta`` the candidate's ability, ``delta`` the criterion's difficulty,
``alpha`` the assessor's **severity** (positive: harsher than the panel) and
``tau`` the thresholds between adjacent levels, shared by every criterion in
the rating-scale form (Andrich 1978), each criterion's own in the
partial-credit form (``form="partial_credit"``: ``tau_ik``; Masters 1982).
Difficulties, severities and each set of thresholds are centred on zero, which
fixes the origin of the logit scale.

Estimation is joint maximum likelihood, as in Facets, with one deliberate
change: a weak normal prior on every parameter (``prior_sd``, 5 logits
by default) keeps an element scored only at the top or bottom level (a
candidate, a criterion, an assessor) finite instead of infinite; it moves the
others by a few hundredths of a logit.
It is maximised by Newton–Raphson on all parameters at once (a handful of
iterations; the ability block of the information is diagonal, so each step
solves only a small system for the other facets).
Standard errors are the model (information) ones; infit and outfit are the
mean squares of the residuals (expected 1; Wright & Linacre's 0.5–1.5 is
"productive for measurement").

The **fair average** of a candidate is the score the model expects from an
assessor of average severity on a criterion of average difficulty, on the
rubric's own scale (Linacre's "fair-M average"): the policy may rank on it
instead of the raw mean, which rewards a candidate for drawing a lenient panel.

Levels nobody used are left out of the scale (their thresholds would be
infinite), and the remaining ones keep their order and their points.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.linalg import null_space
from scipy.special import logsumexp, softmax

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


class MfrmError(ValueError):
    """The ratings cannot be modelled (shape, too few levels, no variation)."""


@dataclass(frozen=True)
class Ratings:
    """Observed ratings, one element per rating (``(n_ratings,)`` each).

    ``candidate``, ``criterion`` and ``assessor`` are 0-based indices;
    ``points`` the level given (the rubric's points, any ordered numbers).
    """

    candidate: IntArray
    criterion: IntArray
    assessor: IntArray
    points: FloatArray
    n_candidates: int
    n_criteria: int
    n_assessors: int

    @classmethod
    def of(
        cls,
        candidate: npt.ArrayLike,
        criterion: npt.ArrayLike,
        assessor: npt.ArrayLike,
        points: npt.ArrayLike,
        n_candidates: int | None = None,
        n_criteria: int | None = None,
        n_assessors: int | None = None,
    ) -> Ratings:
        c = np.asarray(candidate, dtype=np.intp)
        i = np.asarray(criterion, dtype=np.intp)
        a = np.asarray(assessor, dtype=np.intp)
        p = np.asarray(points, dtype=np.float64)
        if not (c.shape == i.shape == a.shape == p.shape) or c.ndim != 1:
            raise MfrmError("candidate, criterion, assessor and points must be 1-D of one length")
        if c.size == 0:
            raise MfrmError("no ratings")
        if np.isnan(p).any():
            raise MfrmError("a rating's points are missing (nan)")
        for name, arr in (("candidate", c), ("criterion", i), ("assessor", a)):
            if arr.min() < 0:
                raise MfrmError(f"{name} indices must be >= 0")
        return cls(
            c,
            i,
            a,
            p,
            int(c.max()) + 1 if n_candidates is None else n_candidates,
            int(i.max()) + 1 if n_criteria is None else n_criteria,
            int(a.max()) + 1 if n_assessors is None else n_assessors,
        )


def _category_probabilities(b: FloatArray, cum_tau: FloatArray) -> FloatArray:
    """``P(level k)`` for measures ``b: (n,)`` → ``(n, m + 1)``; ``cum_tau: (m + 1,)``."""
    k = np.arange(cum_tau.size)
    return softmax(b[:, None] * k[None, :] - cum_tau[None, :], axis=1)


def expected_points(
    b: npt.ArrayLike, thresholds: npt.ArrayLike, levels: npt.ArrayLike
) -> FloatArray:
    """Expected points at measures ``b: (n,)`` (logits) on a scale with
    ``thresholds: (m,)`` and the levels' ``points: (m + 1,)``."""
    cum = np.concatenate([[0.0], np.cumsum(np.asarray(thresholds, dtype=np.float64))])
    probs = _category_probabilities(np.atleast_1d(np.asarray(b, dtype=np.float64)), cum)
    return probs @ np.asarray(levels, dtype=np.float64)


class ManyFacetRasch:
    """Rating-scale many-facet Rasch model, fitted by (penalised) joint ML.

    Settings only in the constructor; :meth:`fit` estimates and returns self.
    Learned state (``(n_candidates,)``, ``(n_criteria,)``, ``(n_assessors,)``
    arrays in logits unless named otherwise): ``ability_``, ``ability_se_``,
    ``difficulty_``, ``difficulty_se_``, ``severity_``, ``severity_se_``,
    ``thresholds_ (m,)``, ``levels_ (m + 1,)`` (points of the used levels),
    ``assessor_infit_``, ``assessor_outfit_``, ``candidate_infit_``,
    ``candidate_outfit_``, ``raw_average_`` and ``fair_average_`` (points),
    ``severity_reliability_``, ``log_likelihood_``, ``converged_``, ``n_iter_``;
    in the partial-credit form ``thresholds_`` is ``(n_criteria, m)`` and the fair
    average is the mean over the criteria of each one's expected points.

    ``bias_correction`` (default on) shrinks the reported severities and
    difficulties by ``(L - 1) / L``, ``L`` the ratings per candidate, undoing joint
    ML's known spread (Wright & Douglas 1977).
    """

    def __init__(
        self,
        prior_sd: float = 5.0,
        max_iter: int = 200,
        tol: float = 1e-8,
        bias_correction: bool = True,
        form: str = "rating_scale",
    ) -> None:
        if not prior_sd > 0:
            raise ValueError(f"prior_sd must be > 0 logits, got {prior_sd}")
        if max_iter < 1:
            raise ValueError(f"max_iter must be >= 1, got {max_iter}")
        if not tol > 0:
            raise ValueError(f"tol must be > 0, got {tol}")
        self.prior_sd = prior_sd
        self.max_iter = max_iter
        self.tol = tol
        if form not in ("rating_scale", "partial_credit"):
            raise ValueError(f"form must be rating_scale or partial_credit, got {form!r}")
        self.bias_correction = bias_correction
        self.form = form

    def fit(self, ratings: Ratings) -> ManyFacetRasch:
        r = ratings
        levels, x = np.unique(r.points, return_inverse=True)
        if levels.size < 2:
            raise MfrmError("every rating is the same level: the model needs at least two")
        m = levels.size - 1
        n_c, n_i, n_a = r.n_candidates, r.n_criteria, r.n_assessors
        c, i, a = r.candidate, r.criterion, r.assessor
        for name, arr, size in (
            ("candidate", c, n_c),
            ("criterion", i, n_i),
            ("assessor", a, n_a),
        ):
            if arr.max() >= size:
                raise MfrmError(f"a {name} index is >= the number of {name}s ({size})")
        prior_prec = 1.0 / self.prior_sd**2
        # Abilities start at the candidate's logit of mean score, thresholds spread evenly.
        mean_x = np.bincount(c, x, n_c) / np.maximum(np.bincount(c, minlength=n_c), 1)
        share = np.clip(mean_x / m, 0.05, 0.95)
        theta0 = np.log(share / (1 - share))
        partial = self.form == "partial_credit"
        n_g = n_i if partial else 1
        group = i if partial else np.zeros_like(i)
        tau0 = np.tile(np.linspace(-1.0, 1.0, m) if m > 1 else np.zeros(1), (n_g, 1))
        fit = _newton(
            x,
            c,
            i,
            a,
            group,
            (n_c, n_i, n_a, m, n_g),
            prior_prec,
            theta0,
            tau0,
            self.max_iter,
            self.tol,
        )
        theta, delta, alpha = fit.theta, fit.delta, fit.alpha
        tau_sets = fit.tau  # (G, m)
        tau = tau_sets[0] if not partial else tau_sets
        self.converged_ = fit.converged
        self.n_iter_ = fit.n_iter
        self.log_likelihood_ = fit.log_likelihood
        if not fit.converged:
            warnings.warn(
                f"the many-facet Rasch model did not converge in {fit.n_iter} iterations "
                f"(last step {fit.last_step:.2e} logits)",
                RuntimeWarning,
                stacklevel=2,
            )
        self.levels_ = levels
        self.ability_, self.difficulty_, self.severity_, self.thresholds_ = theta, delta, alpha, tau
        self.joint_difficulty_ = delta  # before the bias correction (fair scores use it)

        self._tau_sets = tau_sets
        b = theta[c] - delta[i] - alpha[a]
        probs = _obs_probabilities(b, _cum(tau_sets)[group])
        ks = np.arange(m + 1)
        expect = probs @ ks
        var = probs @ ks**2 - expect**2
        sq = (x - expect) ** 2
        z2 = sq / np.maximum(var, 1e-12)

        def by(index: IntArray, size: int, w: FloatArray) -> FloatArray:
            return np.bincount(index, w, size).astype(np.float64)

        info_c, info_i, info_a = by(c, n_c, var), by(i, n_i, var), by(a, n_a, var)
        self.ability_se_ = 1.0 / np.sqrt(info_c + prior_prec)
        with np.errstate(divide="ignore"):
            self.difficulty_se_ = 1.0 / np.sqrt(info_i + prior_prec)
            self.severity_se_ = 1.0 / np.sqrt(info_a + prior_prec)
            count_a = np.bincount(a, minlength=n_a)
            count_c = np.bincount(c, minlength=n_c)
            self.assessor_infit_ = by(a, n_a, sq) / info_a
            self.assessor_outfit_ = by(a, n_a, z2) / count_a
            self.candidate_infit_ = by(c, n_c, sq) / info_c
            self.candidate_outfit_ = by(c, n_c, z2) / count_c
            self.raw_average_ = by(c, n_c, r.points) / count_c
        if partial:  # the mean over the criteria of each one's expected points
            self.fair_average_ = self.fair_totals() / n_i
        else:
            self.fair_average_ = expected_points(theta, tau, levels)
        if self.bias_correction:
            # Joint ML spreads the other facets by about L / (L - 1), L the ratings per
            # candidate (Wright & Douglas 1977; Winsteps' STBIAS): the recovery study
            # shows severities 1.06x too wide with L = 18. The reported severities and
            # difficulties are shrunk back; fair averages keep the joint solution,
            # whose expected scores are consistent with the data.
            per = x.size / max(1, int((np.bincount(c, minlength=n_c) > 0).sum()))
            shrink = (per - 1) / per if per > 1 else 1.0
            self.severity_ = alpha * shrink
            self.difficulty_ = delta * shrink
            self.severity_se_ = self.severity_se_ * shrink
            self.difficulty_se_ = self.difficulty_se_ * shrink
        # Separation reliability of severities: true variance over observed (Eckes 2015, 4.3).
        observed_var = float(self.severity_.var(ddof=1)) if n_a > 1 else 0.0
        error_var = float(np.mean(self.severity_se_**2))
        self.severity_reliability_ = (
            max(0.0, (observed_var - error_var) / observed_var) if observed_var > 0 else 0.0
        )
        return self

    def fair_totals(self) -> FloatArray:
        """Each candidate's expected sum over the criteria from an assessor of
        average severity (points; ``(n_candidates,)``): the fair counterpart of the
        sum of a rubric sheet, criterion by criterion."""
        b = self.ability_[:, None] - self.joint_difficulty_[None, :]
        sets = self._tau_sets
        per = np.stack(
            [
                expected_points(b[:, k], sets[k if sets.shape[0] > 1 else 0], self.levels_)
                for k in range(b.shape[1])
            ],
            axis=1,
        )
        return per.sum(axis=1)


@dataclass(frozen=True)
class _Fit:
    theta: FloatArray
    delta: FloatArray
    alpha: FloatArray
    tau: FloatArray
    converged: bool
    n_iter: int
    log_likelihood: float
    last_step: float


def _cum(tau: FloatArray) -> FloatArray:
    """Cumulative thresholds with a leading 0: ``(G, m)`` → ``(G, m + 1)``."""
    return np.concatenate([np.zeros((tau.shape[0], 1)), np.cumsum(tau, axis=1)], axis=1)


def _obs_probabilities(b: FloatArray, cum: FloatArray) -> FloatArray:
    """``P(level k)`` per rating: ``b: (n,)`` and each rating's ``cum: (n, m + 1)``."""
    k = np.arange(cum.shape[1])
    return softmax(b[:, None] * k[None, :] - cum, axis=1)


def _newton(
    x: IntArray,
    c: IntArray,
    i: IntArray,
    a: IntArray,
    group: IntArray,
    sizes: tuple[int, int, int, int, int],
    prior_prec: float,
    theta: FloatArray,
    tau: FloatArray,
    max_iter: int,
    tol: float,
) -> _Fit:
    """Joint (penalised) ML by Newton–Raphson on all parameters at once.

    ``group: (n,)`` is each rating's threshold set (all 0 in the rating-scale
    form, the criterion in the partial-credit form); ``tau: (G, m)``. The
    information matrix has a diagonal ability block (``n_c``) and a small dense
    block for the other facets (``P = n_i + n_a + G·m``); the step solves the
    Schur complement of the ability block (``P × P``) inside the subspace where
    difficulties, severities and each threshold set sum to zero, so one iteration
    costs ``O(n_ratings · m + n_c · P²)``. Steps are halved while the penalised
    log-likelihood would fall.
    """
    n_c, n_i, n_a, m, n_g = sizes
    n_t = n_g * m
    n_p = n_i + n_a + n_t
    off = n_i + n_a
    ks = np.arange(m + 1, dtype=np.float64)
    xf = x.astype(np.float64)
    at_least = np.zeros((n_g, m))
    for h in range(m):
        at_least[:, h] = np.bincount(group, (x >= h + 1).astype(np.float64), n_g)
    # Orthonormal basis of {sum delta = 0, sum alpha = 0, each threshold set sums to 0}.
    constraints = np.zeros((2 + n_g, n_p))
    constraints[0, :n_i] = 1.0
    constraints[1, n_i:off] = 1.0
    for g in range(n_g):
        constraints[2 + g, off + g * m : off + (g + 1) * m] = 1.0
    basis = null_space(constraints)
    delta, alpha = np.zeros(n_i), np.zeros(n_a)
    tau = tau - tau.mean(axis=1, keepdims=True)
    rows = np.arange(x.size)

    def loglik(th: FloatArray, de: FloatArray, al: FloatArray, ta: FloatArray) -> float:
        b = th[c] - de[i] - al[a]
        eta = b[:, None] * ks[None, :] - _cum(ta)[group]
        ll = eta[rows, x].sum() - logsumexp(eta, axis=1).sum()
        penalty = th @ th + de @ de + al @ al + float((ta * ta).sum())
        return float(ll - 0.5 * prior_prec * penalty)

    ll = loglik(theta, delta, alpha, tau)
    step = np.inf
    for it in range(1, max_iter + 1):
        b = theta[c] - delta[i] - alpha[a]
        probs = _obs_probabilities(b, _cum(tau)[group])
        mean = probs @ ks
        var = probs @ ks**2 - mean**2
        tail = np.cumsum(probs[:, ::-1], axis=1)[:, ::-1]  # P(X >= k), (n, m + 1)
        ge = tail[:, 1:]  # P(X >= h), h = 1..m
        k_tail = np.cumsum((probs * ks)[:, ::-1], axis=1)[:, ::-1][:, 1:]  # E[X; X >= h]
        cov_xh = k_tail - mean[:, None] * ge  # Cov(X, 1[X >= h]), (n, m)
        resid = xf - mean
        # The log-likelihood's gradient, (theta) and (delta, alpha, tau).
        g_tau = np.stack([np.bincount(group, ge[:, h], n_g) for h in range(m)], axis=1)
        g_theta = np.bincount(c, resid, n_c) - prior_prec * theta
        g_psi = np.concatenate(
            [
                -np.bincount(i, resid, n_i),
                -np.bincount(a, resid, n_a),
                (g_tau - at_least).reshape(-1),
            ]
        ) - prior_prec * np.concatenate([delta, alpha, tau.reshape(-1)])
        # The information: Var of the scores (X for theta, -X for delta and alpha,
        # -1[X >= h] for tau_gh).
        d = np.bincount(c, var, n_c) + prior_prec
        cross = np.zeros((n_c, n_p))
        flat = cross.reshape(-1)
        flat += np.bincount(c * n_p + i, -var, n_c * n_p)
        flat += np.bincount(c * n_p + n_i + a, -var, n_c * n_p)
        tcol = off + group * m  # each rating's first threshold column
        for h in range(m):
            flat += np.bincount(c * n_p + tcol + h, -cov_xh[:, h], n_c * n_p)
        info = np.zeros((n_p, n_p))
        info[:n_i, :n_i] = np.diag(np.bincount(i, var, n_i))
        info[n_i:off, n_i:off] = np.diag(np.bincount(a, var, n_a))
        ia = np.bincount(i * n_a + a, var, n_i * n_a).reshape(n_i, n_a)
        info[:n_i, n_i:off] = ia
        info[n_i:off, :n_i] = ia.T
        it_ = np.zeros((n_i, n_t))
        at_ = np.zeros((n_a, n_t))
        for h in range(m):
            it_ += np.bincount(i * n_t + (tcol - off) + h, cov_xh[:, h], n_i * n_t).reshape(
                n_i, n_t
            )
            at_ += np.bincount(a * n_t + (tcol - off) + h, cov_xh[:, h], n_a * n_t).reshape(
                n_a, n_t
            )
        info[:n_i, off:] = it_
        info[off:, :n_i] = it_.T
        info[n_i:off, off:] = at_
        info[off:, n_i:off] = at_.T
        hh = np.arange(m)
        for g in range(n_g):
            sel = group == g
            ge_g = ge[sel]
            block = ge_g.sum(axis=0)[np.maximum(hh[:, None], hh[None, :])] - ge_g.T @ ge_g
            info[off + g * m : off + (g + 1) * m, off + g * m : off + (g + 1) * m] = block
        info[np.diag_indices(n_p)] += prior_prec
        # Schur complement of the diagonal ability block, restricted to the constraints.
        scaled = cross / d[:, None]
        schur = info - cross.T @ scaled
        rhs = g_psi - scaled.T @ g_theta
        reduced = basis.T @ schur @ basis
        d_psi = basis @ np.linalg.lstsq(reduced, basis.T @ rhs, rcond=None)[0]
        d_theta = (g_theta - cross @ d_psi) / d
        full = np.concatenate([d_theta, d_psi])
        step = float(np.abs(full).max())
        if step > 2.0:  # keep far-off starts from overshooting
            d_theta, d_psi, step = d_theta * 2.0 / step, d_psi * 2.0 / step, 2.0
        for _ in range(30):
            nt = theta + d_theta
            nd, na_, nta = (
                delta + d_psi[:n_i],
                alpha + d_psi[n_i:off],
                tau + d_psi[off:].reshape(n_g, m),
            )
            new_ll = loglik(nt, nd, na_, nta)
            if new_ll >= ll - 1e-9 * abs(ll):
                break
            d_theta, d_psi, step = d_theta / 2, d_psi / 2, step / 2
        theta, delta, alpha, tau, ll = nt, nd, na_, nta, new_ll
        if step < tol:
            return _Fit(theta, delta, alpha, tau, True, it, ll, step)
    return _Fit(theta, delta, alpha, tau, False, max_iter, ll, step)


def simulate(
    ability: FloatArray,
    difficulty: FloatArray,
    severity: FloatArray,
    thresholds: FloatArray,
    assessors_of: IntArray,
    rng: np.random.Generator,
) -> Ratings:
    """Ratings drawn from the model (levels ``0..m``), for recovery studies.

    ``assessors_of: (n_candidates, n_per_candidate)`` lists which assessors
    score each candidate, on every criterion; ``thresholds: (m,)`` (rating
    scale) or ``(n_criteria, m)`` (partial credit).
    """
    n_c, per = assessors_of.shape
    n_i = difficulty.size
    cand = np.repeat(np.arange(n_c), per * n_i)
    crit = np.tile(np.arange(n_i), n_c * per)
    assr = np.repeat(assessors_of.reshape(-1), n_i)
    b = ability[cand] - difficulty[crit] - severity[assr]
    sets = np.atleast_2d(thresholds)
    probs = _obs_probabilities(b, _cum(sets)[crit if sets.shape[0] > 1 else 0 * crit])
    u = rng.random(b.size)
    x = (np.cumsum(probs, axis=1) < u[:, None]).sum(axis=1)
    x = np.minimum(x, sets.shape[1])
    return Ratings.of(cand, crit, assr, x.astype(np.float64), n_c, n_i, severity.size)
