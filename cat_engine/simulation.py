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

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cat_engine import engine, rng
from cat_engine.adaptive import eligibility, select_next
from cat_engine.bank import BankArrays
from cat_engine.design import TestDesign
from cat_engine.estimators import THETA_GRID, Evidence
from cat_engine.exposure import ExposureUsage, remaining_places, sympson_hetter_k
from cat_engine.pool import (
    check_design_against_bank,
    n_enemy_groups,
    pick_pretest,
    pretest_blocked,
    pretest_positions,
    section_items,
)
from cat_engine.prepared import section_tables
from cat_engine.scoring import cut_theta, reference_max_points, reference_tcc
from cat_engine.stopping import GO_ON, section_stop

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
    exposure lottery (Sympson–Hetter); max_points: (S,); passing: each
    section's classification cut (the design's ``passing_points``) or None.
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
    response_seconds: FloatArray | None = None,
    wave: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> SimulationResult:
    """Run ``design`` for simulees of abilities ``theta``: (N,) or (N, S) per section.

    answers: optional pre-drawn categories (N, n_bank); response_seconds:
    optional seconds simulee j spends on item i (N, n_bank), for the design's
    time limits (None: no time passes, limits never bind); wave: simulees
    run together (default 64). A hard exposure limit couples the simulees of
    a wave: they share the items' remaining places in wave order (with
    ``wave=1`` each simulee sees the usage of those before it, as a live
    server's candidates would). progress: called with the number of simulees
    done so far (a linear form's assembly, or an adaptive wave), for a
    progress bar; it does not change any result.
    """
    check_design_against_bank(design, bank)
    n_sec = len(design.sections)
    th = np.asarray(theta, dtype=np.float64)
    if th.ndim == 1:
        th = np.repeat(th[:, None], n_sec, axis=1)
    if th.ndim != 2 or th.shape[1] != n_sec:
        raise ValueError(f"theta must be (N,) or (N, {n_sec}), got {th.shape}")
    n = th.shape[0]
    if response_seconds is not None and np.shape(response_seconds) != (n, bank.n_items):
        raise ValueError(
            f"response_seconds must be (N, n_bank) = {(n, bank.n_items)}, "
            f"got {np.shape(response_seconds)}"
        )
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

    seconds = None if response_seconds is None else np.asarray(response_seconds, dtype=np.float64)
    if design.mode == "linear":
        _simulate_linear(design, bank, seeds, respond, seconds, result, progress)
    else:
        # Waves of 64 keep the (wave × pool) arrays in cache; without a hard
        # exposure limit the wave size does not change any result.
        size = wave if wave is not None else 64
        for lo in range(0, n, size):
            rows = np.arange(lo, min(n, lo + size))
            _simulate_adaptive_wave(design, bank, seeds, rows, respond, seconds, result)
            if progress is not None:
                progress(int(rows[-1]) + 1)
    return result


