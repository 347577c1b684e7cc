"""``seleksi serve``: run the exam server (uvicorn) on a database.

    seleksi serve [--db FILE|URL] [--host H] [--port P] [--workers N] [--log-level L]

The database is the one every command uses (:mod:`seleksi.database`):
``--db``, else ``$SELEKSI_DATABASE_URL``, else ``seleksi-data/seleksi.db``. It
must exist: ``seleksi demo`` or ``seleksi db migrate --db ...`` makes one; the
server never creates an empty SQLite file behind a mistyped path. Settings not
given as options come from ``SELEKSI_*`` environment variables
(``docs/operations.md``); ``SELEKSI_SECRET_KEY`` should be set for exam day
(without it a random key is made and tokens die with the process).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from seleksi.cli import CommandError, examples
from seleksi.database import add_db_argument, require_database, url_of


def database_url(value: str | None) -> str:
    """A SQLAlchemy URL, or a file path taken as SQLite (None: the default)."""
    return url_of(value)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "serve",
        help="run the exam server (terminals, proctors, live board, admin API)",
        description="Run the exam server with uvicorn until stopped (Ctrl+C), on an existing "
        "database (made by seleksi demo or seleksi db migrate; the server brings its schema "
        "to the newest revision on start). Other settings come from SELEKSI_* environment "
        "variables: see docs/operations.md. Set SELEKSI_SECRET_KEY for exam day.",
        epilog=examples(
            "seleksi serve                                  # seleksi-data/seleksi.db on :8000",
            "seleksi serve --db exam.db --host 0.0.0.0 --port 8000",
            "SELEKSI_SECRET_KEY=... seleksi serve --db postgresql+psycopg://seleksi@db/exam "
            "--workers 4",
        ),
    )
    add_db_argument(p)
    p.add_argument("--host", metavar="ADDRESS", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, metavar="PORT", help="port (default 8000)")
    p.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="how much uvicorn and the server log (default info)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="worker processes sharing the port (PostgreSQL only; docs/reliability.md; default 1)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from exam_server.serve import ServeError, serve
    from exam_server.settings import Settings

    if args.workers < 1:
        raise CommandError("--workers must be at least 1")
    if args.port is not None and not 0 < args.port < 65536:
        raise CommandError(f"--port {args.port}: a port is 1 to 65535")
    url = database_url(args.db)
    overrides: dict[str, Any] = {"database_url": url}
    if args.host:
        overrides["host"] = args.host
    if args.port:
        overrides["port"] = args.port
    try:
        settings = Settings.from_env(**overrides)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    # The database must exist and answer before the server starts (nothing is made here).
    require_database(url, schema=False)
    if args.workers != 1:  # scale-out: several processes on one PostgreSQL database
        from exam_server.scaleout.workers import serve_workers

        if not os.environ.get("SELEKSI_SECRET_KEY"):
            raise CommandError("--workers needs SELEKSI_SECRET_KEY (shared by every worker)")
        try:
            serve_workers(settings, args.workers, log_level=args.log_level)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        return 0
    try:
        serve(settings, log_level=args.log_level)
    except ServeError as exc:
        raise CommandError(str(exc)) from None
    return 0
