"""Diagnostic reports: subscores per content area of each subtest, with the
PRMSE decision of which to report (numerics in :mod:`calibration.subscores`).

Input is what the exam server stores: each candidate's final engine state
(linear or adaptive, each with their own items), read here into padded
``(m, L)`` arrays of bank indices and chosen options. Pretest items are not
scored and are left out. No web, no database.

The report scale: ``50 + 10·θ`` clipped to [0, 100] (a T-score on the bank's
θ metric, mean 50 and SD 10 where the bank's population has θ ~ N(0, 1)), so
a candidate reads "52 ± 6" rather than logits.

A reported area's subscore is shown to a candidate only when at least
:data:`MIN_ITEMS` of their answers in it were scored: an EAP from a few items
is a weighted count of which of them were right, so a score from one item
says whether it was right (a TKP item: its option's points) and one from
four settles most of the four. A candidate who left the rest of an area
blank would otherwise read keys off their own report.
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

#: The fewest scored answers in an area behind a subscore shown to a candidate.
#: On the tests' bank (2PL/3PL, a 0.8–2.0), the score and SE as the report
#: rounds them settle the right/wrong of 2 % of ten items on average (and 8 %
#: with the area's number right known, as from a receipt's subtest points
#: when the rest of the subtest was left blank), against 67 % of four and all
#: of one (``tests/after_test/test_integrity.py``).
MIN_ITEMS = 10


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
    """The report lines of candidate ``row`` (index into the arrays given to :func:`diagnose`).

    A line is ``reported`` when its area is (the PRMSE rule) and the
    candidate has at least :data:`MIN_ITEMS` scored answers in it; a reported
    area with fewer says so instead of its PRMSE reason."""
    lines = []
    for d in diags:
        means = report_scale(d.subscores.theta.mean(axis=0))
        for k, area in enumerate(d.areas):
            v = d.value.areas[k]
            n = int(d.subscores.n_items[row, k])
            reason_id, reason_en = v.reason_id, v.reason_en
            if v.reported and n < MIN_ITEMS:
                reason_id, reason_en = _too_few(n)
            lines.append(
                AreaLine(
                    d.subtest,
                    area,
                    v.reported and n >= MIN_ITEMS,
                    float(report_scale(d.subscores.theta[row, k])),
                    float(10.0 * d.subscores.se[row, k]),
                    n,
                    float(means[k]),
                    reason_id,
                    reason_en,
                )
            )
    return lines


def _too_few(n: int) -> tuple[str, str]:
    return (
        f"tidak ditampilkan: hanya {n} jawaban Anda di area ini yang dinilai (paling sedikit "
        f"{MIN_ITEMS}); skor dari soal sesedikit itu menunjukkan soal mana yang benar",
        f"not shown: only {n} of your answers in this area were scored (at least "
        f"{MIN_ITEMS} are needed); a score from so few items would tell which of them were right",
    )
