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
from typing import Any, Literal

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


def simulate_parquet(n: int, n_items: int, per: int, seed: int) -> Path:
    """A national year as a long Parquet file (person, item, response), written
    100,000 persons at a time (memory does not grow with n), 50,000 whole persons
    per row group; the true a, b beside it as .npz. Same design as :func:`simulate`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = DATA / f"2pl_{n}x{per}of{n_items}.parquet"
    truth = path.with_suffix(".npz")
    if path.exists() and truth.exists():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    a = rng.lognormal(0.0, 0.3, n_items)
    b = np.clip(rng.normal(0.0, 1.0, n_items), -2.5, 2.5)
    steps = np.array([s for s in range(1, n_items // per) if np.gcd(s, n_items) == 1])
    schema = pa.schema([("person", pa.int32()), ("item", pa.int16()), ("response", pa.int8())])
    tmp = path.with_suffix(".tmp")
    with pq.ParquetWriter(str(tmp), schema) as writer:
        for s0 in range(0, n, 50_000):
            m = min(50_000, n - s0)
            start = rng.integers(0, n_items, m)
            step = rng.choice(steps, m)
            it = (start[:, None] + step[:, None] * np.arange(per)) % n_items
            theta = rng.normal(size=m)
            p = 1 / (1 + np.exp(-a[it] * (theta[:, None] - b[it])))
            y = (rng.random(p.shape) < p).astype(np.int8)
            writer.write_table(
                pa.table(
                    {
                        "person": pa.array(np.repeat(np.arange(s0, s0 + m, dtype=np.int32), per)),
                        "item": pa.array(it.ravel().astype(np.int16)),
                        "response": pa.array(y.ravel()),
                    },
                    schema=schema,
                ),
                row_group_size=m * per,  # whole persons in each row group
            )
    np.savez(truth, a=a, b=b)
    tmp.rename(path)
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
        from calibration.kernels import Priors

        # the priors PyPI mirt can be given too (it has no prior on the intercept)
        sel_priors = Priors((0.0, 0.5), (5.0, 17.0)) if model == "3pl" else None
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
        est = MMLEstimator(model, n_jobs=jobs, priors=sel_priors).fit(data)
        a_hat, b_hat, c_hat = est.params_.a, est.params_.b, est.params_.c
        extra = {"iterations": est.n_iter_, "converged": bool(est.converged_)}
    elif engine.startswith("mirt"):
        import mirt

        x = as_dense(d)
        q, accelerate, priors = mirt_settings(engine, model)
        res = mirt.fit_mirt(
            x,
            "3PL" if model == "3pl" else "2PL",
            n_quadpts=q,
            compute_standard_errors=True,
            accelerate=accelerate,
            priors=priors,
        )
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


def mirt_settings(
    engine: str, model: str
) -> tuple[int, Literal["none", "squarem"], dict[str, Any] | None]:
    """(nodes, acceleration, priors) of a mirt engine name: ``mirt21`` is mirt's
    defaults; ``mirt41sq``/``mirt61sq`` its documented SQUAREM acceleration and,
    for 3PL, the same priors as Seleksi's (log a ~ N(0, 0.5²), c ~ Beta(5, 17))."""
    if engine == "mirt21":
        return 21, "none", None
    q = int(engine[4:].removesuffix("sq"))
    priors = None
    if model == "3pl":
        from mirt.estimation.priors import BetaPrior, LogNormalPrior

        priors = {"discrimination": LogNormalPrior(0.0, 0.5), "guessing": BetaPrior(5.0, 17.0)}
    return q, "squarem", priors


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
# the whole command, as a user runs it (issue 17, target 1)
# ---------------------------------------------------------------------------


