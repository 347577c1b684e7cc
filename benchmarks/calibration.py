"""Calibration benchmark: Seleksi's MML-EM against girth and the PyPI ``mirt``.

Run from the repository root::

    .venv/bin/python benchmarks/calibration.py            # full run (~15–20 min)
    .venv/bin/python benchmarks/calibration.py --quick    # the 20,000-person cases only

Every data set is simulated once from a fixed seed and saved under
``benchmarks/.data/calibration/``; each engine reads the same file. Every run
is a fresh subprocess (peak memory = that process's ``ru_maxrss``, which
includes the loaded data, shown separately), engines are interleaved
(A, B, C, A, B, C, …), and BLAS / Rust / OpenMP pools are pinned to one
thread unless a row says otherwise. girth's 3PL needs NumPy 1.26, so it runs
from its own virtualenv at ``benchmarks/.envs/girth126`` when that exists.
The figures go to the ``calibration`` section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / ".data" / "calibration"
CACHE = DATA / "runs.jsonl"
GIRTH_ENV = ROOT / "benchmarks" / ".envs" / "girth126" / "bin" / "python"
PINNED = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "RAYON_NUM_THREADS": "1",
}


# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------


def simulate(name: str, model: str, n: int, n_items: int, per_person: int, seed: int) -> Path:
    """Simulate and save one data set (skipped when the file exists)."""
    path = DATA / f"{name}.npz"
    if path.exists():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    a = rng.lognormal(0.0, 0.3, n_items)  # slopes ~0.5–2, typical of cognitive items
    b = np.clip(rng.normal(0.0, 1.0, n_items), -2.5, 2.5)
    c = rng.uniform(0.1, 0.3, n_items) if model == "3pl" else np.zeros(n_items)
    theta = rng.normal(size=n)
    if per_person == n_items:
        x = np.empty((n, n_items), dtype=np.int8)
        for s in range(0, n, 50_000):
            t = theta[s : s + 50_000, None]
            p = c + (1 - c) / (1 + np.exp(-a * (t - b)))
            x[s : s + 50_000] = rng.random(p.shape) < p
        np.savez(path, x=x, a=a, b=b, c=c)
        return path
    # sparse design: each person sees ``per_person`` distinct items, on a stride
    # through the bank from a random start (each item ends up with ~equal use)
    steps = np.array([s for s in range(1, n_items // per_person) if np.gcd(s, n_items) == 1])
    start = rng.integers(0, n_items, n)
    step = rng.choice(steps, n)
    items = np.empty((n, per_person), dtype=np.int32)
    y = np.empty((n, per_person), dtype=np.int8)
    for s in range(0, n, 100_000):
        it = (
            start[s : s + 100_000, None] + step[s : s + 100_000, None] * np.arange(per_person)
        ) % (n_items)
        t = theta[s : s + 100_000, None]
        p = c[it] + (1 - c[it]) / (1 + np.exp(-a[it] * (t - b[it])))
        items[s : s + 100_000] = it
        y[s : s + 100_000] = rng.random(p.shape) < p
    np.savez(path, items=items, y=y, a=a, b=b, c=c, n_items=np.array(n_items))
    return path


def load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def as_dense(d: dict[str, np.ndarray]) -> np.ndarray:
    """(n, J) int8 with −1 = not presented."""
    if "x" in d:
        return d["x"]
    n, _ = d["items"].shape
    x = np.full((n, int(d["n_items"])), -1, dtype=np.int8)
    np.put_along_axis(x, d["items"].astype(np.int64), d["y"], axis=1)
    return x


# ---------------------------------------------------------------------------
# workers (run in a fresh process each)
# ---------------------------------------------------------------------------


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM). Not ru_maxrss: Linux carries that
    over from the parent across fork + exec, so a child of a big parent
    would report the parent's peak."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(engine: str, path: str, model: str) -> dict[str, object]:
    d = load(Path(path))
    sparse = "items" in d
    rss_data = peak_rss_mb()
    a_hat = b_hat = c_hat = None
    # imports outside the timed region
    if engine.startswith("seleksi"):
        sys.path.insert(0, str(ROOT))
        import calibration.em  # noqa: F401  (import cost outside the timing)
    elif engine.startswith("mirt"):
        import mirt
    elif engine == "girth":
        import girth
    u0 = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = u0.ru_utime + u0.ru_stime
    t0 = time.perf_counter()
    if engine.startswith("seleksi"):
        sys.path.insert(0, str(ROOT))
        from calibration.data import ResponseData
        from calibration.em import MMLEstimator

        jobs = 2 if engine.endswith("2t") else 1
        if sparse:
            n, per = d["items"].shape
            data = ResponseData.from_long(
                np.repeat(np.arange(n, dtype=np.int32), per),
                d["items"].ravel(),
                d["y"].ravel(),
                n,
                int(d["n_items"]),
            )
        else:
            data = ResponseData.from_dense(d["x"])
        est = MMLEstimator(model, n_jobs=jobs).fit(data)
        a_hat, b_hat, c_hat = est.params_.a, est.params_.b, est.params_.c
        extra = {"iterations": est.n_iter_, "converged": bool(est.converged_)}
    elif engine.startswith("mirt"):
        import mirt

        x = as_dense(d)
        q = int(engine[4:])
        res = mirt.fit_mirt(x, model.upper(), n_quadpts=q, compute_standard_errors=True)
        pars = res.model.parameters
        a_hat = np.asarray(pars["discrimination"]).ravel()
        b_hat = np.asarray(pars["difficulty"]).ravel()
        c_hat = np.asarray(pars["guessing"]).ravel() if "guessing" in pars else None
        extra = {"iterations": int(res.n_iterations), "converged": bool(res.converged)}
    elif engine == "girth":
        import girth

        x = as_dense(d).T.astype(np.int64)  # girth wants items × persons
        if sparse:
            x = girth.tag_missing_data(x, [0, 1])
        fn = girth.threepl_mml if model == "3pl" else girth.twopl_mml
        out = fn(x)
        a_hat = np.asarray(out["Discrimination"]).ravel()
        b_hat = np.asarray(out["Difficulty"]).ravel()
        c_hat = np.asarray(out["Guessing"]).ravel() if "Guessing" in out else None
        extra = {}
    else:
        raise SystemExit(f"unknown engine {engine}")
    elapsed = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu0
    rss = peak_rss_mb()

    def rmse(est: np.ndarray | None, true: np.ndarray) -> float | None:
        if est is None:
            return None
        return float(np.sqrt(np.mean((np.asarray(est, float) - true) ** 2)))

    return {
        "engine": engine,
        "seconds": elapsed,
        "cpu_seconds": cpu,
        "peak_mb": rss,
        "data_mb": rss_data,
        "rmse_a": rmse(a_hat, d["a"]),
        "rmse_b": rmse(b_hat, d["b"]),
        "rmse_c": rmse(c_hat, d["c"]) if model == "3pl" else None,
        "bias_a": float(np.mean(np.asarray(a_hat) - d["a"])) if a_hat is not None else None,
        **extra,
    }


def run_one(engine: str, path: Path, model: str, timeout: float) -> dict[str, object]:
    python = sys.executable
    env = dict(os.environ)
    if not engine.endswith("2t"):
        env.update(PINNED)
    if engine == "girth" and model == "3pl":
        if not GIRTH_ENV.exists():
            return {"engine": engine, "error": "no NumPy 1.26 env for girth 3PL"}
        python = str(GIRTH_ENV)
    cmd = [python, str(Path(__file__).resolve()), "--worker", engine, str(path), model]
    try:
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"engine": engine, "error": f"timeout after {timeout:.0f} s"}
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        tail = (out.stderr.strip().splitlines() or ["?"])[-1]
        return {"engine": engine, "error": tail[:120]}
    result: dict[str, object] = json.loads(lines[-1])
    return result


# ---------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------

LABELS = {
    "seleksi": "Seleksi MMLEstimator (41 nodes, 1 thread)",
    "seleksi-2t": "Seleksi MMLEstimator (41 nodes, 2 threads)",
    "mirt21": "PyPI mirt (default 21 nodes)",
    "mirt61": "PyPI mirt (61 nodes)",
    "girth": "girth (defaults: 41 nodes)",
}


def fmt(x: object, spec: str = ".3f") -> str:
    return "–" if x is None else format(x, spec)


def summarise(case: str, model: str, runs: dict[str, list[dict[str, object]]]) -> list[str]:
    rows = []
    ok = {e: [r for r in rs if "error" not in r] for e, rs in runs.items()}
    ours = ok.get("seleksi") or []
    our_t = statistics.median(float(r["seconds"]) for r in ours) if ours else None  # type: ignore[arg-type]
    our_cpu = statistics.median(float(r["cpu_seconds"]) for r in ours) if ours else None  # type: ignore[arg-type]
    peer_best = min(
        (float(r["rmse_a"]) for e, rs in ok.items() if not e.startswith("seleksi") for r in rs),  # type: ignore[arg-type]
        default=None,
    )
    for engine, rs in runs.items():
        good = ok[engine]
        if not good:
            err = rs[0].get("error", "failed") if rs else "not run"
            rows.append(f"| {case} | {model.upper()} | {LABELS[engine]} | {err} | | | | | | | |")
            continue
        ts = [float(r["seconds"]) for r in good]  # type: ignore[arg-type]
        med = statistics.median(ts)
        cpu = statistics.median(float(r["cpu_seconds"]) for r in good)  # type: ignore[arg-type]
        span = f"{min(ts):.2f}–{max(ts):.2f}" if len(ts) > 1 else "1 run"
        mem = max(float(r["peak_mb"]) for r in good)  # type: ignore[arg-type]
        dat = max(float(r["data_mb"]) for r in good)  # type: ignore[arg-type]
        r0 = good[0]
        ratio = (
            f"{med / our_t:.1f}× / {cpu / our_cpu:.1f}×"
            if our_t and our_cpu and not engine.startswith("seleksi")
            else ""
        )
        rows.append(
            f"| {case} | {model.upper()} | {LABELS[engine]} | {med:.2f} ({span}) | {cpu:.2f} | "
            f"{mem:.0f} ({dat:.0f}) | {fmt(r0['rmse_a'])} | {fmt(r0['rmse_b'])} | "
            f"{fmt(r0['rmse_c'])} | {fmt(r0['bias_a'], '+.3f')} | {ratio} |"
        )
    del peer_best
    return rows


def target_line(case: str, model: str, runs: dict[str, list[dict[str, object]]]) -> str:
    """The issue's criterion: speed-up over the fastest peer run that reaches
    the best peer's accuracy (RMSE of a within 5 % of the best peer's)."""
    ok = {e: [r for r in rs if "error" not in r] for e, rs in runs.items()}
    ours = ok.get("seleksi") or []
    peers = {e: rs for e, rs in ok.items() if not e.startswith("seleksi") and rs}
    if not ours or not peers:
        return f"- {case} {model.upper()}: not enough runs for a ratio."
    med = {e: statistics.median(float(r["seconds"]) for r in rs) for e, rs in ok.items() if rs}  # type: ignore[arg-type]
    cpu = {e: statistics.median(float(r["cpu_seconds"]) for r in rs) for e, rs in ok.items() if rs}  # type: ignore[arg-type]
    acc = {e: float(rs[0]["rmse_a"]) for e, rs in ok.items() if rs}  # type: ignore[arg-type]
    best = min(acc[e] for e in peers)
    best_b = min(float(rs[0]["rmse_b"]) for e, rs in peers.items())  # type: ignore[arg-type]
    qualified = [e for e in peers if acc[e] <= best * 1.05]
    fastest = min(qualified, key=lambda e: cpu[e])  # CPU time: robust to the machine's load
    ours_b = float(ours[0]["rmse_b"])  # type: ignore[arg-type]
    verdict = (
        "no worse than the best peer"
        if acc["seleksi"] <= best * 1.001 and ours_b <= best_b * 1.001
        else "within "
        f"{100 * max(acc['seleksi'] / best, ours_b / best_b) - 100:.1f} % of the best peer"
    )
    return (
        f"- {case} {model.upper()}: Seleksi RMSE(a) {acc['seleksi']:.4f}, RMSE(b) {ours_b:.4f} "
        f"(best peer {best:.4f}, {best_b:.4f}: {verdict}); fastest peer run within 5 % of the "
        f"best peer RMSE(a): {LABELS[fastest]} → Seleksi is **{cpu[fastest] / cpu['seleksi']:.1f}× "
        f"faster in CPU time**, {med[fastest] / med['seleksi']:.1f}× in wall time."
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="20,000-person cases only")
    ap.add_argument("--no-national", action="store_true", help="skip the 1,000,000 × 110 case")
    ap.add_argument("--national-n", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=2, help="runs per engine, 20,000-person cases")
    ap.add_argument("--big-repeats", type=int, default=1, help="runs per engine, 100,000 persons")
    ap.add_argument("--note", default="", help="a sentence added to the section (e.g. on reruns)")
    ap.add_argument("--girth-big", action="store_true", help="also girth 2PL at 100,000")
    ap.add_argument("--girth-big-3pl", action="store_true", help="and girth 3PL at 100,000")
    ap.add_argument(
        "--resume",
        action="store_true",
        help=f"reuse runs saved in {CACHE.relative_to(ROOT)} (same data files)",
    )
    args = ap.parse_args()
    cache: dict[str, dict[str, object]] = {}
    if args.resume and CACHE.exists():
        for line in CACHE.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            cache[entry["key"]] = entry["result"]
    elif CACHE.exists():
        CACHE.unlink()

    national = []
    if not args.no_national and not args.quick:
        n = args.national_n
        path = simulate(f"2pl_{n}x110of6000", "2pl", n, 6000, 110, seed=77)
        for engine in ("seleksi-2t",):
            key = f"{engine}|national{n}|0"
            res = cache[key] if key in cache else run_one(engine, path, "2pl", timeout=3600)
            if "error" not in res and key not in cache:
                with open(CACHE, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps({"key": key, "result": res}) + "\n")
            print("national", json.dumps(res), file=sys.stderr, flush=True)
            if "error" in res:
                national.append(f"- {LABELS[engine]}: {res['error']}")
            else:
                national.append(
                    f"- {n:,} persons × 110 responses from a 6,000-item bank "
                    f"({n * 110:,} responses), 2PL, {LABELS[engine]}: "
                    f"**{float(res['seconds']):.0f} s** wall, "
                    f"{float(res['cpu_seconds']):.0f} s CPU ({res['iterations']} EM iterations, "  # type: ignore[arg-type]
                    f"converged: {res['converged']}), "
                    f"peak RSS **{float(res['peak_mb']) / 1024:.1f} GB** "  # type: ignore[arg-type]
                    + (
                        f"({float(res['data_mb']) / 1024:.1f} GB of it the loaded data), "  # type: ignore[arg-type]
                        if res.get("data_mb") is not None
                        else "(including the ~0.6 GB of loaded data), "
                    )
                    + f"RMSE a {fmt(res['rmse_a'])}, RMSE b {fmt(res['rmse_b'])} "
                    "(≈180 responses per item). The peers were not run at this size."
                )

    cases = [
        ("dense 20,000 × 100", "2pl", 20_000, 100, 100, args.repeats),
        ("dense 20,000 × 100", "3pl", 20_000, 100, 100, args.repeats),
        ("sparse 20,000 × 30 of 300", "2pl", 20_000, 300, 30, args.repeats),
        ("sparse 20,000 × 30 of 300", "3pl", 20_000, 300, 30, args.repeats),
    ]
    if not args.quick:
        cases += [
            ("dense 100,000 × 110", "2pl", 100_000, 110, 110, args.big_repeats),
            ("dense 100,000 × 110", "3pl", 100_000, 110, 110, args.big_repeats),
        ]
    engines = ["seleksi", "mirt21", "mirt61", "girth"]
    table = [
        "| data | model | engine | wall s: median (min–max) | CPU s | peak MB (data) | RMSE a | "
        "RMSE b | RMSE c | bias a | peer ÷ Seleksi: wall / CPU |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    targets = []
    for i, (case, model, n, j, per, reps) in enumerate(cases):
        name = f"{model}_{n}x{per}of{j}"
        path = simulate(name, model, n, j, per, seed=1000 + i)
        runs: dict[str, list[dict[str, object]]] = {e: [] for e in engines}
        for rep in range(reps):
            for e in engines:
                # girth takes minutes at 100,000 persons: one 2PL run there, and its
                # 3PL (slower still) only when asked for, to keep the run near 20 min
                if (
                    e == "girth"
                    and n >= 100_000
                    and (
                        rep > 0 or not args.girth_big or (model == "3pl" and not args.girth_big_3pl)
                    )
                ):
                    if not runs[e]:
                        runs[e].append({"engine": e, "error": "not run (time budget; --girth-big)"})
                    continue
                key = f"{e}|{name}|{rep}"
                if key in cache:
                    runs[e].append(cache[key])
                    continue
                # girth with missing data is very slow (211 s for 3,000 × 30-of-300
                # 3PL in a trial): cap it so the whole run stays near 20 minutes
                res = run_one(e, path, model, timeout=300 if (e == "girth" and per < j) else 900)
                runs[e].append(res)
                print(case, model, rep, json.dumps(res), file=sys.stderr, flush=True)
                if "error" not in res or "timeout" in str(res["error"]):
                    with open(CACHE, "a", encoding="utf-8") as fh:
                        fh.write(json.dumps({"key": key, "result": res}) + "\n")
                if "error" in res:
                    break
        table += summarise(case, model, runs)
        targets.append(target_line(case, model, runs))

    from benchmarks.report import machine_line, write_section

    md = "\n".join(
        [
            "## Calibration (MML-EM)",
            "",
            machine_line(),
            "",
            "Command: `.venv/bin/python benchmarks/calibration.py`"
            + (" --quick" if args.quick else "")
            + ". Simulated data: a ~ lognormal(0, 0.3), b ~ N(0, 1) clipped to ±2.5, "
            "c ~ U(0.1, 0.3) for 3PL, θ ~ N(0, 1); sparse designs give each person a fixed "
            "number of distinct items. One fresh process per run, engines interleaved, "
            "imports outside the timing; CPU s = user + system time of the fit (robust to the "
            "other jobs sharing this 2-core machine, which inflate wall times), "
            "BLAS/Rust/OpenMP pinned to 1 thread. Peak MB is the process's max RSS; the "
            "figure in brackets is the RSS after loading the data, before fitting. "
            "Seleksi's 3PL uses its default priors (log a ~ N(0, 0.5²), c ~ Beta(5, 17)); "
            "PyPI mirt and girth run at their defaults (mirt also at 61 nodes). "
            "Seleksi's time includes standard errors; mirt's too (its default).",
            *([args.note, ""] if args.note else []),
            "",
            *table,
            "",
            "Speed-up at equal accuracy (the issue's target is ≥ 4×):",
            "",
            *targets,
            "",
            *(
                ["National scale (sparse, missing by design):", "", *national, ""]
                if national
                else []
            ),
        ]
    )
    sys.path.insert(0, str(ROOT))
    write_section("calibration", md)
    print(md)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        print(json.dumps(worker(sys.argv[2], sys.argv[3], sys.argv[4])))
    else:
        sys.path.insert(0, str(ROOT))
        main()
