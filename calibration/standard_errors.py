"""Standard errors of the calibrated items from the cross-product information.

The XPD information is ``Σ_p w_p s_p s_pᵀ`` over persons p with case weights
``w_p``, where ``s_p`` is the person's score (gradient of their marginal
log-likelihood) with respect to the free items' slope–intercept parameters
``eta``, minus the priors' Hessian. It is inverted over all parameters
jointly when there are at most ``full_se_limit`` of them, else item by item
(one block per item). The delta method, with the Jacobian of
:func:`calibration.kernels.to_irt`, turns the covariance into SEs of the
reported parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from calibration import kernels
from calibration.estep import log_table
from calibration.item_groups import ItemGroup
from calibration.kernels import PMIN, Priors
from calibration.parallel import ChunkSource, DenseChunks, InMemoryChunks
from cat_engine.irt import Model

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def standard_errors(
    groups: list[ItemGroup],
    n_items: int,
    ncol: int,
    *,
    theta: FloatArray,
    weights: FloatArray,
    offsets: IntArray,
    source: ChunkSource,
    reduced: dict[str, Any] | None,
    priors_for: Callable[[Model], Priors],
    full_se_limit: int,
    n_thresholds: int,
) -> dict[str, FloatArray]:
    """Delta-method SEs of the reported parameters from the XPD information.

    ``theta``, ``weights`` (Q,): the quadrature nodes and their masses at the
    fit's end; ``offsets`` (n_items + 1,): the items' first indicator columns
    (``ncol`` in all); ``source``: the data's chunk source (the full indicator,
    not the reduced one); ``reduced``: the E-step's reduced form
    (:func:`calibration.estep.reduced_form`) or None; ``priors_for``: a model's
    priors; ``n_thresholds``: the thresholds' columns in the reported
    parameters. Returns (n_items,) arrays ``a``, ``b``, ``c``, ``d`` and
    (n_items, n_thresholds) ``thresholds``, NaN for anchor items and for
    parameters a model does not have.
    """
    free = [g for g in groups if not g.fixed]
    q = theta.shape[0]
    lmax = max((g.eta.shape[1] for g in free), default=1)
    # gtab[col, q, l]: ∂ log P(category of col | θ_q) / ∂ eta_l of that item
    gtab = np.zeros((ncol, q, lmax))
    pidx = np.full((ncol, lmax), -1, dtype=np.int64)  # global parameter index
    n_par = 0
    for g in free:
        p, dp = kernels.probs_and_derivs(g.model, g.eta, theta)
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
    full = n_par <= full_se_limit
    info = np.zeros((n_par, n_par)) if full else np.zeros((n_par, lmax))
    table = log_table(groups, ncol, theta)
    logw = np.log(weights)
    block_info = np.zeros((n_items, lmax, lmax)) if not full else None
    item_of_col = np.repeat(np.arange(n_items), np.diff(offsets))
    gtab_l = [np.ascontiguousarray(gtab[:, :, l1]) for l1 in range(lmax)]
    shared_slope = any(g.model == Model.ONE_PL for g in free)
    dense_only = isinstance(source, DenseChunks) or (
        isinstance(source, InMemoryChunks) and all(isinstance(c, np.ndarray) for c in source.chunks)
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
    item_starts = offsets[:-1]
    red = reduced
    if red is not None and not shared_slope:
        # complete dense data: a person's score for item j is
        # post @ G_j0 + Σ_{k≥1} y_jk post @ (G_jk − G_j0), so only the
        # categories above 0 are multiplied (as in the E-step)
        g_zero = [np.ascontiguousarray(t[red["zero"]].T) for t in gtab_l]
        g_rest = [np.ascontiguousarray((t[red["nonzero"]] - t[red["zero_of"]]).T) for t in gtab_l]
        one_each = red["nonzero"].shape[0] == n_items  # dichotomous: one column per item
    if red is not None:  # the E-step's reduced form (half the columns)
        table_red = np.ascontiguousarray(table[red["nonzero"]] - table[red["zero_of"]])
        shift_red = logw + table[red["zero"]].sum(axis=0)
    for c in range(source.n_chunks):
        if red is not None and full and not shared_slope:
            # the reduced indicator is all this path reads
            y, w = red["chunks"][c], red["weights"][c]
        else:
            y, w = source.load(c)
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
                return np.stack([(post @ gtab_l[l1].T)[rows, cols] for l1 in range(lmax)], axis=1)
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
        _, _, ph = kernels.log_prior(g.model, g.eta, priors_for(g.model))
        ids = pidx[g.cols[:, 0]][:, : g.eta.shape[1]]
        np.add.at(prior_diag, ids.ravel(), -ph.ravel())
    se: dict[str, FloatArray] = {
        "a": np.full(n_items, np.nan),
        "b": np.full(n_items, np.nan),
        "c": np.full(n_items, np.nan),
        "d": np.full(n_items, np.nan),
        "thresholds": np.full((n_items, n_thresholds), np.nan),
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
