"""Marginal maximum likelihood by EM (Bock & Aitkin, 1981) for mixed tests.

The latent trait is integrated on a fixed grid of ``n_quad`` equally spaced
points with normal weights. Each iteration:

* **E-step** — with the one-hot indicator matrix ``Y`` (persons × Σ K_j, see
  :mod:`calibration.data`) and the table ``log P`` (Σ K_j × Q), the
  log-likelihood of every person at every node is the single product
  ``Y @ log P`` (BLAS for dense data, a CSR product for sparse data). The
  posterior over nodes follows by a stable soft-max, and the expected counts
  ``r_jk(θ_q)`` are ``Yᵀ @ (w · posterior)``: two matrix products per
  iteration, whatever the models.
* **M-step** — every item is independent given the counts; all items of a
  model are updated together by vectorised Fisher scoring (Newton for the
  2PL and GPCM, whose Fisher and observed informations coincide) with step
  halving, so the expected complete-data log-posterior never decreases and
  neither does the marginal log-likelihood (a generalised EM).

Convergence: the largest change of any (slope–intercept) parameter below
``tol`` *and* the change of the log-posterior below ``loglik_tol`` per unit of
total weight. Otherwise a :class:`ConvergenceWarning` names both figures.

Standard errors come from the cross-product (XPD) information
``Σ_p w_p s_p s_pᵀ`` of the per-person scores of the marginal likelihood
(minus the prior's Hessian), over all parameters jointly when there are at
most ``full_se_limit`` of them, else item by item.

The parts live in their own modules: :mod:`calibration.item_groups` (the
groups of items updated together, starting values, the reported parameters),
:mod:`calibration.estep` (quadrature weights, the log-probability table and
the expected counts), :mod:`calibration.mstep` (Fisher scoring with step
halving) and :mod:`calibration.standard_errors` (the XPD information); this
module holds the estimator and its EM loop with SQUAREM acceleration.
"""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from calibration import kernels
from calibration.data import ResponseData
from calibration.estep import expected_counts, log_table, normal_weights, reduced_form
from calibration.item_groups import (
    ItemGroup,
    assemble_parameters,
    count_parameters,
    log_prior_total,
    starting_values,
)
from calibration.kernels import Priors
from calibration.mstep import update_group
from calibration.parallel import ChunkSource, DaskEStep, EStepRunner, ThreadEStep
from calibration.standard_errors import standard_errors
from cat_engine.irt import ItemParameters, Model

if TYPE_CHECKING:
    from calibration.stream import ParquetResponses

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
ProgressFn = Callable[[int, float, float, float], None]


class ConvergenceWarning(UserWarning):
    """EM stopped at ``max_iter`` before meeting its convergence criteria."""


def stderr_progress(it: int, loglik: float, change: float, dparam: float) -> None:
    """A progress line on stderr (overwritten in place)."""
    print(
        f"\riteration {it:4d}  log-likelihood {loglik:,.3f}  change {change:.2e}  "
        f"max param change {dparam:.2e}",
        end="",
        file=sys.stderr,
        flush=True,
    )


