"""``seleksi audit verify``: recompute the audit hash chain and the answer chains.

    seleksi audit verify --db URL_OR_PATH

Exits 0 when the chain of audit events, every attempt's chain of responses
and every finished attempt's recorded response head all check out; 1 with
one line per problem otherwise.
"""

from __future__ import annotations

import argparse
from typing import Any

from seleksi.cli import CommandError


def register(sub: Any) -> None:
    p = sub.add_parser(
        "audit",
        help="verify the exam server's tamper-evident audit log",
        description="Check the exam server's hash-chained audit log and answer chains.",
    )
    asub = p.add_subparsers(dest="audit_command", metavar="ACTION")
    asub.required = True
    v = asub.add_parser("verify", help="recompute every hash chain; exit 1 on any problem")
    v.add_argument("--db", required=True, help="database URL or SQLite file")
    v.set_defaults(func=verify)


def verify(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from exam_server.audit import verify as verify_chain
    from exam_server.db import make_engine
    from seleksi.commands.serve import database_url

    url = database_url(args.db)
    if url.startswith("sqlite:///"):
        from pathlib import Path

        if not Path(url.removeprefix("sqlite:///")).exists():
            raise CommandError(f"no database file {url.removeprefix('sqlite:///')}")
    engine = make_engine(url)
    try:
        report = verify_chain(engine)
    except SQLAlchemyError as exc:
        raise CommandError(f"cannot read the audit tables: {exc.__class__.__name__}") from None
    finally:
        engine.dispose()
    print(
        f"audit events: {report.events}, attempts: {report.attempts}, responses: {report.responses}"
    )
    if report.ok:
        print("OK: every chain verifies")
        return 0
    for problem in report.problems:
        print(f"PROBLEM: {problem}")
    return 1
