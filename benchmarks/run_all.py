"""Run every benchmark in turn: ``python -m benchmarks.run_all [NAME ...]``.

Each benchmark is a module of this package with a ``main()`` that writes its
own section of ``docs/benchmarks.md``. Threads are pinned to one per process
for per-step figures (see the design note on benchmarking); a benchmark that
measures multi-threaded figures sets its own environment for that run.
"""

from __future__ import annotations

import argparse
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

# Not benchmarks of their own: the section writer and the meters, this
# runner, the two echo servers that benchmarks.server starts beside the exam
# server, the parts of benchmarks.server (run through it), and the profiler
# run (it needs py-spy, not a project dependency).
SKIP = {
    "report",
    "meters",
    "run_all",
    "server_echo",
    "server_durable_echo",
    "server_common",
    "server_pace",
    "server_saturation",
    "server_profile",
}


def available() -> list[str]:
    here = Path(__file__).resolve().parent
    return sorted(
        m.name for m in pkgutil.iter_modules([str(here)]) if m.name not in SKIP and not m.ispkg
    )


def main(argv: list[str] | None = None) -> int:
    have = available()
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.run_all",
        description="Run benchmarks one after the other; each writes its own section "
        "of docs/benchmarks.md. Without NAME, every one.",
    )
    ap.add_argument("names", nargs="*", metavar="NAME", help=f"one of: {', '.join(have)}")
    ap.add_argument("--list", action="store_true", help="print the names and stop")
    args = ap.parse_args(argv)
    if args.list:
        print("\n".join(have))
        return 0
    names = args.names or have
    unknown = [n for n in names if n not in have]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; have: {', '.join(have)}")
        return 2
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    failed = []
    for name in names:
        print(f"== benchmarks.{name}", flush=True)
        if subprocess.run([sys.executable, "-m", f"benchmarks.{name}"], env=env).returncode:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
