"""The real demo exam day (110 SKD items on the demo bank) served for the terminal's
browser tests and the screenshots, on a port that survives a restart.

:func:`demo_server` seeds a database the way ``seleksi demo`` does (the demo
bank, then :func:`exam_server.demo.seed_demo_exam`) and serves it with
uvicorn in a thread of the test process; :meth:`DemoServer.stop` and
:meth:`DemoServer.start` stop and start the server on the same database and
port, as an outage and its end look to a terminal.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
from starlette.applications import Starlette

from exam_server.app import create_app
from exam_server.db import make_engine
from exam_server.demo import SeedSummary, seed_demo_exam
from exam_server.settings import Settings
from item_bank.demo import seed_demo_bank
from tests.proctor_ui.live_server import SECRET, free_port

# 80 items per subtest leave enough operational TKP items for the demo exam's 45.
PER_SUBTEST = 80


@dataclass
class DemoServer:
    """A served demo database. url: ``http://127.0.0.1:PORT``; seed: its exam
    day (candidates with PINs, the session token, staff passwords)."""

    db_url: str
    port: int
    seed: SeedSummary
    url: str = ""
    app: Starlette | None = None
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = field(default=None, repr=False)

    def start(self) -> None:
        """Serve (again) on the same port and database."""
        settings = Settings(
            database_url=self.db_url,
            secret_key=SECRET,
            port=self.port,
            scrypt_n=2**10,
            grace_seconds=2.0,
            presence_interval_seconds=1.0,
            sqlite_synchronous="NORMAL",
        )
        self.app = create_app(settings)
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the demo server did not start")
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Stop serving: open connections are closed, new ones refused."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=15)
            if self._thread.is_alive():
                raise RuntimeError("the demo server did not stop")
        self._server = None


def demo_server(tmp: Path, mode: str = "linear", n_candidates: int = 6) -> DemoServer:
    """Seed the demo bank and a demo exam day (``mode``: linear or adaptive, 110
    items) in ``tmp`` and serve it."""
    db_url = f"sqlite:///{tmp / 'demo.db'}"
    engine = make_engine(db_url)
    try:
        from exam_server.db import create_schema

        create_schema(engine)
        seed_demo_bank(engine, per_subtest=PER_SUBTEST)
        seed = seed_demo_exam(engine, SECRET, mode=mode, n_candidates=n_candidates)
    finally:
        engine.dispose()
    server = DemoServer(db_url, free_port(), seed)
    server.start()
    return server