def _simulate_linear(
    design: TestDesign,
    bank: BankArrays,
    seeds: IntArray,
    respond: Any,
    seconds: FloatArray | None,
    result: SimulationResult,
    progress: Callable[[int], None] | None = None,
) -> None:
    n = seeds.shape[0]
    limited = design.exposure.max_rate is not None
    states = []
    for j in range(n):  # one 0–1 program per form: inherently per simulee
        usage = ExposureUsage(result.exposure_counts, j) if limited else None
        state = engine.start(design, bank, int(seeds[j]), usage=usage)
        states.append(state)
        for sec in state.sections:
            np.add.at(result.exposure_counts, np.asarray(sec.items, dtype=np.int64), 1)
        if progress is not None:
            progress(j + 1)
    result.selection_counts[:] = result.exposure_counts
    rows = np.arange(n)
    # Every form of a section has the same length and pretest count.
    shown = [
        np.array([st.sections[s].items for st in states], dtype=np.int64)
        for s in range(len(design.sections))
    ]  # per section (N, L + pretest)
    is_pre = [
        np.array([st.sections[s].pretest for st in states], dtype=bool)
        for s in range(len(design.sections))
    ]
    # A candidate answers in form order until the test's time runs out: the
    # answer that uses the time up counts, later items stay blank.
    answered = [np.ones(x.shape, dtype=bool) for x in shown]
    limit = design.time_limit_seconds
    if seconds is not None and limit is not None and shown:
        order = np.concatenate(shown, axis=1)
        spent = np.cumsum(seconds[rows[:, None], order], axis=1)
        before = np.concatenate([np.zeros((n, 1)), spent[:, :-1]], axis=1)
        ok = before < limit
        cuts = np.cumsum([x.shape[1] for x in shown])[:-1]
        answered = np.split(ok, cuts, axis=1)
    for s, section in enumerate(design.sections):
        # Pretest positions differ between simulees; every row has L scored items.
        scored = ~is_pre[s]
        items = shown[s][scored].reshape(n, -1)  # (N, L)
        done = answered[s][scored].reshape(n, -1)
        cats = np.where(done, respond(rows, items, s), -1)
        opts = _options_for(bank, items, np.maximum(cats, 0))
        pts = np.where(done, bank.option_points[items, opts], 0.0)
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
    seconds: FloatArray | None,
    result: SimulationResult,
) -> None:
    """All sections for the simulees ``rows``, stepping them together.

    Every rule is the engine's own function, called for the wave at once:
    pretest placement (:mod:`cat_engine.pool`), eligibility and selection
    (:mod:`cat_engine.adaptive`), the hard exposure limit and the
    Sympson–Hetter parameters (:mod:`cat_engine.exposure`), the SPRT cut
    (:mod:`cat_engine.scoring`) and the section's end
    (:func:`cat_engine.stopping.section_stop`).
    """
    w = rows.shape[0]
    wseeds = seeds[rows]
    control = design.exposure_control
    k_bank = sympson_hetter_k(control, bank)
    used_groups = np.zeros((w, n_enemy_groups(bank)), dtype=bool)
    step = np.zeros(w, dtype=np.int64)
    max_rate = design.exposure.max_rate
    n_before = int(rows[0])
    test_time = np.zeros(w)
    test_over = np.zeros(w, dtype=bool)  # the test's time limit ran out
    for s, section in enumerate(design.sections):
        tables = section_tables(bank, section, k_bank)
        pool = tables.pool
        npool = pool.n_items
        strategies = design.strategies[s]
        given = np.zeros((w, npool), dtype=bool)
        refused = np.zeros((w, npool), dtype=bool)
        loglik = np.zeros((w, THETA_GRID.shape[0]))
        seq = np.full((w, section.n_items), -1, dtype=np.int64)
        cats = np.full((w, section.n_items), -1, dtype=np.int64)
        n_scored = np.zeros(w, dtype=np.int64)
        n_shown = np.zeros(w, dtype=np.int64)
        sec_time = np.zeros(w)
        ev0 = Evidence(bank.params, seq[:, :0], cats[:, :0], loglik)
        theta, se = strategies.estimator.estimate(ev0)
        active = ~test_over
        pre_pos = pretest_positions(wseeds, s, section)  # (w, k)
        pre_pool = section_items(bank, section, pretest=True)
        pre_shown = np.zeros((w, pre_pool.shape[0]), dtype=bool)
        cut = cut_theta(bank, section)

        while active.any():
            # Pretest items: at most pretest_items rounds, each over the whole wave.
            no_pretest = np.zeros(w, dtype=bool)  # none left at this position
            for _ in range(pre_pos.shape[1]):
                due = active & ~no_pretest & (pre_pos == n_shown[:, None]).any(axis=1)
                if not due.any():
                    break
                j = np.flatnonzero(due)
                blocked = pretest_blocked(bank, pre_pool, pre_shown[j], used_groups[j])
                picked = pick_pretest(pre_pool, blocked, wseeds[j], step[j])
                no_pretest[j[picked < 0]] = True
                j, picked = j[picked >= 0], picked[picked >= 0]
                pre_shown[j, np.searchsorted(pre_pool, picked)] = True
                eg = bank.enemy_group[picked]
                used_groups[j[eg >= 0], eg[eg >= 0]] = True
                result.exposure_counts += np.bincount(picked, minlength=bank.n_items)
                n_shown[j] += 1
                step[j] += 1
                if seconds is not None:
                    # A pretest answer changes no estimate: only time can end the section.
                    _spend(seconds, rows, j, picked, sec_time, test_time)
                    code = section_stop(
                        section,
                        strategies.stopping,
                        evidence=Evidence(bank.params, seq[j], cats[j], loglik[j]),
                        theta=theta[j],
                        se=se[j],
                        n_scored=n_scored[j],
                        time_used=sec_time[j],
                        cut_theta=cut,
                    )
                    active[j[code != GO_ON]] = False
                    _test_time_out(design, test_time, j, test_over, active)
            act = np.flatnonzero(active)
            if act.size == 0:
                break
            enemy_used = used_groups[act][:, np.maximum(pool.enemy, 0)] & (pool.enemy >= 0)[None, :]
            enemy_used &= ~given[act]
            allowed = None
            if max_rate is not None:
                cap = remaining_places(
                    result.exposure_counts[pool.index],
                    n_before + w,
                    max_rate,
                    design.exposure.warmup,
                )
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
                    wseeds[sub],
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
                active[act[done]] = False  # pool exhausted
            if ok.size == 0:
                break
            j_ok = act[ok]
            loc = choice_items[ok]
            items = pool.index[loc]
            result.exposure_counts += np.bincount(items, minlength=bank.n_items)
            result.selection_counts += np.bincount(items, minlength=bank.n_items)
            given[j_ok, loc] = True
            eg = pool.enemy[loc]
            has = eg >= 0
            used_groups[j_ok[has], eg[has]] = True
            c = respond(rows[j_ok], items[:, None], s)[:, 0]
            seq[j_ok, n_scored[j_ok]] = items
            cats[j_ok, n_scored[j_ok]] = c
            loglik[j_ok] += tables.logp[loc, :, c]
            n_scored[j_ok] += 1
            n_shown[j_ok] += 1
            step[j_ok] += 1
            ev = Evidence(bank.params, seq[j_ok], cats[j_ok], loglik[j_ok])
            t, e = strategies.estimator.estimate(ev)
            theta[j_ok], se[j_ok] = t, e
            if seconds is not None:
                _spend(seconds, rows, j_ok, items, sec_time, test_time)
            code = section_stop(
                section,
                strategies.stopping,
                evidence=ev,
                theta=t,
                se=e,
                n_scored=n_scored[j_ok],
                time_used=sec_time[j_ok],
                cut_theta=cut,
            )
            active[j_ok[code != GO_ON]] = False
            _test_time_out(design, test_time, j_ok, test_over, active)
        result.theta_hat[rows, s] = theta
        result.se[rows, s] = se
        result.length[rows, s] = n_scored
        result.items[s][rows] = seq
        answered = n_scored > 0
        pts = reference_tcc(bank, section, theta)
        result.points[rows, s] = np.where(answered, pts, 0.0)


