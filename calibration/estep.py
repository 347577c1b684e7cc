"""The EM's E-step: quadrature weights, log-probability table, expected counts.

With the one-hot indicator matrix ``Y`` (persons × ncol, ncol = Σ K_j, see
:mod:`calibration.data`) and the table ``log P`` (ncol, Q) of
:func:`log_table`, the log-likelihood of every person at every node is
``Y @ log P``; :func:`expected_counts` hands the chunks of ``Y`` to a runner of
:mod:`calibration.parallel` and sums what they give. For complete dense data
:func:`reduced_form` keeps only the indicator columns of categories above 0,
which halves the work for dichotomous items.

Shapes: ``theta`` (Q,) are the quadrature nodes on the latent scale,
``weights`` (Q,) their prior masses (summing to 1).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from calibration import kernels
from calibration.item_groups import ItemGroup
from calibration.kernels import PMIN
from calibration.parallel import ChunkSource, DenseChunks, EStepRunner, InMemoryChunks

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def normal_weights(theta: FloatArray, mu: float, sd: float) -> FloatArray:
    """Masses (Q,) of N(mu, sd²) at the nodes ``theta`` (Q,), normalised to sum 1."""
    w = np.exp(-0.5 * ((theta - mu) / sd) ** 2)
    return np.asarray(w / w.sum(), dtype=np.float64)


def log_table(groups: list[ItemGroup], ncol: int, theta: FloatArray) -> FloatArray:
    """log P(category of each indicator column | θ_q): (ncol, Q).

    Probabilities are floored at :data:`~calibration.kernels.PMIN` before the log.
    """
    table = np.zeros((ncol, theta.shape[0]))
    for g in groups:
        p = kernels.probs(g.model, g.eta, theta)  # (n, Q, K)
        lp = np.log(np.maximum(p, PMIN))
        table[g.cols.ravel()] = lp.transpose(0, 2, 1).reshape(-1, lp.shape[1])
    return table


def reduced_form(
    source: ChunkSource, offsets: IntArray, complete: bool
) -> tuple[dict[str, Any] | None, ChunkSource]:
    """The E-step's reduced form of complete dense data, and the source to use.

    ``offsets`` (n_items + 1,) are the items' first indicator columns;
    ``complete``: every person answered every item. For dense chunks of
    complete data, returns the dict

    * ``zero`` (n_items,): each item's category-0 column;
    * ``nonzero`` (ncol − n_items,): the other columns, in order;
    * ``zero_of`` (ncol − n_items,): the category-0 column of each of those;
    * ``starts`` (n_items,): where each item's columns start within ``nonzero``;
    * ``chunks``, ``weights``: the chunks' ``nonzero`` indicator columns
      (rows, ncol − n_items) and their case weights (rows,);

    with an in-memory source of those chunks. Otherwise ``(None, source)``.
    """
    n_items = offsets.shape[0] - 1
    ncol = int(offsets[-1])
    if isinstance(source, DenseChunks) or (
        isinstance(source, InMemoryChunks)
        and complete
        and all(isinstance(c, np.ndarray) for c in source.chunks)
    ):
        zero = offsets[:-1]
        nonzero = np.setdiff1d(np.arange(ncol), zero)
        item_of_col = np.repeat(np.arange(n_items), np.diff(offsets))
        reduced = (
            source.reduced(nonzero)
            if isinstance(source, DenseChunks)
            else InMemoryChunks(
                [np.ascontiguousarray(c[:, nonzero]) for c in source.chunks], source.weights
            )
        )
        form = {
            "zero": zero,
            "nonzero": nonzero,
            "zero_of": zero[item_of_col[nonzero]],
            "starts": np.searchsorted(item_of_col[nonzero], np.arange(n_items)),
            "chunks": reduced.chunks,
            "weights": reduced.weights,
        }
        return form, reduced
    return None, source


def expected_counts(
    source: ChunkSource,
    table: FloatArray,
    weights: FloatArray,
    reduced: dict[str, Any] | None,
    runner: EStepRunner,
) -> tuple[float, FloatArray, FloatArray]:
    """Marginal log-likelihood, expected counts (ncol, Q), node masses (Q,).

    ``table`` (ncol, Q) is :func:`log_table`'s, ``weights`` (Q,) the nodes'
    prior masses, ``reduced`` :func:`reduced_form`'s dict (then ``source`` is
    its reduced source) or None. The chunks of ``source`` go to ``runner``
    (threads or Dask tasks, :mod:`calibration.parallel`); their results are
    summed in order.
    """
    logw = np.log(weights)
    red = reduced
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
    ll, counts, mass = runner(source, np.ascontiguousarray(table_use), shift)
    if red is not None:
        # category 0 gets what the other categories leave of each node's mass
        full = np.empty((table.shape[0], table.shape[1]))
        full[red["nonzero"]] = counts
        per_item = np.add.reduceat(counts, red["starts"], axis=0)
        full[red["zero"]] = mass[None, :] - per_item
        counts = full
    return ll, counts, mass
