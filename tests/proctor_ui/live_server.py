"""A real Seleksi server on a free port, seeded with a small exam, for the UI tests.

Runs uvicorn in a background thread of the test process (one process: the
browser tests and the server share nothing but HTTP and WebSockets).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from starlette.applications import Starlette

from cat_engine.bank import BankArrays
from cat_engine.design import TestDesign
from cat_engine.synthetic import synthetic_bank
from exam_server.app import create_app
from exam_server.db import make_engine
from exam_server.demo import SeedSummary, seed_exam
from exam_server.settings import Settings
from exam_server.snapshot import PublicItemContent

SECRET = "ui-tests-secret-key-0123456789-abcdefghijklmnop"
PASSWORD = "rahasia-ui-123"
SECTION_ITEMS = 4


def small_exam(
    mode: str = "linear", time_limit_seconds: float = 900.0
) -> tuple[TestDesign, list[PublicItemContent], BankArrays]:
    """3 subtests × 4 items (TWK, TIU 3PL; TKP option-scored), 15 minutes by default."""
    bank = synthetic_bank(
        {"TWK": {"TWK-1": 10}, "TIU": {"TIU-1": 10}, "TKP": {"TKP-1": 10}},
        seed=7,
        polytomous=("TKP",),
    )
    items = [
        PublicItemContent(
            item_id,
            bank.subtest_codes[int(bank.subtest[i])],
            f"Soal latihan {item_id}: manakah jawaban yang paling tepat?",
            tuple(f"Pilihan {chr(65 + k)} untuk {item_id}" for k in range(int(bank.n_options[i]))),
        )
        for i, item_id in enumerate(bank.item_ids)
    ]
    design = TestDesign.from_dict(
        {
            "name": f"SKD mini ({mode})",
            "mode": mode,
            "time_limit_seconds": time_limit_seconds,
            "sections": [
                {"code": code, "n_items": SECTION_ITEMS, "blueprint": {}}
                for code in ("TWK", "TIU", "TKP")
            ],
            "exposure": {"method": "none"},
        }
    )
    return design, items, bank


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    seed: SeedSummary
    server: uvicorn.Server
    thread: threading.Thread
    app: Starlette

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def start_server(
    tmp: Path, n_candidates: int = 3, mode: str = "linear", time_limit_seconds: float = 900.0
) -> LiveServer:
    db_url = f"sqlite:///{tmp / 'ui.db'}"
    engine = make_engine(db_url)
    design, items, bank = small_exam(mode, time_limit_seconds)
    seed = seed_exam(
        engine,
        SECRET,
        design=design,
        bank=bank,
        items=items,
        n_candidates=n_candidates,
        exam_name="SKD CPNS (uji UI)",
        scrypt_n=2**10,
        admin_password=PASSWORD,
        proctor_password=PASSWORD,
    )
    engine.dispose()
    port = free_port()
    settings = Settings(
        database_url=db_url,
        secret_key=SECRET,
        port=port,
        scrypt_n=2**10,
        grace_seconds=2.0,
        presence_interval_seconds=1.0,
        sqlite_synchronous="NORMAL",
    )
    app = create_app(settings)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started:
        if time.time() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    return LiveServer(f"http://127.0.0.1:{port}", seed, server, thread, app)


class CuttableProxy:
    """A TCP proxy in front of the server whose connections the test can cut or freeze.

    ``cut()`` drops every open connection (both sides see the TCP connection
    die, as when a cable is pulled) and refuses new ones until ``restore()``.
    Chromium's own offline emulation keeps open WebSockets alive, so a real
    cut needs this.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.refusing = False
        self.frozen = False
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.refusing:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while chunk := src.recv(65536):
                if not self.frozen:  # frozen: bytes vanish, sockets stay open
                    dst.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                self._drop(s)

    def _drop(self, s: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(s)
        with contextlib.suppress(OSError):
            s.shutdown(socket.SHUT_RDWR)
        s.close()

    def cut(self) -> None:
        self.refusing = True
        with self._lock:
            victims = list(self._sockets)
        for s in victims:
            self._drop(s)

    def freeze(self) -> None:
        """Silently drop all traffic without closing anything (a dead link)."""
        self.frozen = True

    def restore(self) -> None:
        self.refusing = False
        self.frozen = False

    def close(self) -> None:
        self._closed = True
        self.cut()
        self.listener.close()
