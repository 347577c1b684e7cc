"""The database schema brought up to date by a command.

``seleksi db migrate --url URL`` runs :func:`migrate`: ``alembic upgrade
head`` through :func:`exam_server.migrations.upgrade` (every revision, no
fast path), which also adopts a database made before Alembic. Several hosts
migrating at once wait for each other on the migration lock. Run it once
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
from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy import inspect
from sqlalchemy.engine import Engine, make_url

from exam_server.db import make_engine
from exam_server.migrations import (
    LEGACY_VERSION_TABLE,
    Upgrade,
    current_revision,
    head_revision,
    our_tables,
    upgrade,
)


@dataclass(frozen=True)
class MigrationReport:
    """What :func:`migrate` did to the database at ``url`` (password hidden)."""

    url: str
    upgrade: Upgrade

    def to_text(self) -> str:
        """Lines for an operator: from which revision to which, what was applied."""
        up = self.upgrade
        head = f"{up.after} (head)"
        if not up.applied:
            return f"{self.url} is at {head}: nothing to do ({up.seconds:.2f} s)"
        if up.adopted:
            found = "a schema made before Alembic (recorded as the baseline)"
        else:
            found = up.before or "an empty database"
        lines = [f"migrated {self.url} from {found} to {head} in {up.seconds:.2f} s"]
        lines.append(f"applied: {', '.join(up.applied)}")
        if up.created:
            lines.append(f"created {len(up.created)} table(s): {', '.join(up.created)}")
        if up.legacy_version is not None:
            lines.append(
                f"retired the old version record {LEGACY_VERSION_TABLE} "
                f"(version {up.legacy_version})"
            )
        return "\n".join(lines)


@dataclass(frozen=True)
class SchemaState:
    """What revision a database is at. revision: None when not under Alembic;
    legacy: the tables of the code before Alembic are there (not yet adopted)."""

    revision: str | None
    head: str
    legacy: bool

    @property
    def at_head(self) -> bool:
        return self.revision == self.head

    def to_text(self) -> str:
        if self.revision is None:
            if self.legacy:
                return "made before Alembic, not migrated yet: run seleksi db migrate"
            return "not migrated: no schema (run seleksi db migrate)"
        if self.at_head:
            return f"{self.revision} (head)"
        return f"{self.revision} (head is {self.head}: run seleksi db migrate)"


def _redacted(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def migrate(database_url: str, engine: Engine | None = None) -> MigrationReport:
    """``alembic upgrade head`` on ``database_url`` (idempotent): see the module docstring."""
    own = engine is None
    eng = engine if engine is not None else make_engine(database_url, pool_size=2)
    try:
        done = upgrade(eng, fast_empty=False)
    finally:
        if own:
            eng.dispose()
    return MigrationReport(url=_redacted(database_url), upgrade=done)


def schema_state(database_url: str) -> SchemaState:
    """The revision recorded in ``database_url`` (read only)."""
    eng = make_engine(database_url, pool_size=1)
    try:
        with eng.connect() as conn:
            revision = current_revision(conn)
            tables = set(inspect(conn).get_table_names())
    finally:
        eng.dispose()
    legacy = revision is None and bool(our_tables(tables))
    return SchemaState(revision=revision, head=head_revision(), legacy=legacy)


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
