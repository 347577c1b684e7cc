"""Opening a database for the item bank (SQLite file or PostgreSQL URL).

The command line uses this; the server builds its own engine from its
settings and hands it to :class:`item_bank.store.ItemStore` the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import create_engine


def sqlite_url(path: str | Path) -> str:
    """``sqlite:///`` URL of a database file. Nothing is created: a command that
    only reads must not leave a file or folder behind a mistyped path
    (connecting makes the file, so readers check it exists first:
    :func:`seleksi.database.require_database`)."""
    return f"sqlite:///{Path(path).expanduser()}"


def open_engine(database_url: str) -> Engine:
    """An engine for ``database_url``.

    SQLite gets WAL, foreign keys and a busy timeout, and its transactions
    start with ``BEGIN`` when SQLAlchemy begins one (pysqlite would otherwise
    start them lazily, after the first read), so an import is one atomic unit.
    """
    if not database_url.startswith("sqlite"):
        return create_engine(database_url, pool_pre_ping=True)
    engine = create_engine(
        database_url,
        connect_args={"check_same_thread": False, "timeout": 30, "isolation_level": None},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        if ":memory:" not in database_url and database_url.rstrip("/") != "sqlite:":
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine
