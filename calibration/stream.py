"""Responses streamed from a Parquet file: memory that does not grow with persons.

A national year (3,000,000 persons × 110 responses of 6,000 items, 330 million
responses) does not need to sit in memory: the E-step visits each person once
per iteration, so :class:`ParquetResponses` keeps only the per-item totals of
one scan and reads the file again, a chunk of row groups at a time, on every
E-step (:mod:`calibration.parallel` runs the chunks on threads or as Dask
tasks). Memory is one chunk per thread plus the (ncol, Q) tables, whatever the
number of persons; the price is reading the file once per E-step (pyarrow
decodes it in C++ without the GIL).

The file is *long*: one row per presented response, with integer columns
``person`` (non-decreasing: a person's rows together, in file order),
``item`` (0 … n_items − 1) and ``response`` (category ≥ 0; null = not
presented). Every row group must hold whole persons (write it with the
persons sorted and a row group size that falls between persons, as
:func:`write_long_parquet` does). Each person weighs 1.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def _columns(
    table: Any, names: tuple[str, str, str]
) -> tuple[NDArray[np.integer], NDArray[np.integer], NDArray[np.integer]]:
    """(person, item, response) of a pyarrow table as NumPy views in the file's
    integer types (no widening copies: a chunk is ~10⁷ rows), rows with a null
    response (not presented) dropped."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from calibration.io import _numpy

    person, item, response = (table.column(n).combine_chunks() for n in names)
    if response.null_count:
        keep = pc.is_valid(response)
        person, item, response = (c.filter(keep) for c in (person, item, response))
    if person.null_count or item.null_count:
        raise ValueError(f"columns {names[0]!r} and {names[1]!r} must not have empty cells")
    for name, col in zip(names, (person, item, response), strict=True):
        if not pa.types.is_integer(col.type):
            raise ValueError(f"column {name!r} must hold integers, not {col.type}")
    return _numpy(person), _numpy(item), _numpy(response)


@dataclass
class ParquetChunks:
    """Chunks of a :class:`ParquetResponses` file: each a run of whole row groups.

    Small and picklable (a path and numbers), so it can travel to Dask workers;
    ``lazy`` tells :class:`calibration.parallel.DaskEStep` to send it as is.
    """

    path: str
    names: tuple[str, str, str]
    groups: list[list[int]]  # row groups of each chunk
    persons: list[int]  # persons in each chunk
    offsets: IntArray  # (n_items + 1,) first indicator column of each item
    lazy: bool = True

    @property
    def n_chunks(self) -> int:
        return len(self.groups)

    def load(self, i: int) -> tuple[Any, FloatArray]:
        """Chunk ``i`` as a CSR indicator (persons, ncol) and unit weights."""
        import pyarrow.parquet as pq
        import scipy.sparse as sp

        pf = pq.ParquetFile(self.path, memory_map=True)
        table = pf.read_row_groups(self.groups[i], columns=list(self.names))
        person, item, response = _columns(table, self.names)
        n = self.persons[i]
        # persons are sorted, so the CSR row pointers are where the person changes
        indptr = np.empty(n + 1, dtype=np.int32)
        indptr[0], indptr[-1] = 0, person.shape[0]
        indptr[1:-1] = np.flatnonzero(person[1:] != person[:-1]) + 1
        col = self.offsets.astype(np.int32)[item]
        col += response
        y = sp.csr_matrix(
            (np.ones(col.shape[0]), col, indptr), shape=(n, int(self.offsets[-1])), copy=False
        )
        return y, np.ones(n)


