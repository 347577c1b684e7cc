"""Group commit: answers that arrive together are made durable in one transaction.

Each caller submits a small write function (``fn(connection) -> result``)
and awaits it; the single writer task takes everything that queued up while
the previous transaction was being committed and runs it as the next
transaction in a worker thread (the event loop never waits on disk). A
caller's ``await`` returns only after the COMMIT returned, so the server
acknowledges nothing that is not durable. If a grouped transaction fails,
each write is retried alone so that one bad write cannot fail the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio.to_thread
from sqlalchemy import Table, bindparam, insert, update
from sqlalchemy.engine import Connection, Engine

from exam_server.db import writer

T = TypeVar("T")
log = logging.getLogger(__name__)


class StorageUnavailable(Exception):
    """The write could not be committed (database error); nothing was stored."""


@dataclass
class _Write:
    fn: Callable[[Connection], Any] | None
    future: asyncio.Future[Any] = field(repr=False)
    inserts: Sequence[tuple[Table, dict[str, Any]]] = ()
    updates: Sequence[tuple[Table, int, dict[str, Any]]] = ()
    guard: tuple[int, int] | None = None  # (attempt id, expected last_seq)


GuardCheck = Callable[[Connection, list[tuple[int, int]]], dict[int, Exception]]
"""Checks the guards of a group inside its transaction (after taking any
locks); returns the refused attempt ids with the exception for each."""


def _apply_rows(conn: Connection, batch: Sequence[_Write]) -> None:
    """The row writes of a group as one executemany per table and column set
    (compiled once: a few microseconds a row instead of a statement each)."""
    inserts: dict[tuple[Table, tuple[str, ...]], list[dict[str, Any]]] = {}
    updates: dict[tuple[Table, tuple[str, ...]], list[dict[str, Any]]] = {}
    for w in batch:
        for table, row in w.inserts:
            inserts.setdefault((table, tuple(sorted(row))), []).append(row)
        for table, key, values in w.updates:
            updates.setdefault((table, tuple(sorted(values))), []).append({"_key": key, **values})
    for (table, _cols), rows in inserts.items():
        conn.execute(insert(table), rows)
    for (table, cols), params in updates.items():
        stmt = (
            update(table)
            .where(table.c.id == bindparam("_key"))
            .values({c: bindparam(c) for c in cols})
        )
        conn.execute(stmt, params)


class GroupCommitter:
    """The single writer of one process. ``start()`` in the lifespan, ``stop()`` at exit.

    Counters (``transactions``, ``writes``) let benchmarks report the mean
    group size.
    """

    def __init__(
        self, engine: Engine, max_batch: int = 500, guard_check: GuardCheck | None = None
    ) -> None:
        self.engine = engine
        self._writer = writer(engine)
        self.max_batch = max_batch
        self.guard_check = guard_check
        self.transactions = 0
        self.writes = 0
        # (wall time, seconds the batch took in the writer thread, writes):
        # for /healthz, to tell a slow disk from a busy event loop.
        self.recent: deque[tuple[float, float, int]] = deque(maxlen=4096)
        self._queue: asyncio.Queue[_Write] | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run(), name="group-commit")

    async def stop(self) -> None:
        if self._task is None or self._queue is None:
            return
        # Let queued writes finish: their callers are waiting for them.
        while not self._queue.empty():
            await asyncio.sleep(0.01)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def submit(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` inside the next transaction; return its result after COMMIT."""
        if self._queue is None:
            raise RuntimeError("GroupCommitter.submit before start()")
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Write(fn, fut))
        result: T = await fut
        return result

    async def submit_rows(
        self,
        inserts: Sequence[tuple[Table, dict[str, Any]]] = (),
        updates: Sequence[tuple[Table, int, dict[str, Any]]] = (),
        guard: tuple[int, int] | None = None,
    ) -> None:
        """Insert rows and update rows by ``id`` in the next transaction; return
        after COMMIT. The hot path (answers): grouped into executemany calls."""
        if self._queue is None:
            raise RuntimeError("GroupCommitter.submit_rows before start()")
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Write(None, fut, tuple(inserts), tuple(updates), guard))
        await fut

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            started = time.perf_counter()
            try:
                outcomes = await anyio.to_thread.run_sync(self._commit_batch, batch)
            except Exception as exc:  # the thread itself failed: fail the batch
                log.exception("group commit failed")
                outcomes = [StorageUnavailable(str(exc))] * len(batch)
            self.recent.append((time.time(), time.perf_counter() - started, len(batch)))
            for w, out in zip(batch, outcomes, strict=True):
                if w.future.done():
                    continue
                if isinstance(out, BaseException):
                    w.future.set_exception(out)
                else:
                    w.future.set_result(out)

    def _refused(self, conn: Connection, batch: Sequence[_Write]) -> dict[int, Exception]:
        guards = [w.guard for w in batch if w.guard is not None]
        if not guards or self.guard_check is None:
            return {}
        return self.guard_check(conn, guards)

    def _commit_batch(self, batch: list[_Write]) -> list[Any]:
        try:
            with self._writer.begin() as conn:
                refused = self._refused(conn, batch)
                go = [w for w in batch if w.guard is None or w.guard[0] not in refused]
                _apply_rows(conn, go)
                results = [
                    refused[w.guard[0]]
                    if w.guard is not None and w.guard[0] in refused
                    else None
                    if w.fn is None
                    else w.fn(conn)
                    for w in batch
                ]
            self.transactions += 1
            self.writes += len(go)
            return results
        except Exception:
            if len(batch) == 1:
                log.exception("write failed")
        outcomes: list[Any] = []
        for w in batch:  # isolate the failing write(s)
            try:
                with self._writer.begin() as conn:
                    refused = self._refused(conn, [w])
                    if refused:
                        outcomes.append(next(iter(refused.values())))
                        continue
                    _apply_rows(conn, [w])
                    outcomes.append(None if w.fn is None else w.fn(conn))
                self.transactions += 1
                self.writes += 1
            except Exception as exc:
                if len(batch) > 1:
                    log.exception("write failed")
                outcomes.append(exc)
        return outcomes
