"""Database engines: SQLite (WAL) by default, PostgreSQL by URL.

The engine is built from :class:`Settings` in the app's lifespan, never at
import time. SQLite transactions start with ``BEGIN IMMEDIATE`` so that a
writer takes the write lock before reading the audit chain head (two
processes on one file then wait for each other instead of forking the chain).
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
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(
        database_url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
    )


def create_schema(engine: Engine) -> None:
    """Create every table on the shared metadata (idempotent)."""
    # item_bank's tables share the metadata when that package is present.
    with contextlib.suppress(ImportError):
        import item_bank.models  # noqa: F401
    SQLModel.metadata.create_all(engine)
