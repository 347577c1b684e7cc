"""Run every benchmark in turn: ``python -m benchmarks.run_all [NAME ...]``.

Each benchmark is a module of this package with a ``main()`` that writes its
own section of ``docs/benchmarks.md``. Threads are pinned to one per process
for per-step figures (see the design note on benchmarking); a benchmark that
measures multi-threaded figures sets its own environment for that run.
"""

from __future__ import annotations

import os
import pkgutil
import subprocess
import sys
from pathlib import Path

# Not benchmarks of their own: the section writer, this runner, the echo
# server that benchmarks.server starts beside the exam server, and the
# profiler run (it needs py-spy, which is not a project dependency).
SKIP = {"report", "run_all", "server_echo", "server_profile"}


def available() -> list[str]:
    here = Path(__file__).resolve().parent
    return sorted(
        m.name for m in pkgutil.iter_modules([str(here)]) if m.name not in SKIP and not m.ispkg
    )


def main(argv: list[str] | None = None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or available()
    unknown = [n for n in names if n not in available()]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; have: {', '.join(available())}")
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