class MMLEstimator:
    """Item calibration by marginal maximum likelihood (EM), sklearn-style.

    Parameters
    ----------
    model:
        ``"1pl"``/``"rasch"``, ``"2pl"``, ``"3pl"``, ``"4pl"``, ``"grm"``,
        ``"gpcm"`` for every item, or a sequence with one name per item
        (mixed tests). 1PL items share one estimated slope (as R ltm's
        ``rasch``) with θ ~ N(0, 1).
    n_quad, theta_range:
        quadrature nodes (equally spaced) and their range.
    priors:
        ``"default"`` (see :meth:`Priors.default`: none for 1PL/2PL/GRM/GPCM,
        log-normal(0, 0.5) on a and Beta(5, 17) on c for 3PL), ``None`` for
        plain ML, a :class:`Priors` for every model, or a dict model name → Priors.
    max_iter, tol, loglik_tol:
        EM stopping rules (see the module docstring).
    anchor, anchor_items:
        fixed-parameter calibration: the items at ``anchor_items`` are held
        at ``anchor``'s values (the bank scale) and the latent mean and SD
        are estimated; the other items are calibrated on that scale.
    estimate_latent:
        estimate the latent mean/SD (default: only with anchors).
    compute_se:
        compute standard errors after convergence.
    collapse:
        ``"auto"`` merges identical response patterns when fewer than half
        are distinct; True/False force it.
    accelerate, max_extrapolation:
        SQUAREM extrapolation every two EM steps (kept only when it raises
        the log-posterior), with the step length capped.
    n_jobs:
        threads for the E-step over chunks of persons (NumPy, BLAS, scipy's
        sparse products and pyarrow release the GIL, so threads use the cores).
    executor:
        ``None`` (threads, ``n_jobs``), or a ``distributed.Client``: the
        E-step's chunks run as Dask tasks on its workers
        (:class:`calibration.parallel.DaskEStep`; the ``dask`` extra).
    chunk_rows:
        persons per E-step chunk (default: about 4,000,000 / n_quad, which
        bounds the (rows × Q) temporaries).
    progress:
        ``None``, or a callable ``(iteration, loglik, change, max_dparam)``
        (e.g. :func:`stderr_progress`).

    Attributes (after :meth:`fit`)
    ------------------------------
    params_: :class:`ItemParameters` (IRT metric); se_: dict of (n_items,)
    arrays ``a``, ``b``, ``c``, ``d`` and (n_items, m) ``thresholds``;
    loglik_, logpost_, aic_, bic_, n_parameters_, n_iter_, converged_,
    loglik_history_, latent_mean_, latent_sd_, theta_ (Q,), weights_ (Q,).
    """

    def __init__(
        self,
        model: str | Sequence[str] = "2pl",
        *,
        n_quad: int = 41,
        theta_range: tuple[float, float] = (-6.0, 6.0),
        priors: str | Priors | dict[str, Priors] | None = "default",
        max_iter: int = 500,
        tol: float = 1e-4,
        loglik_tol: float = 1e-7,
        anchor: ItemParameters | None = None,
        anchor_items: ArrayLike | None = None,
        estimate_latent: bool | None = None,
        compute_se: bool = True,
        full_se_limit: int = 1500,
        collapse: str | bool = "auto",
        n_jobs: int = 1,
        executor: Any = None,
        chunk_rows: int | None = None,
        max_m_iter: int = 10,
        accelerate: bool = True,
        max_extrapolation: float = 16.0,
        progress: ProgressFn | None = None,
    ) -> None:
        if n_quad < 5:
            raise ValueError(f"n_quad must be ≥ 5, got {n_quad}")
        if not theta_range[0] < theta_range[1]:
            raise ValueError(f"theta_range must be increasing, got {theta_range}")
        if max_iter < 1:
            raise ValueError("max_iter must be ≥ 1")
        if tol <= 0 or loglik_tol <= 0:
            raise ValueError("tol and loglik_tol must be > 0")
        if (anchor is None) != (anchor_items is None):
            raise ValueError("anchor and anchor_items go together")
        if collapse not in ("auto", True, False):
            raise ValueError("collapse must be 'auto', True or False")
        if n_jobs < 1:
            raise ValueError("n_jobs must be ≥ 1")
        if isinstance(model, str):
            Model.parse(model)
        else:
            for name in model:
                Model.parse(name)
        if isinstance(priors, str) and priors != "default":
            raise ValueError("priors must be 'default', None, a Priors or a dict")
        self.model = model
        self.n_quad = n_quad
        self.theta_range = theta_range
        self.priors = priors
        self.max_iter = max_iter
        self.tol = tol
        self.loglik_tol = loglik_tol
        self.anchor = anchor
        self.anchor_items = anchor_items
        self.estimate_latent = estimate_latent
        self.compute_se = compute_se
        self.full_se_limit = full_se_limit
        self.collapse = collapse
        self.n_jobs = n_jobs
        self.executor = executor
        self.chunk_rows = chunk_rows
        self.max_m_iter = max_m_iter
        self.accelerate = accelerate
        self.max_extrapolation = max_extrapolation
        self.progress = progress

    # ------------------------------------------------------------------ setup

    def _priors_for(self, model: Model) -> Priors:
        if self.priors is None:
            return Priors()
        if self.priors == "default":
            return Priors.default(model)
        if isinstance(self.priors, Priors):
            return self.priors
        assert isinstance(self.priors, dict)
        for name, pr in self.priors.items():
            if Model.parse(name) == model:
                return pr
        return Priors.default(model)

    def _item_models(self, n_items: int) -> NDArray[np.int8]:
        if isinstance(self.model, str):
            return np.full(n_items, Model.parse(self.model), dtype=np.int8)
        if len(self.model) != n_items:
            raise ValueError(f"model has {len(self.model)} entries for {n_items} items")
        return np.array([Model.parse(m) for m in self.model], dtype=np.int8)

    def _validate(
        self, data: ResponseData | ParquetResponses, models: NDArray[np.int8], fixed: IntArray
    ) -> None:
        free = np.ones(data.n_items, dtype=bool)
        free[fixed] = False
        counts = data.counts()
        nobody = np.flatnonzero(free & (counts <= 0))
        if nobody.size:
            raise ValueError(f"item {nobody[0]}: nobody answered it (cannot be calibrated)")
        cc = data.category_counts()
        off = data.offsets
        for j in np.flatnonzero(free):
            k = data.n_categories[j]
            seen = cc[off[j] : off[j] + k] > 0
            if Model(models[j]).is_dichotomous and k != 2:
                raise ValueError(
                    f"item {j}: {k} categories but model {Model(models[j]).label} is dichotomous"
                )
            if seen.sum() < 2:
                raise ValueError(f"item {j}: no variance (every answer in one category)")
            if not seen.all():
                miss = int(np.flatnonzero(~seen)[0])
                raise ValueError(f"item {j}: category {miss} never observed (merge categories)")

    # ------------------------------------------------------------------ steps
    # The E-step, M-step and SEs are functions of explicit arrays (see their
    # modules); these methods pass them the estimator's current state.

    def _log_table(self, groups: list[ItemGroup], ncol: int) -> FloatArray:
        return log_table(groups, ncol, self.theta_)

    def _estep(
        self, source: ChunkSource, table: FloatArray
    ) -> tuple[float, FloatArray, FloatArray]:
        """Marginal log-likelihood, expected counts (ncol, Q), node masses (Q,).

        The chunks of ``source`` go to the estimator's runner (threads or Dask
        tasks, :mod:`calibration.parallel`); their results are summed in order.
        """
        return expected_counts(source, table, self.weights_, self._reduced, self._runner)

    def _mstep(self, g: ItemGroup, counts: FloatArray) -> None:
        update_group(g, counts, self.theta_, self._priors_for(g.model), self.max_m_iter)

    def _normal_weights(self, mu: float, sd: float) -> FloatArray:
        return normal_weights(self.theta_, mu, sd)

    def _log_prior_total(self, free: list[ItemGroup]) -> float:
        return log_prior_total(free, self._priors_for)

    def _standard_errors(
        self, groups: list[ItemGroup], n_items: int, ncol: int
    ) -> dict[str, FloatArray]:
        """Delta-method SEs of the reported parameters from the XPD information."""
        return standard_errors(
            groups,
            n_items,
            ncol,
            theta=self.theta_,
            weights=self.weights_,
            offsets=self.data_.offsets,
            source=self._source,
            reduced=self._reduced,
            priors_for=self._priors_for,
            full_se_limit=self.full_se_limit,
            n_thresholds=self.params_.thresholds.shape[1],
        )

    # ------------------------------------------------------------------ fit

    def fit(
        self,
        responses: ResponseData | ParquetResponses | ArrayLike,
        weights: ArrayLike | None = None,
        start: ItemParameters | None = None,
    ) -> MMLEstimator:
        """Calibrate the items. ``responses``: a :class:`ResponseData`, a
        :class:`~calibration.stream.ParquetResponses` (streamed, never held in
        memory), or a
        (n_persons, n_items) category matrix (negative/NaN = not presented);
        ``weights`` (n_persons,) case weights for a matrix; ``start``:
        optional starting values. Returns self."""
        from calibration.stream import ParquetResponses

        data: ResponseData | ParquetResponses
        if isinstance(responses, ResponseData | ParquetResponses):
            if weights is not None:
                raise ValueError("pass weights inside ResponseData")
            data = responses
        else:
            data = ResponseData.from_dense(responses, weights=weights)
        n_items = data.n_items
        models = self._item_models(n_items)
        fixed = np.zeros(0, dtype=np.int64)
        if self.anchor is not None and self.anchor_items is not None:
            fixed = np.asarray(self.anchor_items, dtype=np.int64)
            if fixed.shape[0] != self.anchor.n_items:
                raise ValueError("anchor_items and anchor have different lengths")
            models[fixed] = self.anchor.model
            ncat = data.n_categories.copy()
            ncat[fixed] = np.maximum(ncat[fixed], self.anchor.n_categories)
            data.n_categories = ncat
        self._validate(data, models, fixed)
        n_persons_raw = data.n_persons
        total_weight = data.total_weight()
        do_collapse = self.collapse is True or (
            self.collapse == "auto" and data.distinct_pattern_share() < 0.5
        )
        if do_collapse and isinstance(data, ResponseData):
            data, _ = data.collapse()
        self.data_ = data
        lo, hi = self.theta_range
        self.theta_ = np.linspace(lo, hi, self.n_quad)
        self.latent_mean_, self.latent_sd_ = 0.0, 1.0
        self.weights_ = self._normal_weights(0.0, 1.0)
        est_latent = self.estimate_latent if self.estimate_latent is not None else fixed.size > 0

        # groups ------------------------------------------------------------
        off = data.offsets
        is_fixed = np.zeros(n_items, dtype=bool)
        is_fixed[fixed] = True
        cc = data.category_counts()
        groups: list[ItemGroup] = []
        for flag in (False, True):
            keys = sorted(
                {
                    (int(models[j]), int(data.n_categories[j]))
                    for j in range(n_items)
                    if is_fixed[j] == flag
                }
            )
            for mcode, k in keys:
                items = np.flatnonzero(
                    (models == mcode) & (data.n_categories == k) & (is_fixed == flag)
                )
                model = Model(mcode)
                cols = off[items][:, None] + np.arange(k)[None, :]
                if flag:
                    assert self.anchor is not None
                    where = np.array([int(np.flatnonzero(fixed == j)[0]) for j in items])
                    sub = self.anchor.subset(where)
                    eta = kernels.from_irt(
                        model, sub.a, sub.b, sub.c, sub.d, sub.thresholds[:, : k - 1]
                    )
                elif start is not None:
                    sub = start.subset(items)
                    eta = kernels.from_irt(
                        model, sub.a, sub.b, sub.c, sub.d, sub.thresholds[:, : k - 1]
                    )
                else:
                    eta = starting_values(model, cc[cols])
                grp = ItemGroup(model, k, items, eta, flag)
                grp.cols = cols
                groups.append(grp)
        self.groups_ = groups

        # indicator chunks ------------------------------------------------------
        ncol = int(off[-1])
        # chunks bound the (rows × Q) temporaries and feed the threads or tasks
        rows_per_chunk = self.chunk_rows or max(1024, int(4_000_000 // max(self.n_quad, 1)))
        self._source: ChunkSource = data.chunk_source(rows_per_chunk)
        source: ChunkSource = self._source
        self._runner: EStepRunner = (
            ThreadEStep(self.n_jobs) if self.executor is None else DaskEStep(self.executor)
        )
        complete = data.nnz == data.n_persons * n_items
        self._reduced: dict[str, Any] | None
        self._reduced, source = reduced_form(source, off, complete)

        # EM loop ----------------------------------------------------------------
        free = [g for g in groups if not g.fixed]
        wtot = max(total_weight, 1.0)

        def state() -> FloatArray:
            parts = [g.eta.ravel() for g in free]
            if est_latent:
                parts.append(np.array([self.latent_mean_, math.log(self.latent_sd_)]))
            return np.concatenate(parts) if parts else np.zeros(0)

        def set_state(x: FloatArray) -> None:
            pos = 0
            for g in free:
                g.eta[:] = x[pos : pos + g.eta.size].reshape(g.eta.shape)
                pos += g.eta.size
            if est_latent:
                self.latent_mean_, self.latent_sd_ = float(x[pos]), math.exp(float(x[pos + 1]))
                self.weights_ = self._normal_weights(self.latent_mean_, self.latent_sd_)

        def estep() -> tuple[float, float, FloatArray, FloatArray]:
            ll, counts, mass = self._estep(source, self._log_table(groups, ncol))
            obj = ll + self._log_prior_total(free)
            return ll, (obj if math.isfinite(obj) else -math.inf), counts, mass

        def em_step(counts: FloatArray, mass: FloatArray) -> None:
            for g in free:
                self._mstep(g, counts)
            if est_latent:
                mu = float(mass @ self.theta_ / mass.sum())
                sd = math.sqrt(float(mass @ (self.theta_ - mu) ** 2 / mass.sum()))
                self.latent_mean_, self.latent_sd_ = mu, sd
                self.weights_ = self._normal_weights(mu, sd)

        ll, obj, counts, mass = estep()
        history = [ll]
        obj_history = [obj]
        converged = False
        it = 0
        dparam = math.inf
        dobj = math.inf
        x0 = state()
        pending: list[FloatArray] = []  # EM iterates of the current SQUAREM cycle
        while it < self.max_iter:
            em_step(counts, mass)
            it += 1
            x1 = state()
            ll, new_obj, counts, mass = estep()
            dparam = float(np.max(np.abs(x1 - x0), initial=0.0))
            dobj = new_obj - obj
            obj = new_obj
            history.append(ll)
            obj_history.append(obj)
            if self.progress is not None:
                self.progress(it, ll, dobj, dparam)
            if dparam < self.tol and abs(dobj) < self.loglik_tol * wtot:
                converged = True
                break
            pending.append(x0)
            x0 = x1
            if self.accelerate and len(pending) == 2:
                # SQUAREM (Varadhan & Roland 2008, scheme S3): extrapolate along
                # the last two EM steps; kept only if the log-posterior rises, so
                # the sequence stays monotone.
                start0 = pending[0]
                r = pending[1] - start0
                v = x1 - pending[1] - r
                pending = []
                nv = float(np.linalg.norm(v))
                if nv == 0.0:
                    continue
                alpha = -float(np.linalg.norm(r)) / nv
                if alpha >= -1.0:
                    continue
                alpha = max(alpha, -self.max_extrapolation)
                proposal = start0 - 2 * alpha * r + alpha**2 * v
                saved = (ll, obj, counts, mass)
                set_state(proposal)
                ll_p, obj_p, counts_p, mass_p = estep()
                if math.isfinite(obj_p) and obj_p > obj:
                    ll, counts, mass = ll_p, counts_p, mass_p
                    dobj = obj_p - obj
                    obj = obj_p
                    x0 = proposal
                    history.append(ll)
                    obj_history.append(obj)
                else:
                    set_state(x1)
                    ll, obj, counts, mass = saved
        if self.progress is stderr_progress:  # ends its \r line (other callbacks end their own)
            print(file=sys.stderr)
        if not converged:
            warnings.warn(
                f"EM did not converge in {self.max_iter} iterations: last log-likelihood "
                f"change {dobj:.3g} (tolerance {self.loglik_tol * total_weight:.3g}), "
                f"largest parameter change {dparam:.3g} (tolerance {self.tol:.3g})",
                ConvergenceWarning,
                stacklevel=2,
            )
        self.n_iter_ = it
        self.converged_ = converged
        self.loglik_ = ll
        self.logpost_ = obj
        self.loglik_history_ = np.array(history)
        self.logpost_history_ = np.array(obj_history)
        self.n_persons_ = n_persons_raw
        self.n_parameters_ = count_parameters(free) + (2 if est_latent else 0)
        n_eff = total_weight
        self.aic_ = -2 * ll + 2 * self.n_parameters_
        self.bic_ = -2 * ll + self.n_parameters_ * math.log(max(n_eff, 1.0))
        self.params_ = assemble_parameters(groups, n_items, data.n_categories)
        self.se_ = self._standard_errors(groups, n_items, ncol) if self.compute_se else None
        return self
