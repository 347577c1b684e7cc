"""Running the server: uvicorn with the limits the protocol expects."""

from __future__ import annotations

import dataclasses
from typing import Any

from exam_server.settings import Settings

# Frames above this are refused by the transport (close 1009) before the
# application sees them; frames between ``max_frame_bytes`` and this get a
# ``too_large`` error frame.
WS_MAX_SIZE = 65536


class ServerAddress:
    """``url`` and candidate ``ws_url`` of a server listening on ``settings.host:port``
    (a mixin for the runners in :mod:`exam_server.testing` and :mod:`exam_server.scaleout`)."""

    settings: Settings

    @property
    def url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.settings.host}:{self.settings.port}/ws/candidate"


def settings_env(settings: Settings) -> dict[str, str]:
    """The ``SELEKSI_*`` variables that make ``Settings.from_env`` in a child process
    rebuild ``settings`` (for servers started in a subprocess): every field,
    so a new setting never goes missing in a child."""
    env: dict[str, str] = {}
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        if f.name == "extra" or value is None:
            continue
        if isinstance(value, tuple):
            text = ",".join(str(v) for v in value)
        elif isinstance(value, bool):
            text = "1" if value else "0"
        else:
            text = str(value)
        env[f"SELEKSI_{f.name.upper()}"] = text
    return env


def run_uvicorn(app: Any, settings: Settings, log_level: str, **options: Any) -> None:
    """``uvicorn.run(app, ...)`` on ``settings.host:port`` with the transport limits
    the protocol expects; ``options`` adds uvicorn arguments (e.g. ``workers``)."""
    import uvicorn

    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        ws_max_size=WS_MAX_SIZE,
        # Keep-alive pings find dead terminals (cable pulled) within ~40 s;
        # the clock does not charge that time (exam_server.presence).
        ws_ping_interval=settings.ws_ping_interval_seconds,
        ws_ping_timeout=settings.ws_ping_timeout_seconds,
        timeout_graceful_shutdown=5,
        # The app reads X-Forwarded-For itself, from Settings.trusted_proxies
        # only (exam_server.limits.proxy_headers).
        proxy_headers=False,
        **options,
    )


class ServeError(RuntimeError):
    """The server cannot start on its database (said in one line)."""


def prepare_schema(settings: Settings) -> None:
    """Bring the database to the newest schema before uvicorn starts, so a
    failure (a server that does not answer, a migration that cannot run) is one
    :class:`ServeError` line instead of uvicorn's start-up traceback. The app's
    own start-up then finds the schema at head and does nothing."""
    from exam_server.db import create_schema, make_engine

    engine = make_engine(settings.database_url, pool_size=1)
    try:
        create_schema(engine)
    except Exception as exc:  # the driver's or Alembic's failure: one line for the operator
        orig = getattr(exc, "orig", None)
        text = str(orig if orig is not None else exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        raise ServeError(f"cannot prepare the database: {first}") from exc
    finally:
        engine.dispose()


def serve(settings: Settings, log_level: str = "info") -> None:
    """Serve ``create_app(settings)`` until interrupted (the schema prepared first)."""
    from exam_server.app import create_app

    prepare_schema(settings)
    run_uvicorn(create_app(settings), settings, log_level)


def main(argv: list[str] | None = None) -> int:
    """``python -m exam_server.serve [--host H] [--port P]`` (settings from env)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m exam_server.serve")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {}
    if args.host:
        overrides["host"] = args.host
    if args.port:
        overrides["port"] = args.port
    serve(Settings.from_env(**overrides), log_level=args.log_level)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
