"""Exposure control, live: an adaptive exam whose ``exposure.max_rate`` binds,
driven through the real server by ``seleksi loadtest`` on SQLite (one
process) and on PostgreSQL (2 workers), beside ``seleksi simulate``'s
prediction on the same bank, design and simulees. Writes the section
"Exposure control, live" of ``docs/benchmarks.md``.

    python -m benchmarks.exposure_live [--terminals 2000] [--pace 3] [--seed 1]
        [--replications 20] [--only sqlite,postgres]

The terminals answer as ``seleksi simulate --seed S``'s simulees (terminal j
= simulee j: the same ability, the same answer to any item), so the live
runs and the simulation differ only in how the candidates' tests interleave
(all tests run at once on the server, in waves of 64 in the simulator).
"Within sampling error" is measured, not assumed: the simulator is rerun
with ``--replications`` other seeds (new abilities and answers, same n),
and a live figure agrees when it lies within 3 SD of those runs' mean, the
SD floored at the binomial SD of a rate at this n, sqrt(r(1 − r)/n).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.report import machine_line, write_section
from benchmarks.server_common import SECRET, raise_fd_limit, settings_for, wait_prepared
from exam_server.loadtest.exposure import Exposure, exam_of, read_live_exposure
from exam_server.loadtest.seeding import seed_load_exam
from exam_server.scaleout.cluster import ROOT, WorkerCluster

SECTION = "Exposure control, live"
BANK = "synthetic:skd:2"  # TWK 60, TIU 70, TKP 90 items (2 × the SKD blueprint's areas)
MAX_RATE = 0.25
# Maximum information with no other exposure control: without the hard limit
# the first item of each section (everyone starts at θ = 0) and the items
# best near the middle go to nearly every candidate (max exposure 1.0), so
# max_rate = 0.25 binds. 10 items a section from pools of 60–90 leave room
# under the limit (each pool holds ≥ 60 × 0.25 = 15 places per test).
DESIGN: dict[str, Any] = {
    "name": "exposure live (adaptive, max_info, max_rate 0.25)",
    "mode": "adaptive",
    "time_limit_seconds": 6000,
    "sections": [
        {
            "code": code,
            "n_items": 10,
            "estimator": "eap",
            "selector": "max_info",
            "stopping": ["fixed_length"],
        }
        for code in ("TWK", "TIU", "TKP")
    ],
    "exposure": {"method": "none", "max_rate": MAX_RATE},
}
TOP = 10


def design_file(directory: Path, max_rate: float | None = MAX_RATE) -> Path:
    d = json.loads(json.dumps(DESIGN))
    d["exposure"]["max_rate"] = max_rate
    path = directory / ("design.json" if max_rate is not None else "design_free.json")
    path.write_text(json.dumps(d, indent=2), encoding="utf-8")
    return path


def seleksi(*args: str) -> str:
    """Run ``seleksi ARGS`` (this interpreter's); its standard output."""
    cmd = [sys.executable, "-m", "seleksi", *args]
    done = subprocess.run(cmd, cwd=str(ROOT), capture_output=True, text=True, check=False)
    if done.returncode not in (0, 3):
        raise RuntimeError(f"seleksi {args[0]} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


# --- the prediction ------------------------------------------------------------------


def simulated(design_path: Path, n: int, seed: int, out_dir: Path) -> tuple[Exposure, float]:
    """``seleksi simulate`` for n simulees: the per-item exposure (from the
    command's own functions with the same arguments, since its report holds
    only the max and a histogram) and the max the command printed in its report."""
    from cat_engine.simulation import simulate
    from seleksi.commands.simulate import load_bank, load_design, load_theta

    out = out_dir / f"simulate-{seed}.json"
    seleksi(
        "simulate",
        "--bank",
        BANK,
        "--design",
        str(design_path),
        "--simulees",
        str(n),
        "--seed",
        str(seed),
        "--out",
        str(out),
    )
    command_max = float(json.loads(out.read_text())["overall"]["max_exposure_rate"])
    bank = load_bank(BANK)
    design = load_design(str(design_path), bank)
    theta = load_theta(None, n, tuple(s.code for s in design.sections), seed)
    result = simulate(design, bank, theta, seed)
    exp = Exposure(bank.item_ids, result.exposure_counts, n, design.exposure.max_rate)
    if not math.isclose(exp.summary()["max"], command_max, abs_tol=1e-12):
        raise RuntimeError("seleksi simulate and its functions disagree on max exposure")
    return exp, command_max


# --- the live runs ---------------------------------------------------------------------


def live_run(
    url: str, workers: int, n: int, seed: int, pace: float, window: float, tmp: Path
) -> dict[str, Any]:
    """Seed the exam, start the server, drive it with ``seleksi loadtest``, read the usage."""
    from seleksi.commands.simulate import load_bank, load_design

    bank = load_bank(BANK)
    design = load_design(str(design_file(tmp)), bank)
    seed_summary, creds = seed_load_exam(url, SECRET, n, design=design, bank=bank)
    cred_file = tmp / f"creds-{workers}.csv"
    with cred_file.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["registration_number", "pin"])
        w.writerows([c.registration_number, c.pin] for c in creds)
    # scrypt_n as seeded (2**8): a PIN check is not what this run measures.
    cluster = WorkerCluster(settings_for(url, scrypt_n=2**8), workers=workers).start()
    try:
        prep = wait_prepared(url, n)
        # 10 items a section × 3 sections at `pace` seconds each, plus the login window
        # and a margin: every terminal finishes its test before the run's end.
        duration = window + 30 * pace * 1.6 + 120.0
        t0 = time.time()
        out = seleksi(
            "loadtest",
            "--url",
            cluster.url,
            "--terminals",
            str(n),
            "--pace",
            str(pace),
            "--login-window",
            str(window),
            "--duration",
            str(duration),
            "--candidates",
            str(cred_file),
            "--session-token",
            seed_summary.session_token,
            "--db",
            url,
            "--irt-seed",
            str(seed),
            "--exposure",
            "--json",
        )
        wall = time.time() - t0
    finally:
        cluster.stop()
    report = json.loads(out)
    exam = exam_of(url, creds[0].registration_number)
    live = read_live_exposure(url, exam)
    return {
        "exposure": live,
        "report": report,
        "prepare_s": prep,
        "wall_s": wall,
        "finished": report.get("finished"),
        "acked": report.get("answers_acked"),
        "errors": report.get("errors", {}),
        "db": report.get("db"),
    }


# --- comparison ------------------------------------------------------------------------


def stats(exp: Exposure) -> dict[str, float]:
    """The compared figures: max, items at the cap, items above the target, mean,
    and the rate of the k-th most exposed item (k = 1..TOP)."""
    s = exp.summary(TOP)
    r = np.sort(exp.rates)[::-1]
    out = {
        "max": s["max"],
        "at_cap": float(s["at_cap"]),
        "above_target": float(s["above_target"]),
        "mean_used": s["mean_used"],
        "never_used": float(s["never_used"]),
    }
    out.update({f"top{k + 1}": float(r[k]) for k in range(TOP)})
    return out


def agreement(live: dict[str, float], reps: list[dict[str, float]], n: int) -> dict[str, Any]:
    """Per figure: replications' mean and SD, and whether the live figure is
    within 3 SD (rates: SD floored at the binomial SD at the target rate;
    counts of items: floored at 1 item)."""
    floor_rate = math.sqrt(MAX_RATE * (1 - MAX_RATE) / n)
    out: dict[str, Any] = {}
    for key, value in live.items():
        xs = np.array([r[key] for r in reps])
        mean, sd = float(xs.mean()), float(xs.std(ddof=1)) if len(xs) > 1 else 0.0
        is_count = key in ("at_cap", "above_target", "never_used")
        floor = 1.0 if is_count else floor_rate
        tol = 3 * max(sd, floor)
        out[key] = {"mean": mean, "sd": sd, "tol": tol, "ok": abs(value - mean) <= tol}
    return out


def fmt(key: str, v: float) -> str:
    return f"{v:.0f}" if key in ("at_cap", "above_target", "never_used") else f"{v:.4f}"


LABELS = {
    "max": "max item exposure",
    "at_cap": "items at the cap",
    "above_target": "items above the target",
    "mean_used": "mean exposure of items given",
    "never_used": "items never given",
}


def markdown(
    n: int,
    seed: int,
    pace: float,
    window: float,
    runs: dict[str, dict[str, Any]],
    sim: Exposure,
    free: Exposure,
    reps: list[dict[str, float]],
    command: str,
) -> str:
    sim_stats = stats(sim)
    cap = sim.cap or 0
    cols = list(runs)
    lines = [
        machine_line(),
        "",
        f"Bank `{BANK}` ({len(sim.item_ids)} items: TWK 60, TIU 70, TKP 90); design: adaptive, "
        "3 sections × 10 items, EAP, maximum information, no exposure method but the hard "
        f"`exposure.max_rate` = {MAX_RATE} (warm-up 50). Without the limit the same bank and "
        f"simulees give max exposure **{free.summary()['max']:.3f}** "
        f"({int(np.sum(free.rates > MAX_RATE))} items above {MAX_RATE}): the limit binds. "
        f"{n} candidates answering as the simulees of `seleksi simulate --seed {seed}` "
        f"(terminal j = simulee j: same ability, same answer to every item) through the real "
        f"server with `seleksi loadtest` (one answer every {pace:g} s ± 50 %, logins over "
        f"{window:g} s; the server prepares every attempt, first item included, when the "
        "session opens). Exposure = administered / tests started, from `exam_item_usage` / "
        f"`exam_usage`; the cap at n = {n} is {cap} tests ({cap / n:.4f}). "
        f"Simulator: `seleksi simulate` with the same seed, and {len(reps)} replications with "
        "other seeds for the sampling error.",
        "",
        "| | " + " | ".join(cols) + f" | simulator (seed {seed}) | simulator replications "
        "mean ± SD |",
        "| --- | " + " | ".join("---" for _ in cols) + " | --- | --- |",
    ]
    agree = {c: agreement(stats(r["exposure"].usage), reps, n) for c, r in runs.items()}
    for key in [*LABELS, *[f"top{k + 1}" for k in range(TOP)]]:
        label = LABELS.get(key, f"{key[3:]}. most exposed item")
        mean = float(np.mean([r[key] for r in reps]))
        sd = float(np.std([r[key] for r in reps], ddof=1)) if len(reps) > 1 else 0.0
        cells = []
        for c, r in runs.items():
            v = stats(r["exposure"].usage)[key]
            cells.append(fmt(key, v) + ("" if agree[c][key]["ok"] else " ✗"))
        lines.append(
            f"| {label} | "
            + " | ".join(cells)
            + f" | {fmt(key, sim_stats[key])} | {fmt(key, mean)} ± {fmt(key, sd)} |"
        )
    lines.append("")
    checks = []
    for c, r in runs.items():
        live = r["exposure"]
        s = live.usage.summary(TOP)
        mm = live.mismatches()
        diff = np.abs(live.usage.rates - sim.rates)
        checks.append(
            f"- **{c}**: max {s['max']:.4f} ≤ target + 0.01 = {MAX_RATE + 0.01:.2f}: "
            f"**{'yes' if s['max'] <= MAX_RATE + 0.01 + 1e-12 else 'NO'}**; "
            f"{s['over_cap']} administrations over the cap in all; "
            f"{sum(1 for a in agree[c].values() if a['ok'])}/{len(agree[c])} figures within 3 SD "
            f"of the simulator; per item against the same-seed simulation: mean |Δrate| "
            f"{diff.mean():.4f}, largest {diff.max():.4f}. Stored counts = the attempts' "
            f"presented items: exam_item_usage {mm['exam_item_usage']} items differ, "
            f"bank_item_usage {mm['bank_item_usage']}, tests {live.usage.tests} vs attempts "
            f"{live.attempts}. {r['finished']} tests finished, {r['acked']} answers "
            f"acknowledged (in the database: {(r['db'] or {}).get('found')}), errors "
            f"{json.dumps(r['errors'])}; run {r['wall_s']:.0f} s after {r['prepare_s']:.0f} s "
            "of preparation."
        )
    lines += checks
    lines += [
        "",
        "Sampling error: the SD of each figure over the replications (new abilities and "
        "answers at the same n), floored at the binomial SD of a rate at the target, "
        f"sqrt({MAX_RATE}·{1 - MAX_RATE:g}/{n}) = {math.sqrt(MAX_RATE * (1 - MAX_RATE) / n):.4f} "
        "(1 item for counts of items); ✗ marks a live figure more than 3 such SD from the "
        "replications' mean.",
        "",
        f"`{command}`",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.exposure_live")
    ap.add_argument("--terminals", type=int, default=2000)
    ap.add_argument("--pace", type=float, default=3.0)
    ap.add_argument("--login-window", type=float, default=30.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--replications", type=int, default=20)
    ap.add_argument("--only", default="sqlite,postgres", help="live runs: sqlite, postgres")
    ap.add_argument("--no-write", action="store_true", help="print, do not write the doc")
    args = ap.parse_args(argv)
    n, seed = args.terminals, args.seed
    raise_fd_limit(2 * n + 1024)
    only = set(args.only.split(","))
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        path = design_file(tmp)
        sim, _ = simulated(path, n, seed, tmp)
        free, _ = simulated(design_file(tmp, None), n, seed, tmp)
        reps = [
            stats(simulated(path, n, seed + 1000 + k, tmp)[0]) for k in range(args.replications)
        ]
        print("simulator:", json.dumps(sim.summary(TOP)))
        runs: dict[str, dict[str, Any]] = {}
        if "sqlite" in only:
            runs["SQLite, 1 process"] = live_run(
                f"sqlite:///{d}/exposure.db", 0, n, seed, args.pace, args.login_window, tmp
            )
            print("sqlite:", runs["SQLite, 1 process"]["exposure"].to_text())
        if "postgres" in only:
            from exam_server.scaleout.migrate import temporary_schema

            with temporary_schema(prefix="exposure") as url:
                runs["PostgreSQL, 2 workers"] = live_run(
                    url, 2, n, seed, args.pace, args.login_window, tmp
                )
            print("postgres:", runs["PostgreSQL, 2 workers"]["exposure"].to_text())
    command = (
        f"python -m benchmarks.exposure_live --terminals {n} --pace {args.pace:g} "
        f"--login-window {args.login_window:g} --seed {seed} --replications {args.replications}"
        + (f" --only {args.only}" if only != {"sqlite", "postgres"} else "")
    )
    md = markdown(n, seed, args.pace, args.login_window, runs, sim, free, reps, command)
    print(md)
    if not args.no_write:
        write_section(SECTION, f"## {SECTION}\n\n{md}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
