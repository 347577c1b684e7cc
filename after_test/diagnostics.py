"""Diagnostic reports: subscores per content area of each subtest, with the
PRMSE decision of which to report (numerics in :mod:`calibration.subscores`).

Input is what the exam server stores: each candidate's final engine state
(linear or adaptive, each with their own items), read here into padded
``(m, L)`` arrays of bank indices and chosen options. Pretest items are not
scored and are left out. No web, no database.

The report scale: ``50 + 10·θ`` clipped to [0, 100] (a T-score on the bank's
θ metric, mean 50 and SD 10 where the bank's population has θ ~ N(0, 1)), so
a candidate reads "52 ± 6" rather than logits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from calibration.subscores import AddedValue, Subscores, added_value, area_subscores
from cat_engine.bank import BankArrays
from cat_engine.state import TestState

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


def answers_of(states: Sequence[TestState]) -> tuple[IntArray, IntArray]:
    """Scored items and chosen options of every state, padded with −1: two (m, L)."""
    rows: list[tuple[list[int], list[int]]] = []
    for st in states:
        items: list[int] = []
        options: list[int] = []
        for sec in st.sections:
            for item, option, pre in zip(sec.items, sec.options, sec.pretest, strict=False):
                if not pre:
                    items.append(item)
                    options.append(option)
        rows.append((items, options))
    width = max((len(r[0]) for r in rows), default=0)
    it = np.full((len(rows), width), -1, dtype=np.int64)
    op = np.full((len(rows), width), -1, dtype=np.int64)
    for i, (items, options) in enumerate(rows):
        it[i, : len(items)] = items
        op[i, : len(options)] = options
    return it, op


def report_scale(theta: FloatArray | float) -> FloatArray:
    """θ (logits) on the report's 0–100 scale."""
    return np.clip(50.0 + 10.0 * np.asarray(theta, dtype=np.float64), 0.0, 100.0)


@dataclass(frozen=True)
class SubtestDiagnostics:
    """One subtest's areas for all candidates: ``subscores`` (m, K) and the PRMSE analysis."""

    subtest: str
    areas: tuple[str, ...]
    subscores: Subscores
    value: AddedValue


def diagnose(bank: BankArrays, items: IntArray, options: IntArray) -> list[SubtestDiagnostics]:
    """Per subtest of ``bank``: area subscores of every candidate and which to report.

    items, options: (m, L) bank indices and chosen options (−1: padding/blank)."""
    it = np.asarray(items, dtype=np.int64)
    op = np.asarray(options, dtype=np.int64)
    cats = np.full(it.shape, -1, dtype=np.int64)
    used = (it >= 0) & (op >= 0)
    cats[used] = bank.option_category[it[used], op[used]]
    out = []
    for s, code in enumerate(bank.subtest_codes):
        in_subtest = bank.subtest == s
        area_ids = np.unique(bank.content_area[in_subtest])
        if area_ids.size == 0:
            continue
        local = np.full(bank.n_items, -1, dtype=np.int64)  # bank item → area index here
        local[in_subtest] = np.searchsorted(area_ids, bank.content_area[in_subtest])
        areas = tuple(bank.content_codes[a] for a in area_ids)
        sub = area_subscores(bank.params, it, cats, local, areas)
        out.append(SubtestDiagnostics(code, areas, sub, added_value(sub)))
    return out


@dataclass(frozen=True)
class AreaLine:
    """One line of a candidate's report (scores on the report scale)."""

    subtest: str
    area: str
    reported: bool
    score: float
    se: float
    n_items: int
    group_mean: float
    reason_id: str
    reason_en: str


def candidate_lines(diags: Sequence[SubtestDiagnostics], row: int) -> list[AreaLine]:
    """The report lines of candidate ``row`` (index into the arrays given to :func:`diagnose`)."""
    lines = []
    for d in diags:
        means = report_scale(d.subscores.theta.mean(axis=0))
        for k, area in enumerate(d.areas):
            v = d.value.areas[k]
            lines.append(
                AreaLine(
                    d.subtest,
                    area,
                    v.reported,
                    float(report_scale(d.subscores.theta[row, k])),
                    float(10.0 * d.subscores.se[row, k]),
                    int(d.subscores.n_items[row, k]),
                    float(means[k]),
                    v.reason_id,
                    v.reason_en,
                )
            )
    return lines
