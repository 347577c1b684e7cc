"""What every forensic index reads: the items of a session and its answers.

:class:`SessionItems` holds the n items that anyone in the session was given
(IRT parameters, which IRT category each option is, the subtest, the
lognormal response-time parameters); :class:`SessionData` holds the m
candidates' final answers, seconds per item, the option each final answer
replaced, and where each candidate sat. Both check their shapes at
construction. Built by :mod:`forensics.simulate` for simulated sessions and
by ``exam_server.forensics.load`` from a stored session.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from cat_engine.bank import BankArrays
from cat_engine.irt import ItemParameters, Model

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class SessionItems:
    """n items as the forensic indices see them.

    item_ids: (n,); params: their IRT parameters; option_category: (n, O) IRT
    category of each option (``-1`` beyond the item's options; for a
    dichotomous item 1 = the key); section: (n,) index into
    ``section_codes``; alpha, beta: (n,) lognormal response-time
    discrimination (1 / sd of log seconds) and time intensity (mean log
    seconds of an average-speed candidate), NaN where not calibrated.
    """

    item_ids: tuple[str, ...]
    params: ItemParameters
    option_category: IntArray
    section: IntArray
    section_codes: tuple[str, ...]
    alpha: FloatArray
    beta: FloatArray

    def __post_init__(self) -> None:
        n = len(self.item_ids)
        shapes = {
            "params": self.params.n_items == n,
            "option_category": self.option_category.ndim == 2
            and self.option_category.shape[0] == n,
            "section": self.section.shape == (n,),
            "alpha": self.alpha.shape == (n,),
            "beta": self.beta.shape == (n,),
        }
        bad = [k for k, ok in shapes.items() if not ok]
        if bad:
            raise ValueError(f"SessionItems: wrong shape for {', '.join(bad)} (n_items={n})")
        if np.any(self.alpha[np.isfinite(self.alpha)] <= 0):
            raise ValueError("SessionItems: alpha (time discrimination) must be > 0")

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_options(self) -> int:
        return int(self.option_category.shape[1])

    @property
    def dichotomous(self) -> BoolArray:
        """(n,) items scored right/wrong (the others score by option)."""
        return np.asarray(self.params.model <= Model.FOUR_PL)

    @property
    def timed(self) -> BoolArray:
        """(n,) items with calibrated response-time parameters."""
        return np.asarray(np.isfinite(self.alpha) & np.isfinite(self.beta))

    @classmethod
    def from_bank(
        cls,
        bank: BankArrays,
        index: IntArray | None = None,
        alpha: FloatArray | None = None,
        beta: FloatArray | None = None,
    ) -> SessionItems:
        """The items at ``index`` of ``bank`` (all when None); alpha, beta: (len(index),)."""
        idx = np.arange(bank.n_items) if index is None else np.asarray(index, dtype=np.int64)
        n = idx.shape[0]
        return cls(
            item_ids=tuple(bank.item_ids[int(i)] for i in idx),
            params=bank.params.subset(idx),
            option_category=np.asarray(bank.option_category[idx], dtype=np.int64),
            section=np.asarray(bank.subtest[idx], dtype=np.int64),
            section_codes=bank.subtest_codes,
            alpha=np.full(n, np.nan) if alpha is None else np.asarray(alpha, dtype=np.float64),
            beta=np.full(n, np.nan) if beta is None else np.asarray(beta, dtype=np.float64),
        )


@dataclass(frozen=True)
class SessionData:
    """m candidates' answers to the n items of :class:`SessionItems`.

    options: (m, n) final option (0-based; ``-1`` = not given or left
    blank); seconds: (m, n) seconds spent on the item (NaN unknown);
    previous: (m, n) the option the final answer replaced (``-1`` = the
    answer was never changed); room: (m,) room index, row, col: (m,) seat
    (NaN = seat unknown); candidate_ids: (m,) labels for the report.
    """

    items: SessionItems
    options: IntArray
    seconds: FloatArray
    previous: IntArray
    room: IntArray
    row: FloatArray
    col: FloatArray
    candidate_ids: tuple[str, ...]
    categories: IntArray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        m, n = len(self.candidate_ids), self.items.n_items
        shapes = {
            "options": self.options.shape == (m, n),
            "seconds": self.seconds.shape == (m, n),
            "previous": self.previous.shape == (m, n),
            "room": self.room.shape == (m,),
            "row": self.row.shape == (m,),
            "col": self.col.shape == (m,),
        }
        bad = [k for k, ok in shapes.items() if not ok]
        if bad:
            raise ValueError(f"SessionData: wrong shape for {', '.join(bad)} ({m} x {n})")
        too_big = self.options >= self.items.n_options
        if too_big.any():
            i, j = np.argwhere(too_big)[0]
            raise ValueError(
                f"SessionData: candidate {self.candidate_ids[i]} answered option "
                f"{self.options[i, j]} of item {self.items.item_ids[j]}, which has fewer options"
            )
        object.__setattr__(self, "categories", categories_of(self.items, self.options))

    @property
    def n_candidates(self) -> int:
        return len(self.candidate_ids)

    @property
    def answered(self) -> BoolArray:
        """(m, n) items answered (not blank, given)."""
        return np.asarray(self.options >= 0)

    @property
    def correct(self) -> FloatArray:
        """(m, n) 1 right, 0 wrong on dichotomous items; NaN elsewhere or unanswered."""
        out = np.where(self.categories == 1, 1.0, 0.0)
        keep = self.answered & self.items.dichotomous[None, :]
        return np.where(keep, out, np.nan)

    @property
    def log_seconds(self) -> FloatArray:
        """(m, n) ln seconds where answered, timed and positive; NaN elsewhere."""
        ok = self.answered & (self.seconds > 0) & self.items.timed[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(ok, np.log(np.where(ok, self.seconds, 1.0)), np.nan)


def categories_of(items: SessionItems, options: IntArray) -> IntArray:
    """(m, n) IRT category of each chosen option (``-1`` where none)."""
    cols = np.arange(items.n_items)[None, :]
    cats = items.option_category[cols, np.clip(options, 0, None)]
    return np.asarray(np.where(options >= 0, cats, -1), dtype=np.int64)
