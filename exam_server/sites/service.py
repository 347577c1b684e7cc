"""What the app runs for its role: a site's background sync to the centre.

A site syncs every ``Settings.site_sync_seconds`` when ``centre_url`` and
``site_token`` are set. A run that fails (the link is down) is logged once
per outage and tried again at the next tick; nothing of the exam waits for
it: the sync reads committed rows in a thread of its own.
"""

from __future__ import annotations

import asyncio
import logging

import anyio.to_thread
from starlette.applications import Starlette

from exam_server import checkpoints as cps
from exam_server.background import cancelled
from exam_server.context import context
from exam_server.settings import Settings
from exam_server.sites.client import CentreClient, CentreUnreachable, SyncReport, sync_once
from exam_server.sites.outbox import Checkpoints

log = logging.getLogger(__name__)


def site_checkpoints(settings: Settings) -> Checkpoints:
    """The site's checkpoint file and public key (where its server writes them)."""
    path, key_path = cps.default_paths(settings)
    pub = cps.public_key_path(key_path)
    return Checkpoints(path, pub.read_text() if pub.exists() else "")


class SiteSyncer:
    """The periodic sync of a site server (``app.state.site_syncer``)."""

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.settings: Settings = app.state.settings
        self.link_up: bool | None = None
        self.last: SyncReport | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        await cancelled(self._task)
        self._task = None

    async def _run(self) -> None:
        while True:
            await self.now()
            await asyncio.sleep(self.settings.site_sync_seconds)

    async def now(self) -> SyncReport | None:
        """One sync run now (never raises; None when the centre was not reached)."""
        s = self.settings
        if not (s.centre_url and s.site_token):
            return None  # not a site that syncs (start() never schedules this)
        engine = context(self.app).engine
        async with self._lock:
            client = CentreClient(s.centre_url, s.site_token)
            try:
                rep = await anyio.to_thread.run_sync(
                    lambda: sync_once(engine, client, site_checkpoints(s))
                )
            except CentreUnreachable as exc:
                if self.link_up is not False:
                    log.warning(
                        "sync to the centre failed; retrying every %s s: %s",
                        s.site_sync_seconds,
                        exc,
                    )
                self.link_up = False
                return None
            except Exception:
                log.exception("sync to the centre failed")
                return None
            finally:
                client.close()
        if self.link_up is False:
            log.warning("the centre is reachable again: %d records synced", rep.stored)
        self.link_up, self.last = True, rep
        return rep


async def start(app: Starlette) -> None:
    settings: Settings = app.state.settings
    if settings.role == "site" and settings.centre_url and settings.site_token:
        app.state.site_syncer = SiteSyncer(app)
        app.state.site_syncer.start()


async def stop(app: Starlette) -> None:
    syncer = getattr(app.state, "site_syncer", None)
    if syncer is not None:
        await syncer.stop()
