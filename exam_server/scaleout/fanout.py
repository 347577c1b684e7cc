"""Live events across server processes: PostgreSQL LISTEN/NOTIFY.

:class:`PgEventBus` is an :class:`~exam_server.events.EventBus` whose
``publish`` also sends the event with ``NOTIFY`` on a channel named for the
database and schema; every process LISTENs on that channel and delivers what
other processes published to its own subscribers. A proctor console or live
board connected to any process therefore sees every terminal of the
session, wherever the terminal is connected.

Publishing stays non-blocking: events go to a bounded outbox that one
sender task empties in batches (one round trip per batch:
``SELECT pg_notify(channel, x) FROM json_array_elements_text(payloads)``,
the batch's events packed into as few payloads as fit under 8,000 bytes); if PostgreSQL is
unreachable the outbox keeps the newest ``max_pending`` events and retries,
and the listener reconnects with backoff. Live events are a view, not the
record: the database is the record, and the consoles reload it on connect.

:class:`AttemptCacheKeeper` keeps each process's in-memory attempts honest:
when another process reports an event about an attempt this process holds
without a terminal, the copy is dropped (it is reloaded from the database
on next use); when a proctor acted on another process on an attempt whose
terminal is connected here, the copy is refreshed from the database and the
terminal told, as if the act had happened here. Notifications sent while
a process's listener reconnects are lost to it: once LISTEN is in place
again, the keeper compares every attempt the process holds with its stored
row (:meth:`AttemptCacheKeeper.resync`) and, for each that differs, drops
the copy or, with a terminal here, takes the stored row and tells the
terminal the act it missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
import uuid
import weakref
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import anyio.to_thread
import orjson
from sqlalchemy import select
from sqlalchemy.engine import Engine, make_url

from exam_server import protocol as p
from exam_server.attempts import proctor_acts
from exam_server.attempts.proctor_acts import ACTS
from exam_server.attempts.storage import ATTEMPT
from exam_server.context import context
from exam_server.events import EventBus, LiveEvent, Subscription
from exam_server.settings import Settings

log = logging.getLogger(__name__)

#: NOTIFY payloads must stay under 8000 bytes; bigger events are sent
#: without their ``data`` (marked ``truncated``).
MAX_PAYLOAD = 7800
#: An event is sent without its ``data`` above this (room for the envelope).
MAX_EVENT = MAX_PAYLOAD - 64
BATCH = 500
# The acts that change a terminal (a note changes nothing).
PROCTOR_ACTS = frozenset(ACTS) - {"note"}


def pg_conninfo(database_url: str) -> str:
    """A psycopg connection string from a SQLAlchemy ``postgresql+psycopg://`` URL."""
    url = make_url(database_url)
    if not url.drivername.startswith("postgresql"):
        raise ValueError(f"not a PostgreSQL URL: {url.drivername}")
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def channel_name(database: str, schema: str) -> str:
    """The NOTIFY channel of one database + schema (test runs use their own schema)."""
    digest = hashlib.sha1(f"{database}.{schema}".encode()).hexdigest()[:16]
    return f"seleksi_live_{digest}"


class LocalView:
    """The bus as seen by a consumer that must see only this process's events
    (the proctoring detectors: each process runs them for its own terminals,
    so an alert is raised once, not once per process)."""

    def __init__(self, bus: PgEventBus) -> None:
        self._bus = bus

    def publish(self, event: LiveEvent) -> None:
        self._bus.publish(event)

    def subscribe(self, session_id: int | None = None) -> Subscription:
        sub = self._bus.subscribe(session_id)
        self._bus._local_only.add(sub)
        return sub

    def subscriber_count(self, session_id: int | None = None) -> int:
        return self._bus.subscriber_count(session_id)


RemoteHandler = Callable[[LiveEvent], Awaitable[None]]
ResyncHandler = Callable[[], Awaitable[None]]


