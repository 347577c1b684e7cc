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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio.to_thread
from sqlalchemy.engine import Connection, Engine

T = TypeVar("T")
log = logging.getLogger(__name__)


class StorageUnavailable(Exception):
    """The write could not be committed (database error); nothing was stored."""


@dataclass
class _Write:
    fn: Callable[[Connection], Any]
    future: asyncio.Future[Any] = field(repr=False)


class GroupCommitter:
    """The single writer of one process. ``start()`` in the lifespan, ``stop()`` at exit.

    Counters (``transactions``, ``writes``) let benchmarks report the mean
    group size.
    """

    def __init__(self, engine: Engine, max_batch: int = 500) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self.transactions = 0
        self.writes = 0
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

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                outcomes = await anyio.to_thread.run_sync(self._commit_batch, batch)
            except Exception as exc:  # the thread itself failed: fail the batch
                log.exception("group commit failed")
                outcomes = [StorageUnavailable(str(exc))] * len(batch)
            for w, out in zip(batch, outcomes, strict=True):
                if w.future.done():
                    continue
                if isinstance(out, BaseException):
                    w.future.set_exception(out)
                else:
                    w.future.set_result(out)

    def _commit_batch(self, batch: list[_Write]) -> list[Any]:
        try:
            with self.engine.begin() as conn:
                results = [w.fn(conn) for w in batch]
            self.transactions += 1
            self.writes += len(batch)
            return results
        except Exception:
            if len(batch) == 1:
                log.exception("write failed")
        outcomes: list[Any] = []
        for w in batch:  # isolate the failing write(s)
            try:
                with self.engine.begin() as conn:
                    outcomes.append(w.fn(conn))
                self.transactions += 1
                self.writes += 1
            except Exception as exc:
                if len(batch) > 1:
                    log.exception("write failed")
                outcomes.append(exc)
        return outcomes
