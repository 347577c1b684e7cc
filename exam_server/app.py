"""The application factory: ``create_app(settings) -> Starlette``.

The lifespan builds everything from the settings (database engine, schema,
group committer, event bus, attempt service, proctoring) and tears it down
at exit; nothing lives in module globals. ``app.state`` holds ``settings``,
``engine``, ``bus``, ``committer``, ``attempts``, ``signer``.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, WebSocketRoute
from starlette.staticfiles import StaticFiles

from exam_server.admin import ENDPOINTS
from exam_server.attempts import AttemptService, check_attempt_guards
from exam_server.auth import FailureLimiter, TokenSigner, hash_password
from exam_server.db import WalCheckpointer, create_schema, make_engine
from exam_server.durability import GroupCommitter
from exam_server.gcpolicy import GcFreezer
from exam_server.health import LoopMonitor
from exam_server.http import openapi
from exam_server.results import pages as results_pages
from exam_server.scaleout import fanout
from exam_server.settings import Settings
from exam_server.terminal import candidate_endpoint

log = logging.getLogger(__name__)
API_VERSION = "1"


def _static_dir(settings: Settings) -> Path | None:
    if settings.static_dir:
        return Path(settings.static_dir)
    try:
        import proctor_ui

        path = Path(proctor_ui.__file__).parent / "static"
    except ImportError:
        return None
    return path if path.is_dir() and any(path.iterdir()) else None


def _live_module() -> Any:
    try:
        return importlib.import_module("exam_server.live")
    except ImportError:
        return None


def create_app(settings: Settings) -> Starlette:
    """The Seleksi server for ``settings`` (see ``docs/operations.md``)."""
    live = _live_module()
    routes: list[BaseRoute] = [ep.route() for ep in ENDPOINTS]
    routes.append(WebSocketRoute("/ws/candidate", candidate_endpoint))
    if live is not None and hasattr(live, "routes"):
        routes.extend(live.routes())
    # Public results pages (/results), read from the publication directory
    # that ``seleksi results publish`` wrote; they say "nothing published"
    # until one exists.
    routes.extend(results_pages.routes())
    static = _static_dir(settings)
    if static is not None:
        routes.append(Mount("/", StaticFiles(directory=str(static), html=True), name="static"))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # SQLite: checkpoints run in a thread of their own, never inside a
        # commit that answers are waiting for (exam_server.db.WalCheckpointer).
        engine = make_engine(
            settings.database_url,
            sqlite_synchronous=settings.sqlite_synchronous,
            wal_autocheckpoint=0 if settings.is_sqlite else 1000,
        )
        checkpointer = WalCheckpointer(engine) if settings.is_sqlite else None
        app.state.wal_checkpointer = checkpointer
        if checkpointer is not None:
            checkpointer.start()
        await anyio.to_thread.run_sync(create_schema, engine)
        committer = GroupCommitter(engine, settings.commit_max_batch, check_attempt_guards)
        await committer.start()
        # In-process for SQLite; across processes (LISTEN/NOTIFY) on PostgreSQL.
        bus = fanout.make_bus(settings)
        signer = TokenSigner(
            settings.secret_key, settings.candidate_token_seconds, settings.staff_token_seconds
        )
        attempts = AttemptService(settings, engine, committer, bus, signer)
        app.state.engine = engine
        app.state.committer = committer
        app.state.bus = bus
        app.state.signer = signer
        app.state.attempts = attempts
        app.state.staff_limiter = FailureLimiter(
            settings.login_failures_per_candidate, settings.login_failure_window_seconds
        )
        # At most two scrypt hashes at once: staff logins never starve the
        # threads that serve terminals.
        app.state.hash_limiter = anyio.CapacityLimiter(2)
        app.state.dummy_hash = hash_password("not-a-password", n=settings.scrypt_n)
        await attempts.start()
        monitor = LoopMonitor()
        app.state.monitor = monitor
        await monitor.start()
        freezer = None
        if settings.gc_freeze_seconds > 0:
            freezer = GcFreezer(settings.gc_freeze_seconds, attempts.is_busy)
            app.state.gc_freezer = freezer
            await freezer.start()
        if live is not None and hasattr(live, "start"):
            await live.start(app)
        await fanout.start(app)
        try:
            yield
        finally:
            await fanout.stop(app)
            if live is not None and hasattr(live, "stop"):
                with contextlib.suppress(Exception):
                    await live.stop(app)
            await monitor.stop()
            if freezer is not None:
                await freezer.stop()
            await attempts.stop()
            await committer.stop()
            if checkpointer is not None:
                await anyio.to_thread.run_sync(checkpointer.stop)
            engine.dispose()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.settings = settings
    app.state.results_publication_dir = settings.results_dir
    app.state.openapi = openapi(ENDPOINTS, "Seleksi exam server", API_VERSION)
    return app