def _spend(
    seconds: FloatArray,
    rows: IntArray,
    j: IntArray,
    items: IntArray,
    sec_time: FloatArray,
    test_time: FloatArray,
) -> None:
    """Add the seconds wave members ``j`` spent on ``items`` to their clocks (in place)."""
    dt = seconds[rows[j], items]
    sec_time[j] += dt
    test_time[j] += dt


def _test_time_out(
    design: TestDesign,
    test_time: FloatArray,
    j: IntArray,
    test_over: BoolArray,
    active: BoolArray,
) -> None:
    """End the test of wave members ``j`` whose time is up (the engine's ``_check_time``)."""
    limit = design.time_limit_seconds
    if limit is not None:
        out = j[test_time[j] >= limit]
        test_over[out] = True
        active[out] = False


def expected_max_z(m: int) -> float:
    """E[max of m independent standard normals], by Blom's approximation (z for m = 1 is 0)."""
    if m <= 1:
        return 0.0
    return float(NormalDist().inv_cdf((m - 0.375) / (m + 0.25)))


def sympson_hetter_rate(target_rate: float, n_tests: int, n_simulees: int, m: int) -> float:
    """The per-item exposure probability that keeps the *observed* maximum at ``target_rate``.

    Sympson–Hetter controls each item's probability of exposure; over n_tests
    tests an item given with probability p is seen by a binomial share of them
    (variance p(1 − p)/n_tests), and its k, estimated from n_simulees
    simulees, carries an error of about the same kind (at most p(1 − p)/
    n_simulees: k = p / P(S), P(S) a binomial share). The highest of the m
    items held at p lies about ``expected_max_z(m)`` SDs above p, so they are
    held at p with p + z·√(p(1 − p)(1/n_tests + 1/n_simulees)) = target_rate
    (solved by fixed-point iteration; never below a quarter of the target).
    """
    z = expected_max_z(m)
    scale = 1.0 / n_tests + 1.0 / n_simulees
    p = target_rate
    for _ in range(50):
        p = max(target_rate - z * math.sqrt(p * (1.0 - p) * scale), target_rate / 4)
    return p


def calibrate_sympson_hetter(
    design: TestDesign,
    bank: BankArrays,
    theta: FloatArray,
    target_rate: float,
    *,
    seed: int = 0,
    iterations: int = 20,
    n_tests: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[TestDesign, list[float]]:
    """Sympson & Hetter's iterative simulation: the k per item that caps exposure.

    Starting from k = 1, each round simulates the design with the current k
    (same simulees, same seed: successive rounds differ only by k) and sets,
    for every item selected (reached in rank order, before the lottery) with
    probability P(S) above the per-item rate p, k = p / P(S), else 1
    (Sympson & Hetter 1985). At the fixed point every limited item is given
    with probability p.

    The target is for the *observed* maximum over ``n_tests`` tests (default:
    the number of simulees): holding items at exactly the target leaves the
    highest of them ~2–3 binomial SDs above it (0.27 for 0.25 over 2,000
    tests), so p is set below the target by the expected maximum's excess
    (:func:`sympson_hetter_rate`, m = the items held at p). The first rounds
    reveal one "layer" of items at a time (the next best item is selected
    only once the best one is refused), so calibration needs 10–20 rounds; it
    stops early once no k moves by more than 0.01. Returns the design with
    ``exposure.method = "sympson_hetter"`` and the final parameters, and the
    maximum exposure rate seen in each round. progress: called with (round,
    simulees done in it), rounds counted from 1, for a progress bar.
    """
    if not 0 < target_rate <= 1:
        raise ValueError(f"target_rate must be in (0, 1], got {target_rate!r}")
    doc = design.to_dict()
    n = np.asarray(theta).shape[0]
    tests = n if n_tests is None else int(n_tests)
    k = np.ones(bank.n_items)
    history: list[float] = []

    def with_k(k: FloatArray) -> TestDesign:
        params = {bank.item_ids[i]: float(k[i]) for i in np.flatnonzero(k < 1.0)}
        doc["exposure"] = {**doc["exposure"], "method": "sympson_hetter", "parameters": params}
        return TestDesign.from_dict(doc)

    m = 1
    for round_no in range(1, iterations + 1):
        tick = None if progress is None else (lambda done, r=round_no: progress(r, done))
        res = simulate(with_k(k), bank, theta, seed, progress=tick)
        history.append(float(res.exposure_counts.max() / n))
        p_sel = res.selection_counts / n
        rate = sympson_hetter_rate(target_rate, tests, n, m)
        over = p_sel > rate
        m = max(int(over.sum()), 1)
        rate = sympson_hetter_rate(target_rate, tests, n, m)
        new_k = np.where(p_sel > rate, rate / np.maximum(p_sel, 1e-12), 1.0)
        moved = float(np.max(np.abs(new_k - k)))
        k = new_k
        if moved <= 0.01:
            break
    return with_k(k), history
