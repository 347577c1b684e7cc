"""The in-process live event bus.

Everything that happens at a terminal or a proctor desk (login, connect,
answer, pause, finish, ...) is published here as a :class:`LiveEvent`. The
proctor console and the public board (``exam_server.live``) subscribe to it;
the scale-out work carries the same events across processes by publishing
what arrives from PostgreSQL LISTEN/NOTIFY into a local bus.

Publishing never blocks and never fails: a subscriber that does not keep up
loses its oldest events (its ``dropped`` counter says how many) rather than
slowing down the terminals that produce them.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

#: The event kinds; publishing any other kind is a programming error.
KINDS: frozenset[str] = frozenset(
    {
        "login",
        "connect",
        "disconnect",
        "answer",
        "navigate",
        "flag",
        "pause",
        "resume",
        "extend",
        "release",
        "void",
        "finish",
        "note",
        "clock",
        "alert",
        "focus_lost",
        "fullscreen_exit",
        "second_login",
    }
)


@dataclass(frozen=True)
class LiveEvent:
    """One thing that happened in a session.

    ``at`` is epoch seconds (server clock); ``data`` is JSON-safe and never
    holds answer keys or option points.
    """

    kind: str
    session_id: int
    attempt_id: int | None = None
    registration_number: str | None = None
    at: float = field(default_factory=time.time)
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"LiveEvent: unknown kind {self.kind!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "session_id": self.session_id,
            "attempt_id": self.attempt_id,
            "registration_number": self.registration_number,
            "at": self.at,
            "data": self.data,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LiveEvent:
        return cls(
            kind=str(d["kind"]),
            session_id=int(d["session_id"]),
            attempt_id=None if d.get("attempt_id") is None else int(d["attempt_id"]),
            registration_number=d.get("registration_number"),
            at=float(d.get("at", time.time())),
            data=dict(d.get("data") or {}),
        )


class Subscription:
    """An async iterator over the events of one session (or of all sessions).

    Use ``async for event in sub`` or ``await sub.get()``; ``close()`` ends
    the iteration and detaches it from the bus. Holds at most ``maxlen``
    undelivered events; older ones are dropped first and counted.
    """

    def __init__(self, bus: EventBus, session_id: int | None, maxlen: int) -> None:
        self.session_id = session_id
        self.dropped = 0
        self._bus = bus
        self._queue: deque[LiveEvent] = deque()
        self._maxlen = maxlen
        self._wakeup = asyncio.Event()
        self._closed = False

    def _push(self, event: LiveEvent) -> None:
        if self._closed:
            return
        if len(self._queue) >= self._maxlen:
            self._queue.popleft()
            self.dropped += 1
        self._queue.append(event)
        self._wakeup.set()

    async def get(self) -> LiveEvent:
        """The next event; ``StopAsyncIteration`` once closed and drained."""
        while not self._queue:
            if self._closed:
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()
        return self._queue.popleft()

    def get_nowait(self) -> LiveEvent | None:
        return self._queue.popleft() if self._queue else None

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._wakeup.set()
            self._bus._detach(self)

    @property
    def closed(self) -> bool:
        return self._closed

    def __aiter__(self) -> AsyncIterator[LiveEvent]:
        return self

    async def __anext__(self) -> LiveEvent:
        return await self.get()

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class EventBus:
    """Fan-out of :class:`LiveEvent` to subscribers, within one event loop.

    ``publish`` must be called from the loop's thread (use
    ``loop.call_soon_threadsafe(bus.publish, event)`` from a worker thread).
    ``subscribe(None)`` receives every session's events.
    """

    def __init__(self, max_pending: int = 10_000) -> None:
        if max_pending < 1:
            raise ValueError("EventBus: max_pending must be at least 1")
        self.max_pending = max_pending
        self._by_session: dict[int | None, set[Subscription]] = {}
        self.published = 0

    def publish(self, event: LiveEvent) -> None:
        self.published += 1
        for key in (event.session_id, None):
            for sub in tuple(self._by_session.get(key, ())):
                sub._push(event)

    def subscribe(self, session_id: int | None = None) -> Subscription:
        sub = Subscription(self, session_id, self.max_pending)
        self._by_session.setdefault(session_id, set()).add(sub)
        return sub

    def subscriber_count(self, session_id: int | None = None) -> int:
        return len(self._by_session.get(session_id, ()))

    def _detach(self, sub: Subscription) -> None:
        subs = self._by_session.get(sub.session_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._by_session[sub.session_id]
