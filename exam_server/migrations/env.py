"""Alembic's environment: run by every Alembic command on this directory.

Configured in code (:func:`exam_server.migrations.alembic_config`), no
``alembic.ini``: the caller hands over an open connection in
``config.attributes["connection"]`` (already in the transaction and holding
the migration lock, see :func:`exam_server.migrations.upgrade`), or a URL as
the ``sqlalchemy.url`` option. The target is the shared ``SQLModel.metadata``
(the server's tables and the item bank's), which autogenerate and the
models-equal-migrations test compare the database with.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

import after_test.models  # noqa: F401  (registers after-the-test tables)
import assessment.models  # noqa: F401  (registers the SKB tables)
import exam_server.forensics.models  # registers the forensics tables
import exam_server.models  # registers the server's tables
import exam_server.sites.models  # noqa: F401  (registers the sites' tables)
import item_bank.models  # noqa: F401  (registers the bank's tables)
import recruitment.models  # noqa: F401  (registers the recruitment tables)
from exam_server.db import make_engine


def _render_item(kind: str, obj: Any, _autogen: Any) -> str | Literal[False]:
    """sqlmodel's column types written as the SQL types they emit, as in the
    baseline (a revision then needs no sqlmodel import and stays frozen)."""
    if kind == "type" and isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        # SQLite alters most things by copying the table: autogenerate writes
        # batch operations there (op.batch_alter_table).
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    given = context.config.attributes.get("connection")
    if given is not None:
        _run(given)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection and no sqlalchemy.url: use exam_server.migrations")
    engine = make_engine(url, pool_size=1)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    # The baseline inspects the database (tables made before Alembic): no SQL script mode.
    raise RuntimeError("offline (--sql) migrations are not supported; run them on a database")
run_online()
