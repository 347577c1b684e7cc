"""``seleksi db``: the database schema.

    seleksi db migrate --url postgresql+psycopg://user@host/db   # or a SQLite path
    seleksi db version --url URL

``migrate`` creates every missing table and index and records the schema
version; run it once before starting several server processes on one
PostgreSQL database. It is idempotent.
"""

from __future__ import annotations

import argparse
from typing import Any

from seleksi.cli import CommandError


def _url(value: str) -> str:
    url = value if "://" in value else f"sqlite:///{value}"
    if not url.startswith(("sqlite", "postgresql")):
        raise CommandError(
            f"migration failed: only sqlite:// and postgresql+psycopg:// URLs: {url}"
        )
    return url


def register(sub: Any) -> None:
    p = sub.add_parser("db", help="create or migrate the database schema")
    dsub = p.add_subparsers(dest="db_command", metavar="ACTION")
    dsub.required = True
    m = dsub.add_parser("migrate", help="create missing tables and indexes (idempotent)")
    m.add_argument("--url", required=True, help="database URL or SQLite file")
    m.set_defaults(func=run_migrate)
    v = dsub.add_parser("version", help="print the recorded schema version")
    v.add_argument("--url", required=True, help="database URL or SQLite file")
    v.set_defaults(func=run_version)


def run_migrate(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from exam_server.scaleout.migrate import migrate

    try:
        report = migrate(_url(args.url))
    except (SQLAlchemyError, ValueError) as exc:
        raise CommandError(f"migration failed: {str(exc).splitlines()[0]}") from None
    print(report.to_text())
    return 0


def run_version(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from exam_server.scaleout.migrate import schema_version

    try:
        v = schema_version(_url(args.url))
    except (SQLAlchemyError, ValueError) as exc:
        raise CommandError(str(exc).splitlines()[0]) from None
    print("not migrated" if v is None else f"schema version {v}")
    return 0 if v is not None else 1
