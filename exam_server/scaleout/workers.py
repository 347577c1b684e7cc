"""Several uvicorn worker processes sharing one socket and one PostgreSQL database.

    python -m exam_server.scaleout.workers --workers 2 --port 8000
    (settings from SELEKSI_* variables; SELEKSI_SECRET_KEY is required)

The parent migrates the schema once (:func:`~exam_server.scaleout.migrate.migrate`),
then uvicorn's supervisor binds the socket and starts ``workers`` processes,
each running :func:`app_from_env`; the kernel spreads connections over them.
The supervisor restarts a worker that dies (e.g. SIGKILL); its terminals
reconnect to any worker and resume from the database. Every worker must
share the secret key (a token signed by one is checked by another).
"""

from __future__ import annotations

import os
import signal
from typing import Any

from exam_server.settings import Settings


def app_from_env() -> Any:
    """The app of one worker (uvicorn ``factory=True`` target)."""
    from exam_server.app import create_app
    from exam_server.serve import stop_once_in_worker

    if not os.environ.get("SELEKSI_SECRET_KEY"):
        raise ValueError("SELEKSI_SECRET_KEY must be set when running several workers")
    stop_once_in_worker()  # uvicorn's handlers are installed now; see there why
    return create_app(Settings.from_env())


def serve_workers(settings: Settings, workers: int, log_level: str = "info") -> None:
    """Migrate, then serve ``workers`` processes until interrupted."""
    from exam_server.scaleout.migrate import migrate
    from exam_server.serve import run_uvicorn

    if workers < 1:
        raise ValueError("workers must be at least 1")
    if workers > 1 and settings.is_sqlite:
        # SQLite serialises all writers of the file; more processes only add
        # lock waits (and the live bus is in-process only).
        raise ValueError("several workers need PostgreSQL (SELEKSI_DATABASE_URL=postgresql+...)")
    migrate(settings.database_url)
    os.environ["SELEKSI_DATABASE_URL"] = settings.database_url
    os.environ["SELEKSI_SECRET_KEY"] = settings.secret_key
    run_uvicorn(
        "exam_server.scaleout.workers:app_from_env",
        settings,
        log_level,
        factory=True,
        workers=workers,
        # Each worker's loop is made after its stop signals are installed
        # (exam_server.serve.worker_loop: no traceback on Ctrl+C pressed twice).
        loop="exam_server.serve:worker_loop",
    )
    # The supervisor has stopped its workers and is ending: a Ctrl+C pressed
    # again now would reach Python's own handler while the interpreter shuts
    # down and kill it by SIGINT after a clean stop (as StopSignals.installed
    # says for one process).
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m exam_server.scaleout.workers")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    if not os.environ.get("SELEKSI_SECRET_KEY"):
        parser.error("SELEKSI_SECRET_KEY must be set")
    overrides: dict[str, Any] = {}
    if args.host:
        overrides["host"] = args.host
    if args.port:
        overrides["port"] = args.port
    serve_workers(Settings.from_env(**overrides), args.workers, args.log_level)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
