"""Running the server: uvicorn with the limits the protocol expects."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import uvicorn

from exam_server.settings import Settings

log = logging.getLogger(__name__)

# Frames above this are refused by the transport (close 1009) before the
# application sees them; frames between ``max_frame_bytes`` and this get a
# ``too_large`` error frame.
WS_MAX_SIZE = 65536

# Seconds open connections get to close at a stop before uvicorn cancels them;
# the app's own teardown (queued answers committed, the last checkpoint) runs after.
GRACEFUL_SHUTDOWN_SECONDS = 5

# Exit code of the signal that quits at once (the third): 128 + SIGINT, as a shell reports it.
FORCED_EXIT_CODE = 130


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


def uvicorn_options(settings: Settings, log_level: str) -> dict[str, Any]:
    """uvicorn's arguments for serving on ``settings.host:port`` with the
    transport limits the protocol expects."""
    return {
        "host": settings.host,
        "port": settings.port,
        "log_level": log_level,
        "ws_max_size": WS_MAX_SIZE,
        # Keep-alive pings find dead terminals (cable pulled) within ~40 s;
        # the clock does not charge that time (exam_server.presence).
        "ws_ping_interval": settings.ws_ping_interval_seconds,
        "ws_ping_timeout": settings.ws_ping_timeout_seconds,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
        # The app reads X-Forwarded-For itself, from Settings.trusted_proxies
        # only (exam_server.limits.proxy_headers).
        "proxy_headers": False,
        # Connections that never finish a request header are capped and
        # closed (exam_server.connection_gate); named, so workers import them.
        "http": "exam_server.connection_gate:GatedHttpToolsProtocol",
        "ws": "exam_server.connection_gate:GatedWebSocketsProtocol",
    }


def raise_open_files_limit() -> int:
    """Raise this process's soft limit of open files to its hard limit and
    return it. Every terminal is a socket, so one file descriptor: a soft
    limit of 1,024 (a common default) would stop a busy server at about a
    thousand terminals, and with them the proctors' and admins' logins. The
    hard limit is the administrator's (``LimitNOFILE`` in a systemd unit,
    docs/operations.md)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        want = 1_048_576 if hard == resource.RLIM_INFINITY else hard
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
            soft = want
        except (ValueError, OSError):  # some systems cap it below the hard limit
            pass
    if soft < 4096:
        log.warning(
            "open files: this process may hold %d at most; raise the hard limit "
            "(LimitNOFILE) for more than about %d terminals",
            soft,
            soft - 100,
        )
    return int(soft)


def run_uvicorn(app: Any, settings: Settings, log_level: str, **options: Any) -> None:
    """``uvicorn.run(app, ...)`` with :func:`uvicorn_options`; ``options`` adds
    uvicorn arguments (``workers``: uvicorn's supervisor and its signal
    handling). One process is served by :func:`serve`, which owns its signals."""
    raise_open_files_limit()
    uvicorn.run(app, **uvicorn_options(settings, log_level), **options)


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


