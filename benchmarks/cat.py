"""Adaptive testing speed and accuracy: Seleksi against catsim and adaptivetesting.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python -m benchmarks.cat [--quick]

Same 3PL banks (500 and 5,000 items), same simulees (θ ~ N(0, 1)), same
pre-drawn answer matrix (simulee × item: simulee j answers item i the same
way whichever engine picks it), 30 items, maximum information with MLE or EAP.
Engines run interleaved in rounds of simulees. Per-step latency is one
selection plus one ability update for one candidate:

* floor — bare numpy: 3PL information over the bank, argmax, 61-point EAP update;
* seleksi live — ``cat_engine.engine.record`` on a ``TestState``: the path a
  server takes per answer (new state, validation, estimate, stopping, next item);
* seleksi batch — the vectorised simulator over all simulees of a round at
  once (amortised time per simulee-step);
* catsim — ``MaxInfoSelector`` + ``NumericalSearchEstimator`` (its MLE; catsim
  has no EAP);
* adaptivetesting — ``maximum_information_criterion`` + ``MLEstimator`` /
  ``ExpectedAPosteriori`` with a N(0, 1) prior, run on fewer simulees (it is
  two orders of magnitude slower), spread over the rounds.

Then the shadow test (``selector: shadow``) over the SKD blueprint on a
1,000-item bank, p99 per step. Writes the ``cat`` section of docs/benchmarks.md.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # per-step figures are single-threaded (set before numpy loads)

import argparse  # noqa: E402
import importlib.metadata as md  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks.report import machine_line, write_section  # noqa: E402
from cat_engine import engine  # noqa: E402
from cat_engine.bank import BankArrays  # noqa: E402
from cat_engine.design import SKD_BLUEPRINT, TestDesign, skd_design  # noqa: E402
from cat_engine.irt import ItemParameters  # noqa: E402
from cat_engine.simulation import simulate  # noqa: E402
from cat_engine.synthetic import synthetic_bank  # noqa: E402

DATA = Path(__file__).resolve().parent / ".data"
LENGTH = 30
GRID = np.linspace(-4.0, 4.0, 61)


def make_data(n_items: int, n_sim: int, seed: int) -> dict[str, np.ndarray]:
    """Bank, abilities and answer matrix, generated once and saved as .npz."""
    DATA.mkdir(exist_ok=True)
    path = DATA / f"cat-{n_items}-{n_sim}-{seed}.npz"
    if path.exists():
        return dict(np.load(path))
    r = np.random.default_rng(seed)
    a = np.exp(r.normal(0, 0.3, n_items))
    b = r.normal(0, 1, n_items)
    c = r.uniform(0.1, 0.25, n_items)
    theta = r.normal(0, 1, n_sim)
    p = c + (1 - c) / (1 + np.exp(-a * (theta[:, None] - b)))
    answers = (r.random((n_sim, n_items)) < p).astype(np.int8)
    data = {"a": a, "b": b, "c": c, "theta": theta, "answers": answers}
    np.savez(path, **data)
    return data


def bank_of(data: dict[str, np.ndarray]) -> BankArrays:
    n = data["a"].shape[0]
    op = np.zeros((n, 2))
    op[:, 1] = 1.0
    oc = np.tile(np.array([0, 1]), (n, 1))
    return BankArrays(
        item_ids=tuple(f"B{i}" for i in range(n)),
        params=ItemParameters.dichotomous(data["a"], data["b"], data["c"]),
        subtest=np.zeros(n, dtype=np.int64),
        subtest_codes=("S",),
        content_area=np.zeros(n, dtype=np.int64),
        content_codes=("S.all",),
        n_options=np.full(n, 2, dtype=np.int64),
        option_points=op,
        option_category=oc,  # option 1 = right, so option index = answer
        enemy_group=np.full(n, -1, dtype=np.int64),
        pretest=np.zeros(n, dtype=bool),
    )


def design_of(estimator: str) -> TestDesign:
    return TestDesign.from_dict(
        {
            "name": f"bench {estimator}",
            "mode": "adaptive",
            "sections": [{"code": "S", "n_items": LENGTH, "estimator": estimator}],
        }
    )


# -- engines: each runs simulees `rows` and returns (step times ns, final θ) ----------


def run_floor(data: dict[str, np.ndarray], rows: np.ndarray) -> tuple[list[int], np.ndarray]:
    a, b, c, ans = data["a"], data["b"], data["c"], data["answers"]
    pg = c + (1 - c) / (1 + np.exp(-a * (GRID[:, None] - b)))  # (61, n)
    logp = np.stack([np.log(1 - pg), np.log(pg)], axis=2)  # (61, n, 2)
    log_prior = -0.5 * GRID**2
    times: list[int] = []
    est = np.zeros(rows.shape[0])
    for k, j in enumerate(rows):
        theta = 0.0
        loglik = np.zeros(61)
        used = np.zeros(a.shape[0], dtype=bool)
        for _ in range(LENGTH):
            t0 = time.perf_counter_ns()
            p = c + (1 - c) / (1 + np.exp(-a * (theta - b)))
            info = a * a * (1 - p) / p * ((p - c) / (1 - c)) ** 2
            info[used] = -1.0
            item = int(np.argmax(info))
            used[item] = True
            loglik += logp[:, item, ans[j, item]]
            w = np.exp(loglik + log_prior - (loglik + log_prior).max())
            theta = float(w @ GRID / w.sum())
            times.append(time.perf_counter_ns() - t0)
        est[k] = theta
    return times, est


def run_seleksi_live(
    data: dict[str, np.ndarray], rows: np.ndarray, bank: BankArrays, design: TestDesign
) -> tuple[list[int], np.ndarray]:
    ans = data["answers"]
    times: list[int] = []
    est = np.zeros(rows.shape[0])
    for k, j in enumerate(rows):
        # start() validates the design against the bank and picks item 1; each
        # record() updates θ̂ and picks the next item: that is one step.
        st = engine.start(design, bank, seed=int(j))
        while not engine.is_complete(st):
            item = engine.current(st)
            assert item is not None
            t0 = time.perf_counter_ns()
            st = engine.record(st, bank, item, int(ans[j, item]))
            times.append(time.perf_counter_ns() - t0)
        est[k] = st.sections[0].theta
    return times, est


def run_seleksi_batch(
    data: dict[str, np.ndarray], rows: np.ndarray, bank: BankArrays, design: TestDesign
) -> tuple[list[int], np.ndarray]:
    answers = data["answers"][rows].astype(np.int64)
    t0 = time.perf_counter_ns()
    res = simulate(design, bank, data["theta"][rows], seed=0, answers=answers)
    total = time.perf_counter_ns() - t0
    per = total // (rows.shape[0] * LENGTH)
    return [per] * (rows.shape[0] * LENGTH), res.theta_hat[:, 0]


def run_catsim(data: dict[str, np.ndarray], rows: np.ndarray) -> tuple[list[int], np.ndarray]:
    from catsim.estimation.numerical import NumericalSearchEstimator
    from catsim.item_bank import ItemBank
    from catsim.selection.selection import MaxInfoSelector

    items = np.column_stack([data["a"], data["b"], data["c"], np.ones_like(data["a"])])
    bank = ItemBank(items)
    sel, estm = MaxInfoSelector(), NumericalSearchEstimator()
    ans = data["answers"]
    times: list[int] = []
    est = np.zeros(rows.shape[0])
    for k, j in enumerate(rows):
        theta = 0.0
        adm: list[int] = []
        resp: list[bool] = []
        for _ in range(LENGTH):
            t0 = time.perf_counter_ns()
            item = sel.select(item_bank=bank, administered_items=adm, est_theta=theta)
            assert item is not None
            adm.append(int(item))
            resp.append(bool(ans[j, item]))
            theta = float(
                estm.estimate(
                    item_bank=bank, administered_items=adm, response_vector=resp, est_theta=theta
                )
            )
            times.append(time.perf_counter_ns() - t0)
        est[k] = theta
    return times, est


def run_adaptivetesting(
    data: dict[str, np.ndarray], rows: np.ndarray, estimator: str
) -> tuple[list[int], np.ndarray]:
    from adaptivetesting.math.estimators import (
        ExpectedAPosteriori,
        MLEstimator,
        NormalPrior,
    )
    from adaptivetesting.math.item_selection import maximum_information_criterion
    from adaptivetesting.models import AlgorithmException, TestItem

    pool = []
    for i, (a, b, c) in enumerate(zip(data["a"], data["b"], data["c"], strict=True)):
        it = TestItem()
        it.id, it.a, it.b, it.c, it.d = i, float(a), float(b), float(c), 1.0
        pool.append(it)
    ans = data["answers"]
    times: list[int] = []
    est = np.zeros(rows.shape[0])
    for k, j in enumerate(rows):
        theta = 0.0
        available = list(pool)
        given: list[Any] = []
        resp: list[int] = []
        for _ in range(LENGTH):
            t0 = time.perf_counter_ns()
            item = maximum_information_criterion(available, theta)
            available.remove(item)
            given.append(item)
            resp.append(int(ans[j, item.id]))
            try:
                if estimator == "eap":
                    e = ExpectedAPosteriori(np.array(resp), given, NormalPrior(0, 1))
                else:
                    e = MLEstimator(np.array(resp), given)
                theta = float(e.get_estimation())
            except AlgorithmException:
                theta = 10.0 if resp[-1] == 1 else -10.0  # its own rule for 0/1-only patterns
            times.append(time.perf_counter_ns() - t0)
        est[k] = theta
    return times, est


# -- orchestration -------------------------------------------------------------------


def _stats(times: list[int]) -> tuple[float, float]:
    t = np.asarray(times) / 1000.0
    return float(np.median(t)), float(np.percentile(t, 99))


def bench_bank(
    n_items: int, n_sim: int, n_slow: int, rounds: int, seed: int
) -> list[dict[str, Any]]:
    data = make_data(n_items, n_sim, seed)
    bank = bank_of(data)
    designs = {e: design_of(e) for e in ("eap", "mle")}
    engines: dict[str, Callable[[np.ndarray], tuple[list[int], np.ndarray]]] = {
        "floor (numpy, EAP)": lambda r: run_floor(data, r),
        "seleksi live, EAP": lambda r: run_seleksi_live(data, r, bank, designs["eap"]),
        "seleksi live, MLE": lambda r: run_seleksi_live(data, r, bank, designs["mle"]),
        "seleksi batch, EAP": lambda r: run_seleksi_batch(data, r, bank, designs["eap"]),
        "seleksi batch, MLE": lambda r: run_seleksi_batch(data, r, bank, designs["mle"]),
        "catsim, MLE": lambda r: run_catsim(data, r),
    }
    slow: dict[str, Callable[[np.ndarray], tuple[list[int], np.ndarray]]] = {
        "adaptivetesting, MLE": lambda r: run_adaptivetesting(data, r, "mle"),
        "adaptivetesting, EAP": lambda r: run_adaptivetesting(data, r, "eap"),
    }
    # Warm up (imports, per-bank tables) outside the timings.
    for fn in engines.values():
        fn(np.arange(1))
    times: dict[str, list[int]] = {k: [] for k in [*engines, *slow]}
    round_medians: dict[str, list[float]] = {k: [] for k in times}
    est: dict[str, list[np.ndarray]] = {k: [] for k in times}
    who: dict[str, list[np.ndarray]] = {k: [] for k in times}
    blocks = np.array_split(np.arange(n_sim), rounds)
    slow_rows = np.array_split(np.arange(n_slow), rounds)
    for r, block in enumerate(blocks):  # interleaved: every engine in every round
        todo = [(k, fn, block) for k, fn in engines.items()]
        todo += [(k, fn, slow_rows[r]) for k, fn in slow.items() if slow_rows[r].size]
        for name, fn, rows in todo:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t, e = fn(rows)
            times[name] += t
            round_medians[name].append(float(np.median(t)) / 1000.0)
            est[name].append(e)
            who[name].append(rows)
        print(f"  {n_items} items: round {r + 1}/{rounds} done", flush=True)
    floor_med = _stats(times["floor (numpy, EAP)"])[0]
    out = []
    for name in times:
        if not times[name]:
            continue
        rows = np.concatenate(who[name])
        e = np.concatenate(est[name])
        err = e - data["theta"][rows]
        med, p99 = _stats(times[name])
        out.append(
            {
                "engine": name,
                "n_items": n_items,
                "simulees": int(rows.shape[0]),
                "median_us": med,
                "p99_us": p99,
                "round_min": min(round_medians[name]),
                "round_max": max(round_medians[name]),
                "x_floor": med / floor_med,
                "rmse": float(np.sqrt(np.mean(err**2))),
                "bias": float(np.mean(err)),
            }
        )
    return out


def bench_shadow(n_sim: int, seed: int) -> dict[str, dict[str, Any]]:
    """Shadow test per step through engine.record: with the exact greedy shortcut
    (the solver runs only when enemies bind) and always through HiGHS."""
    sections = {
        sub: {area: count * 9 + (10 if area == "nasionalisme" else 0) for area, count in a.items()}
        for sub, a in SKD_BLUEPRINT.items()
    }
    bank = synthetic_bank(sections, seed=seed, polytomous=("TKP",), enemy_pairs=60)
    designs = {}
    for label, shortcut in (("shortcut", True), ("milp", False)):
        doc = skd_design("adaptive").to_dict()
        for sec in doc["sections"]:
            sec["selector"] = {"name": "shadow", "shortcut": shortcut}
        designs[label] = TestDesign.from_dict(doc)
    times: dict[str, list[int]] = {k: [] for k in designs}
    for d in designs.values():
        engine.start(d, bank, seed=0)  # warm-up: per-bank tables
    for j in range(n_sim):  # interleaved: both variants for each candidate
        for label, design in designs.items():
            r = np.random.default_rng(seed + j)
            st = engine.start(design, bank, seed=j + 1)
            while not engine.is_complete(st):
                item = engine.current(st)
                assert item is not None
                t0 = time.perf_counter_ns()
                st = engine.record(st, bank, item, int(r.integers(0, 5)))
                times[label].append(time.perf_counter_ns() - t0)
    out = {}
    for label, t in times.items():
        med, p99 = _stats(t)
        out[label] = {
            "bank": bank.n_items,
            "simulees": n_sim,
            "steps": len(t),
            "median_ms": med / 1000,
            "p99_ms": p99 / 1000,
            "max_ms": float(np.max(t)) / 1e6,
        }
    return out


# Earlier runs of the live step, kept so a speed-up (or a regression) is visible
# next to the current figures. Same benchmark, same machine, full run.
HISTORY = [
    "Live EAP step before the issue-4 speed work (commit 38727e6, full run 2026-11-30 "
    "00:11 UTC): 88.5 µs median (4.9× floor 18.1) on 500 items, 120.3 µs (3.0× floor 39.9) "
    "on 5,000. That work cached the 3PL scale a²(1 − c) per pool, gathers the answered "
    "rows of a per-section (n·K, q) log-probability table, runs EAP on one 1-D row, and "
    "drops per-step array work the common pool does not need (enemy scan, the ±30 clip "
    "when it cannot bind, m = 1 argmax); items, θ̂ and SE are identical bit for bit. "
    "The machine was busier during that run (its p99s are far higher); compare the × floor "
    "columns, and an A/B in one session (timeit, best of 5, one record at item 16, "
    "5 candidates): 86.1 → 48.7 µs on 500 items, 107.4 → 66.0 µs on 5,000. The issue's "
    "2× floor target is met on 5,000 items, not on 500 (3.0×): what is left is fixed "
    "per-step overhead (state copy, validation, selection context, evidence arrays).",
    "Issue 17, first pass: the live step no longer re-sums every answered row of the "
    "log-likelihood; the section keeps the running row (a cache, never stored: a resumed "
    "test rebuilds it, bit-identical), the section tables are found by identity and the "
    "selector gets the number of items given from the engine. Before it, on the same "
    "machine in one session (benchmark harness, 200 simulees, 3 interleaved rounds): "
    "52.3–53.0 µs against a floor of 17.0–17.1 µs (3.1×); after it 48.3–50.4 µs against "
    "17.3–17.5 µs (2.8–2.9×). The ≤ 2× target on 500 items is not met: what is left is "
    "fixed Python work per answer (the new state's copy and checks, the selection "
    "context, the Evidence arrays an MLE or a stopping rule may read), each 1–5 µs.",
    "Issue 17, second pass (2026-12-06 09:50 UTC): the pool mask of the items given is "
    "carried from step to step, the one-candidate evidence makes its item and category "
    "arrays only when read (EAP does not read them), and the selection's five one-element "
    "arrays are views of two. Interleaved against the commit before (59b38e8), separate "
    "processes, 200 simulees, 4 rounds on a machine shared with other work: 40.2–41.1 µs "
    "against 43.2–47.1 µs a step, × floor 2.36–2.38 against 2.54–2.74. The ≤ 2× target on "
    "500 items is still not met: what is left is spread over a dozen 0.5–2 µs pieces "
    "(state copy, frozen selection context, tables lookups, validation).",
    "Issue 17, third pass (2026-12-06 12:14 UTC): the live step takes two shortcuts, each "
    "the general path's exact special case, decided once per design, bank and section "
    "(with the tables, their lookups as lists and the SPRT cut): with EAP, θ̂ comes from "
    "the running log-likelihood row alone (no Evidence unless a stopping rule reads one); "
    "with maximum information, exposure control none, no enemies, no blueprint and no rate "
    "limit, withdrawn item or refusal, the next item is the argmax of the information row "
    "with the items given masked (no eligibility masks, selection context or Choice). Other "
    "designs take the general path. Items, θ̂ and SE are identical bit for bit: a test "
    "runs random designs through both paths, and 20 scenarios (estimators, selectors, "
    "exposure controls and limits, blueprints, enemies, pretest items, SE and SPRT stops) "
    "dumped from 530834b and from 9c710dd hash equal. Interleaved against 530834b, "
    "separate processes, 200 simulees a round: on 500 items (5 rounds) 16.7–18.3 µs "
    "against 29.4–30.6 µs a step, × floor 1.26–1.32 against 2.19–2.28: the ≤ 2× target is "
    "met; on 5,000 items (3 rounds) × floor 0.95–0.98 against 1.50–1.52; live MLE on 500 "
    "items (3 rounds of 100) 15.1–15.3 against 15.8–16.0 (its Fisher scoring is the cost). "
    "What is left on the EAP step is the numpy work itself (ten passes over the pool for "
    "the information, eight over the 61-point grid for EAP: about 11 µs of the 16–19 µs "
    "of one record timed alone) and 5–8 µs of Python (the new state's copy, about 1.5 µs; "
    "the answer's checks; the list bookkeeping).",
]


def load_line() -> str:
    """The machine's load average now (the runs share 2 cores with other work)."""
    try:
        with open("/proc/loadavg", encoding="ascii") as fh:
            one, five, fifteen = fh.read().split()[:3]
    except OSError:
        return ""
    return (
        f"Load average at the end of the run (1/5/15 min): {one} / {five} / {fifteen} on "
        f"{os.cpu_count()} cores: per-step wall times are inflated by other work; compare "
        "the × floor column, measured interleaved."
    )


