"""``seleksi demo`` run as a person runs it, for the screenshot scripts: the
real command, serving on a free port in a folder of its own, its printed
lines kept (screenshots come from the real demo)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from exam_server.testing import free_port

#: How long the demo may take to seed what a script waits for (seconds): the
#: after-the-test part takes about a minute on a 2-core machine.
SEED_TIMEOUT = 900.0


class DemoRun:
    """``seleksi demo --data-dir FOLDER/seleksi-data --port P``, serving."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data = folder / "seleksi-data"
        self.log = folder / "demo.out"
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "seleksi", "demo", "--data-dir", str(self.data),
                 "--port", str(self.port)],
                stdout=out, stderr=subprocess.STDOUT, env=env,
            )  # fmt: skip

    def printed(self) -> str:
        """What the demo (and its background process) printed so far."""
        return self.log.read_text(errors="replace")

    def wait_until(self, ready: Callable[[str], bool], what: str) -> str:
        """The printed text once ``ready(printed)`` holds and the server answers."""
        end = time.monotonic() + SEED_TIMEOUT
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                raise RuntimeError(f"seleksi demo exited ({code}):\n{self.printed()}")
            out = self.printed()
            if ready(out):
                try:
                    if httpx.get(self.url + "/healthz", timeout=5).status_code == 200:
                        return out
                except httpx.HTTPError:
                    pass
            time.sleep(1.0)
        raise RuntimeError(f"no {what} from the demo in {SEED_TIMEOUT:.0f} s:\n{self.printed()}")

    def admin_password(self) -> str:
        """The exam day's administrator password (``demo-credentials.json``)."""
        creds = json.loads((self.data / "demo-credentials.json").read_text())
        return str(creds["staff"]["admin"][1])

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)  # Ctrl+C, as a person stops it
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
