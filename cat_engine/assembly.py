"""Automated assembly of parallel linear forms, one per candidate (0–1 programming).

Every candidate's form for a section is a 0–1 program solved with HiGHS
(``scipy.optimize.milp``):

* exactly ``n_items`` items, exactly ``blueprint[area]`` per content area;
* at most one item of each enemy group (also across earlier sections);
* items over the exposure limit are excluded;
* at each θ in ``assembly.theta_points`` the form's expected score
  (published points) is within ``score_tolerance × max_points`` of the
  target, and its information within ``information_tolerance × target``;
* the objective is a random weight per item drawn from the candidate's seed,
  so forms differ between candidates and are reproducible for one.

Targets are those of the average blueprint form of the bank
(``count_area × mean over the area``), so every form is parallel to the
same reference that adaptive scores are reported on.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_array

from cat_engine import rng
from cat_engine.bank import BankArrays
from cat_engine.design import AssemblyDesign, SectionDesign
from cat_engine.errors import EngineError
from cat_engine.irt import category_probabilities, information
from cat_engine.pool import build_pool
from cat_engine.response import category_points

IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


def form_profile(
    bank: BankArrays, items: IntArray, theta_points: tuple[float, ...]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Expected points and information of each item at each θ point. Both (n, P)."""
    pts = np.asarray(theta_points, dtype=np.float64)
    p = category_probabilities(pts, bank.params.subset(items))  # (P, n, K)
    expected = np.einsum("pnk,nk->np", p, category_points(bank, items)[:, : p.shape[2]])
    info = information(pts, bank.params.subset(items)).T
    return expected, info


def assemble_form(
    bank: BankArrays,
    section: SectionDesign,
    assembly: AssemblyDesign,
    seed: int,
    section_number: int,
    allowed: BoolArray | None = None,
) -> IntArray:
    """The scored items of one candidate's form for ``section``, in delivery order.

    allowed: (n_bank,) items the form may use (exposure limit, enemies of
    earlier sections); None = all. Raises ``EngineError('assembly_infeasible')``.
    """
    pool = build_pool(bank, section)
    n = pool.n_items
    expected, info = form_profile(bank, pool.index, assembly.theta_points)
    # Targets: the average blueprint form.
    if pool.has_blueprint:
        weights = np.zeros(n)
        for a, count in enumerate(pool.area_target):
            in_area = pool.area == a
            weights[in_area] = count / max(int(in_area.sum()), 1)
    else:
        weights = np.full(n, section.n_items / n)
    target_score = weights @ expected
    target_info = weights @ info
    max_points = float(weights @ bank.max_points()[pool.index])

    rows: list[NDArray[np.float64]] = [np.ones(n)]
    lo: list[float] = [float(section.n_items)]
    hi: list[float] = [float(section.n_items)]
    if pool.has_blueprint:
        for a, count in enumerate(pool.area_target):
            rows.append((pool.area == a).astype(np.float64))
            lo.append(float(count))
            hi.append(float(count))
    tol_s = assembly.score_tolerance * max_points
    for k in range(len(assembly.theta_points)):
        rows.append(expected[:, k])
        lo.append(float(target_score[k] - tol_s))
        hi.append(float(target_score[k] + tol_s))
        rows.append(info[:, k])
        lo.append(float(target_info[k] * (1 - assembly.information_tolerance)))
        hi.append(float(target_info[k] * (1 + assembly.information_tolerance)))
    groups, counts = np.unique(pool.enemy[pool.enemy >= 0], return_counts=True)
    for g in groups[counts > 1]:
        rows.append((pool.enemy == g).astype(np.float64))
        lo.append(0.0)
        hi.append(1.0)
    upper = np.ones(n)
    if pool.has_blueprint:
        upper[pool.area < 0] = 0.0
    if allowed is not None:
        upper[~allowed[pool.index]] = 0.0
    u = rng.uniforms(seed, section_number, rng.ASSEMBLY, n)[0]
    problem = {
        "c": -u,
        "constraints": LinearConstraint(csr_array(np.vstack(rows)), np.array(lo), np.array(hi)),
        "integrality": np.ones(n),
        "bounds": Bounds(np.zeros(n), upper),
    }
    # The objective is random (it only spreads forms over the bank): any
    # feasible form within 20 % of the best weight is as good as the best, and
    # HiGHS stops far sooner. A busy machine can run out of time before the
    # first feasible form: then one more try with five times the time.
    res = milp(
        **problem,
        options={"time_limit": assembly.time_limit, "disp": False, "mip_rel_gap": 0.2},
    )
    if res.x is None and res.status == 1:
        res = milp(
            **problem,
            options={"time_limit": 5 * assembly.time_limit, "disp": False, "mip_rel_gap": 1.0},
        )
    if res.x is None:
        raise EngineError(
            "assembly_infeasible",
            f"section {section.code}: no form meets the blueprint, enemies, exposure limit "
            f"and tolerances (score ±{assembly.score_tolerance:.0%} of max, information "
            f"±{assembly.information_tolerance:.0%}); HiGHS says: {res.message}",
        )
    chosen = pool.index[res.x > 0.5]
    order = np.argsort(rng.uniforms(seed, section_number, rng.ASSEMBLY + 100, chosen.shape[0])[0])
    return np.asarray(chosen[order], dtype=np.int64)