class PgEventBus(EventBus):
    """An event bus shared by every process on one PostgreSQL database + schema.

    ``await start()`` in the lifespan (connects, LISTENs), ``await stop()`` at
    exit. Counters: ``sent``, ``received`` (from other processes),
    ``dropped_outbox``, ``send_errors``, ``reconnects``, ``resyncs`` (runs
    of ``on_resync`` after a reconnect, completed).
    """

    def __init__(self, database_url: str, max_pending: int = 10_000) -> None:
        super().__init__(max_pending)
        self.conninfo = pg_conninfo(database_url)
        self.origin = uuid.uuid4().hex[:16]
        self.channel = ""
        self.on_remote: RemoteHandler | None = None
        # Cheap synchronous test run before ``on_remote``: most remote events
        # concern attempts this process does not hold, and a task each for
        # them cost every worker ~20 µs per answer of every other worker.
        self.remote_filter: Callable[[LiveEvent], bool] | None = None
        # Run after LISTEN is in place again following a reconnect (not the
        # first connect): what other processes sent in the gap is lost.
        self.on_resync: ResyncHandler | None = None
        self.sent = 0
        self.received = 0
        self.dropped_outbox = 0
        self.send_errors = 0
        self.reconnects = 0
        self.resyncs = 0
        self.listening = asyncio.Event()
        self._local_only: weakref.WeakSet[Subscription] = weakref.WeakSet()
        self._outbox: deque[str] = deque()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._sender: Any = None  # psycopg.AsyncConnection
        self._handlers: set[asyncio.Task[None]] = set()

    # --- lifecycle -------------------------------------------------------------

    async def start(self, timeout: float = 10.0) -> None:
        import psycopg

        async with await psycopg.AsyncConnection.connect(
            self.conninfo, autocommit=True, connect_timeout=5
        ) as conn:
            cur = await conn.execute("SELECT current_database(), current_schema()")
            row = await cur.fetchone()
        assert row is not None
        self.channel = channel_name(str(row[0]), str(row[1]))
        self._tasks = [
            asyncio.create_task(self._listen_loop(), name="pg-listen"),
            asyncio.create_task(self._send_loop(), name="pg-notify"),
        ]
        await asyncio.wait_for(self.listening.wait(), timeout)

    async def stop(self) -> None:
        # Give the sender a moment to flush what was published last.
        end = time.monotonic() + 2.0
        while self._outbox and time.monotonic() < end and self._sender is not None:
            await asyncio.sleep(0.02)
        for t in [*self._tasks, *self._handlers]:
            t.cancel()
        for t in [*self._tasks, *self._handlers]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks = []
        if self._sender is not None:
            with contextlib.suppress(Exception):
                await self._sender.close()
            self._sender = None

    def local_view(self) -> LocalView:
        return LocalView(self)

    # --- publishing ------------------------------------------------------------

    def publish(self, event: LiveEvent) -> None:
        super().publish(event)
        d = event.to_dict()
        raw = orjson.dumps(d, default=str, option=p.JSON_OPTIONS)
        if len(raw) > MAX_EVENT:
            d["data"] = {"truncated": True}
            raw = orjson.dumps(d, default=str, option=p.JSON_OPTIONS)
        payload = raw.decode()
        if len(self._outbox) >= self.max_pending:
            self._outbox.popleft()
            self.dropped_outbox += 1
        self._outbox.append(payload)
        self._wake.set()

    async def _send_loop(self) -> None:
        import psycopg

        backoff = 0.1
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._outbox:
                batch = [self._outbox.popleft() for _ in range(min(BATCH, len(self._outbox)))]
                try:
                    if self._sender is None or self._sender.closed:
                        self._sender = await psycopg.AsyncConnection.connect(
                            self.conninfo, autocommit=True, connect_timeout=5
                        )
                    # The batch's events packed into as few notifications as
                    # fit under the payload limit, passed as one JSON text:
                    # a text[] parameter cost psycopg a regex escape per event,
                    # and every notification wakes every listening process.
                    await self._sender.execute(
                        "SELECT pg_notify(%s, x) FROM json_array_elements_text(%s::json) AS x",
                        (self.channel, orjson.dumps(self._pack(batch)).decode()),
                    )
                    self.sent += len(batch)
                    backoff = 0.1
                except (psycopg.Error, OSError) as exc:
                    self.send_errors += 1
                    log.warning("live events: NOTIFY failed (%s); retrying", exc)
                    if self._sender is not None:
                        with contextlib.suppress(Exception):
                            await self._sender.close()
                        self._sender = None
                    # Put the batch back (newest kept if the outbox is full).
                    room = self.max_pending - len(self._outbox)
                    keep = batch[-room:] if room > 0 else []
                    self.dropped_outbox += len(batch) - len(keep)
                    self._outbox.extendleft(reversed(keep))
                    await asyncio.sleep(backoff)
                    backoff = min(2.0, backoff * 2)

    def _pack(self, events: list[str]) -> list[str]:
        """Notification payloads ``{"o": origin, "es": [event, ...]}``, each
        under :data:`MAX_PAYLOAD` bytes (events are at most :data:`MAX_EVENT`)."""
        head = '{"o":"' + self.origin + '","es":['
        out: list[str] = []
        part: list[str] = []
        size = len(head) + 2
        for ev in events:
            n = len(ev.encode()) + 1
            if part and size + n > MAX_PAYLOAD:
                out.append(head + ",".join(part) + "]}")
                part, size = [], len(head) + 2
            part.append(ev)
            size += n
        if part:
            out.append(head + ",".join(part) + "]}")
        return out

    # --- receiving -------------------------------------------------------------

    async def _listen_loop(self) -> None:
        import psycopg

        backoff = 0.1
        listened = False
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.conninfo, autocommit=True, connect_timeout=5
                ) as conn:
                    await conn.execute(f'LISTEN "{self.channel}"')
                    self.listening.set()
                    backoff = 0.1
                    if listened:
                        # After LISTEN, so an event committed meanwhile is seen
                        # by the resync's read or arrives as a notification.
                        self._spawn(self._run_resync())
                    listened = True
                    async for note in conn.notifies():
                        self._on_payload(note.payload)
            except (psycopg.Error, OSError) as exc:
                log.warning("live events: LISTEN connection lost (%s); reconnecting", exc)
            self.listening.clear()
            self.reconnects += 1
            await asyncio.sleep(backoff)
            backoff = min(2.0, backoff * 2)

    def _on_payload(self, payload: str) -> None:
        try:
            msg = orjson.loads(payload)
            if msg.get("o") == self.origin:
                return  # our own events, already delivered locally
            # "es": a packed batch; "e": one event (servers before batching).
            events = (
                [LiveEvent.from_dict(d) for d in msg["es"]]
                if "es" in msg
                else [LiveEvent.from_dict(msg["e"])]
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            log.warning("live events: ignoring a malformed notification")
            return
        for event in events:
            self.received += 1
            self.deliver_remote(event)
            if (
                self.on_remote is not None
                and event.attempt_id is not None
                and (self.remote_filter is None or self.remote_filter(event))
            ):
                self._spawn(self._run_handler(event))

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)

    async def _run_resync(self) -> None:
        if self.on_resync is None:
            return
        try:
            await self.on_resync()
        except Exception:
            log.exception("live events: resync after a LISTEN reconnect failed")
        else:
            self.resyncs += 1

    async def _run_handler(self, event: LiveEvent) -> None:
        assert self.on_remote is not None
        try:
            await self.on_remote(event)
        except Exception:
            log.exception("live events: remote handler failed for %s", event.kind)

    def deliver_remote(self, event: LiveEvent) -> None:
        """Deliver an event published by another process to this process's subscribers
        (except the local-only ones)."""
        for key in (event.session_id, None):
            for sub in tuple(self._by_session.get(key, ())):
                if sub not in self._local_only:
                    sub._push(event)