def render(
    results: list[dict[str, Any]], shadow: dict[str, dict[str, Any]], args: argparse.Namespace
) -> str:
    versions = []
    for pkg in ("catsim", "adaptivetesting", "numpy", "scipy"):
        try:
            versions.append(f"{pkg} {md.version(pkg)}")
        except md.PackageNotFoundError:
            versions.append(f"{pkg} (not installed)")
    lines = [
        "## Adaptive testing (cat_engine) against catsim and adaptivetesting",
        "",
        machine_line(),
        f"Versions: {', '.join(versions)}. Threads pinned: OMP/OPENBLAS/MKL = 1.",
        "",
        f"3PL banks, θ ~ N(0, 1), {LENGTH} items, maximum information; one pre-drawn answer "
        "matrix shared by every engine; engines interleaved over "
        f"{args.rounds} rounds of simulees. A *step* is one selection plus one ability update "
        "for one candidate. Times in µs: median and p99 over all steps, and the range of the "
        "per-round medians. *seleksi batch* is the vectorised simulator's amortised time per "
        "simulee-step (one value per round), not a latency. adaptivetesting ran on "
        f"{args.slow} simulees per bank (it is ~100× slower); catsim has no EAP.",
        "",
        "Peers at their best and at the same specification: catsim's "
        "`NumericalSearchEstimator` at its default method `bounded`, the fastest of its seven "
        "documented methods on this bank (ternary, dichotomous, Fibonacci, "
        "golden, golden2 and Brent measured 1.2–6.3× slower per step at about the same "
        "RMSE in a trial), with "
        "`MaxInfoSelector` (no speed options); adaptivetesting's "
        "`maximum_information_criterion` with `MLEstimator`, and `ExpectedAPosteriori` with "
        "the same N(0, 1) prior as Seleksi's EAP (it documents no speed options). Every "
        "engine: maximum Fisher information, 3PL, the same answers; Seleksi's and the floor's "
        f"EAP on the same 61-point grid on [−4, 4]. {load_line()}",
        "",
        "| bank | engine | simulees | median µs | p99 µs | round medians | × floor | RMSE | bias |",
        "| ---: | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r['n_items']} | {r['engine']} | {r['simulees']} | {r['median_us']:.1f} | "
            f"{r['p99_us']:.1f} | {r['round_min']:.1f}–{r['round_max']:.1f} | "
            f"{r['x_floor']:.1f} | {r['rmse']:.3f} | {r['bias']:+.3f} |"
        )
    for paragraph in HISTORY:  # one paragraph each
        lines += ["", paragraph]
    lines += [
        "",
        f"Shadow test over the whole SKD blueprint (TWK 30, TIU 35, TKP 45; 14 content "
        f"areas; 60 enemy pairs) on a {shadow['milp']['bank']}-item bank, "
        f"{shadow['milp']['simulees']} candidates, {shadow['milp']['steps']} steps each "
        "through `engine.record`, interleaved:",
        "",
        "| shadow test | median ms | p99 ms | max ms |",
        "| --- | ---: | ---: | ---: |",
        f"| HiGHS 0–1 program at every step | {shadow['milp']['median_ms']:.1f} | "
        f"{shadow['milp']['p99_ms']:.1f} | {shadow['milp']['max_ms']:.1f} |",
        f"| exact greedy shortcut, HiGHS only when enemies bind (default) | "
        f"{shadow['shortcut']['median_ms']:.1f} | {shadow['shortcut']['p99_ms']:.1f} | "
        f"{shadow['shortcut']['max_ms']:.1f} |",
        "",
        "Reproduce (catsim and adaptivetesting from the `bench` extra): "
        "`OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 .venv/bin/python -m benchmarks.cat"
        + (" --quick" if args.quick else "")
        + "`",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--simulees", type=int, default=1000)
    ap.add_argument("--slow", type=int, default=6, help="simulees for adaptivetesting")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--shadow-simulees", type=int, default=10)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--quick", action="store_true", help="100 simulees, 2 for adaptivetesting")
    ap.add_argument("--no-write", action="store_true", help="print only")
    args = ap.parse_args()
    if args.quick:
        args.simulees, args.slow, args.rounds, args.shadow_simulees = 100, 2, 2, 2
    results = []
    for n_items in (500, 5000):
        results += bench_bank(n_items, args.simulees, args.slow, args.rounds, args.seed)
    shadow = bench_shadow(args.shadow_simulees, args.seed)
    md_text = render(results, shadow, args)
    print(md_text)
    if not args.no_write:
        write_section("cat", md_text)


if __name__ == "__main__":
    main()
