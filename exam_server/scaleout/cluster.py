"""A multi-worker server in a subprocess, for tests, benchmarks and fault drills.

:class:`WorkerCluster` runs ``python -m exam_server.scaleout.workers`` (or,
with ``workers=0``, the plain single-process ``python -m exam_server.serve``)
on loopback and can SIGKILL one worker (uvicorn's supervisor restarts it),
or the whole server (restart it with :meth:`start` on the same database).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from exam_server.serve import ServerAddress, settings_env
from exam_server.settings import Settings

ROOT = Path(__file__).resolve().parent.parent.parent


def children(pid: int) -> list[int]:
    """Direct child processes of ``pid`` (Linux ``/proc``)."""
    out: list[int] = []
    task_dir = Path(f"/proc/{pid}/task")
    if not task_dir.exists():
        return out
    for task in task_dir.iterdir():
        try:
            out.extend(int(x) for x in (task / "children").read_text().split())
        except OSError:
            continue
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


class WorkerCluster(ServerAddress):
    """``workers`` uvicorn processes (0: one plain process) serving ``settings``."""

    def __init__(
        self,
        settings: Settings,
        workers: int = 2,
        extra_env: dict[str, str] | None = None,
        log_level: str = "warning",
    ) -> None:
        self.settings = settings
        self.workers = workers
        self.extra_env = dict(extra_env or {})
        self.log_level = log_level
        self.proc: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(settings_env(self.settings))
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        env.update(self.extra_env)
        return env

    def command(self) -> list[str]:
        host, port = self.settings.host, str(self.settings.port)
        if self.workers == 0:
            module, extra = "exam_server.serve", []
        else:
            module, extra = "exam_server.scaleout.workers", ["--workers", str(self.workers)]
        return [
            sys.executable,
            "-m",
            module,
            "--host",
            host,
            "--port",
            port,
            *extra,
            "--log-level",
            self.log_level,
        ]

    def start(self, timeout: float = 60.0) -> WorkerCluster:
        self.proc = subprocess.Popen(self.command(), cwd=str(ROOT), env=self.env())
        self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout: float = 60.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with code {self.proc.returncode}")
            try:
                ok = httpx.get(self.url + "/healthz", timeout=1.0).status_code == 200
                if ok and (self.workers <= 1 or len(self.worker_pids()) >= self.workers):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError("the server did not answer /healthz in time")

    def worker_pids(self) -> list[int]:
        """The worker processes (the supervisor's children that serve)."""
        if self.proc is None:
            return []
        if self.workers <= 1:  # uvicorn serves one worker in the process itself
            return [self.proc.pid]
        return [c for c in children(self.proc.pid) if "resource_tracker" not in cmdline(c)]

    def kill_worker(self, index: int = 0) -> int:
        """SIGKILL one worker; returns its pid (the supervisor starts a new one)."""
        pids = sorted(self.worker_pids())
        pid = pids[index % len(pids)]
        os.kill(pid, signal.SIGKILL)
        return pid

    def kill(self) -> None:
        """SIGKILL the whole server (workers first, then the supervisor)."""
        if self.proc is None:
            return
        for pid in self.worker_pids():
            if pid != self.proc.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        workers = self.worker_pids()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()
        for pid in workers:  # never leave an orphan behind
            if pid != self.proc.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
