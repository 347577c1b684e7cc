"""The E-step over chunks of persons: one function, run on threads or as Dask tasks.

Persons are independent given the item parameters, so the E-step splits into
chunks of rows of the indicator matrix ``Y`` (see :mod:`calibration.data`):
each chunk gives its share of the log-likelihood, of the expected counts
``Yᵀ · posterior`` and of the node masses, and the shares are summed in chunk
order (so every runner gives the same sums, bit for bit up to the order of
float additions, which is fixed).

* :class:`ThreadEStep` runs :func:`chunk_estep` on a thread pool. NumPy's
  ufuncs, BLAS and scipy's sparse products release the GIL, and a chunk loaded
  from Parquet (:mod:`calibration.stream`) is read by pyarrow without it, so two
  threads use two cores.
* :class:`DaskEStep` runs the same function as Dask tasks on a
  ``distributed.Client`` (the optional ``dask`` extra): in-memory chunks are
  scattered to the workers once and stay there; chunks of a Parquet file are
  read by the worker that runs the task (the file must be where the workers
  can read it). Each E-step sends only the (ncol, Q) log-probability table.

A *chunk source* has ``n_chunks`` and ``load(i) -> (Y_i, w_i)``: the indicator
rows (dense (rows, ncol) array or CSR) and their case weights (rows,).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
Part: TypeAlias = tuple[float, FloatArray, FloatArray]  # log-lik, counts (ncol, Q), mass (Q,)


class ChunkSource(Protocol):
    """Chunks of persons: ``load(i)`` gives (indicator rows, weights)."""

    @property
    def n_chunks(self) -> int: ...

    def load(self, i: int) -> tuple[Any, FloatArray]: ...


@dataclass
class InMemoryChunks:
    """Chunks already in memory (dense arrays or CSR matrices)."""

    chunks: Sequence[Any]
    weights: Sequence[FloatArray]

    @property
    def n_chunks(self) -> int:
        return len(self.chunks)

    def load(self, i: int) -> tuple[Any, FloatArray]:
        return self.chunks[i], self.weights[i]


@dataclass
class DenseChunks:
    """Complete dense data kept as its (persons, items) category matrix; a chunk's
    one-hot indicator is built only when asked for (:meth:`load`).

    The E-step never asks: it runs on the reduced indicator (the categories above
    0, :meth:`reduced`), built here straight from the matrix, so the full
    (persons, Σ K_j) float array — 176 MB for 100,000 × 110 dichotomous items —
    is never made.
    """

    matrix: NDArray[np.int8]  # (n, J) categories, all present
    offsets: NDArray[np.int64]  # (J + 1,) first indicator column of each item
    bounds: Sequence[int]  # chunk row bounds, len n_chunks + 1
    weights: Sequence[FloatArray]
    is_dense: bool = True

    @property
    def n_chunks(self) -> int:
        return len(self.bounds) - 1

    def load(self, i: int) -> tuple[FloatArray, FloatArray]:
        a, b = self.bounds[i], self.bounds[i + 1]
        x = self.matrix[a:b]
        y = np.zeros((b - a, int(self.offsets[-1])))
        rows = np.repeat(np.arange(b - a), x.shape[1])
        y[rows, (self.offsets[:-1][None, :] + x).ravel()] = 1.0
        return y, self.weights[i]

    def reduced(self, nonzero: NDArray[np.int64]) -> InMemoryChunks:
        """Chunks of the indicator columns ``nonzero`` (each a category ≥ 1)."""
        item_of_col = np.repeat(np.arange(self.matrix.shape[1]), np.diff(self.offsets))
        items = item_of_col[nonzero]
        cats = (nonzero - self.offsets[items]).astype(self.matrix.dtype)
        dichotomous = bool(np.array_equal(items, np.arange(self.matrix.shape[1])))
        chunks = []
        for i in range(self.n_chunks):
            x = self.matrix[self.bounds[i] : self.bounds[i + 1]]
            if dichotomous:  # one column per item: category 1
                chunks.append(x.astype(np.float64))
            else:
                chunks.append((x[:, items] == cats[None, :]).astype(np.float64))
        return InMemoryChunks(chunks, self.weights)


def chunk_estep(y: Any, w: FloatArray, table: FloatArray, shift: FloatArray) -> Part:
    """One chunk's E-step.

    y: (rows, ncol) indicator (dense or CSR); w: (rows,) case weights;
    table: (ncol, Q) log-probabilities; shift: (Q,) added to every row (the
    log node weights, plus a constant row for the reduced complete-data form).
    Returns the weighted marginal log-likelihood, the expected counts
    ``Yᵀ (w · posterior)`` (ncol, Q) and the node masses (Q,).
    """
    lik = np.asarray(y @ table)
    lik += shift
    mx = lik.max(axis=1, keepdims=True)
    lik -= mx
    np.exp(lik, out=lik)
    s = lik.sum(axis=1)
    ll = float(w @ (mx[:, 0] + np.log(s)))
    lik *= (w / s)[:, None]
    # dense: (Q, rows) @ (rows, ncol), transposed: BLAS runs this shape ~1.5× faster
    # than Yᵀ @ lik with Y C-ordered (a quarter of the dense E-step)
    counts = (lik.T @ y).T if isinstance(y, np.ndarray) else np.asarray(y.T @ lik)
    return ll, counts, lik.sum(axis=0)


def source_estep(source: ChunkSource, i: int, table: FloatArray, shift: FloatArray) -> Part:
    """Load chunk ``i`` of ``source`` and run :func:`chunk_estep` on it."""
    y, w = source.load(i)
    return chunk_estep(y, w, table, shift)


def pair_estep(chunk: tuple[Any, FloatArray], table: FloatArray, shift: FloatArray) -> Part:
    """:func:`chunk_estep` on a (Y, w) pair (a chunk kept on a Dask worker)."""
    return chunk_estep(chunk[0], chunk[1], table, shift)


def add_parts(parts: Iterable[Part]) -> Part:
    """Sum chunk results in the order given (consumed one by one: memory stays
    at one running total whatever the number of chunks)."""
    ll = 0.0
    counts: FloatArray | None = None
    mass: FloatArray | None = None
    for p_ll, p_counts, p_mass in parts:
        ll += p_ll
        counts = p_counts.copy() if counts is None else counts + p_counts
        mass = p_mass.copy() if mass is None else mass + p_mass
    if counts is None or mass is None:
        raise ValueError("no chunks")
    return ll, counts, mass


EStepRunner: TypeAlias = Callable[[ChunkSource, FloatArray, FloatArray], Part]


class ThreadEStep:
    """The E-step on ``n_jobs`` threads (1: in this thread)."""

    def __init__(self, n_jobs: int = 1) -> None:
        if n_jobs < 1:
            raise ValueError("n_jobs must be ≥ 1")
        self.n_jobs = n_jobs

    def __call__(self, source: ChunkSource, table: FloatArray, shift: FloatArray) -> Part:
        n = source.n_chunks
        if self.n_jobs == 1 or n == 1:
            return add_parts(source_estep(source, i, table, shift) for i in range(n))
        with ThreadPoolExecutor(self.n_jobs) as pool:
            # map yields in chunk order; at most n_jobs chunks are loaded at once
            return add_parts(pool.map(lambda i: source_estep(source, i, table, shift), range(n)))


class DaskEStep:
    """The E-step as Dask tasks on ``client`` (``distributed.Client``).

    In-memory chunks are scattered once (spread over the workers) and reused by
    every E-step; a lazy source (one with ``lazy = True``, such as
    :class:`calibration.stream.ParquetResponses`' chunks) is sent as itself and
    each task reads its own chunk.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self._scattered: dict[int, tuple[Any, list[Any]]] = {}

    def __call__(self, source: ChunkSource, table: FloatArray, shift: FloatArray) -> Part:
        client = self.client
        n = source.n_chunks
        [table_f] = client.scatter([table], broadcast=True)
        if getattr(source, "lazy", False):
            futures = client.map(
                source_estep,
                [source] * n,
                range(n),
                [table_f] * n,
                [shift] * n,
                pure=False,
            )
        else:
            key = id(source)
            if key not in self._scattered or self._scattered[key][0] is not source:
                chunks = client.scatter([source.load(i) for i in range(n)])
                self._scattered[key] = (source, chunks)
            chunks = self._scattered[key][1]
            futures = client.map(pair_estep, chunks, [table_f] * n, [shift] * n, pure=False)
        parts = client.gather(futures)
        return add_parts(parts)