@dataclass
class ParquetResponses:
    """A long Parquet response file, scanned once for its per-item totals.

    path: the file; n_items: number of items (default: the largest item + 1);
    person/item/response: the column names. Raises ``ValueError`` naming the
    row group when the file breaks the layout in the module docstring.
    Use it where :class:`calibration.data.ResponseData` goes:
    ``MMLEstimator(...).fit(ParquetResponses("year.parquet"))``.
    """

    path: str | Path
    n_items_hint: int | None = None
    person: str = "person"
    item: str = "item"
    response: str = "response"
    n_persons: int = field(init=False)
    n_items: int = field(init=False)
    n_categories: IntArray = field(init=False)
    nnz: int = field(init=False)
    _persons_per_group: list[int] = field(init=False, repr=False)
    _category_counts: FloatArray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        import pyarrow.parquet as pq

        names = (self.person, self.item, self.response)
        pf = pq.ParquetFile(self.path)
        per_group: list[int] = []
        pairs = np.zeros(0, dtype=np.int64)  # counts of item * 256 + category
        last = None
        nnz = 0
        for g in range(pf.num_row_groups):
            cols = _columns(pf.read_row_group(g, columns=list(names)), names)
            person, item, response = (c.astype(np.int64) for c in cols)
            if person.size == 0:
                per_group.append(0)
                continue
            if np.any(person[1:] < person[:-1]) or (last is not None and person[0] <= last):
                raise ValueError(
                    f"{self.path}: row group {g}: persons must be sorted, each person's rows "
                    "in one row group"
                )
            if item.min() < 0 or response.min() < 0 or response.max() > 255:
                raise ValueError(
                    f"{self.path}: row group {g}: items must be ≥ 0 and responses 0–255"
                )
            last = int(person[-1])
            per_group.append(int(np.count_nonzero(person[1:] != person[:-1])) + 1)
            add = np.bincount(item * 256 + response)
            if add.shape[0] > pairs.shape[0]:
                add[: pairs.shape[0]] += pairs
                pairs = add
            else:
                pairs[: add.shape[0]] += add
            nnz += int(person.shape[0])
        if nnz == 0:
            raise ValueError(f"{self.path}: no responses")
        top = pairs.shape[0] // 256 + 1
        grid = np.zeros(top * 256, dtype=np.int64)
        grid[: pairs.shape[0]] = pairs
        grid2 = grid.reshape(top, 256)
        seen_items = np.flatnonzero(grid2.sum(axis=1))
        n_items = int(seen_items.max()) + 1 if self.n_items_hint is None else self.n_items_hint
        if seen_items.max() >= n_items:
            raise ValueError(f"{self.path}: item {seen_items.max()} ≥ n_items {n_items}")
        grid2 = np.vstack([grid2, np.zeros((max(n_items - top, 0), 256), dtype=np.int64)])
        grid2 = grid2[:n_items]
        cat_top = np.array(
            [int(np.flatnonzero(r).max()) if r.any() else 0 for r in grid2], dtype=np.int64
        )
        self.n_items = n_items
        self.n_categories = np.maximum(cat_top + 1, 2)
        off = self.offsets
        cc = np.zeros(int(off[-1]))
        for j in range(n_items):
            k = int(self.n_categories[j])
            cc[off[j] : off[j] + k] = grid2[j, :k]
        self._category_counts = cc
        self._persons_per_group = per_group
        self.n_persons = int(sum(per_group))
        self.nnz = nnz

    # --- what the estimator reads (as from ResponseData) ----------------------

    @property
    def offsets(self) -> IntArray:
        """(n_items + 1,) first indicator column of each item (and the total)."""
        return np.concatenate([[0], np.cumsum(self.n_categories)]).astype(np.int64)

    def counts(self) -> FloatArray:
        """(n_items,) number of persons who answered each item."""
        off = self.offsets
        return np.add.reduceat(self._category_counts, off[:-1])

    def category_counts(self) -> FloatArray:
        """(Σ K_j,) count of each (item, category)."""
        return self._category_counts.copy()

    def total_weight(self) -> float:
        return float(self.n_persons)

    def distinct_pattern_share(self) -> float:
        return 1.0  # never collapsed: the patterns are not in memory

    def chunk_source(self, rows_per_chunk: int) -> ParquetChunks:
        """Consecutive row groups of about ``rows_per_chunk`` persons per chunk."""
        groups: list[list[int]] = [[]]
        persons = [0]
        for g, n in enumerate(self._persons_per_group):
            if groups[-1] and persons[-1] + n > rows_per_chunk:
                groups.append([])
                persons.append(0)
            groups[-1].append(g)
            persons[-1] += n
        return ParquetChunks(
            str(self.path), (self.person, self.item, self.response), groups, persons, self.offsets
        )


def write_long_parquet(
    path: str | Path,
    person: NDArray[np.integer],
    item: NDArray[np.integer],
    response: NDArray[np.integer],
    persons_per_group: int = 50_000,
) -> None:
    """Write (person, item, response) rows, sorted by person, as a long Parquet
    file whose row groups hold whole persons (``persons_per_group`` each)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    person = np.asarray(person)
    if np.any(person[1:] < person[:-1]):
        raise ValueError("rows must be sorted by person")
    starts = np.flatnonzero(np.r_[True, person[1:] != person[:-1]])
    cuts = [*starts[::persons_per_group].tolist(), person.shape[0]]
    schema = pa.schema([("person", pa.int32()), ("item", pa.int16()), ("response", pa.int8())])
    with pq.ParquetWriter(str(path), schema) as writer:
        for a, b in itertools.pairwise(cuts):
            writer.write_table(
                pa.table(
                    {
                        "person": pa.array(person[a:b].astype(np.int32)),
                        "item": pa.array(np.asarray(item[a:b]).astype(np.int16)),
                        "response": pa.array(np.asarray(response[a:b]).astype(np.int8)),
                    },
                    schema=schema,
                ),
                row_group_size=b - a,
            )