def cli_csv(name: str = "2pl_20000x100of100") -> Path:
    """The dense 2PL 20,000 × 100 data as a wide RESPONSES.csv (written once)."""
    path = DATA / f"{name}.csv"
    if not path.exists():
        x = load(DATA / f"{name}.npz")["x"]
        with open(path, "w", encoding="utf-8") as fh:
            fh.write("person_id," + ",".join(f"I{j:03d}" for j in range(x.shape[1])) + "\n")
            for i, row in enumerate(x):
                fh.write(f"P{i}," + ",".join(map(str, row.tolist())) + "\n")
    return path


def peer_cli(engine: str, responses: str, out: str) -> None:
    """What ``seleksi calibrate R.csv --model 2pl --out P.csv`` does, with a peer:
    read the CSV (pyarrow, the fastest reader at hand), fit with standard errors,
    write item_id, a, b and their SEs. Run as a whole process by :func:`cli_case`."""
    import mirt
    import pyarrow.compute as pc
    from pyarrow import csv as pacsv

    table = pacsv.read_csv(responses)
    names = table.column_names[1:]
    x = np.column_stack(
        [np.asarray(pc.fill_null(table.column(c), -1).to_numpy(), dtype=np.int64) for c in names]
    )
    q, accelerate, priors = mirt_settings(engine, "2pl")
    res = mirt.fit_mirt(
        x, "2PL", n_quadpts=q, compute_standard_errors=True, accelerate=accelerate, priors=priors
    )
    pars, se = res.model.parameters, res.standard_errors
    cols = [
        np.asarray(v, dtype=float).ravel()
        for v in (
            pars["discrimination"],
            pars["difficulty"],
            se["discrimination"],
            se["difficulty"],
        )
    ]
    with open(out, "w", encoding="utf-8") as fh:
        fh.write("item_id,a,b,se_a,se_b\n")
        for j, name in enumerate(names):
            fh.write(f"{name}," + ",".join(f"{c[j]:.6g}" for c in cols) + "\n")


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall s, CPU s = user + system of the child) of one whole process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {err[-300:]}")
    return wall, usage.ru_utime + usage.ru_stime


