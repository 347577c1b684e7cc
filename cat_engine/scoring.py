"""Scores on the published scale.

Linear forms use the published number-correct rule: the points of the chosen
option (TWK/TIU: 5 for the key, 0 otherwise; TKP: the option's 1–5 points;
blank 0). Adaptive sections report the *expected score on the reference
form*: the test characteristic curve (TCC) of the average blueprint form of
the bank, evaluated at the ability estimate,

    E(θ) = Σ_area count_area · mean_{i ∈ area} Σ_k P_ik(θ) · points_ik,

so a candidate's adaptive score is on the same 0–150 / 0–175 / 0–225 scale
as the linear form and the published passing grades (TWK 65, TIU 80,
TKP 166) apply unchanged.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cat_engine.bank import BankArrays, bank_extra
from cat_engine.design import SectionDesign
from cat_engine.irt import category_probabilities
from cat_engine.pool import section_items
from cat_engine.response import category_points

FloatArray = NDArray[np.float64]


def _area_weights(bank: BankArrays, section: SectionDesign) -> tuple[NDArray[np.int64], FloatArray]:
    """Pool items and the weight of each in the reference form (sums to its length).

    The reference form has the blueprint's proportions at
    ``section.reference_items`` items.
    """
    idx = section_items(bank, section)
    scale = section.reference_items / section.n_items
    w = np.zeros(idx.shape[0])
    if section.blueprint:
        for code, count in section.blueprint.items():
            if code in bank.content_codes:
                in_area = bank.content_area[idx] == bank.content_codes.index(code)
                if in_area.any():
                    w[in_area] = count * scale / in_area.sum()
    else:
        w[:] = section.reference_items / max(idx.shape[0], 1)
    return idx, w


def reference_tcc(bank: BankArrays, section: SectionDesign, theta: ArrayLike) -> FloatArray:
    """Expected published points on the section's reference form. theta (q,) → (q,)."""
    idx, w = _area_weights(bank, section)
    p = category_probabilities(theta, bank.params.subset(idx))  # (q, n, K)
    pts = category_points(bank, idx)
    expected = np.einsum("qnk,nk->qn", p, pts[:, : p.shape[2]])
    return np.asarray(expected @ w, dtype=np.float64)


def reference_max_points(bank: BankArrays, section: SectionDesign) -> float:
    """The reference form's maximum points (150 for a 30-item TWK)."""
    idx, w = _area_weights(bank, section)
    return float(bank.max_points()[idx] @ w)


_GRID: FloatArray = np.linspace(-6.0, 6.0, 1201)


def reference_curve(bank: BankArrays, section: SectionDesign) -> tuple[FloatArray, FloatArray]:
    """The reference TCC on a 0.01-logit grid over [−6, 6]: (grid, points), each (1201,).

    Built once per bank and section (interpolating it errs by < 0.01 points).
    """
    key = (
        "reference_curve",
        section.code,
        tuple(sorted(section.blueprint.items())),
        section.n_items,
        section.reference_items,
    )
    curve: tuple[FloatArray, FloatArray] = bank_extra(
        bank, key, lambda: (_GRID, reference_tcc(bank, section, _GRID))
    )
    return curve


def theta_for_points(bank: BankArrays, section: SectionDesign, points: float) -> float:
    """The θ at which the reference TCC reaches ``points`` (clipped to [−6, 6])."""
    grid, tcc = reference_curve(bank, section)
    # The TCC increases with θ; np.interp needs increasing x.
    return float(np.interp(points, np.maximum.accumulate(tcc), grid))


def cut_theta(bank: BankArrays, section: SectionDesign) -> float | None:
    """The section's cut on the θ scale for SPRT stopping, or None.

    The cut is the design's ``passing_points`` (the classification cut on the
    published scale) mapped through the reference TCC; None when the section
    has no cut or no ``sprt`` stopping rule. The engine and the simulator both
    ask here.
    """
    if section.passing_points is None or not any(r.name == "sprt" for r in section.stopping):
        return None
    return theta_for_points(bank, section, section.passing_points)


def reaches_cut(points: ArrayLike, cut_points: float) -> NDArray[np.bool_]:
    """Whether each score reaches the classification cut (points ≥ cut). (m,) → (m,)

    For the simulator's classification accuracy only: a candidate's pass or
    fail is the exam's ranking policy's (``exam_server.results.rules``), not
    the engine's.
    """
    return np.asarray(np.asarray(points, dtype=np.float64) >= cut_points)
