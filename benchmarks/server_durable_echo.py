"""The least a durable answer can cost on this stack: a bare Starlette WebSocket
endpoint (uvicorn, uvloop, httptools) that parses each frame, appends it as one
row to SQLite (WAL, synchronous=FULL) through a group-commit writer thread, and
acknowledges it only after the COMMIT returned.

No login, no checks of the frame beyond parsing it, no test engine, no hash
chain, no live events: what is left is the echo's transport plus the storage
of one narrow row and the hand-off to and from the writer. Used by
``benchmarks/server.py`` (saturation) as a second peer, in the same run as the
exam server and the bare echo, to tell how much of the gap to the echo any
durable Python server pays and how much is the exam server's own work.
``python -m benchmarks.server_durable_echo PORT DB_PATH`` serves it.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import sys
import threading
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect


class Writer:
    """One thread, one connection: takes what queued while the last COMMIT ran."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.pending: deque[tuple[tuple[int, int, bytes], asyncio.Future[None]]] = deque()
        self.wake = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        threading.Thread(target=self._run, name="durable-echo-writer", daemon=True).start()

    def submit(self, row: tuple[int, int, bytes]) -> asyncio.Future[None]:
        assert self.loop is not None
        fut: asyncio.Future[None] = self.loop.create_future()
        self.pending.append((row, fut))
        self.wake.set()
        return fut

    def _run(self) -> None:
        con = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=FULL")
        con.execute(
            "CREATE TABLE IF NOT EXISTS answer_log (conn INTEGER, seq INTEGER, body BLOB, "
            "PRIMARY KEY (conn, seq))"
        )
        assert self.loop is not None
        while True:
            self.wake.wait()
            self.wake.clear()
            while self.pending:
                batch = [self.pending.popleft() for _ in range(min(500, len(self.pending)))]
                error: Exception | None = None
                try:
                    con.execute("BEGIN IMMEDIATE")
                    con.executemany(
                        "INSERT INTO answer_log VALUES (?, ?, ?)", [r for r, _ in batch]
                    )
                    con.execute("COMMIT")
                except Exception as exc:  # nothing acknowledged: the clients see the error
                    error = exc
                    if con.in_transaction:
                        con.execute("ROLLBACK")
                self.loop.call_soon_threadsafe(_deliver, [f for _, f in batch], error)


def _deliver(futures: list[asyncio.Future[None]], error: Exception | None) -> None:
    for f in futures:
        if f.done():
            continue
        if error is None:
            f.set_result(None)
        else:
            f.set_exception(error)


_writer: Writer | None = None
_next_conn = 0


async def durable_echo(ws: WebSocket) -> None:
    global _next_conn
    assert _writer is not None
    _next_conn += 1
    conn_id = _next_conn
    seq = 0  # the server's own count: the benchmark client repeats one frame
    await ws.accept()
    try:
        while True:
            text = await ws.receive_text()
            msg: dict[str, Any] = orjson.loads(text)
            seq += 1
            await _writer.submit((conn_id, seq, text.encode()))
            await ws.send_text(orjson.dumps({"type": "ack", "seq": msg.get("seq")}).decode())
    except WebSocketDisconnect:
        pass


@contextlib.asynccontextmanager
async def _lifespan(app: Starlette) -> AsyncIterator[None]:
    assert _writer is not None
    _writer.start()
    yield


def make_app(path: str) -> Starlette:
    global _writer
    _writer = Writer(path)
    return Starlette(routes=[WebSocketRoute("/ws", durable_echo)], lifespan=_lifespan)


def main() -> int:
    if len(sys.argv) < 3:
        print("server_durable_echo is started by benchmarks/server.py (PORT DB_PATH arguments)")
        return 0
    import uvicorn

    uvicorn.run(make_app(sys.argv[2]), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