def cli_case(
    reps: int, peers: list[str], cache: dict[str, dict[str, object]] | None = None
) -> list[str]:
    """Interleaved whole-process runs: Seleksi's command, each peer's, ``seleksi --help``.

    With a ``cache`` (``--resume``) the times of an earlier run are reused (the
    written PARAMS files give the RMSEs again)."""
    responses = cli_csv()
    truth = load(DATA / "2pl_20000x100of100.npz")
    env = dict(os.environ, **PINNED)
    out_dir = DATA / "cli"
    out_dir.mkdir(exist_ok=True)
    python = sys.executable
    cmds = {
        "seleksi": [
            python,
            "-m",
            "seleksi",
            "calibrate",
            str(responses),
            "--model",
            "2pl",
            "--out",
            str(out_dir / "seleksi.csv"),
            "--quiet",
        ],
        **{
            p: [
                python,
                str(Path(__file__).resolve()),
                "--peer-cli",
                p,
                str(responses),
                str(out_dir / f"{p}.csv"),
            ]
            for p in peers
        },
        "help": [python, "-m", "seleksi", "--help"],
    }
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in cmds}
    key = f"cli|{','.join(peers)}|{reps}"
    if cache is not None and key in cache:
        times = {k: [(float(t[0]), float(t[1])) for t in v] for k, v in cache[key].items()}  # type: ignore[attr-defined]
    else:
        for _ in range(reps):
            for k, cmd in cmds.items():
                times[k].append(_timed(cmd, env))
                print("cli", k, times[k][-1], file=sys.stderr, flush=True)
        with open(CACHE, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"key": key, "result": times}) + "\n")

    def rmse(name: str) -> tuple[float, float]:
        import csv as _csv

        with open(out_dir / f"{name}.csv", encoding="utf-8") as fh:
            rows = list(_csv.DictReader(fh))
        a = np.array([float(r["a"]) for r in rows])
        b = np.array([float(r["b"]) for r in rows])
        return (
            float(np.sqrt(np.mean((a - truth["a"]) ** 2))),
            float(np.sqrt(np.mean((b - truth["b"]) ** 2))),
        )

    def med(k: str, i: int) -> float:
        return statistics.median(t[i] for t in times[k])

    def span(k: str, i: int) -> str:
        return f"{min(t[i] for t in times[k]):.2f}–{max(t[i] for t in times[k]):.2f}"

    labels = {
        "seleksi": "`seleksi calibrate R.csv --model 2pl --out P.csv --quiet`",
        "help": "`seleksi --help`",
        **{p: f"read with pyarrow, {LABELS[p]}, write P.csv" for p in peers},
    }
    lines = [
        "| process | CPU s: median (min–max) | wall s: median (min–max) | RMSE a | RMSE b | "
        "peer ÷ Seleksi, CPU |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for k in cmds:
        acc = rmse(k) if k != "help" else None
        ratio = f"{med(k, 1) / med('seleksi', 1):.1f}×" if k in peers else ""
        if k in peers and acc is not None:
            ours = rmse("seleksi")
            if any(abs(p - o) > EQUAL * o for p, o in zip(acc, ours, strict=True)):
                ratio += " (accuracy differs by > 5 %: not an equal-accuracy ratio)"
        lines.append(
            f"| {labels[k]} | {med(k, 1):.2f} ({span(k, 1)}) | {med(k, 0):.2f} ({span(k, 0)}) | "
            + (f"{acc[0]:.4f} | {acc[1]:.4f} | " if acc else "– | – | ")
            + f"{ratio} |"
        )
    return lines


# ---------------------------------------------------------------------------
# national scale (issue 17, target 4)
# ---------------------------------------------------------------------------


def national_worker(path: str, threads: int, passes: int) -> dict[str, object]:
    """In a fresh process: E-step passes on 1 and ``threads`` threads, interleaved
    (the same table each time), then the whole fit on ``threads`` threads."""
    sys.path.insert(0, str(ROOT))
    from calibration.em import MMLEstimator
    from calibration.parallel import ThreadEStep
    from calibration.stream import ParquetResponses

    truth = load(Path(path).with_suffix(".npz"))

    def cpu() -> float:
        u = resource.getrusage(resource.RUSAGE_SELF)
        return u.ru_utime + u.ru_stime

    t0, c0 = time.perf_counter(), cpu()
    data = ParquetResponses(path)
    scan = (time.perf_counter() - t0, cpu() - c0)
    source = data.chunk_source(max(1024, 4_000_000 // 41))
    rng = np.random.default_rng(0)
    a = rng.lognormal(0, 0.3, data.n_items)
    b = rng.normal(0, 1, data.n_items)
    theta = np.linspace(-6, 6, 41)
    p1 = 1 / (1 + np.exp(-a[:, None] * (theta[None, :] - b[:, None])))
    table = np.empty((int(data.offsets[-1]), 41))
    table[0::2], table[1::2] = np.log(1 - p1), np.log(p1)
    shift = np.log(np.exp(-0.5 * theta**2) / np.exp(-0.5 * theta**2).sum())
    estep: dict[int, list[tuple[float, float]]] = {1: [], threads: []}
    for _ in range(passes):
        for k in (1, threads):
            t0, c0 = time.perf_counter(), cpu()
            ThreadEStep(k)(source, table, shift)
            estep[k].append((time.perf_counter() - t0, cpu() - c0))
    with open("/proc/loadavg", encoding="ascii") as fh:
        load_before = fh.read().split()[:3]
    t0, c0 = time.perf_counter(), cpu()
    est = MMLEstimator("2pl", n_jobs=threads).fit(data)
    fit = (time.perf_counter() - t0, cpu() - c0)
    with open("/proc/loadavg", encoding="ascii") as fh:
        load_after = fh.read().split()[:3]
    return {
        "n_persons": data.n_persons,
        "nnz": data.nnz,
        "scan": scan,
        "estep": {str(k): v for k, v in estep.items()},
        "fit": fit,
        "iterations": est.n_iter_,
        "converged": bool(est.converged_),
        "peak_mb": peak_rss_mb(),
        "rmse_a": float(np.sqrt(np.mean((est.params_.a - truth["a"]) ** 2))),
        "rmse_b": float(np.sqrt(np.mean((est.params_.b - truth["b"]) ** 2))),
        "load": [load_before, load_after],
    }


def national_case(n: int, threads: int, cache: dict[str, dict[str, object]]) -> list[str]:
    path = simulate_parquet(n, 6000, 110, seed=77)
    key = f"national|{n}|{threads}"
    if key in cache:
        res = cache[key]
    else:
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--national-worker",
            str(path),
            str(threads),
            "3",
        ]
        out = subprocess.run(cmd, env=dict(os.environ, **PINNED), capture_output=True, text=True)
        lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
        if out.returncode != 0 or not lines:
            return [f"- failed: {(out.stderr.strip().splitlines() or ['?'])[-1][:200]}"]
        res = json.loads(lines[-1])
        with open(CACHE, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"key": key, "result": res}) + "\n")
    print("national", json.dumps(res), file=sys.stderr, flush=True)
    est = res["estep"]
    one = [w for w, _ in est["1"]]  # type: ignore[index]
    many = [w for w, _ in est[str(threads)]]  # type: ignore[index]
    cpu1 = statistics.median(c for _, c in est["1"])  # type: ignore[index]
    cpun = statistics.median(c for _, c in est[str(threads)])  # type: ignore[index]

    def verdict(ok: bool) -> str:
        return "met" if ok else "did not meet"

    fit_wall, fit_cpu = (float(v) for v in res["fit"])  # type: ignore[attr-defined]
    scan_wall = float(res["scan"][0])  # type: ignore[index]
    return [
        f"- Data: {int(res['n_persons']):,} persons × 110 responses of 6,000 items "  # type: ignore[call-overload]
        f"({int(res['nnz']):,} responses), a long Parquet file of "  # type: ignore[call-overload]
        f"{path.stat().st_size / 1e6:.0f} MB (50,000 persons per row group).",
        f"- One E-step pass over the file (read, indicator, two sparse products), "
        f"interleaved, wall s median (min–max): 1 thread {statistics.median(one):.1f} "
        f"({min(one):.1f}–{max(one):.1f}), {threads} threads {statistics.median(many):.1f} "
        f"({min(many):.1f}–{max(many):.1f}) → "
        f"**{statistics.median(one) / statistics.median(many):.2f}× the one-thread wall "
        f"time** (target ≥ 1.7×); CPU s per pass {cpu1:.1f} and {cpun:.1f}.",
        f"- Whole calibration, {threads} threads (scan {scan_wall:.0f} s, then "
        f"{res['iterations']} EM iterations, converged: {res['converged']}, standard errors): "
        f"**{(fit_wall + scan_wall) / 60:.1f} min** wall (target < 10 min), {fit_cpu:.0f} s CPU, "
        f"peak RSS **{float(res['peak_mb']) / 1024:.2f} GB** (target < 6 GB; "  # type: ignore[arg-type]
        "the responses are never all in memory), "
        f"RMSE a {float(res['rmse_a']):.3f}, b {float(res['rmse_b']):.3f} (≈55 responses per "  # type: ignore[arg-type]
        f"item). Load average (1/5/15 min) before the fit {' / '.join(res['load'][0])}, "  # type: ignore[index]
        f"after {' / '.join(res['load'][1])}.",  # type: ignore[index]
        f"- Against the targets: the whole calibration {verdict(fit_wall + scan_wall < 600)} "
        f"the 10-minute bound and {verdict(float(res['peak_mb']) < 6144)} "  # type: ignore[arg-type]
        "the 6 GB bound; the E-step on two threads "
        f"{verdict(statistics.median(one) / statistics.median(many) >= 1.7)} "
        "1.7× the one-thread wall time in this run, on a machine other people's work kept "
        "busy (load above). How far two threads can go apart from the load: py-spy "
        "(`py-spy record --gil`) over six one-thread E-step passes of a 200,000-person file of "
        "the same design found the GIL held in 3 % of the E-step's samples (pyarrow's "
        "reading, scipy's sparse products and NumPy run without it), so two threads can reach "
        "at most 1 / (0.03 + 0.97 / 2) ≈ 1.94× on two free cores; the CPU seconds per pass "
        "(above) show what the second thread costs.",
    ]


