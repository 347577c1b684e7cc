"""Database engines: SQLite (WAL) by default, PostgreSQL by URL.

The engine is built from :class:`Settings` in the app's lifespan, never at
import time. On SQLite, write transactions (through :func:`writer`) start
with ``BEGIN IMMEDIATE`` so that a writer takes the write lock before
reading the audit chain head (two processes on one file then wait for each
other instead of forking the chain); read transactions start deferred, and
in WAL mode never wait for the writer.
"""

from __future__ import annotations

import contextlib
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel, create_engine

from exam_server import models as _models  # noqa: F401  (registers the tables)


def make_engine(
    database_url: str, *, sqlite_synchronous: str = "FULL", pool_size: int = 20
) -> Engine:
    """An engine for ``database_url``; SQLite gets WAL, a busy timeout and
    ``synchronous`` (FULL: a commit survives power loss; NORMAL: survives a
    process crash only)."""
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
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={sync}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
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


def writer(engine: Engine) -> Engine:
    """``engine`` for transactions that write: on SQLite they begin with
    ``BEGIN IMMEDIATE`` (the database write lock), so that a transaction
    that reads before it writes (the audit chain head, existence checks)
    queues for the lock instead of failing when another process wrote first.
    Plain ``engine`` transactions begin deferred: reads never wait for writers."""
    return engine.execution_options(seleksi_write=True)


def create_schema(engine: Engine) -> None:
    """Create every table on the shared metadata (idempotent)."""
    # item_bank's tables share the metadata when that package is present.
    with contextlib.suppress(ImportError):
        import item_bank.models  # noqa: F401
    SQLModel.metadata.create_all(engine)
