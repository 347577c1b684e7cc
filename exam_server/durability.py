"""Group commit: answers that arrive together are made durable in one transaction.

Each caller submits a small write function (``fn(connection) -> result``)
or rows to insert and update, and awaits it; the writer thread takes
everything that queued up while the previous transaction was being committed
and runs it as the next transaction (the event loop never waits on disk),
then hands the outcomes of the whole group back to the loop in one call. A
caller's ``await`` returns only after the COMMIT returned, so the server
acknowledges nothing that is not durable. If a grouped transaction fails,
each write is retried alone so that one bad write cannot fail the others.

Why a thread of its own rather than a worker per batch: a batch is one
wake-up of the thread and one of the loop, with no task, queue or limiter
of the loop's in between (the hand-off cost ~12 µs an answer that way).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Table
from sqlalchemy.engine import Connection, Engine

from exam_server.db import placeholder, writer
from exam_server.usage import Administered, add_usage

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
    usage: Sequence[Administered] = ()  # items given by this write (exposure counts)


GuardCheck = Callable[[Connection, list[tuple[int, int]]], dict[int, Exception]]
"""Checks the guards of a group inside its transaction (after taking any
locks); returns the refused attempt ids with the exception for each."""


@functools.lru_cache(maxsize=64)
def _insert_sql(table: str, cols: tuple[str, ...], ph: str) -> str:
    return f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join([ph] * len(cols))})"


@functools.lru_cache(maxsize=64)
def _update_sql(table: str, cols: tuple[str, ...], ph: str) -> str:
    sets = ", ".join(f"{c} = {ph}" for c in cols)
    return f"UPDATE {table} SET {sets} WHERE id = {ph}"


def _apply_rows(conn: Connection, batch: Sequence[_Write]) -> None:
    """The row writes of a group as one driver ``executemany`` per table and
    column set, below SQLAlchemy: the statements are fixed and the values
    plain (ints, floats, strings, booleans), so there is nothing for the ORM
    layer to do but cost ~20 µs an answer (docs/benchmarks.md). Runs on the
    transaction's own DBAPI connection, inside its BEGIN."""
    inserts: dict[tuple[str, tuple[str, ...]], list[tuple[Any, ...]]] = {}
    updates: dict[tuple[str, tuple[str, ...]], list[tuple[Any, ...]]] = {}
    for w in batch:
        for table, row in w.inserts:
            cols = tuple(sorted(row))
            inserts.setdefault((table.name, cols), []).append(tuple(row[c] for c in cols))
        for table, key, values in w.updates:
            cols = tuple(sorted(values))
            updates.setdefault((table.name, cols), []).append((*(values[c] for c in cols), key))
    # Usage counts of the whole group in one upsert per table, in key order
    # (exam_server.usage): writers on several processes never deadlock.
    steps = [u for w in batch for u in w.usage]
    if steps:
        add_usage(conn, steps)
    if not inserts and not updates:
        return
    ph = placeholder(conn)
    q = conn.dialect.identifier_preparer.quote  # our own names; quoted where reserved
    cur = conn.connection.cursor()
    try:
        for (name, cols), rows in inserts.items():
            cur.executemany(_insert_sql(q(name), tuple(map(q, cols)), ph), rows)
        for (name, cols), params in updates.items():
            cur.executemany(_update_sql(q(name), tuple(map(q, cols)), ph), params)
    finally:
        cur.close()


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
        # (wall time, seconds the batch took, writer-thread CPU seconds, writes,
        # seconds inside COMMIT): for /healthz, to tell a slow disk (time
        # without CPU; a long COMMIT is the log's fsync) from a busy process.
        self.recent: deque[tuple[float, float, float, int, float]] = deque(maxlen=16384)
        self._commit_seconds = 0.0  # inside COMMIT, in the batch being written
        self._pending: deque[_Write] = deque()  # appended by the loop, taken by the thread
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._conn: Connection | None = None  # used by the writer thread only

    def report(self, seconds: float) -> dict[str, Any]:
        """The groups committed in the last ``seconds``: how many, their mean
        size, the slowest (ms, and the writer thread's CPU ms in it: a slow
        group with little CPU waited on the disk), and the writer thread's
        CPU per write."""
        since = time.time() - seconds
        window = [(d, c, n, k) for t, d, c, n, k in self.recent if t >= since]
        writes = sum(n for _, _, n, _ in window)
        slowest = max(window, default=(0.0, 0.0, 0, 0.0))
        return {
            "n": len(window),
            "mean_size": round(writes / len(window), 2) if window else 0.0,
            "max_ms": round(slowest[0] * 1000.0, 2),
            "slowest": {
                "writer_cpu_ms": round(slowest[1] * 1000.0, 2),
                "writes": slowest[2],
                "commit_ms": round(slowest[3] * 1000.0, 2),
            },
            "writer_cpu_us_per_write": round(
                1e6 * sum(c for _, c, _, _ in window) / max(1, writes), 1
            ),
        }

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        self._thread = threading.Thread(target=self._thread_main, name="group-commit", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        """Commit what is queued (its callers are waiting for it), then end the thread."""
        thread = self._thread
        if thread is None:
            return
        self._stopping = True
        self._wake.set()
        await asyncio.to_thread(thread.join)
        await asyncio.sleep(0)  # let the last outcomes reach their callers
        self._thread = None

    def _enqueue(self, w: _Write) -> None:
        if self._thread is None or self._stopping:
            raise RuntimeError("GroupCommitter used before start() or after stop()")
        self._pending.append(w)
        self._wake.set()

    async def submit(self, fn: Callable[[Connection], T], usage: Sequence[Administered] = ()) -> T:
        """Run ``fn`` inside the next transaction; return its result after COMMIT.

        usage: items this write gives (counted in the same transaction)."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._enqueue(_Write(fn, fut, usage=tuple(usage)))
        result: T = await fut
        return result

    async def submit_rows(
        self,
        inserts: Sequence[tuple[Table, dict[str, Any]]] = (),
        updates: Sequence[tuple[Table, int, dict[str, Any]]] = (),
        guard: tuple[int, int] | None = None,
        usage: Sequence[Administered] = (),
    ) -> None:
        """Insert rows and update rows by ``id`` in the next transaction; return
        after COMMIT. The hot path (answers): grouped into executemany calls.
        usage: items this write gives (counted in the same transaction)."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._enqueue(_Write(None, fut, tuple(inserts), tuple(updates), guard, tuple(usage)))
        await fut

    def _thread_main(self) -> None:
        loop = self._loop
        assert loop is not None  # set by start() before the thread starts
        while True:
            self._wake.wait()
            self._wake.clear()  # a write queued after this sets it again
            while self._pending:
                batch: list[_Write] = []
                while self._pending and len(batch) < self.max_batch:
                    batch.append(self._pending.popleft())
                started, cpu = time.perf_counter(), time.thread_time()
                self._commit_seconds = 0.0
                try:
                    outcomes = self._commit_batch(batch)
                except Exception as exc:  # the batch itself failed: fail its writes
                    log.exception("group commit failed")
                    outcomes = [StorageUnavailable(str(exc))] * len(batch)
                self.recent.append(
                    (
                        time.time(),
                        time.perf_counter() - started,
                        time.thread_time() - cpu,
                        len(batch),
                        self._commit_seconds,
                    )
                )
                try:
                    loop.call_soon_threadsafe(self._deliver, batch, outcomes)
                except RuntimeError:  # the loop is closed: nobody is waiting any more
                    return
            # A write queued just before stop() may have arrived after the
            # drain above: it set the event, so go round again for it.
            if self._stopping and not self._pending:
                if self._conn is not None:
                    self._conn.close()
                    self._conn = None
                return

    @staticmethod
    def _deliver(batch: list[_Write], outcomes: list[Any]) -> None:
        for w, out in zip(batch, outcomes, strict=True):
            if w.future.done():  # the caller gave up (cancelled)
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

    def _connection(self) -> Connection:
        """The writer thread's own connection, kept between batches: no pool
        checkout (nor PostgreSQL's pre-ping round trip) per transaction.
        Dropped after any failure, so the next batch starts on a fresh one."""
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            self._conn = self._writer.connect()
        return self._conn

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.invalidate()  # the DBAPI connection may be broken: do not reuse it
                conn.close()
            except Exception:
                log.debug("closing a failed writer connection", exc_info=True)

    @contextlib.contextmanager
    def _transaction(self, conn: Connection) -> Iterator[None]:
        """``conn.begin()``, with the time its COMMIT takes added up for the report."""
        trans = conn.begin()
        try:
            yield
        except BaseException:
            # The caller drops the connection after a failure; a ROLLBACK
            # that fails on a broken one must not hide what went wrong.
            with contextlib.suppress(Exception):
                trans.rollback()
            raise
        started = time.perf_counter()
        trans.commit()
        self._commit_seconds += time.perf_counter() - started

    def _commit_batch(self, batch: list[_Write]) -> list[Any]:
        try:
            conn = self._connection()
            with self._transaction(conn):
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
        except Exception as exc:
            self._drop_connection()
            # Often passing (a deadlock PostgreSQL broke, a dropped
            # connection): each write is tried again alone below, and only
            # a write that fails there too is an error.
            log.warning(
                "a group of %d writes failed, retrying each alone: %s",
                len(batch),
                (str(exc).splitlines() or [type(exc).__name__])[0],
            )
        outcomes: list[Any] = []
        for w in batch:  # isolate the failing write(s)
            try:
                conn = self._connection()
                with self._transaction(conn):
                    refused = self._refused(conn, [w])
                    if refused:
                        outcomes.append(next(iter(refused.values())))
                        continue
                    _apply_rows(conn, [w])
                    outcomes.append(None if w.fn is None else w.fn(conn))
                self.transactions += 1
                self.writes += 1
            except Exception as exc:
                self._drop_connection()
                log.exception("write failed")
                outcomes.append(exc)
        return outcomes