# ---------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------

# What the issue-17 rerun changed against the table of 2026-11-30 (kept beside
# the figures so a later reader sees why a ratio moved).
CHANGES = [
    "**Against the previous table (2026-11-30).** The ratios that went down (all but one) "
    "went down because the peer now runs at its best and at the same specification, not "
    'because Seleksi got slower: (1) mirt with its documented `accelerate="squarem"` needs '
    "28–31 EM iterations on the dense 2PL cases instead of 61–154, so the dense 2PL "
    "ratios fall from 12.4× (20,000 × 100) and 26.4× (100,000 × 110) against mirt at 61 "
    "nodes without acceleration to the figures above; (2) the 3PL ratios of 4.6× (dense) "
    "and 3.8× (sparse) compared Seleksi with priors against mirt without (less accurate, "
    "so not equal accuracy): with the same priors mirt reaches Seleksi's RMSEs and the 3PL "
    "ratios rise; (3) on sparse 2PL, SQUAREM does not help mirt (16 iterations either "
    "way, more work per iteration), so its defaults stay the fastest peer run at equal "
    "accuracy, as before. On Seleksi's side the standard errors of complete dense data "
    "are now one symmetric product of the scores from the reduced indicator (the same "
    "values to 1e-13) and complete dense data stay a category matrix (the full one-hot "
    "indicator is never built), which took 5–10 % off the dense fits. One ratio moved with the "
    "peer at the same settings as before: sparse 2PL, 7.0× → 5.3×, mirt's defaults "
    "4.8 → 4.3 s and Seleksi 0.69 → 0.81 s of CPU — run-to-run variation of this shared "
    "machine (both rows measured again; no change touched that path).",
]