class StopSignals:
    """SIGINT (Ctrl+C) and SIGTERM as a request to stop, once.

    The first signal calls ``stop`` (the server then stops gracefully:
    connections get ``GRACEFUL_SHUTDOWN_SECONDS`` to close, then the app's
    lifespan tears down: queued answers committed, the last checkpoint
    written). Later signals change nothing, but a third SIGINT quits at once
    (exit code ``FORCED_EXIT_CODE``) for a stop that hangs; SIGTERM never
    does (uvicorn's supervisor sends it to workers that Ctrl+C reached too).

    Why not uvicorn's own handling: a second SIGINT set its ``force_exit``,
    which skips the lifespan's shutdown, so the event loop's close cancelled
    the lifespan: the app's teardown ran under cancellation and uvicorn
    printed its ``CancelledError`` traceback (Ctrl+C pressed twice, or a
    SIGINT forwarded as well as the terminal's). It also raises each signal
    again after its shutdown: a stop became ``KeyboardInterrupt``, or death
    by SIGTERM (exit code -15).
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, stop: Callable[[int], None] | None = None) -> None:
        self.received = 0
        self.interrupts = 0
        self.stop = stop  # called with the first signal (None: only recorded)

    def handle(self, signum: int, frame: FrameType | None) -> None:
        self.received += 1
        if signum == signal.SIGINT:
            self.interrupts += 1
            if self.interrupts >= 3:
                sys.stderr.write("seleksi: stopped at once (third Ctrl+C)\n")
                sys.stderr.flush()
                os._exit(FORCED_EXIT_CODE)
        if self.received == 1 and self.stop is not None:
            self.stop(signum)

    @property
    def requested(self) -> bool:
        return self.received > 0

    @contextlib.contextmanager
    def installed(self) -> Iterator[StopSignals]:
        """Handle the signals inside the block (main thread only: elsewhere the
        process's own handlers stay and the block runs as it is).

        After a stop the signals are ignored, not given back: the process is
        ending, its interpreter takes about a second after a demo to free its
        memory, and Python gives the default action back to its own handlers
        while it does, so a second Ctrl+C there killed the process by SIGINT
        (exit code -2) after a clean stop."""
        previous: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            previous = {sig: signal.signal(sig, self.handle) for sig in self.SIGNALS}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, signal.SIG_IGN if self.requested else handler)


#: The stop signals of a worker process of uvicorn's supervisor, for its whole
#: life: installed by :func:`worker_loop` before anything else looks at the
#: handlers, given uvicorn's server to stop by :func:`stop_once_in_worker`.
_WORKER_SIGNALS = StopSignals()


def worker_loop() -> asyncio.AbstractEventLoop:
    """The event loop of a worker of uvicorn's supervisor (its ``loop`` option,
    :func:`exam_server.scaleout.workers.serve_workers`): uvloop, as uvicorn's
    ``auto`` picks, made after :class:`StopSignals` is installed for SIGINT and
    SIGTERM. Made first, so asyncio's runner leaves SIGINT alone and uvicorn
    puts these handlers back when it stops serving: a late Ctrl+C (pressed
    twice) while the loop closes is then counted, not a ``KeyboardInterrupt``
    traceback at a random point of the close."""
    if threading.current_thread() is threading.main_thread():
        for sig in StopSignals.SIGNALS:
            signal.signal(sig, _WORKER_SIGNALS.handle)
    import uvloop

    return uvloop.new_event_loop()


def stop_once_in_worker() -> None:
    """In a worker process of uvicorn's supervisor (``--workers N``), called while
    its server's own signal handlers are installed (the app factory runs then):
    only the first SIGINT or SIGTERM stops the server (:class:`StopSignals`),
    so a second Ctrl+C, or the supervisor's SIGTERM after the terminal's
    SIGINT, never skips the app's teardown. The server is stopped by its
    ``should_exit`` rather than its own handler, which records the signal to
    raise it again once it has stopped (it would count as one more Ctrl+C). A
    no-op where uvicorn's handlers are not the ones installed (one process:
    :func:`serve` owns the signals)."""
    if threading.current_thread() is not threading.main_thread():
        return
    handler = signal.getsignal(signal.SIGINT)
    server = getattr(handler, "__self__", None)
    if not callable(handler) or not isinstance(server, uvicorn.Server):
        return

    def stop(signum: int) -> None:
        server.should_exit = True

    _WORKER_SIGNALS.stop = stop
    if _WORKER_SIGNALS.requested:  # a signal came while the worker was starting
        server.should_exit = True
    for sig in StopSignals.SIGNALS:
        signal.signal(sig, _WORKER_SIGNALS.handle)


class _Server(uvicorn.Server):
    """uvicorn's server without its signal handling (:class:`StopSignals` owns it)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def serve(settings: Settings, log_level: str = "info") -> None:
    """Serve ``create_app(settings)`` until SIGINT or SIGTERM (the schema prepared
    first); returns after a graceful stop (:class:`StopSignals`)."""
    from exam_server.app import create_app

    server: _Server | None = None

    def stop(signum: int) -> None:
        if server is not None:
            server.should_exit = True

    raise_open_files_limit()
    with StopSignals(stop).installed() as signals:
        prepare_schema(settings)  # a migration is finished, not cut, by a signal
        if signals.requested:
            return
        config = uvicorn.Config(create_app(settings), **uvicorn_options(settings, log_level))
        server = _Server(config)
        server.should_exit = signals.requested  # a signal while the app was being made
        server.run()  # uvicorn says why it could not start (sys.exit(1)), as uvicorn.run


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
