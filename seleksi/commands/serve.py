"""``seleksi serve``: run the exam server (uvicorn) on a database.

    seleksi serve [--db URL_OR_PATH] [--host H] [--port P] [--workers N]

Settings not given as options come from ``SELEKSI_*`` environment variables
(``docs/operations.md``); ``SELEKSI_SECRET_KEY`` should be set for exam day
(without it a random key is made and tokens die with the process).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from seleksi.cli import CommandError


def database_url(value: str) -> str:
    """A SQLAlchemy URL, or a file path taken as SQLite."""
    if "://" in value:
        return value
    return f"sqlite:///{value}"


def register(sub: Any) -> None:
    p = sub.add_parser(
        "serve",
        help="run the exam server (terminals, proctors, live board, admin API)",
        description="Run the exam server with uvicorn.",
    )
    p.add_argument("--db", help="database URL or SQLite file (default: $SELEKSI_DATABASE_URL)")
    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 8000)")
    p.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes sharing the port (PostgreSQL only; docs/reliability.md)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from exam_server.serve import serve
    from exam_server.settings import Settings

    overrides: dict[str, Any] = {}
    if args.db:
        overrides["database_url"] = database_url(args.db)
    if args.host:
        overrides["host"] = args.host
    if args.port:
        overrides["port"] = args.port
    try:
        settings = Settings.from_env(**overrides)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    if args.workers != 1:  # scale-out: several processes on one PostgreSQL database
        from exam_server.scaleout.workers import serve_workers

        if not os.environ.get("SELEKSI_SECRET_KEY"):
            raise CommandError("--workers needs SELEKSI_SECRET_KEY (shared by every worker)")
        try:
            serve_workers(settings, args.workers, log_level=args.log_level)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        return 0
    serve(settings, log_level=args.log_level)
    return 0
