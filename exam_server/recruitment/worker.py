"""The server's background sender of the recruitment outbox.

Started and stopped with the application (:func:`start` / :func:`stop`, called
from the lifespan in ``exam_server.app``) when an SMTP host is configured
(``SELEKSI_RECRUITMENT_SMTP_HOST``). Every ``recruitment_outbox_interval_seconds``
it queues the deadline reminders that are due (``reminders``) and sends every
due message (``outbox.send_due``): retries come due on their own, without a
page being used. The pages still kick the outbox after each change, so a
message goes out at once; claims keep the kick, this loop and other server
processes from sending one message twice. ``seleksi recruitment outbox-send``
does the same from the command line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import anyio.to_thread
from sqlalchemy.engine import Engine
from starlette.applications import Starlette

from exam_server.clock import Clock
from exam_server.context import context
from exam_server.recruitment.config import OutboxConfig
from exam_server.recruitment.outbox import Delivery, send_due
from exam_server.recruitment.reminders import queue_reminders

log = logging.getLogger(__name__)


def run_once(engine: Engine, cfg: OutboxConfig, now: float) -> tuple[int, Delivery]:
    """One tick: (reminders queued, what was sent). Needs ``cfg.smtp``."""
    assert cfg.smtp is not None
    queued = queue_reminders(engine, now, cfg.reminder_days)
    return queued, send_due(engine, cfg.smtp, now)


class OutboxWorker:
    """One asyncio task that runs :func:`run_once` every interval (never
    raises: an error is logged and the next tick tries again)."""

    def __init__(self, engine: Engine, clock: Clock, cfg: OutboxConfig) -> None:
        self.engine = engine
        self.clock = clock
        self.cfg = cfg
        self.ticks = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="recruitment-outbox")

    async def stop(self) -> None:
        """Cancel the loop; a tick in progress finishes its send first (the
        thread is not abandoned: nothing is written after the engine closes)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                queued, d = await anyio.to_thread.run_sync(
                    run_once, self.engine, self.cfg, self.clock.now()
                )
                if queued or d.claimed:
                    log.info(
                        "recruitment outbox: %d reminders queued; %d sent, %d to retry, "
                        "%d failed, %d released",
                        queued,
                        d.sent,
                        d.retry,
                        d.failed,
                        d.released,
                    )
            except Exception:  # a database hiccup must not end the loop
                log.exception("recruitment outbox: tick failed; trying again next interval")
            self.ticks += 1
            await asyncio.sleep(self.cfg.interval_seconds)


async def start(app: Starlette) -> None:
    """Start the background sender when an SMTP host is configured; settings
    that do not parse fail the start here (``OutboxConfig.from_settings``)."""
    cfg = OutboxConfig.from_settings(app.state.settings)
    if cfg.smtp is None:
        return
    ctx = context(app)
    worker = OutboxWorker(ctx.engine, ctx.clock, cfg)
    ctx.extras["recruitment_outbox"] = worker
    worker.start()


async def stop(app: Starlette) -> None:
    worker = context(app).extras.pop("recruitment_outbox", None)
    if isinstance(worker, OutboxWorker):
        await worker.stop()
