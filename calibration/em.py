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
"""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from calibration import kernels
from calibration.data import ResponseData
from calibration.kernels import PMIN, Priors

if TYPE_CHECKING:
    from calibration.stream import ParquetResponses
from calibration.parallel import (
    ChunkSource,
    DaskEStep,
    DenseChunks,
    EStepRunner,
    InMemoryChunks,
    ThreadEStep,
)
from cat_engine.irt import ItemParameters, Model

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
ProgressFn = Callable[[int, float, float, float], None]


class ConvergenceWarning(UserWarning):
    """EM stopped at ``max_iter`` before meeting its convergence criteria."""


@dataclass
class _Group:
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

    def _init_eta(self, model: Model, r: FloatArray) -> FloatArray:
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

    # ------------------------------------------------------------------ E-step

    def _log_table(self, groups: list[_Group], ncol: int) -> FloatArray:
        table = np.zeros((ncol, self.theta_.shape[0]))
        for g in groups:
            p = kernels.probs(g.model, g.eta, self.theta_)  # (n, Q, K)
            lp = np.log(np.maximum(p, PMIN))
            table[g.cols.ravel()] = lp.transpose(0, 2, 1).reshape(-1, lp.shape[1])
        return table

    def _estep(
        self, source: ChunkSource, table: FloatArray
    ) -> tuple[float, FloatArray, FloatArray]:
        """Marginal log-likelihood, expected counts (ncol, Q), node masses (Q,).

        The chunks of ``source`` go to the estimator's runner (threads or Dask
        tasks, :mod:`calibration.parallel`); their results are summed in order.
        """
        logw = np.log(self.weights_)
        red = self._reduced
        if red is not None:
            # complete dense data: every row holds exactly one category per item,
            # so log L = Y₊ (log P_k − log P_0) + Σ_j log P_j0, with Y₊ the
            # indicator columns of the categories above 0 (half the work for
            # dichotomous items)
            nz, zero_of = red["nonzero"], red["zero_of"]
            table_use = table[nz] - table[zero_of]
            shift = logw + table[red["zero"]].sum(axis=0)
        else:
            table_use = table
            shift = logw
        ll, counts, mass = self._runner(source, np.ascontiguousarray(table_use), shift)
        if red is not None:
            # category 0 gets what the other categories leave of each node's mass
            full = np.empty((table.shape[0], table.shape[1]))
            full[red["nonzero"]] = counts
            per_item = np.add.reduceat(counts, red["starts"], axis=0)
            full[red["zero"]] = mass[None, :] - per_item
            counts = full
        return ll, counts, mass

    # ------------------------------------------------------------------ M-step

    def _qfun(self, g: _Group, r: FloatArray, eta: FloatArray, pri: Priors) -> FloatArray:
        """Expected complete-data log-posterior per item (n,); −inf if invalid."""
        p = kernels.probs(g.model, eta, self.theta_)
        bad = (p <= 0).any(axis=(1, 2)) | ~np.isfinite(eta).all(axis=1)
        val = np.einsum("nqk,nqk->n", r, np.log(np.maximum(p, PMIN)))
        val += kernels.log_prior(g.model, eta, pri)[0]
        if pri.slope_lognormal is not None:
            bad |= eta[:, 0] <= 0
        return np.where(bad, -np.inf, val)

    def _mstep(self, g: _Group, counts: FloatArray) -> None:
        r = counts[g.cols].transpose(0, 2, 1)  # (n, Q, K)
        nq = r.sum(axis=2)  # (n, Q)
        pri = self._priors_for(g.model)
        shared_a = g.model == Model.ONE_PL
        for _ in range(self.max_m_iter):
            p, dp = kernels.probs_and_derivs(g.model, g.eta, self.theta_)
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
            moved = self._halve(g, r, pri, step)
            if shared_a:
                moved = max(moved, self._shared_slope_step(g, r, nq, pri))
            if moved < 1e-8:
                break

    def _halve(self, g: _Group, r: FloatArray, pri: Priors, step: FloatArray) -> float:
        """Apply ``step`` item by item, halving where it would lower Q."""
        base = self._qfun(g, r, g.eta, pri)
        t = np.ones(g.eta.shape[0])
        accepted = np.zeros(g.eta.shape[0], dtype=bool)
        for _ in range(12):
            trial = g.eta + t[:, None] * step
            q = self._qfun(g, r, trial, pri)
            ok = ~accepted & (q >= base - 1e-10 * np.abs(base))
            g.eta[ok] = trial[ok]
            accepted |= ok
            if accepted.all():
                break
            t = np.where(accepted, t, t * 0.5)
        t = np.where(accepted, t, 0.0)
        return float(np.max(np.abs(t[:, None] * step), initial=0.0))

    def _shared_slope_step(self, g: _Group, r: FloatArray, nq: FloatArray, pri: Priors) -> float:
        p, dp = kernels.probs_and_derivs(g.model, g.eta, self.theta_)
        pc = np.maximum(p, PMIN)
        grad = float(np.einsum("nqk,nqk->", r / pc, dp[..., 0]))
        fish = float(np.sum(dp[..., 0] ** 2 * (nq[:, :, None] / pc)))
        _, pg, ph = kernels.log_prior(g.model, g.eta[:1], pri)
        grad += float(pg[0, 0])
        fish -= float(ph[0, 0])
        step = float(np.clip(grad / max(fish, 1e-12), -0.5, 0.5))
        base = float(self._qfun(g, r, g.eta, pri).sum())
        for _ in range(12):
            trial = g.eta.copy()
            trial[:, 0] += step
            if float(self._qfun(g, r, trial, pri).sum()) >= base - 1e-10 * abs(base):
                g.eta[:] = trial
                return abs(step)
            step *= 0.5
        return 0.0

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
        groups: list[_Group] = []
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
                    eta = self._init_eta(model, cc[cols])
                grp = _Group(model, k, items, eta, flag)
                grp.cols = cols
                groups.append(grp)
        self.groups_ = groups

        # indicator chunks ------------------------------------------------------
        ncol = int(off[-1])
        # chunks bound the (rows × Q) temporaries and feed the threads or tasks
        rows_per_chunk = self.chunk_rows or max(1024, int(4_000_000 // max(self.n_quad, 1)))
        self._source: ChunkSource = data.chunk_source(rows_per_chunk)
        source = self._source
        self._runner: EStepRunner = (
            ThreadEStep(self.n_jobs) if self.executor is None else DaskEStep(self.executor)
        )
        self._reduced: dict[str, Any] | None = None
        complete = data.nnz == data.n_persons * n_items
        if isinstance(source, DenseChunks) or (
            isinstance(source, InMemoryChunks)
            and complete
            and all(isinstance(c, np.ndarray) for c in source.chunks)
        ):
            zero = off[:-1]
            nonzero = np.setdiff1d(np.arange(ncol), zero)
            item_of_col = np.repeat(np.arange(n_items), np.diff(off))
            reduced = (
                source.reduced(nonzero)
                if isinstance(source, DenseChunks)
                else InMemoryChunks(
                    [np.ascontiguousarray(c[:, nonzero]) for c in source.chunks], source.weights
                )
            )
            self._reduced = {
                "zero": zero,
                "nonzero": nonzero,
                "zero_of": zero[item_of_col[nonzero]],
                "starts": np.searchsorted(item_of_col[nonzero], np.arange(n_items)),
                "chunks": reduced.chunks,
                "weights": reduced.weights,
            }
            source = reduced

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
        self.n_parameters_ = self._count_params(free) + (2 if est_latent else 0)
        n_eff = total_weight
        self.aic_ = -2 * ll + 2 * self.n_parameters_
        self.bic_ = -2 * ll + self.n_parameters_ * math.log(max(n_eff, 1.0))
        self.params_ = self._assemble(groups, n_items, data.n_categories)
        self.se_ = self._standard_errors(groups, n_items, ncol) if self.compute_se else None
        return self

    # ------------------------------------------------------------------ helpers

    def _normal_weights(self, mu: float, sd: float) -> FloatArray:
        w = np.exp(-0.5 * ((self.theta_ - mu) / sd) ** 2)
        return np.asarray(w / w.sum(), dtype=np.float64)

    def _log_prior_total(self, free: list[_Group]) -> float:
        total = 0.0
        for g in free:
            lp = kernels.log_prior(g.model, g.eta, self._priors_for(g.model))[0]
            total += float(lp[:1].sum()) if g.model == Model.ONE_PL else float(lp.sum())
        return total

    @staticmethod
    def _count_params(free: list[_Group]) -> int:
        n = 0
        for g in free:
            if g.model == Model.ONE_PL:
                n += g.items.size + 1
            else:
                n += g.eta.size
        return n

    @staticmethod
    def _assemble(groups: list[_Group], n_items: int, ncat: IntArray) -> ItemParameters:
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

    # ------------------------------------------------------------------ SEs

    def _standard_errors(
        self, groups: list[_Group], n_items: int, ncol: int
    ) -> dict[str, FloatArray]:
        """Delta-method SEs of the reported parameters from the XPD information."""
        free = [g for g in groups if not g.fixed]
        q = self.theta_.shape[0]
        lmax = max((g.eta.shape[1] for g in free), default=1)
        # gtab[col, q, l]: ∂ log P(category of col | θ_q) / ∂ eta_l of that item
        gtab = np.zeros((ncol, q, lmax))
        pidx = np.full((ncol, lmax), -1, dtype=np.int64)  # global parameter index
        n_par = 0
        for g in free:
            p, dp = kernels.probs_and_derivs(g.model, g.eta, self.theta_)
            gl = dp / np.maximum(p, PMIN)[..., None]  # (n, Q, K, L)
            big_l = g.eta.shape[1]
            gtab[g.cols.ravel(), :, :big_l] = gl.transpose(0, 2, 1, 3).reshape(-1, q, big_l)
            ids = np.zeros((g.items.size, big_l), dtype=np.int64)
            if g.model == Model.ONE_PL:
                ids[:, 0] = n_par
                ids[:, 1] = n_par + 1 + np.arange(g.items.size)
                n_par += 1 + g.items.size
            else:
                ids[:] = n_par + np.arange(g.items.size * big_l).reshape(g.items.size, big_l)
                n_par += g.items.size * big_l
            pidx[g.cols.ravel(), :big_l] = np.repeat(ids, g.n_cat, axis=0)
        full = n_par <= self.full_se_limit
        info = np.zeros((n_par, n_par)) if full else np.zeros((n_par, lmax))
        table = self._log_table(groups, ncol)
        logw = np.log(self.weights_)
        block_info = np.zeros((n_items, lmax, lmax)) if not full else None
        item_of_col = np.repeat(np.arange(n_items), np.diff(self.data_.offsets))
        gtab_l = [np.ascontiguousarray(gtab[:, :, l1]) for l1 in range(lmax)]
        shared_slope = any(g.model == Model.ONE_PL for g in free)
        dense_only = isinstance(self._source, DenseChunks) or (
            isinstance(self._source, InMemoryChunks)
            and all(isinstance(c, np.ndarray) for c in self._source.chunks)
        )
        if not (dense_only and full and not shared_slope):
            # only sparse data, the item-block information or a shared 1PL slope need it
            import scipy.sparse as sp
        # bmap[l]: (ncol, n_par) 0/1, indicator column → its item's parameter l (1PL only)
        bmaps = []
        for l1 in range(lmax if shared_slope else 0):
            ok = pidx[:, l1] >= 0
            bmaps.append(
                sp.csr_matrix(
                    (np.ones(int(ok.sum())), (np.flatnonzero(ok), pidx[ok, l1])),
                    shape=(ncol, n_par),
                )
            )
        item_starts = self.data_.offsets[:-1]
        red = self._reduced
        if red is not None and not shared_slope:
            # complete dense data: a person's score for item j is
            # post @ G_j0 + Σ_{k≥1} y_jk post @ (G_jk − G_j0), so only the
            # categories above 0 are multiplied (as in the E-step)
            g_zero = [np.ascontiguousarray(t[red["zero"]].T) for t in gtab_l]
            g_rest = [
                np.ascontiguousarray((t[red["nonzero"]] - t[red["zero_of"]]).T) for t in gtab_l
            ]
            one_each = red["nonzero"].shape[0] == n_items  # dichotomous: one column per item
        if red is not None:  # the E-step's reduced form (half the columns)
            table_red = np.ascontiguousarray(table[red["nonzero"]] - table[red["zero_of"]])
            shift_red = logw + table[red["zero"]].sum(axis=0)
        for c in range(self._source.n_chunks):
            if red is not None and full and not shared_slope:
                # the reduced indicator is all this path reads
                y, w = red["chunks"][c], red["weights"][c]
            else:
                y, w = self._source.load(c)
            if red is not None:
                lik = red["chunks"][c] @ table_red
                lik += shift_red
            else:
                lik = np.asarray(y @ table) + logw
            lik -= lik.max(axis=1, keepdims=True)
            np.exp(lik, out=lik)
            lik /= lik.sum(axis=1, keepdims=True)
            if full and isinstance(y, np.ndarray) and not shared_slope:
                # dense: per-item scores S_l (rows, n_items) of each parameter
                # slot l by BLAS, side by side as S (rows, n_par) in slot order,
                # then I = (√W S)ᵀ (√W S), one symmetric rank-k product (NumPy
                # runs Aᵀ A as BLAS syrk: half the work of the general product),
                # put in the parameters' order (no (rows, n_par) scatter)
                per_l = []
                for l1 in range(lmax):
                    if red is not None:
                        z = lik @ g_rest[l1]
                        z *= red["chunks"][c]
                        per_item = z if one_each else np.add.reduceat(z, red["starts"], axis=1)
                        per_item += lik @ g_zero[l1]
                    else:
                        z = lik @ gtab_l[l1].T
                        z *= y
                        # each item's columns are contiguous: sum them per item
                        per_item = np.add.reduceat(z, item_starts, axis=1)
                    per_l.append(per_item)
                oks = [pidx[item_starts, l1] >= 0 for l1 in range(lmax)]
                order = np.concatenate([pidx[item_starts[oks[l1]], l1] for l1 in range(lmax)])
                s_mat = np.concatenate([per_l[l1][:, oks[l1]] for l1 in range(lmax)], axis=1)
                s_mat *= np.sqrt(w)[:, None]  # case weights are ≥ 0
                info[np.ix_(order, order)] += s_mat.T @ s_mat
                continue
            if full and isinstance(y, np.ndarray):
                # dense with a shared 1PL slope: S = Σ_l (Y ∘ (post @ G_lᵀ)) B_l
                score = np.zeros((y.shape[0], n_par))
                for l1 in range(lmax):
                    z = lik @ gtab_l[l1].T
                    z *= y
                    score += np.asarray((bmaps[l1].T @ z.T).T)
                info += score.T @ (score * w[:, None])
                continue
            coo = sp.csr_matrix(y).tocoo()
            rows_all, cols_all = coo.row.astype(np.int64), coo.col.astype(np.int64)
            keep = pidx[cols_all, 0] >= 0
            rows_all, cols_all = rows_all[keep], cols_all[keep]

            def entry_scores(rows: IntArray, cols: IntArray, post: FloatArray = lik) -> FloatArray:
                """Score of each present response: Σ_q post[p, q] ∂log P(x | θ_q)/∂η_l."""
                if post.shape[0] * ncol <= 20_000_000:  # small bank: one product per l
                    return np.stack(
                        [(post @ gtab_l[l1].T)[rows, cols] for l1 in range(lmax)], axis=1
                    )
                sub = post[rows]
                return np.stack(
                    [np.einsum("eq,eq->e", sub, gtab_l[l1][cols]) for l1 in range(lmax)], axis=1
                )

            # sparse data: each person's score vector is sparse too (only the
            # parameters of the items they saw), so SᵀWS is a sparse product
            parts: list[tuple[IntArray, IntArray, FloatArray]] = []
            small = lik.shape[0] * ncol <= 20_000_000
            step_e = rows_all.shape[0] if small else 200_000  # bounds (entries × Q) gathers
            for e0 in range(0, rows_all.shape[0], max(step_e, 1)):
                rows, cols = rows_all[e0 : e0 + step_e], cols_all[e0 : e0 + step_e]
                s = entry_scores(rows, cols)
                ids = pidx[cols]  # (entries, L)
                valid = ids >= 0
                if full:
                    rr = np.broadcast_to(rows[:, None], ids.shape)[valid]
                    parts.append((rr, ids[valid], s[valid]))
                else:
                    assert block_info is not None
                    # item-block XPD: each item's parameters form one block
                    blk = item_of_col[cols]
                    for l1 in range(lmax):
                        for l2 in range(lmax):
                            vals = w[rows] * s[:, l1] * s[:, l2] * valid[:, l1] * valid[:, l2]
                            block_info[:, l1, l2] += np.bincount(
                                blk, weights=vals, minlength=block_info.shape[0]
                            )
            if full and parts:
                score_mat = sp.csr_matrix(
                    (
                        np.concatenate([p[2] for p in parts]),
                        (
                            np.concatenate([p[0] for p in parts]),
                            np.concatenate([p[1] for p in parts]),
                        ),
                    ),
                    shape=(y.shape[0], n_par),
                )  # duplicates (the shared 1PL slope) are summed
                info += np.asarray((score_mat.T @ sp.diags(w) @ score_mat).toarray())
        # priors: subtract their (negative) Hessian
        prior_diag = np.zeros(n_par)
        for g in free:
            _, _, ph = kernels.log_prior(g.model, g.eta, self._priors_for(g.model))
            ids = pidx[g.cols[:, 0]][:, : g.eta.shape[1]]
            np.add.at(prior_diag, ids.ravel(), -ph.ravel())
        se: dict[str, FloatArray] = {
            "a": np.full(n_items, np.nan),
            "b": np.full(n_items, np.nan),
            "c": np.full(n_items, np.nan),
            "d": np.full(n_items, np.nan),
            "thresholds": np.full((n_items, self.params_.thresholds.shape[1]), np.nan),
        }
        if full:
            info[np.diag_indices(n_par)] += prior_diag
            try:
                cov = np.linalg.inv(info)
            except np.linalg.LinAlgError:
                cov = np.linalg.pinv(info)
        for g in free:
            big_l = g.eta.shape[1]
            ids = pidx[g.cols[:, 0]][:, :big_l]  # (n, L)
            if full:
                cov_g = cov[ids[:, :, None], ids[:, None, :]]
            else:
                assert block_info is not None
                blocks = block_info[g.items][:, :big_l, :big_l].copy()
                blocks[:, np.arange(big_l), np.arange(big_l)] += prior_diag[ids]
                blocks[:, np.arange(big_l), np.arange(big_l)] += 1e-12
                try:
                    cov_g = np.linalg.inv(blocks)
                except np.linalg.LinAlgError:
                    cov_g = np.linalg.pinv(blocks)
            _, jac = kernels.to_irt(g.model, g.eta)
            var = np.einsum("nrl,nlm,nrm->nr", jac, cov_g, jac)
            sd = np.sqrt(np.maximum(var, 0.0))
            names = kernels.reported_names(g.model, big_l)
            for i, name in enumerate(names):
                if name in ("a", "b", "c", "d"):
                    se[name][g.items] = sd[:, i]
                else:
                    se["thresholds"][g.items, int(name[1:]) - 1] = sd[:, i]
        return se
