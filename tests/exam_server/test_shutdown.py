"""Stopping the real server process: Ctrl+C (SIGINT) and SIGTERM end it cleanly.

``seleksi serve`` and ``seleksi demo`` run as subprocesses, are stopped by a
signal once they answer HTTP, and must exit with code 0 and no traceback on
stderr. Before exam_server.serve.StopSignals, uvicorn raised the signal again
after its shutdown (SIGTERM: exit code -15) and a second SIGINT skipped the
app's teardown, so the loop's close cancelled the lifespan and uvicorn printed
its ``CancelledError`` traceback.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from exam_server.checkpoints import latest, paths_for
from exam_server.demo import SeedSummary
from exam_server.testing import Terminal, candidate_login, free_port
from tests.conftest import TEST_SECRET, seed_small

SELEKSI = [sys.executable, "-m", "seleksi"]


class Running:
    """A ``seleksi`` command in a subprocess, its output in files (no pipe to fill)."""

    def __init__(self, args: list[str], workdir: Path, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.out = (workdir / f"out-{port}.txt").open("w+")
        self.err = (workdir / f"err-{port}.txt").open("w+")
        env = {**os.environ, "SELEKSI_SECRET_KEY": TEST_SECRET}
        # A process group of its own: a terminal's Ctrl+C reaches every
        # process of the group (uvicorn's supervisor and its workers).
        self.proc = subprocess.Popen(
            [*SELEKSI, *args, "--port", str(port)],
            stdout=self.out,
            stderr=self.err,
            env=env,
            start_new_session=True,
        )

    def wait_answering(self, path: str = "/healthz", timeout: float = 60.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            assert self.proc.poll() is None, f"exited early:\n{self.stderr()}"
            try:
                if httpx.get(self.url + path, timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.proc.kill()
        raise AssertionError(f"no answer on {path} within {timeout} s:\n{self.stderr()}")

    def stop(self, *signals: signal.Signals, gap: float = 0.05, group: bool = False) -> int:
        for sig in signals:
            if group:
                os.killpg(self.proc.pid, sig)
            else:
                self.proc.send_signal(sig)
            time.sleep(gap)
        try:
            return self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)

    def stderr(self) -> str:
        self.err.seek(0)
        return self.err.read()


@pytest.fixture
def small_db(tmp_path: Path) -> tuple[str, Path, SeedSummary]:
    """A small exam day (an open session, two candidates) in a SQLite file."""
    url = f"sqlite:///{tmp_path / 'small.db'}"
    return url, tmp_path / "small.db", seed_small(url, "linear", n_candidates=2)


@pytest.mark.parametrize(
    "signals",
    [
        (signal.SIGINT,),
        (signal.SIGTERM,),
        # Ctrl+C pressed twice (or forwarded twice): the traceback's cause.
        (signal.SIGINT, signal.SIGINT),
    ],
    ids=["sigint", "sigterm", "sigint-twice"],
)
def test_serve_stops_cleanly_on_signals(
    small_db: tuple[str, Path, SeedSummary], tmp_path: Path, signals: tuple[signal.Signals, ...]
) -> None:
    _url, db, _seed = small_db
    server = Running(["serve", "--db", str(db), "--log-level", "warning"], tmp_path, free_port())
    server.wait_answering()
    code = server.stop(*signals)
    err = server.stderr()
    assert code == 0, err
    assert "Traceback" not in err and "CancelledError" not in err, err


async def test_stop_with_a_terminal_mid_exam_runs_the_teardown(
    small_db: tuple[str, Path, SeedSummary], tmp_path: Path
) -> None:
    """A candidate answering when Ctrl+C comes twice: the app's teardown still
    runs (it writes the last checkpoint, reason "stop")."""
    url, db, seed = small_db
    port = free_port()
    server = Running(["serve", "--db", str(db), "--log-level", "warning"], tmp_path, port)
    server.wait_answering()
    reg, pin = next(iter(seed.pins().items()))
    r = candidate_login(server.url, reg, pin, seed.session_token, "T-1")
    assert r.status_code == 200, r.text
    terminal = await Terminal.open(f"ws://127.0.0.1:{port}/ws/candidate", r.json()["token"], "T-1")
    ack = await terminal.request({"type": "answer", "seq": 1, "number": 1, "option": 2})
    assert ack["type"] == "ack", ack
    code = server.stop(signal.SIGINT, signal.SIGINT)
    err = server.stderr()
    assert code == 0, err
    assert "Traceback" not in err, err
    checkpoint = latest(paths_for(url)[0])
    assert checkpoint is not None and checkpoint.reason == "stop"


@pytest.mark.slow
def test_demo_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    """The real ``seleksi demo`` (a smaller bank), stopped by one Ctrl+C."""
    demo = Running(
        ["demo", "--data-dir", str(tmp_path / "demo"), "--per-subtest", "60"],
        tmp_path,
        free_port(),
    )
    demo.wait_answering("/")
    code = demo.stop(signal.SIGINT)
    err = demo.stderr()
    assert code == 0, err
    assert "Traceback" not in err, err


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.parametrize("gap", [0.1, 1.0])
def test_workers_stop_cleanly_on_ctrl_c_twice(
    postgres_url: str, tmp_path: Path, gap: float
) -> None:
    """``seleksi serve --workers 2``: Ctrl+C pressed twice reaches the supervisor
    and both workers (then the supervisor's SIGTERM reaches the workers too).
    The second press comes while the workers stop (0.1 s) or once they have
    stopped and the supervisor is ending (1.0 s: it had been killed by that
    SIGINT, exit code -2)."""
    from exam_server.db import create_schema, make_engine

    engine = make_engine(postgres_url)
    create_schema(engine)
    engine.dispose()
    server = Running(
        ["serve", "--db", postgres_url, "--workers", "2", "--log-level", "warning"],
        tmp_path,
        free_port(),
    )
    server.wait_answering()
    time.sleep(1.0)  # both workers up (the first answers alone before)
    code = server.stop(signal.SIGINT, signal.SIGINT, gap=gap, group=True)
    err = server.stderr()
    assert code == 0, err
    assert "Traceback" not in err, err
