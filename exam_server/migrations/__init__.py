"""The schema's revisions (Alembic), and the one function that brings a database to the newest.

``versions/`` holds the revisions, a linear chain (``0001_baseline``,
``0002_exam_documents``, ...; README.md says how to add one). :func:`upgrade`
is what the server's start-up (:func:`exam_server.db.create_schema`) and
``seleksi db migrate`` both run. In one transaction, holding the migration lock
(PostgreSQL: an advisory lock; SQLite: the write lock, ``BEGIN IMMEDIATE``) so
that several processes starting at once wait for each other, it finds what the
database is and brings it to head:

* at a revision: ``alembic upgrade head`` (nothing when already there);
* made by the code before Alembic (our tables, no ``alembic_version``, perhaps
  the old version record ``seleksi_schema``): the baseline runs, creating only
  the tables the old code had not made yet, which records it as
  ``0001_baseline``; the old record is dropped; then the later revisions run;
* empty: every revision runs, or, with ``fast_empty``, the tables are made from
  the models and stamped as head (see :func:`upgrade` for why and when).

Alembic is configured in code (:func:`alembic_config`): no ``alembic.ini``.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

import after_test.models  # noqa: F401  (registers after-the-test tables)
import assessment.models  # noqa: F401  (registers the SKB tables)
import exam_server.forensics.models  # registers the forensics tables
import exam_server.models  # registers the server's tables
import exam_server.sites.models  # noqa: F401  (registers the sites' tables)
import item_bank.models  # noqa: F401  (registers the bank's tables)
import recruitment.models  # noqa: F401  (registers the recruitment tables)

#: This directory: env.py, script.py.mako and versions/ (shipped as package data).
DIRECTORY = Path(__file__).resolve().parent
BASELINE = "0001_baseline"
#: The version record of the code before Alembic (one row, version 1), retired on adoption.
LEGACY_VERSION_TABLE = "seleksi_schema"
_LEGACY_VERSION = 1
_LOCK_KEY = 0x534C4B4D  # "SLKM": the same key the code before Alembic locked on


class MigrationError(RuntimeError):
    """The database is in a state this code cannot bring to head (said in one line)."""


@dataclass(frozen=True)
class Upgrade:
    """What :func:`upgrade` did.

    before: the revision found (None: empty, or made before Alembic when
    ``adopted``); after: the revision now (head); applied: the revisions run,
    oldest first; legacy_version: the ``seleksi_schema`` version retired (None:
    there was none); created: tables that exist now and did not before;
    fast: made by ``create_all`` and stamped head; seconds: wall time.
    """

    before: str | None
    after: str
    applied: tuple[str, ...]
    adopted: bool
    legacy_version: int | None
    created: tuple[str, ...]
    fast: bool
    seconds: float


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    """An Alembic ``Config`` on this directory, for ``alembic.command`` functions.

    connection: an open connection env.py runs on (in its transaction);
    url: otherwise, a database env.py connects to itself.
    """
    cfg = Config()
    cfg.set_main_option("script_location", str(DIRECTORY))
    cfg.set_main_option("file_template", "%%(rev)s")  # versions/0003_name.py
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # configparser syntax
    cfg.attributes["connection"] = connection
    return cfg


@functools.cache
def script_directory() -> ScriptDirectory:
    """The revisions (read once a process: they do not change while it runs)."""
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    head = script_directory().get_current_head()
    if head is None:
        raise MigrationError(f"no revisions in {DIRECTORY / 'versions'}")
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision recorded in ``alembic_version`` (None: no such table or no row)."""
    return MigrationContext.configure(connection).get_current_revision()


def our_tables(names: Iterable[str]) -> set[str]:
    """Which of ``names`` are this project's tables (the models' or the old version
    record): a database holding any, and no revision, was made before Alembic."""
    return set(names) & (set(SQLModel.metadata.tables) | {LEGACY_VERSION_TABLE})


