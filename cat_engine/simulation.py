"""Simulated candidates through the real engine, vectorised over simulees.

Adaptive designs run section by section for a whole wave of simulees at
once, through the very strategy objects the live engine uses
(:func:`cat_engine.adaptive.select_next` with m = wave size); each simulee's
random draws come from its own seed and step, so simulee j's test equals
``engine.start(design, bank, seed=seeds[j])`` answered the same way (as long
as no exposure limit couples simulees). Linear designs assemble each form
with :func:`cat_engine.engine.start` (one 0–1 program per simulee) and score
all answers at once.

A simulee's answer to an item is a pure function of (answer seed, simulee,
item): the answer matrix is fixed before the run, whichever items the
engine picks; pass ``answers`` to use a pre-drawn one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cat_engine import engine, rng
from cat_engine.adaptive import eligibility, select_next
from cat_engine.bank import BankArrays
from cat_engine.design import TestDesign
from cat_engine.estimators import THETA_GRID, Evidence
from cat_engine.exposure import ExposureUsage, SympsonHetter
from cat_engine.irt import EPS, category_probabilities
from cat_engine.pool import build_pool, check_design_against_bank, section_items
from cat_engine.scoring import reference_max_points, reference_tcc, theta_for_points
from cat_engine.stopping import StopContext

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


def simulee_seeds(seed: int, n: int) -> IntArray:
    """The engine seed of each of n simulees of a run with ``seed``. (n,)"""
    keys = rng.stream_keys(seed, np.arange(n), 97)
    return np.asarray(keys >> np.uint64(1), dtype=np.int64)


def draw_answers(
    bank: BankArrays, theta: FloatArray, answer_seed: int, simulees: IntArray, items: IntArray
) -> IntArray:
    """IRT categories simulee ``simulees[j]`` (ability ``theta[j]``) gives to ``items[j, :]``.

    theta: (m,); simulees: (m,); items: (m, L). Returns (m, L). The draw for
    (simulee, item) is fixed by ``answer_seed``, whatever else is asked.
    """
    from cat_engine.response import gathered_probabilities

    p = gathered_probabilities(theta, bank.params, items)  # (m, L, K)
    u = rng.uniforms_at(np.full(simulees.shape[0], answer_seed), simulees, rng.RESPONSE, items)
    cum = np.cumsum(p, axis=2)
    return np.asarray(np.sum(cum < u[..., None], axis=2), dtype=np.int64).clip(0, p.shape[2] - 1)


@dataclass
class SimulationResult:
    """Per simulee and section: true and estimated ability, SE, points, length.

    theta_true, theta_hat, se, points, true_points, length: (N, S);
    items: per section (N, L_max) bank indices (−1 padding; pretest items
    excluded); exposure_counts: (n_bank,) times each item was given;
    selection_counts: (n_bank,) times each item was selected before the
    exposure lottery (Sympson–Hetter); max_points: (S,).
    """

    design: TestDesign
    codes: tuple[str, ...]
    theta_true: FloatArray
    theta_hat: FloatArray
    se: FloatArray
    points: FloatArray
    true_points: FloatArray
    length: IntArray
    items: list[IntArray]
    exposure_counts: IntArray
    selection_counts: IntArray
    max_points: FloatArray
    passing: list[float | None] = field(default_factory=list)


def simulate(
    design: TestDesign,
    bank: BankArrays,
    theta: FloatArray,
    seed: int = 0,
    *,
    answers: IntArray | None = None,
    wave: int | None = None,
) -> SimulationResult:
    """Run ``design`` for simulees of abilities ``theta``: (N,) or (N, S) per section.

    answers: optional pre-drawn categories (N, n_bank); wave: simulees run
    together (default 64). A hard exposure limit couples the simulees of a
    wave: they share the items' remaining places in wave order.
    """
    check_design_against_bank(design, bank)
    n_sec = len(design.sections)
    th = np.asarray(theta, dtype=np.float64)
    if th.ndim == 1:
        th = np.repeat(th[:, None], n_sec, axis=1)
    if th.ndim != 2 or th.shape[1] != n_sec:
        raise ValueError(f"theta must be (N,) or (N, {n_sec}), got {th.shape}")
    n = th.shape[0]
    seeds = simulee_seeds(seed, n)
    answer_seed = int(seed) + 1_000_003
    result = SimulationResult(
        design=design,
        codes=tuple(s.code for s in design.sections),
        theta_true=th,
        theta_hat=np.zeros((n, n_sec)),
        se=np.zeros((n, n_sec)),
        points=np.zeros((n, n_sec)),
        true_points=np.zeros((n, n_sec)),
        length=np.zeros((n, n_sec), dtype=np.int64),
        items=[np.full((n, s.n_items), -1, dtype=np.int64) for s in design.sections],
        exposure_counts=np.zeros(bank.n_items, dtype=np.int64),
        selection_counts=np.zeros(bank.n_items, dtype=np.int64),
        max_points=np.array([reference_max_points(bank, s) for s in design.sections]),
        passing=[s.passing_points for s in design.sections],
    )
    for s, section in enumerate(design.sections):
        result.true_points[:, s] = reference_tcc(bank, section, th[:, s])

    def respond(rows: IntArray, items: IntArray, section: int) -> IntArray:
        if answers is not None:
            return np.asarray(answers[rows[:, None], items], dtype=np.int64)
        return draw_answers(bank, th[rows, section], answer_seed, rows, items)

    if design.mode == "linear":
        _simulate_linear(design, bank, seeds, respond, result)
    else:
        # Waves of 64 keep the (wave × pool) arrays in cache; without a hard
        # exposure limit the wave size does not change any result.
        size = wave if wave is not None else 64
        for lo in range(0, n, size):
            rows = np.arange(lo, min(n, lo + size))
            _simulate_adaptive_wave(design, bank, seeds, rows, respond, result)
    return result


def _simulate_linear(
    design: TestDesign,
    bank: BankArrays,
    seeds: IntArray,
    respond: Any,
    result: SimulationResult,
) -> None:
    n = seeds.shape[0]
    usage = ExposureUsage(np.zeros(bank.n_items, dtype=np.int64), 0)
    limited = design.exposure.max_rate is not None
    forms: list[list[list[int]]] = []
    for j in range(n):  # one 0–1 program per form: inherently per simulee
        state = engine.start(design, bank, int(seeds[j]), usage=usage if limited else None)
        form = [
            [i for i, p in zip(sec.items, sec.pretest, strict=True) if not p]
            for sec in state.sections
        ]
        forms.append(form)
        for sec in state.sections:
            np.add.at(result.exposure_counts, np.asarray(sec.items, dtype=np.int64), 1)
        usage = ExposureUsage(result.exposure_counts, j + 1)
    result.selection_counts[:] = result.exposure_counts
    rows = np.arange(n)
    for s, section in enumerate(design.sections):
        items = np.array([f[s] for f in forms], dtype=np.int64)  # (N, L)
        cats = respond(rows, items, s)
        opts = _options_for(bank, items, cats)
        pts = bank.option_points[items, opts]
        result.points[:, s] = pts.sum(axis=1)
        ev = Evidence.build(bank.params, items, cats)
        t, se = design.strategies[s].estimator.estimate(ev)
        result.theta_hat[:, s], result.se[:, s] = t, se
        result.length[:, s] = items.shape[1]
        result.items[s][:, : items.shape[1]] = items[:, : section.n_items]


def _options_for(bank: BankArrays, items: IntArray, cats: IntArray) -> IntArray:
    from cat_engine.response import option_for_category

    table = option_for_category(bank)
    return np.asarray(table[items, cats], dtype=np.int64)


def _simulate_adaptive_wave(
    design: TestDesign,
    bank: BankArrays,
    seeds: IntArray,
    rows: IntArray,
    respond: Any,
    result: SimulationResult,
) -> None:
    """All sections for the simulees ``rows``, stepping them together."""
    w = rows.shape[0]
    control = design.exposure_control
    k_bank = control.k_for(bank.item_ids) if isinstance(control, SympsonHetter) else None
    n_groups = int(bank.enemy_group.max()) + 1 if bank.n_items else 0
    used_groups = np.zeros((w, max(n_groups, 1)), dtype=bool)
    presented_all: list[set[int]] = [set() for _ in range(w)]
    step = np.zeros(w, dtype=np.int64)
    max_rate = design.exposure.max_rate
    n_before = int(rows[0])
    for s, section in enumerate(design.sections):
        pool = build_pool(bank, section, k_bank)
        npool = pool.n_items
        strategies = design.strategies[s]
        logp = np.log(np.clip(category_probabilities(THETA_GRID, pool.params), EPS, 1.0)).transpose(
            1, 0, 2
        )  # (n, q, K)
        local_of = np.full(bank.n_items, -1, dtype=np.int64)
        local_of[pool.index] = np.arange(npool)
        given = np.zeros((w, npool), dtype=bool)
        refused = np.zeros((w, npool), dtype=bool)
        loglik = np.zeros((w, THETA_GRID.shape[0]))
        seq = np.full((w, section.n_items), -1, dtype=np.int64)
        cats = np.full((w, section.n_items), -1, dtype=np.int64)
        n_scored = np.zeros(w, dtype=np.int64)
        n_shown = np.zeros(w, dtype=np.int64)
        ev0 = Evidence(bank.params, seq[:, :0], cats[:, :0], loglik)
        theta, se = strategies.estimator.estimate(ev0)
        active = np.ones(w, dtype=bool)
        # Pretest positions, drawn exactly as the engine draws them.
        pre_pos: list[set[int]] = [set() for _ in range(w)]
        if section.pretest_items:
            span = section.minimum + section.pretest_items - 1
            u = rng.uniforms(seeds[rows], np.full(w, s), rng.PRETEST + 10, span)
            order = np.argsort(u, axis=1)[:, : section.pretest_items] + 1
            pre_pos = [set(int(p) for p in order[j]) for j in range(w)]
            pre_pool = section_items(bank, section, pretest=True)
        cut = (
            theta_for_points(bank, section, section.passing_points)
            if section.passing_points is not None
            and any(r.name == "sprt" for r in section.stopping)
            else None
        )
        while active.any():
            act = np.flatnonzero(active)
            # Pretest items (rare): per simulee, as the engine does.
            if section.pretest_items:
                for j in act:
                    while int(n_shown[j]) in pre_pos[j] and _give_pretest(
                        bank,
                        pre_pool,
                        presented_all[j],
                        used_groups[j],
                        int(seeds[rows[j]]),
                        int(step[j]),
                        result,
                    ):
                        n_shown[j] += 1
                        step[j] += 1
            enemy_used = used_groups[act][:, np.maximum(pool.enemy, 0)] & (pool.enemy >= 0)[None, :]
            enemy_used &= ~given[act]
            allowed = None
            if max_rate is not None:
                denom = max(n_before + w, design.exposure.warmup)
                cap = np.floor(max_rate * denom + 1e-9) - result.exposure_counts[pool.index]
                allowed = cap > 0
            elig, area_count = eligibility(pool, given[act], refused[act], enemy_used, allowed)
            choice_items = np.full(act.shape[0], -1, dtype=np.int64)
            todo = np.arange(act.shape[0])
            extra_block = np.zeros_like(elig)
            for _ in range(npool + 1):  # resolve simulees competing for an item's last places
                sub = act[todo]
                ch = select_next(
                    strategies,
                    control,
                    pool,
                    theta[sub],
                    se[sub],
                    given[sub],
                    elig[todo] & ~extra_block[todo],
                    area_count[todo],
                    section.n_items,
                    seeds[rows[sub]],
                    step[sub],
                )
                if ch.refused is not None:
                    refused[sub] |= ch.refused
                    result.selection_counts[pool.index] += ch.refused.sum(axis=0)
                choice_items[todo] = ch.items
                if max_rate is None:
                    break
                counts = np.bincount(choice_items[choice_items >= 0], minlength=npool)
                over = np.flatnonzero(counts > np.maximum(cap, 0))
                if over.size == 0:
                    break
                again = []
                newest = np.zeros(act.shape[0], dtype=bool)
                newest[todo] = True
                for item in over:  # few items per step reach their limit
                    who = np.flatnonzero(choice_items == item)
                    # Simulees that held the item before this round keep it first.
                    who = who[np.argsort(newest[who], kind="stable")]
                    for t in who[int(max(cap[item], 0)) :]:
                        extra_block[t, item] = True
                        choice_items[t] = -1
                        again.append(t)
                todo = np.array(sorted(again), dtype=np.int64)
            done = choice_items < 0
            ok = np.flatnonzero(~done)
            if done.any():
                active[act[done]] = False
            if ok.size == 0:
                break
            j_ok = act[ok]
            loc = choice_items[ok]
            items = pool.index[loc]
            result.exposure_counts += np.bincount(items, minlength=bank.n_items)
            result.selection_counts += np.bincount(items, minlength=bank.n_items)
            given[j_ok, loc] = True
            for j, it in zip(j_ok, items, strict=True):
                presented_all[j].add(int(it))
            eg = pool.enemy[loc]
            has = eg >= 0
            used_groups[j_ok[has], eg[has]] = True
            c = respond(rows[j_ok], items[:, None], s)[:, 0]
            seq[j_ok, n_scored[j_ok]] = items
            cats[j_ok, n_scored[j_ok]] = c
            loglik[j_ok] += logp[loc, :, c]
            n_scored[j_ok] += 1
            n_shown[j_ok] += 1
            step[j_ok] += 1
            ev = Evidence(bank.params, seq[j_ok], cats[j_ok], loglik[j_ok])
            t, e = strategies.estimator.estimate(ev)
            theta[j_ok], se[j_ok] = t, e
            stop = n_scored[j_ok] >= section.n_items
            can = ~stop & (n_scored[j_ok] >= section.minimum)
            if can.any():
                sc = StopContext(
                    evidence=ev,
                    theta=t,
                    se=e,
                    n_given=n_scored[j_ok],
                    time_used=np.zeros(ok.shape[0]),
                    time_limit=section.time_limit_seconds,
                    cut_theta=cut,
                )
                for rule in strategies.stopping:
                    stop |= can & rule.stop(sc)
            active[j_ok[stop]] = False
        result.theta_hat[rows, s] = theta
        result.se[rows, s] = se
        result.length[rows, s] = n_scored
        result.items[s][rows] = seq
        answered = n_scored > 0
        pts = reference_tcc(bank, section, theta)
        result.points[rows, s] = np.where(answered, pts, 0.0)


def _give_pretest(
    bank: BankArrays,
    pre_pool: IntArray,
    presented: set[int],
    used_groups: BoolArray,
    seed: int,
    step: int,
    result: SimulationResult,
) -> bool:
    """Give simulee one pretest item as the engine would; False if none is left."""
    ok = [
        int(i)
        for i in pre_pool
        if int(i) not in presented
        and not (bank.enemy_group[i] >= 0 and used_groups[bank.enemy_group[i]])
    ]
    if not ok:
        return False
    u = rng.uniforms(seed, step, rng.PRETEST, 1)[0, 0]
    item = ok[int(u * len(ok))]
    presented.add(item)
    if bank.enemy_group[item] >= 0:
        used_groups[bank.enemy_group[item]] = True
    result.exposure_counts[item] += 1
    return True


def calibrate_sympson_hetter(
    design: TestDesign,
    bank: BankArrays,
    theta: FloatArray,
    target_rate: float,
    *,
    seed: int = 0,
    iterations: int = 8,
) -> tuple[TestDesign, list[float]]:
    """Sympson & Hetter's iterative simulation: the k per item that caps exposure.

    Starting from k = 1, each round simulates the design with the current k
    and sets, for every item, ``k = target / P(selected)`` where the item was
    selected (reached in rank order, before the lottery) more often than the
    target, else 1. Returns the design with ``exposure.method =
    "sympson_hetter"`` and the final parameters, and the maximum exposure
    rate seen in each round (which should settle near ``target_rate``).
    """
    if not 0 < target_rate <= 1:
        raise ValueError(f"target_rate must be in (0, 1], got {target_rate!r}")
    doc = design.to_dict()
    n = np.asarray(theta).shape[0]
    params: dict[str, float] = {}
    history: list[float] = []
    for _ in range(iterations):
        doc["exposure"] = {**doc["exposure"], "method": "sympson_hetter", "parameters": params}
        current = TestDesign.from_dict(doc)
        res = simulate(current, bank, theta, seed)
        history.append(float(res.exposure_counts.max() / n))
        p_sel = res.selection_counts / n
        over = np.flatnonzero(p_sel > target_rate)
        params = {bank.item_ids[i]: float(target_rate / p_sel[i]) for i in over}
    doc["exposure"] = {**doc["exposure"], "method": "sympson_hetter", "parameters": params}
    return TestDesign.from_dict(doc), history
