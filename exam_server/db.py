"""Database engines: SQLite (WAL) by default, PostgreSQL by URL.

The engine is built from :class:`Settings` in the app's lifespan, never at
import time. On SQLite, write transactions (through :func:`writer`) start
with ``BEGIN IMMEDIATE`` so that a writer takes the write lock before
reading the audit chain head (two processes on one file then wait for each
other instead of forking the chain); read transactions start deferred, and
in WAL mode never wait for the writer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlmodel import create_engine

from exam_server import models as _models  # noqa: F401  (registers the tables)
from item_bank.database import SQLITE_PAGE_SIZE, page_size_pragma

log = logging.getLogger(__name__)


def make_engine(
    database_url: str,
    *,
    sqlite_synchronous: str = "FULL",
    pool_size: int = 20,
    wal_autocheckpoint: int = 1000,
    sqlite_page_size: int = SQLITE_PAGE_SIZE,
) -> Engine:
    """An engine for ``database_url``; SQLite gets WAL, a busy timeout and
    ``synchronous`` (FULL: a commit survives power loss; NORMAL: survives a
    process crash only). wal_autocheckpoint: WAL pages after which a commit
    also checkpoints (SQLite's default); 0 when a :class:`WalCheckpointer`
    does it off the commit path (the server). sqlite_page_size: bytes per page
    of a new SQLite file (:data:`item_bank.database.SQLITE_PAGE_SIZE` says why
    1 kB); ValueError unless a power of two from 512 to 65536."""
    page_pragma = page_size_pragma(sqlite_page_size)
    if database_url.startswith("sqlite"):
        engine = create_engine(
            database_url,
            connect_args={"check_same_thread": False, "timeout": 30, "isolation_level": None},
            pool_size=pool_size,
            max_overflow=pool_size,
        )
        sync = sqlite_synchronous.upper()

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            # Before WAL: a page size takes effect only on a file with no page yet.
            cur.execute(page_pragma)
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={sync}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute(f"PRAGMA wal_autocheckpoint={int(wal_autocheckpoint)}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            # Writers take the write lock up front (no failed lock upgrade
            # half-way); readers begin deferred and, in WAL mode, never wait.
            write = conn.get_execution_options().get("seleksi_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    return create_engine(
        database_url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
    )


def warn_if_short_of_connections(engine: Engine) -> int | None:
    """On PostgreSQL, warn when fewer connection slots are free than this process
    may open (its pool and as many again at a peak, plus a few for LISTEN and
    the migration lock); returns the free slots (None: not PostgreSQL).

    A server out of slots answers logins and hellos 503 ``unavailable`` under
    load (PostgreSQL: ``too many clients already``) although nothing is down:
    the 2-worker login rush measured 49 of them while other benchmarks held
    connections (docs/benchmarks.md). Said at start, with the numbers, rather
    than found in the middle of a session."""
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as conn:
        limit = int(conn.exec_driver_sql("SHOW max_connections").scalar_one())
        reserved = int(conn.exec_driver_sql("SHOW superuser_reserved_connections").scalar_one())
        used = int(conn.exec_driver_sql("SELECT count(*) FROM pg_stat_activity").scalar_one())
    free = limit - reserved - used
    pool = engine.pool
    wanted = int(getattr(pool, "size", lambda: 0)()) + int(getattr(pool, "_max_overflow", 0)) + 4
    if free < wanted:
        log.warning(
            "PostgreSQL has %d connection slots free (max_connections %d, %d reserved, %d in "
            "use) and this server process may open %d: under load, requests will be refused "
            "503 unavailable. Raise max_connections, lower SELEKSI_DATABASE_POOL_SIZE, run "
            "fewer workers, or put a pooler (PgBouncer) in front (docs/operations.md).",
            free,
            limit,
            reserved,
            used,
            wanted,
        )
    return free


def placeholder(conn: Connection) -> str:
    """The driver's parameter marker, for SQL run on the DBAPI cursor itself
    (``?`` for sqlite3, ``%s`` for psycopg)."""
    style = conn.dialect.paramstyle
    if style == "qmark":
        return "?"
    if style in ("format", "pyformat"):
        return "%s"
    raise RuntimeError(f"no driver SQL for paramstyle {style!r}")


def pg_int_array(ids: Iterable[int]) -> str:
    """``ids`` as one PostgreSQL array literal (``{1,2,3}``), to pass as a single
    text parameter cast with ``::int[]``: psycopg's list adapter costs
    microseconds an element, which hot statements over thousands of ids pay."""
    return "{" + ",".join(str(int(i)) for i in ids) + "}"


def writer(engine: Engine) -> Engine:
    """``engine`` for transactions that write: on SQLite they begin with
    ``BEGIN IMMEDIATE`` (the database write lock), so that a transaction
    that reads before it writes (the audit chain head, existence checks)
    queues for the lock instead of failing when another process wrote first.
    Plain ``engine`` transactions begin deferred: reads never wait for writers."""
    return engine.execution_options(seleksi_write=True)


def create_schema(engine: Engine) -> None:
    """Bring the database to the newest schema revision (idempotent):
    :func:`exam_server.migrations.upgrade`, the server's and the item bank's tables.

    An empty database takes Alembic's fast path (``create_all``, then stamped
    head; ``test_migrations`` keeps it equal to running every revision): the
    server's start-up and the tests make many fresh databases, and on this
    machine a fresh SQLite file took 17 ms this way against 35 ms running the
    revisions (create_all alone: 14 ms), a fresh PostgreSQL schema 115 ms against
    150 ms (medians of 15 and 8). A database with tables is upgraded.
    """
    from exam_server.migrations import upgrade  # it imports this module

    upgrade(engine, fast_empty=True)


class WalCheckpointer:
    """Checkpoints a SQLite WAL from a thread of its own, off the commit path.

    With SQLite's automatic checkpoint, the commit that pushes the WAL past
    1,000 pages also copies the WAL into the database file and, with
    ``synchronous=FULL``, waits for its fsync: every answer grouped into that
    commit waited with it (0.4–0.6 s once per 5,000-terminal run,
    docs/benchmarks.md). Here a PASSIVE checkpoint runs every ``interval``
    seconds on its own connection: it copies what no reader still needs and
    never blocks the writer. ``last`` holds the last result (WAL pages,
    pages checkpointed, seconds it took) for ``/healthz``.
    """

    def __init__(self, engine: Engine, interval: float = 1.0) -> None:
        if not interval > 0:
            raise ValueError("WalCheckpointer interval must be positive")
        self.engine = engine
        self.interval = interval
        self.checkpoints = 0
        self.last: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10.0)
            self._thread = None

    def checkpoint(self) -> dict[str, float]:
        """One PASSIVE checkpoint now; returns its figures."""
        t0 = time.perf_counter()
        with self.engine.connect() as conn:
            busy, log_pages, done = conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
        self.checkpoints += 1
        self.last = {
            "wal_pages": float(log_pages),
            "checkpointed_pages": float(done),
            "busy": float(busy),
            "ms": round((time.perf_counter() - t0) * 1000.0, 2),
        }
        return self.last

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.checkpoint()
            except Exception:  # a locked or vanished file: try again next time
                log.warning("WAL checkpoint failed", exc_info=True)
