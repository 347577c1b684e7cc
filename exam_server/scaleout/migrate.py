"""The database schema, created or brought up to date by a command.

``seleksi db migrate --url URL`` runs :func:`migrate`: it creates every
missing table and index of the shared SQLModel metadata (the server's and
the item bank's), under a PostgreSQL advisory lock so that several hosts
migrating at once wait for each other instead of racing on ``CREATE
TABLE``, and records the schema version in ``seleksi_schema``. Run it once
before starting several worker processes on one PostgreSQL database (each
worker's own start-up check then finds nothing to do).

:func:`temporary_schema` gives tests and benchmarks a throw-away PostgreSQL
schema (its own tables and its own LISTEN/NOTIFY channel) so that runs on a
shared server never see each other; it is dropped afterwards.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import quote

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine, make_url

from exam_server.db import create_schema, make_engine

#: Bumped when a change needs more than "create what is missing".
SCHEMA_VERSION = 1
_MIGRATE_LOCK = 0x534C4B4D  # "SLKM"


@dataclass
class MigrationReport:
    """What :func:`migrate` did: tables created now, tables already there, the version."""

    url: str
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    version: int = SCHEMA_VERSION
    seconds: float = 0.0

    def to_text(self) -> str:
        lines = [f"schema version {self.version} on {self.url} ({self.seconds:.2f} s)"]
        lines.append(f"created {len(self.created)} table(s): {', '.join(self.created) or '-'}")
        lines.append(f"already present: {len(self.existing)}")
        return "\n".join(lines)


def _redacted(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def migrate(database_url: str, engine: Engine | None = None) -> MigrationReport:
    """Create the missing tables/indexes and record the schema version (idempotent)."""
    t0 = time.perf_counter()
    own = engine is None
    eng = engine if engine is not None else make_engine(database_url, pool_size=2)
    try:
        before = set(inspect(eng).get_table_names())
        if eng.dialect.name == "postgresql":
            with eng.connect() as conn:
                # Session-level lock: held across create_all's own transactions.
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATE_LOCK})
                conn.commit()
                try:
                    create_schema(eng)
                    _record_version(eng)
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATE_LOCK})
                    conn.commit()
        else:
            create_schema(eng)
            _record_version(eng)
        after = set(inspect(eng).get_table_names())
    finally:
        if own:
            eng.dispose()
    return MigrationReport(
        url=_redacted(database_url),
        created=sorted(after - before),
        existing=sorted(before & after),
        seconds=time.perf_counter() - t0,
    )


def _record_version(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE IF NOT EXISTS seleksi_schema "
                "(version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)"
            )
        )
        found = conn.execute(
            text("SELECT version FROM seleksi_schema WHERE version = :v"), {"v": SCHEMA_VERSION}
        ).first()
        if found is None:
            conn.execute(
                text("INSERT INTO seleksi_schema (version, applied_at) VALUES (:v, :t)"),
                {"v": SCHEMA_VERSION, "t": time.time()},
            )


def schema_version(database_url: str) -> int | None:
    """The highest version recorded in ``seleksi_schema`` (None: never migrated)."""
    eng = make_engine(database_url, pool_size=1)
    try:
        if "seleksi_schema" not in inspect(eng).get_table_names():
            return None
        with eng.connect() as conn:
            v = conn.execute(text("SELECT max(version) FROM seleksi_schema")).scalar()
        return None if v is None else int(v)
    finally:
        eng.dispose()


def with_search_path(database_url: str, schema: str) -> str:
    """``database_url`` whose connections use ``schema`` (PostgreSQL ``search_path``)."""
    if not schema.replace("_", "").isalnum():
        raise ValueError(f"schema name must be letters, digits and '_': {schema!r}")
    sep = "&" if "?" in database_url else "?"
    return f"{database_url}{sep}options={quote(f'-csearch_path={schema}')}"


@contextlib.contextmanager
def temporary_schema(
    base_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/test", prefix: str = "so"
) -> Iterator[str]:
    """A fresh PostgreSQL schema on ``base_url``, dropped (CASCADE) on exit.

    Yields the SQLAlchemy URL whose connections use that schema.
    Raises ``OSError``-like ``psycopg.OperationalError`` when unreachable.
    """
    import psycopg

    from exam_server.scaleout.fanout import pg_conninfo

    conninfo = pg_conninfo(base_url)
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield with_search_path(base_url, schema)
    finally:
        for _ in range(20):  # the server may be restarting (fault tests)
            try:
                with psycopg.connect(conninfo, autocommit=True, connect_timeout=3) as conn:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
                break
            except psycopg.OperationalError:
                time.sleep(0.5)
