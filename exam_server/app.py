"""The application factory: ``create_app(settings) -> Starlette``.

The lifespan builds everything from the settings (database engine, schema,
group committer, event bus, attempt service, proctoring) into one typed
:class:`~exam_server.context.AppContext` (``app.state.context``, read with
:func:`~exam_server.context.context`) and tears it down at exit; nothing
lives in module globals.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, WebSocketRoute
from starlette.staticfiles import StaticFiles

import proctor_ui
from exam_server import live
from exam_server.admin import ENDPOINTS
from exam_server.after_test import pages as after_pages
from exam_server.after_test.api import ENDPOINTS as AFTER_ENDPOINTS
from exam_server.after_test.survey_pool import SurveyPool
from exam_server.assessment.api import ENDPOINTS as SKB_ENDPOINTS
from exam_server.attempts import AttemptService, check_attempt_guards
from exam_server.auth import TokenSigner, hash_password
from exam_server.checkpoint_api import ENDPOINTS as CHECKPOINT_ENDPOINTS
from exam_server.checkpoints import Checkpointer
from exam_server.clock import Clock, SystemClock
from exam_server.connection_gate import connection_gate
from exam_server.context import AppContext
from exam_server.db import (
    WalCheckpointer,
    create_schema,
    make_engine,
    warn_if_short_of_connections,
)
from exam_server.durability import GroupCommitter
from exam_server.forensics.api import ENDPOINTS as FORENSICS_ENDPOINTS
from exam_server.gcpolicy import GcFreezer
from exam_server.health import LoopMonitor
from exam_server.http import openapi
from exam_server.limits import LoginLimiter, proxy_headers
from exam_server.recruitment import pages as recruitment_pages
from exam_server.recruitment import worker as recruitment_worker
from exam_server.results import pages as results_pages
from exam_server.results_api import ENDPOINTS as RESULTS_ENDPOINTS
from exam_server.revocation import DisabledStaff
from exam_server.scaleout import fanout
from exam_server.settings import Settings
from exam_server.setup_api import ENDPOINTS as SETUP_ENDPOINTS
from exam_server.sites import api as sites_api
from exam_server.sites import service as sites
from exam_server.socket_gate import SocketGate
from exam_server.terminal import candidate_endpoint
from exam_server.terminal_passes import PassRegistry

log = logging.getLogger(__name__)
API_VERSION = "1"


def _static_dir(settings: Settings) -> Path:
    if settings.static_dir:
        return Path(settings.static_dir)
    return Path(proctor_ui.__file__).parent / "static"


def create_app(
    settings: Settings, clock: Clock | None = None, *, presence_timer: bool = True
) -> Starlette:
    """The Seleksi server for ``settings`` (see ``docs/operations.md``).

    clock: the server's time (default the system clock; tests pass a
    :class:`~exam_server.clock.ManualClock` to drive it). presence_timer:
    False leaves the presence flush to the caller (tests on a ManualClock run
    it at chosen times through :meth:`exam_server.testing.ThreadServer.flush_presence`;
    the periodic one runs on real time and would mark at whatever the manual
    clock says then)."""
    clock = clock or SystemClock()
    endpoints = [
        *ENDPOINTS,
        *CHECKPOINT_ENDPOINTS,
        *SETUP_ENDPOINTS,
        *RESULTS_ENDPOINTS,
        *SKB_ENDPOINTS,
        *AFTER_ENDPOINTS,
        *FORENSICS_ENDPOINTS,
    ]
    endpoints += sites_api.endpoints(settings)  # by role: site, centre or none
    routes: list[BaseRoute] = [ep.route() for ep in endpoints]
    routes.append(WebSocketRoute("/ws/candidate", candidate_endpoint))
    routes.extend(live.routes())
    # Public results pages (/results), read from the publication directory
    # that ``seleksi results publish`` wrote; they say "nothing published"
    # until one exists.
    routes.extend(results_pages.routes())
    # Recruitment before the test (issue 18): public announcement, registration, staff.
    routes.extend(recruitment_pages.routes())
    # After the test (issue 20): diagnostics, feedback, dashboard, appeals.
    routes.extend(after_pages.routes())
    static = _static_dir(settings)
    if static.is_dir():
        routes.append(Mount("/", StaticFiles(directory=str(static), html=True), name="static"))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # SQLite: checkpoints run in a thread of their own, never inside a
        # commit that answers are waiting for (exam_server.db.WalCheckpointer).
        engine = make_engine(
            settings.database_url,
            sqlite_synchronous=settings.sqlite_synchronous,
            wal_autocheckpoint=0 if settings.is_sqlite else 1000,
            pool_size=settings.database_pool_size,
        )
        if not settings.is_sqlite:
            await anyio.to_thread.run_sync(warn_if_short_of_connections, engine)
        checkpointer = WalCheckpointer(engine) if settings.is_sqlite else None
        if checkpointer is not None:
            checkpointer.start()
        await anyio.to_thread.run_sync(create_schema, engine)
        committer = GroupCommitter(engine, settings.commit_max_batch, check_attempt_guards)
        await committer.start()
        # In-process for SQLite; across processes (LISTEN/NOTIFY) on PostgreSQL.
        bus = fanout.make_bus(settings)
        signer = TokenSigner(
            settings.secret_key,
            settings.candidate_token_seconds,
            settings.staff_token_seconds,
            clock,
        )
        # A disabled account's tokens stop working within seconds, on every worker.
        disabled_staff = DisabledStaff(engine, settings.staff_refresh_seconds)
        await disabled_staff.start()
        signer.disabled = disabled_staff
        signer.rooms_now = disabled_staff.rooms_of  # room changes count within seconds too
        # One back-off for candidate PINs and staff passwords; shared by every
        # worker through the database on PostgreSQL (exam_server.limits).
        limits = LoginLimiter.for_settings(settings, engine, clock)
        # Chain heads signed into a file outside the database; its key also
        # signs the candidates' receipts at finish.
        checkpoints = Checkpointer(settings, engine)
        await checkpoints.start()
        attempts = AttemptService(
            settings,
            engine,
            committer,
            bus,
            signer,
            clock,
            limits,
            checkpoints.key,
            presence_timer=presence_timer,
        )
        monitor = LoopMonitor()
        ctx = AppContext(
            settings=settings,
            clock=clock,
            engine=engine,
            committer=committer,
            bus=bus,
            signer=signer,
            attempts=attempts,
            limits=limits,
            hash_limiter=anyio.CapacityLimiter(2),
            public_hash_limiter=anyio.CapacityLimiter(2),
            dummy_hash=hash_password("not-a-password", n=settings.scrypt_n),
            monitor=monitor,
            proctoring=live.make_proctoring(engine, bus, committer),
            wal_checkpointer=checkpointer,
            checkpoints=checkpoints,
            survey_pool=SurveyPool(engine, settings.survey_batch, settings.survey_max_wait_seconds),
            passes=PassRegistry(settings.staff_refresh_seconds),
            staff_access=disabled_staff,
            preauth_gate=SocketGate(
                "preauth_sockets",
                settings.preauth_sockets_per_source,
                settings.preauth_sockets_total,
            ),
            board_gate=SocketGate(
                "board_sockets", settings.board_sockets_per_source, settings.board_sockets_total
            ),
            connection_gate=connection_gate(settings),
        )
        app.state.context = ctx
        await attempts.start()
        await ctx.survey_pool.start()
        if settings.gc_freeze_seconds > 0:
            ctx.gc_freezer = GcFreezer(settings.gc_freeze_seconds, attempts.is_busy)
            await ctx.gc_freezer.start()
        # After the freezer's first full collection: the watchdog reports loops
        # blocked while serving, not the start-up's own collection (it printed a
        # stack on every start of the demo).
        await monitor.start()
        await live.start(app)
        await fanout.start(app)
        await sites.start(app)  # a site's sync to the centre
        await recruitment_worker.start(app)  # the outbox's retries and reminders
        try:
            yield
        finally:
            await sites.stop(app)
            await recruitment_worker.stop(app)
            await fanout.stop(app)
            await live.stop(app)
            await monitor.stop()
            if ctx.gc_freezer is not None:
                await ctx.gc_freezer.stop()
            await attempts.stop()
            await ctx.survey_pool.stop()  # what is pending, before the engine goes
            await committer.stop()
            await checkpoints.stop()  # the last heads, after the last commit
            await disabled_staff.stop()
            if checkpointer is not None:
                await anyio.to_thread.run_sync(checkpointer.stop)
            engine.dispose()

    # Who the client is (X-Forwarded-For from trusted proxies only), decided
    # here for every request: the login back-off keys on it.
    app = Starlette(
        routes=routes, lifespan=lifespan, middleware=[proxy_headers(settings.trusted_proxies)]
    )
    app.state.settings = settings
    app.state.results_publication_dir = settings.results_dir
    app.state.openapi = openapi(endpoints, "Seleksi exam server", API_VERSION)
    return app
