"""Runs the detectors on the live event bus.

One :class:`ProctoringService` per app: it subscribes to every session's
events, keeps one set of detectors per attempt (made by the factories the
first time the attempt shows up), and publishes each alert back to the bus
as a ``LiveEvent`` of kind ``"alert"`` for the proctor consoles; with a
``record`` hook the alert is also stored (the server keeps it in the audit
log, so a console opened later, on any process, shows it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from cat_engine.bank import BankArrays
from exam_server.background import cancelled
from exam_server.events import LiveEvent, Subscription
from exam_server.proctoring.base import Alert, AttemptContext, Detector, DetectorFactory
from exam_server.proctoring.detectors import default_factories

log = logging.getLogger(__name__)

BankLookup = Callable[[int], Awaitable[BankArrays | None]]
"""session id → the exam's bank as arrays (None if unknown)."""
AlertRecorder = Callable[[LiveEvent], Awaitable[None]]
"""Stores an alert event durably (the server's audit log)."""


class Bus(Protocol):
    """What the service needs of the event bus (``EventBus`` or a process-local
    view of a shared one, so each process watches only its own terminals)."""

    def publish(self, event: LiveEvent) -> None: ...

    def subscribe(self, session_id: int | None = None) -> Subscription: ...


# Events after which an attempt's detectors are dropped (nothing more to watch).
_TERMINAL_KINDS = frozenset({"finish", "void"})
#: How many ended attempts the service remembers, so that the events that
#: follow an end (the terminal's socket closing after its ``final`` frame or
#: the void) do not start a fresh set of detectors that would take the
#: closing socket for a lost connection. A room's day holds far fewer.
MAX_ENDED = 100_000


class ProctoringService:
    """Feeds each attempt's events to its detectors; publishes their alerts."""

    def __init__(
        self,
        bus: Bus,
        factories: Sequence[DetectorFactory] | None = None,
        bank_for: BankLookup | None = None,
        record: AlertRecorder | None = None,
        retry_seconds: float = 1.0,
        max_unstored: int = 10_000,
    ) -> None:
        self.bus = bus
        self.record = record
        self._recording: set[asyncio.Task[None]] = set()
        # Alerts whose record failed (the database is down): kept, oldest
        # first, and stored again with a growing pause (retry_seconds, doubled
        # up to 30 s) until the database is back. Bounded: past max_unstored
        # the oldest are dropped and counted in ``dropped_alerts``.
        self.retry_seconds = retry_seconds
        self._unstored: deque[LiveEvent] = deque()
        self.max_unstored = max_unstored
        self.dropped_alerts = 0
        self._retrier: asyncio.Task[None] | None = None
        self.factories = list(default_factories() if factories is None else factories)
        self.bank_for = bank_for
        self._detectors: dict[int, list[Detector]] = {}
        # Attempts that have finished or been voided, oldest first (bounded).
        self._ended: dict[int, None] = {}
        self._banks: dict[int, BankArrays | None] = {}
        self._task: asyncio.Task[None] | None = None
        # The alerts raised lately per session, so that a proctor console
        # opened after the fact still shows them.
        self._recent: dict[int, deque[LiveEvent]] = {}
        self.max_recent = 1000

    def recent_alerts(self, session_id: int) -> list[LiveEvent]:
        """The alert events of ``session_id`` published by this service, oldest first."""
        return list(self._recent.get(session_id, ()))

    async def _bank(self, session_id: int) -> BankArrays | None:
        if self.bank_for is None:
            return None
        if session_id not in self._banks:
            try:
                self._banks[session_id] = await self.bank_for(session_id)
            except Exception:  # a broken lookup must not stop the other detectors
                log.exception("proctoring: could not load the bank of session %s", session_id)
                self._banks[session_id] = None
        return self._banks[session_id]

    async def _detectors_for(self, event: LiveEvent) -> list[Detector]:
        assert event.attempt_id is not None
        found = self._detectors.get(event.attempt_id)
        if found is None:
            context = AttemptContext(
                session_id=event.session_id,
                attempt_id=event.attempt_id,
                registration_number=event.registration_number,
                bank=await self._bank(event.session_id),
            )
            made = (factory(context) for factory in self.factories)
            found = [d for d in made if d is not None]
            self._detectors[event.attempt_id] = found
        return found

    async def handle(self, event: LiveEvent) -> list[Alert]:
        """Run the attempt's detectors on ``event``; publish and return the alerts."""
        if event.kind == "alert" or event.attempt_id is None:
            return []
        if event.attempt_id in self._ended:
            # The attempt is over: its socket closing (or anything else that
            # follows the finish or the void) is nothing a proctor must see.
            return []
        alerts: list[Alert] = []
        # Awaited only for an attempt's first event (its bank may be loaded),
        # so that the events after it make no coroutine of their own.
        detectors = self._detectors.get(event.attempt_id)
        if detectors is None:
            detectors = await self._detectors_for(event)
        for detector in detectors:
            try:
                alerts.extend(detector.observe(event))
            except Exception:  # one faulty detector must not silence the others
                log.exception("proctoring: detector %s failed", detector.name)
        if event.kind in _TERMINAL_KINDS:
            self._detectors.pop(event.attempt_id, None)
            self._ended[event.attempt_id] = None
            if len(self._ended) > MAX_ENDED:
                del self._ended[next(iter(self._ended))]
        for alert in alerts:
            published = LiveEvent(
                kind="alert",
                session_id=event.session_id,
                attempt_id=event.attempt_id,
                registration_number=event.registration_number,
                at=time.time(),
                data=alert.to_data(),
            )
            recent = self._recent.setdefault(event.session_id, deque(maxlen=self.max_recent))
            recent.append(published)
            self.bus.publish(published)
            if self.record is not None:
                # Stored in the background: the detectors never wait for a commit.
                task = asyncio.get_running_loop().create_task(self._store(published))
                self._recording.add(task)
                task.add_done_callback(self._recording.discard)
        return alerts

    @property
    def unstored(self) -> int:
        """Alerts raised but not stored yet (waiting for the database)."""
        return len(self._unstored)

    async def _store(self, event: LiveEvent) -> None:
        assert self.record is not None
        try:
            await self.record(event)
        except Exception as exc:  # shown live already; kept and stored when it can be
            log.warning(
                "proctoring: alert of attempt %s not stored yet (%s); kept, will retry",
                event.attempt_id,
                exc,
            )
            self._keep(event)

    def _keep(self, event: LiveEvent) -> None:
        if len(self._unstored) >= self.max_unstored:
            self._unstored.popleft()
            self.dropped_alerts += 1
            log.error("proctoring: %d unstored alerts dropped (queue full)", self.dropped_alerts)
        self._unstored.append(event)
        if self._retrier is None or self._retrier.done():
            self._retrier = asyncio.get_running_loop().create_task(self._retry())

    async def _retry(self) -> None:
        """Store the kept alerts in order, pausing longer while it fails."""
        assert self.record is not None
        pause = self.retry_seconds
        while self._unstored:
            await asyncio.sleep(pause)
            try:
                await self.record(self._unstored[0])
            except Exception:
                pause = min(30.0, pause * 2)
                continue
            self._unstored.popleft()
            pause = self.retry_seconds
        log.info("proctoring: every kept alert is stored")

    async def run(self) -> None:
        """Consume the bus until cancelled."""
        subscription = self.bus.subscribe(None)
        try:
            async for event in subscription:
                await self.handle(event)
        finally:
            subscription.close()

    def start(self) -> None:
        """Start consuming in a background task (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self) -> None:
        await cancelled(self._task)
        self._task = None
        if self._recording:
            await asyncio.gather(*self._recording, return_exceptions=True)
        if self._retrier is not None:
            self._retrier.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retrier
            self._retrier = None
        if self._unstored:
            log.error(
                "proctoring: %d alerts could not be stored before shutdown", len(self._unstored)
            )
