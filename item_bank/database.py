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

#: Bytes per page of a NEW SQLite file (SQLite ignores the setting once a file
#: has its first page). Why 1 kB rather than SQLite's 4 kB: the write-ahead log
#: is written in whole pages, and an exam answer's commit touches a few pages
#: each holding one changed row (the attempt's index leaf, the attempt row, the
#: response table's last page), so the log per answer shrinks with the page:
#: 14.1 -> 4.9 kB an answer in groups of 50 and 19.8 -> 6.4 kB one at a time
#: (``benchmarks/server_wal.py``, docs/benchmarks.md), while loading a
#: 20,000-item bank's arrays took 191 against 184 ms of CPU (medians of 5,
#: same run). The server's engine (``exam_server.db.make_engine``) and this
#: module's both use it, whichever makes the file first.
SQLITE_PAGE_SIZE = 1024


def page_size_pragma(page_size: int) -> str:
    """``PRAGMA page_size=N``, run on connect before WAL is set (after that a
    new file's page size is fixed); ValueError unless a power of two, 512-65536."""
    if page_size < 512 or page_size > 65536 or page_size & (page_size - 1):
        raise ValueError(
            f"sqlite page size must be a power of two from 512 to 65536, not {page_size}"
        )
    return f"PRAGMA page_size={page_size}"


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
        cur.execute(page_size_pragma(SQLITE_PAGE_SIZE))
        if ":memory:" not in database_url and database_url.rstrip("/") != "sqlite:":
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine
