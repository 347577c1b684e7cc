"""The item bank as the engine sees it: flat arrays, no database.

``item_bank.arrays`` builds a :class:`BankArrays` from stored rows; tests and
the simulator build one directly. Everything the engine needs to select,
score and constrain items is here; stems and option texts are not.

Answers are option indices (0-based, ``-1`` = blank). Each option maps to
an IRT response category (``option_category``) and to points on the
published scale (``option_points``):

* dichotomous items (TWK, TIU): the key → category 1 and the subtest's
  points for a correct answer (5); other options → category 0 and 0 points;
* option-scored items (TKP): option with p points (1–5) → category
  ``p − min_points`` of the item's GRM/GPCM, and p points.

A blank answer scores 0 points and is not used by the ability estimate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cat_engine.irt import ItemParameters

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class BankArrays:
    """A bank of ``n`` items as arrays.

    item_ids: (n,) stable string ids; params: IRT parameters of each item;
    subtest: (n,) index into ``subtest_codes``; content_area: (n,) index into
    ``content_codes`` (global over subtests); n_options: (n,);
    option_points: (n, max_options) points per option, NaN beyond
    ``n_options``; option_category: (n, max_options) IRT category per option,
    ``-1`` beyond ``n_options``; enemy_group: (n,) ``-1`` for none, items
    sharing a group never appear in one test; pretest: (n,) True for items
    given unscored to gather calibration data.
    """

    item_ids: tuple[str, ...]
    params: ItemParameters
    subtest: IntArray
    subtest_codes: tuple[str, ...]
    content_area: IntArray
    content_codes: tuple[str, ...]
    n_options: IntArray
    option_points: FloatArray
    option_category: IntArray
    enemy_group: IntArray
    pretest: BoolArray
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        n = len(self.item_ids)
        checks = {
            "subtest": self.subtest.shape == (n,),
            "content_area": self.content_area.shape == (n,),
            "n_options": self.n_options.shape == (n,),
            "enemy_group": self.enemy_group.shape == (n,),
            "pretest": self.pretest.shape == (n,),
            "option_points": self.option_points.ndim == 2 and self.option_points.shape[0] == n,
            "option_category": self.option_category.shape == self.option_points.shape,
            "params": self.params.n_items == n,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"BankArrays: wrong shape for {', '.join(bad)} (n_items={n})")
        index = {item_id: i for i, item_id in enumerate(self.item_ids)}
        if len(index) != n:
            raise ValueError("BankArrays: item ids are not unique")
        object.__setattr__(self, "_index", index)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def index_of(self, item_id: str) -> int:
        """Position of ``item_id``; ``KeyError`` if the bank has no such item."""
        return self._index[item_id]

    def max_points(self) -> FloatArray:
        """Most points each item can give. (n,)"""
        return np.asarray(np.nanmax(self.option_points, axis=1), dtype=np.float64)

    def points_of(self, items: IntArray, options: IntArray) -> FloatArray:
        """Points for answering ``options`` (−1 = blank → 0) on ``items``. Both (k,)."""
        items = np.asarray(items, dtype=np.int64)
        options = np.asarray(options, dtype=np.int64)
        answered = options >= 0
        pts = np.zeros(items.shape[0])
        pts[answered] = self.option_points[items[answered], options[answered]]
        return pts

    def categories_of(self, items: IntArray, options: IntArray) -> IntArray:
        """IRT categories for ``options`` on ``items`` (−1 for blank). Both (k,)."""
        items = np.asarray(items, dtype=np.int64)
        options = np.asarray(options, dtype=np.int64)
        out = np.full(items.shape[0], -1, dtype=np.int64)
        answered = options >= 0
        out[answered] = self.option_category[items[answered], options[answered]]
        return out

    def subset(self, index: IntArray) -> BankArrays:
        """A bank of the items at ``index`` (codes tables are kept whole)."""
        idx = np.asarray(index)
        return BankArrays(
            item_ids=tuple(self.item_ids[i] for i in np.arange(self.n_items)[idx]),
            params=self.params.subset(idx),
            subtest=self.subtest[idx],
            subtest_codes=self.subtest_codes,
            content_area=self.content_area[idx],
            content_codes=self.content_codes,
            n_options=self.n_options[idx],
            option_points=self.option_points[idx],
            option_category=self.option_category[idx],
            enemy_group=self.enemy_group[idx],
            pretest=self.pretest[idx],
        )


_EXTRAS_KEY = "_cat_engine_tables"


def bank_extra(bank: BankArrays, name: Any, build: Callable[[], Any]) -> Any:
    """A table ``name`` derived from ``bank``, built by ``build()`` on first use.

    Kept in the bank's instance ``__dict__`` (as ``functools.cached_property``
    does), so it lives exactly as long as the bank: no module-level cache.
    """
    store: dict[Any, Any] = bank.__dict__.setdefault(_EXTRAS_KEY, {})
    if name not in store:
        store[name] = build()
    return store[name]