def upgrade(engine: Engine, *, fast_empty: bool = False) -> Upgrade:
    """Bring the database of ``engine`` to head (idempotent; see the module docstring).

    fast_empty: on an empty database, ``create_all`` the models and stamp head
    instead of running every revision (Alembic's cookbook). The test
    ``test_migrations.py::test_models_equal_migrations`` keeps the two equal.
    Measured on this machine (SQLite file, 21 tables): see
    :func:`exam_server.db.create_schema`, which is the caller that uses it.
    """
    # Imported here: exam_server.db imports this module inside create_schema.
    from exam_server.db import writer

    t0 = time.perf_counter()
    script = script_directory()
    head = head_revision()
    with writer(engine).connect() as conn, _sqlite_foreign_keys_off(conn), conn.begin():
        if conn.dialect.name == "postgresql":
            # Held to the end of this transaction: a second migrator waits here,
            # then finds the database at head and does nothing.
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        tables = set(inspect(conn).get_table_names())
        before = current_revision(conn)
        if before is not None and before not in {s.revision for s in script.walk_revisions()}:
            raise MigrationError(
                f"the database is at revision {before}, which this version of seleksi does "
                f"not know (its newest is {head}): was it migrated by newer code?"
            )
        ours = our_tables(tables)
        adopted = before is None and bool(ours)
        legacy = _retire_legacy_record(conn) if LEGACY_VERSION_TABLE in tables else None
        fast = before is None and not ours and fast_empty
        if fast:
            SQLModel.metadata.create_all(conn)
            # The public stamp of a MigrationContext, on the revisions read once a
            # process (command.stamp would read them and run env.py again).
            MigrationContext.configure(conn).stamp(script, head)
        elif before != head:
            broken_before = _broken_keys(conn)
            command.upgrade(alembic_config(conn), head)
            _check_no_new_broken_keys(conn, broken_before)
            # Accounts and appeal decisions from before they were audited, listed once.
            from exam_server.audit import appeal_records, staff_records

            staff_records.record_baseline(conn)
            appeal_records.record_baseline(conn)
        after = current_revision(conn)
        created = set(inspect(conn).get_table_names()) - tables
    if after != head:  # pragma: no cover - Alembic recorded something else
        raise MigrationError(f"upgrade ended at {after}, not at head {head}")
    return Upgrade(
        before=before,
        after=head,
        applied=() if fast else _revisions_between(script, before, head),
        adopted=adopted,
        legacy_version=legacy,
        created=tuple(sorted(created - {"alembic_version"})),
        fast=fast,
        seconds=time.perf_counter() - t0,
    )


@contextlib.contextmanager
def _sqlite_foreign_keys_off(conn: Connection) -> Iterator[None]:
    """On SQLite, foreign keys off while the revisions run (set outside the
    transaction: SQLite ignores the pragma inside one). Alembic's batch mode
    rebuilds a table by copying it, dropping the old one and renaming the
    copy; with the keys on, dropping a table that other tables refer to
    (``rec_registration``: documents, verifications, appeals) failed with
    'FOREIGN KEY constraint failed', and the database could not be upgraded.
    On again after, whatever happened: the connection goes back to the pool.
    :func:`upgrade` checks that no row breaks a key it did not break before."""
    if conn.dialect.name != "sqlite":
        yield
        return
    raw = conn.connection.dbapi_connection
    assert raw is not None
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        raw.execute("PRAGMA foreign_keys=ON")


def _broken_keys(conn: Connection) -> set[tuple[object, ...]]:
    """SQLite's ``foreign_key_check`` rows as (table, rowid, parent): the key's
    own index is left out, since rebuilding a table renumbers its keys (a
    review saw a row broken before counted as new); empty elsewhere
    (PostgreSQL never turns its keys off)."""
    if conn.dialect.name != "sqlite":
        return set()
    return {tuple(r[:3]) for r in conn.exec_driver_sql("PRAGMA foreign_key_check").all()}


def _check_no_new_broken_keys(conn: Connection, before: set[tuple[object, ...]]) -> None:
    """The keys were off while the revisions rebuilt tables: refuse (nothing is
    committed) if a row breaks one that did not before. Rows that broke a key
    already (written with the keys off by other tools) do not stop the upgrade."""
    new = sorted(_broken_keys(conn) - before, key=str)
    if new:
        table, rowid, parent = new[0]
        raise MigrationError(
            f"after the upgrade {len(new)} row(s) break a foreign key, the first in table "
            f"{table} (rowid {rowid}, referring to {parent}); nothing was changed"
        )


def _retire_legacy_record(conn: Connection) -> int:
    """Drop the old version record after checking it names the one old version."""
    found = conn.execute(text(f"SELECT max(version) FROM {LEGACY_VERSION_TABLE}")).scalar()
    if found is not None and int(found) != _LEGACY_VERSION:
        raise MigrationError(
            f"{LEGACY_VERSION_TABLE} records schema version {found}; the code before "
            f"Alembic only ever wrote version {_LEGACY_VERSION}"
        )
    conn.execute(text(f"DROP TABLE {LEGACY_VERSION_TABLE}"))
    return _LEGACY_VERSION


def _revisions_between(script: ScriptDirectory, before: str | None, head: str) -> tuple[str, ...]:
    """The revisions after ``before`` up to ``head``, oldest first (a linear chain)."""
    out: list[str] = []
    rev: str | None = head
    while rev is not None and rev != before:
        out.append(rev)
        down = script.get_revision(rev).down_revision if rev else None
        if isinstance(down, tuple | list):
            raise MigrationError(f"revision {rev} merges branches; keep the chain linear")
        rev = down
    return tuple(reversed(out))


__all__ = [
    "BASELINE",
    "DIRECTORY",
    "LEGACY_VERSION_TABLE",
    "MigrationError",
    "Upgrade",
    "alembic_config",
    "current_revision",
    "head_revision",
    "our_tables",
    "script_directory",
    "upgrade",
]