def load_average() -> str:
    with open("/proc/loadavg", encoding="ascii") as fh:
        return " / ".join(fh.read().split()[:3])


LABELS = {
    "seleksi": "Seleksi MMLEstimator (41 nodes, SQUAREM, 1 thread)",
    "seleksi-2t": "Seleksi MMLEstimator (41 nodes, 2 threads)",
    "mirt21": "PyPI mirt, defaults (21 nodes, no acceleration, no priors)",
    "mirt41sq": "PyPI mirt (41 nodes, SQUAREM, same priors)",
    "mirt61sq": "PyPI mirt (61 nodes, SQUAREM, same priors)",
    "girth": "girth, defaults (41 nodes, no priors)",
}

# A ratio is "at equal accuracy" only when every RMSE of the peer is within
# 5 % of Seleksi's (issue 17).
EQUAL = 0.05


def _equal_accuracy(ours: dict[str, object], peer: dict[str, object]) -> bool:
    for key in ("rmse_a", "rmse_b", "rmse_c"):
        a, b = ours.get(key), peer.get(key)
        if a is None or b is None:
            continue
        if abs(float(b) - float(a)) > EQUAL * float(a):  # type: ignore[arg-type]
            return False
    return True


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
            rows.append(f"| {case} | {model.upper()} | {LABELS[engine]} | {err} | | | | | | | | |")
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
            + ("" if _equal_accuracy(ours[0], r0) else " (accuracy differs by > 5 %)")
            if our_t and our_cpu and not engine.startswith("seleksi")
            else ""
        )
        rows.append(
            f"| {case} | {model.upper()} | {LABELS[engine]} | {med:.2f} ({span}) | {cpu:.2f} | "
            f"{mem:.0f} ({dat:.0f}) | {fmt(r0['rmse_a'])} | {fmt(r0['rmse_b'])} | "
            f"{fmt(r0['rmse_c'])} | {fmt(r0['bias_a'], '+.3f')} | {r0.get('iterations', '–')} | "
            f"{ratio} |"
        )
    del peer_best
    return rows


