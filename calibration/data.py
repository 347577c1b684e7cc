"""Response data for calibration: dense or sparse, with case weights.

Responses are IRT category indices (0 = wrong / lowest category, 1 = right,
…), with a negative value meaning *not presented* (missing by design: it
carries no information and is never scored as wrong).

Internally the data become a one-hot *indicator matrix* ``Y`` of shape
(n_persons, Σ_j K_j): column ``offset[j] + k`` is 1 when the person answered
item ``j`` in category ``k``. With ``log P`` laid out the same way as a
(Σ K_j, Q) table, the log-likelihood of every person at every quadrature
point is the single matrix product ``Y @ logP`` and the expected counts of the
M-step are ``Yᵀ @ posterior``. ``Y`` is a dense float64 array when that is
small, else a ``scipy.sparse`` CSR matrix (the national-scale adaptive case).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

if TYPE_CHECKING:
    import scipy.sparse as sp

    from calibration.parallel import DenseChunks, InMemoryChunks

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# Dense indicator matrices above this many cells (8 bytes each) go sparse
# unless the data are mostly present.
DENSE_CELL_LIMIT = 60_000_000


@dataclass
class ResponseData:
    """Responses of ``n_persons`` to ``n_items`` items in coordinate form.

    person: (nnz,) row index; item: (nnz,) column index; category: (nnz,)
    category index ≥ 0 (presented responses only); weights: (n_persons,)
    case weights (a row standing for ``w`` identical patterns); n_categories:
    (n_items,) number of categories of each item (≥ 2).
    """

    person: NDArray[np.signedinteger]
    item: NDArray[np.signedinteger]
    category: NDArray[np.signedinteger]
    n_persons: int
    n_items: int
    weights: FloatArray
    n_categories: IntArray
    dense_matrix: NDArray[np.int8] | None = field(default=None, repr=False)

    # --- construction -----------------------------------------------------

    @classmethod
    def from_dense(
        cls,
        responses: ArrayLike,
        weights: ArrayLike | None = None,
        n_categories: ArrayLike | None = None,
    ) -> ResponseData:
        """From a (n_persons, n_items) matrix; negative or NaN = not presented."""
        x = np.asarray(responses)
        if x.ndim != 2:
            raise ValueError(f"responses must be 2-D (persons × items), got shape {x.shape}")
        if np.issubdtype(x.dtype, np.floating):
            bad = np.isfinite(x) & (x != np.round(x))
            if bad.any():
                r, c = np.argwhere(bad)[0]
                raise ValueError(f"row {r}, item {c}: response {x[r, c]!r} is not a category")
            xi = np.where(np.isnan(x), -1, x).astype(np.int64)
        elif np.issubdtype(x.dtype, np.signedinteger):
            xi = x  # int8 from the file reader stays int8: no 8-byte copy
        else:
            xi = x.astype(np.int64)
        n, j = xi.shape
        present = xi >= 0
        # highest category of each item, from the matrix (cheaper than per category)
        top = np.where(present, xi, -1).max(axis=0, initial=-1).astype(np.int64)
        rows: NDArray[np.integer]
        cols: NDArray[np.integer]
        cats: NDArray[np.integer]
        if bool(present.all()):
            # complete data (a linear test): coordinates without a nonzero scan
            rows = np.repeat(np.arange(n, dtype=np.int32 if n < 2**31 else np.int64), j)
            cols = np.tile(np.arange(j, dtype=np.int32), n)
            cats = np.asarray(xi).ravel()
            if xi is x:
                cats = cats.copy()  # the data must not change with the caller's array
        else:
            rows, cols = np.nonzero(present)
            cats = xi[rows, cols]
        data = cls._build(rows, cols, cats, n, j, weights, n_categories, top)
        if n * j <= DENSE_CELL_LIMIT and int(top.max(initial=0)) < 127:
            data.dense_matrix = np.where(present, xi, -1).astype(np.int8)
        return data

    @classmethod
    def from_long(
        cls,
        person: ArrayLike,
        item: ArrayLike,
        category: ArrayLike,
        n_persons: int | None = None,
        n_items: int | None = None,
        weights: ArrayLike | None = None,
        n_categories: ArrayLike | None = None,
    ) -> ResponseData:
        """From (person, item, category) triplets (one per presented response)."""
        # keep compact integer dtypes: at national scale these arrays are 10⁸ long
        p, it, k = (np.asarray(v) for v in (person, item, category))
        for name, v in (("person", p), ("item", it), ("category", k)):
            if v.size and not np.issubdtype(v.dtype, np.integer):
                raise ValueError(f"{name} indices must be integers, got {v.dtype}")
        if not (p.shape == it.shape == k.shape and p.ndim == 1):
            raise ValueError("person, item and category must be 1-D arrays of equal length")
        keep = k >= 0
        if not keep.all():
            p, it, k = p[keep], it[keep], k[keep]
        del keep
        n = int(n_persons) if n_persons is not None else int(p.max(initial=-1)) + 1
        j = int(n_items) if n_items is not None else int(it.max(initial=-1)) + 1
        if p.size and (p.min() < 0 or p.max() >= n):
            raise ValueError("person index out of range")
        if it.size and (it.min() < 0 or it.max() >= j):
            raise ValueError("item index out of range")
        # one response per (person, item): a duplicate is an error in the data.
        # Data already ordered by (person, item) skip the sort.
        key = p.astype(np.int64) * j + it
        if bool(np.all(key[1:] > key[:-1])):
            del key
            return cls._build(p, it, k, n, j, weights, n_categories)
        order = np.argsort(key, kind="stable")
        dup = np.flatnonzero(np.diff(key[order]) == 0)
        if dup.size:
            i0 = order[dup[0]]
            raise ValueError(f"person {p[i0]} answered item {it[i0]} more than once")
        del key
        return cls._build(p[order], it[order], k[order], n, j, weights, n_categories)

    @classmethod
    def _build(
        cls,
        rows: NDArray[np.integer],
        cols: NDArray[np.integer],
        cats: NDArray[np.integer],
        n: int,
        j: int,
        weights: ArrayLike | None,
        n_categories: ArrayLike | None,
        top: IntArray | None = None,
    ) -> ResponseData:
        """top: (j,) highest category of each item, when the caller knows it."""
        w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64).copy()
        if w.shape != (n,):
            raise ValueError(f"weights has shape {w.shape}, expected ({n},)")
        if not np.all(np.isfinite(w)) or (w < 0).any():
            r = int(np.flatnonzero(~np.isfinite(w) | (w < 0))[0])
            raise ValueError(f"row {r}: weight {w[r]!r} is not a non-negative number")
        # highest category seen per item (a loop over the few categories, not items)
        if top is None:
            top = np.full(j, -1, dtype=np.int64)
            for cat in range(int(cats.max(initial=-1)) + 1):
                top[np.bincount(cols[cats == cat], minlength=j) > 0] = cat
        if n_categories is None:
            ncat = np.maximum(top + 1, 2)
        else:
            ncat = np.broadcast_to(np.asarray(n_categories, dtype=np.int64), (j,)).copy()
            over = np.flatnonzero(top >= ncat)
            if over.size:
                raise ValueError(
                    f"item {over[0]}: category {top[over[0]]} but only {ncat[over[0]]} categories"
                )
        # compact dtypes: 10⁸ responses must fit in memory several times over
        return cls(
            person=rows.astype(np.int32 if n < 2**31 else np.int64, copy=False),
            item=cols.astype(np.int32, copy=False),
            category=cats.astype(
                np.int8 if int(cats.max(initial=0)) < 127 else np.int32, copy=False
            ),
            n_persons=n,
            n_items=j,
            weights=w,
            n_categories=ncat,
        )

    # --- views ----------------------------------------------------------------

    @property
    def nnz(self) -> int:
        return int(self.person.shape[0])

    @property
    def offsets(self) -> IntArray:
        """(n_items + 1,) first indicator column of each item (and the total)."""
        return np.concatenate([[0], np.cumsum(self.n_categories)]).astype(np.int64)

    def total_weight(self) -> float:
        """Sum of the case weights (the number of persons when unweighted)."""
        return float(self.weights.sum())

    def counts(self) -> FloatArray:
        """(n_items,) weighted number of persons who answered each item."""
        out = np.bincount(self.item, weights=self.weights[self.person], minlength=self.n_items)
        return np.asarray(out, dtype=np.float64)

    def category_counts(self) -> FloatArray:
        """(Σ K_j,) weighted count of each (item, category)."""
        col = self.offsets[self.item] + self.category
        out = np.bincount(col, weights=self.weights[self.person], minlength=int(self.offsets[-1]))
        return np.asarray(out, dtype=np.float64)

    def to_dense(self) -> NDArray[np.int64]:
        """(n_persons, n_items) categories, −1 where not presented."""
        out = np.full((self.n_persons, self.n_items), -1, dtype=np.int64)
        out[self.person, self.item] = self.category
        return out

    def indicator(self, force_sparse: bool = False) -> FloatArray | sp.csr_matrix:
        """The one-hot matrix ``Y`` (n_persons, Σ K_j), dense or CSR."""
        ncol = int(self.offsets[-1])
        cells = self.n_persons * ncol
        dense_ok = cells <= DENSE_CELL_LIMIT and self.nnz * 4 >= cells // 4
        col = (self.offsets[self.item] + self.category).astype(np.int32)
        if dense_ok and not force_sparse:
            y = np.zeros((self.n_persons, ncol))
            y[self.person, col] = 1.0
            return y
        import scipy.sparse as sp  # here: dense data never pay its import (0.15 s)

        # rows are sorted by person (from_dense gives row-major order; from_long sorts)
        indptr = np.zeros(self.n_persons + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.person, minlength=self.n_persons), out=indptr[1:])
        idx_dtype = np.int32 if self.nnz < 2**31 else np.int64
        mat = sp.csr_matrix(
            (np.ones(self.nnz), col, indptr.astype(idx_dtype)), shape=(self.n_persons, ncol)
        )
        return mat

    def indicator_chunks(self, rows_per_chunk: int) -> list[FloatArray | sp.csr_matrix]:
        """``Y`` split into consecutive row blocks (views when dense)."""
        y_dense = None
        ncol = int(self.offsets[-1])
        cells = self.n_persons * ncol
        if cells <= DENSE_CELL_LIMIT and self.nnz * 4 >= cells // 4:
            y_dense = self.indicator()
        bounds = [*range(0, self.n_persons, rows_per_chunk), self.n_persons]
        out: list[FloatArray | sp.csr_matrix] = []
        starts = np.searchsorted(self.person, np.asarray(bounds))
        offsets = self.offsets
        for i in range(len(bounds) - 1):
            a, b = bounds[i], bounds[i + 1]
            if y_dense is not None:
                out.append(y_dense[a:b])
                continue
            import scipy.sparse as sp  # only sparse data pay its import

            lo, hi = int(starts[i]), int(starts[i + 1])
            rows = self.person[lo:hi]
            col = (offsets[self.item[lo:hi]] + self.category[lo:hi]).astype(np.int32)
            indptr = np.zeros(b - a + 1, dtype=np.int64)
            np.cumsum(np.bincount(rows - a, minlength=b - a), out=indptr[1:])
            idx_t = np.int32 if hi - lo < 2**31 else np.int64
            out.append(
                sp.csr_matrix((np.ones(hi - lo), col, indptr.astype(idx_t)), shape=(b - a, ncol))
            )
        return out

    def chunk_source(self, rows_per_chunk: int) -> InMemoryChunks | DenseChunks:
        """The indicator in chunks of ``rows_per_chunk`` persons with their weights,
        for the E-step (:mod:`calibration.parallel`). Complete dense data stay a
        category matrix (:class:`~calibration.parallel.DenseChunks`)."""
        from calibration.parallel import DenseChunks, InMemoryChunks

        bounds = [*range(0, self.n_persons, rows_per_chunk), self.n_persons]
        weights = [self.weights[a:b] for a, b in itertools.pairwise(bounds)]
        if self.dense_matrix is not None and self.nnz == self.n_persons * self.n_items:
            return DenseChunks(self.dense_matrix, self.offsets, bounds, weights)
        return InMemoryChunks(self.indicator_chunks(rows_per_chunk), weights)

    def collapse(self) -> tuple[ResponseData, IntArray]:
        """Merge identical response patterns, summing their weights.

        Returns the collapsed data and (n_persons,) the collapsed row of each
        original person. Worth it when patterns repeat (few items, many
        persons); the caller decides.
        """
        if self.dense_matrix is not None:
            mat = self.dense_matrix
        else:
            mat = self.to_dense().astype(np.int8)
        # a random 64-bit hash of each row: collisions of distinct patterns
        # have probability ~ n²/2⁶⁴ (negligible), and equal patterns always collide
        rng = np.random.default_rng(20240607)
        mult = rng.integers(1, 2**62, size=mat.shape[1], dtype=np.int64) | 1
        with np.errstate(over="ignore"):
            h = (mat.astype(np.int64) + 2) @ mult
        _, first, inverse = np.unique(h, return_index=True, return_inverse=True)
        w = np.bincount(inverse, weights=self.weights, minlength=first.shape[0])
        out = ResponseData.from_dense(mat[first], weights=w, n_categories=self.n_categories)
        return out, inverse.astype(np.int64)

    def distinct_pattern_share(self) -> float:
        """Share of distinct rows (cheap; 1.0 when every pattern is unique)."""
        if self.n_persons == 0 or self.dense_matrix is None:
            return 1.0
        mat = self.dense_matrix
        rng = np.random.default_rng(20240607)
        mult = rng.integers(1, 2**62, size=mat.shape[1], dtype=np.int64) | 1
        with np.errstate(over="ignore"):
            h = (mat.astype(np.int64) + 2) @ mult
        return float(np.unique(h).shape[0]) / self.n_persons