class AttemptCacheKeeper:
    """Reacts to other processes' events about attempts this process holds in memory."""

    def __init__(self, service: Any, engine: Engine) -> None:
        self.service = service  # exam_server.attempts.AttemptService
        self.engine = engine
        self.evicted = 0
        self.refreshed = 0
        self.replaced = 0
        self.resynced = 0  # attempts with a terminal here told a missed act

    def interested(self, event: LiveEvent) -> bool:
        """Whether :meth:`handle` has anything to do with ``event``."""
        return event.attempt_id is not None and event.attempt_id in self.service.live

    async def handle(self, event: LiveEvent) -> None:
        aid = event.attempt_id
        if aid is None:
            return
        la = self.service.live.get(aid)
        if la is None:
            return
        if la.conn is None:
            # Not served here: forget our copy; it is reloaded on next use.
            if self.service.live.get(aid) is la:
                del self.service.live[aid]
                self.evicted += 1
            return
        if event.kind == "connect":
            # The terminal is now connected to another process: this connection
            # is a leftover (half-open) one.
            conn, la.conn = la.conn, None
            self.service.live.pop(aid, None)
            self.replaced += 1
            await conn.send(p.error_frame(p.ProtocolError("replaced")))
            await conn.close(p.CLOSE_POLICY, "replaced")
        elif event.kind in PROCTOR_ACTS:
            # The same code as an act taken here (exam_server.attempts.proctor_acts).
            await self.service.apply_remote(la, event)
            self.refreshed += 1

    async def resync(self) -> None:
        """After a listener reconnect: bring every attempt held here that
        differs from its stored row up to date, as if the events missed in the
        gap had arrived (:func:`~exam_server.attempts.proctor_acts.missed_act`
        names the act; unchanged attempts are left alone)."""
        held = dict(self.service.live)
        if not held:
            return
        ids = list(held)

        def read() -> dict[int, dict[str, Any]]:
            rows: dict[int, dict[str, Any]] = {}
            cols = [
                ATTEMPT.c.id,
                # what apply_remote reads (storage.read_clock)
                ATTEMPT.c.status,
                ATTEMPT.c.remaining_at_start,
                ATTEMPT.c.running_since,
                ATTEMPT.c.terminal_id,
                ATTEMPT.c.terminal_released,
            ]
            with self.engine.connect() as c:
                for i in range(0, len(ids), 1000):
                    q = select(*cols).where(ATTEMPT.c.id.in_(ids[i : i + 1000]))
                    rows.update({int(r["id"]): dict(r) for r in c.execute(q).mappings()})
            return rows

        rows = await anyio.to_thread.run_sync(read)
        for aid, la in held.items():
            if self.service.live.get(aid) is not la:
                continue  # dropped or reloaded meanwhile
            row = rows.get(aid)
            act = None if row is None else proctor_acts.missed_act(la, row)
            if la.conn is None:
                if row is None or act is not None or str(row["status"]) != la.status:
                    del self.service.live[aid]  # reloaded from the database on next use
                    self.evicted += 1
            elif act is not None and await proctor_acts.apply_remote(self.service, la, None):
                # Judged again under the attempt's lock on a fresh read, and
                # done as the act's event would have done it.
                self.resynced += 1


def make_bus(settings: Settings) -> EventBus:
    """In-process bus for SQLite; LISTEN/NOTIFY across processes for PostgreSQL."""
    if settings.is_sqlite:
        return EventBus()
    return PgEventBus(settings.database_url)


async def start(app: Any) -> None:
    """Connect the app's bus across processes (no-op for the in-process bus).

    Call in the lifespan after the attempt service and the proctoring
    detectors have started.
    """
    ctx = context(app)
    bus = ctx.bus
    if not isinstance(bus, PgEventBus):
        return
    await bus.start()
    keeper = AttemptCacheKeeper(ctx.attempts, ctx.engine)
    bus.on_remote = keeper.handle
    bus.remote_filter = keeper.interested
    bus.on_resync = keeper.resync
    # The proctoring detectors already watch this process's terminals only
    # (``live.make_proctoring`` gives them the bus's local view).


async def stop(app: Any) -> None:
    bus = context(app).bus
    if isinstance(bus, PgEventBus):
        await bus.stop()