def target_line(case: str, model: str, runs: dict[str, list[dict[str, object]]]) -> str:
    """The issue's criterion: the ratio against the fastest peer run whose RMSEs
    (a, b, and c for 3PL) are all within 5 % of Seleksi's; no ratio otherwise."""
    ok = {e: [r for r in rs if "error" not in r] for e, rs in runs.items()}
    ours = ok.get("seleksi") or []
    peers = {e: rs for e, rs in ok.items() if not e.startswith("seleksi") and rs}
    if not ours or not peers:
        return f"- {case} {model.upper()}: not enough runs for a ratio."
    med = {e: statistics.median(float(r["seconds"]) for r in rs) for e, rs in ok.items() if rs}  # type: ignore[arg-type]
    cpu = {e: statistics.median(float(r["cpu_seconds"]) for r in rs) for e, rs in ok.items() if rs}  # type: ignore[arg-type]
    equal = [e for e, rs in peers.items() if _equal_accuracy(ours[0], rs[0])]
    acc = ", ".join(
        f"{k[5:]} {float(ours[0][k]):.4f}"  # type: ignore[arg-type]
        for k in ("rmse_a", "rmse_b", "rmse_c")
        if ours[0].get(k) is not None
    )
    if not equal:
        return (
            f"- {case} {model.upper()}: Seleksi RMSE {acc}; no peer run within 5 % of these "
            "RMSEs, so no equal-accuracy ratio."
        )
    fastest = min(equal, key=lambda e: cpu[e])  # CPU time: robust to the machine's load
    r = peers[fastest][0]
    theirs = ", ".join(
        f"{k[5:]} {float(r[k]):.4f}"  # type: ignore[arg-type]
        for k in ("rmse_a", "rmse_b", "rmse_c")
        if r.get(k) is not None
    )
    return (
        f"- {case} {model.upper()}: fastest peer run at equal accuracy: {LABELS[fastest]} "
        f"(RMSE {theirs}; Seleksi {acc}) → Seleksi is **{cpu[fastest] / cpu['seleksi']:.1f}× "
        f"faster in CPU time**, {med[fastest] / med['seleksi']:.1f}× in wall time."
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="20,000-person cases only")
    ap.add_argument("--no-national", action="store_true", help="skip the national case")
    ap.add_argument("--national-n", type=int, default=3_000_000)
    ap.add_argument("--national-threads", type=int, default=2)
    ap.add_argument("--only-national", action="store_true", help="the national case alone")
    ap.add_argument("--cli-repeats", type=int, default=5, help="whole-command runs per engine")
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

    load_start = load_average()
    national: list[str] = []
    if not args.no_national and not args.quick:
        national = national_case(args.national_n, args.national_threads, cache)

    cli_rows = (
        cli_case(args.cli_repeats, ["mirt61sq", "mirt41sq"], cache)
        if not args.only_national
        else []
    )
    cases = [
        ("dense 20,000 × 100", "2pl", 20_000, 100, 100, args.repeats),
        ("dense 20,000 × 100", "3pl", 20_000, 100, 100, args.repeats),
        ("sparse 20,000 × 30 of 300", "2pl", 20_000, 300, 30, args.repeats),
        ("sparse 20,000 × 30 of 300", "3pl", 20_000, 300, 30, args.repeats),
    ]
    if args.only_national:
        cases = []
    if not args.quick and not args.only_national:
        cases += [
            ("dense 100,000 × 110", "2pl", 100_000, 110, 110, args.big_repeats),
            ("dense 100,000 × 110", "3pl", 100_000, 110, 110, args.big_repeats),
        ]
    engines = ["seleksi", "mirt21", "mirt41sq", "mirt61sq", "girth"]
    table = [
        "| data | model | engine | wall s: median (min–max) | CPU s | peak MB (data) | RMSE a | "
        "RMSE b | RMSE c | bias a | iterations | peer ÷ Seleksi: wall / CPU |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
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
                # girth is 10-100× slower than every other engine and never the
                # fastest at equal accuracy: one run per case; its sparse 3PL timed
                # out at 300 s in every earlier run
                if e == "girth" and (
                    rep > 0 or (per < j and model == "3pl" and not args.girth_big_3pl)
                ):
                    if not runs[e]:
                        runs[e].append(
                            {"engine": e, "error": "not run (timed out at 300 s before)"}
                        )
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
            "**Model specification of every run.** Seleksi: 41 equally spaced nodes on "
            "[−6, 6] with N(0, 1) weights, SQUAREM acceleration (its default), convergence when "
            "the largest parameter change < 1e-4 and the log-posterior change < 1e-7 per "
            "person; 2PL without priors; 3PL with log a ~ N(0, 0.5²) and c ~ Beta(5, 17) "
            "(its default also puts a weak N(0, 3²) on the intercept, which mirt cannot be "
            "given, so it is left out here); standard errors by the cross-product (XPD) "
            "information. PyPI mirt at its best documented settings and the same "
            'specification: `accelerate="squarem"`, the same priors '
            "(`LogNormalPrior(0, 0.5)` on discrimination, `BetaPrior(5, 17)` on guessing), "
            "41 and 61 Gauss–Hermite nodes (mirt has no equally spaced grid; at 41 nodes its "
            "slopes come out less accurate, at 61 they match), `tol=1e-4` (its parameter-change "
            "rule), standard errors by its default (Oakes). mirt is also run at its defaults "
            "(21 nodes, no acceleration, no priors), and girth at its defaults (41 nodes, no "
            "priors, no acceleration option). A peer ÷ Seleksi ratio is *at equal accuracy* "
            "only when each of the peer's RMSEs (a, b, and c for 3PL) is within 5 % of "
            "Seleksi's; other ratios are marked.",
            *([args.note, ""] if args.note else []),
            "",
            *(
                []
                if args.resume
                else [
                    f"Load average (1/5/15 min) of this shared 2-core machine at the start of "
                    f"the run {load_start}, at its end {load_average()}: CPU seconds are the "
                    "figures to compare; wall times carry other people's work.",
                    "",
                ]
            ),
            *table,
            "",
            "Speed-up of the fit at equal accuracy (the issue's target is ≥ 4× on every case):",
            "",
            *targets,
            "",
            *CHANGES,
            "",
            "Whole command, as a user runs it (target 1: ≥ 4× the fastest peer at equal "
            "accuracy): dense 2PL 20,000 × 100 as a wide CSV, one fresh process per run, "
            "interleaved, threads pinned to 1, CPU = user + system of the process "
            "(start-up, imports, reading, fit with standard errors, item statistics and S-X², "
            "writing). The peer's process reads the same CSV with pyarrow and writes a/b and "
            "their standard errors.",
            "",
            *cli_rows,
            "",
            *(
                [
                    "National scale (target 4): one SKD year streamed from Parquet "
                    "(`calibration.stream.ParquetResponses`), 2PL, missing by design:",
                    "",
                    *national,
                    "",
                ]
                if national
                else []
            ),
        ]
    )
    sys.path.insert(0, str(ROOT))
    write_section("calibration", md)
    print(md)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--national-worker":
        print(json.dumps(national_worker(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))))
    elif len(sys.argv) > 1 and sys.argv[1] == "--peer-cli":
        sys.path.insert(0, str(ROOT))
        peer_cli(sys.argv[2], sys.argv[3], sys.argv[4])
    elif len(sys.argv) > 1 and sys.argv[1] == "--worker":
        print(json.dumps(worker(sys.argv[2], sys.argv[3], sys.argv[4])))
    else:
        sys.path.insert(0, str(ROOT))
        main()
