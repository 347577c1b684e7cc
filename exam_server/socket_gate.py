"""Caps on the sockets anyone may hold open without logging in.

A WebSocket costs the server one file descriptor and some memory for as
long as it is open. Two kinds need no credential: a candidate terminal's
socket before its ``hello`` is accepted, and the public live board's. Without
a cap, one address could open sockets until the process ran out of file
descriptors, after which no terminal, proctor or admin could connect
(docs/reliability.md, *Sockets without a login*). A :class:`SocketGate`
counts the sockets of one kind a process holds, per source address
(:func:`exam_server.limits.source_of`: IPv6 by its /64) and in all.

A cap that refuses newcomers hands the pool to whoever fills it first: a
review filled the pre-login total from four addresses (500 each, reopened as
each reached its deadline) and no terminal could log in, and the board's
from twenty. So when everyone's cap is reached, a newcomer from a source
holding fewer sockets than the heaviest source takes the slot of that
source's *oldest* socket, which is closed with 1013 ("try again later");
only a source that is itself the heaviest is refused. Whoever holds the
pool must hold it from more addresses than the terminals that want in, and
still loses its oldest sockets to each of them. A source's own cap refuses
its next socket (1013 too). The terminal and the board page answer 1013 by
reconnecting after their back-off.

With a candidate socket's ``hello`` due within a fixed time of its accept
(``exam_server.terminal``), each pre-login slot is held for seconds at most.
The counts are per process: with several workers, each has its own.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any


@dataclass(eq=False)
class Slot:
    """One admitted socket: its source, and how to close it if evicted."""

    source: str
    evict: Callable[[], None] = field(repr=False)
    released: bool = False
    #: Its owner is logging in right now (a hello being checked): not given
    #: away. (A review saw a room's terminals evicted mid-hello by one idle
    #: socket from elsewhere.)
    busy: bool = False


class SocketGate:
    """Open sockets of one kind: at most ``per_source`` from one source and
    ``total`` in all, the heaviest source's oldest giving way to a newcomer
    from a lighter one. Used from the event loop only (no lock)."""

    def __init__(self, name: str, per_source: int, total: int) -> None:
        if per_source < 1 or total < per_source:
            raise ValueError(f"{name}: need 1 <= per_source <= total, got {per_source}, {total}")
        self.name = name
        self.per_source = per_source
        self.total = total
        # source -> its slots, oldest first
        self._open: dict[str, OrderedDict[Slot, None]] = {}
        self._count = 0
        self.refused = 0  # since the start, for /healthz
        self.evicted = 0
        self._closing: set[asyncio.Task[Any]] = set()  # evictions' closes under way

    @property
    def open(self) -> int:
        return self._count

    def held(self, source: str) -> int:
        return len(self._open.get(source, ()))

    def admit(self, source: str, evict: Callable[[], None]) -> Slot | None:
        """A slot for one more socket from ``source``, or None (nothing
        counted) past its own cap, or past everyone's when no source holds
        more than it. ``evict`` is called (once, synchronously: it should
        schedule the close) if this slot is later given to a newcomer."""
        mine = self.held(source)
        if mine >= self.per_source:
            self.refused += 1
            return None
        if self._count >= self.total:
            oldest = self._evictable(mine)
            if oldest is None:
                self.refused += 1
                return None
            self._drop(oldest)
            self.evicted += 1
            oldest.evict()
        slot = Slot(source, evict)
        self._open.setdefault(source, OrderedDict())[slot] = None
        self._count += 1
        return slot

    def _evictable(self, mine: int) -> Slot | None:
        """The oldest idle slot of the heaviest source holding more than
        ``mine`` (the newcomer's own count), or None. A source holding one
        more than the newcomer loses a slot to it: floods of one socket an
        address churn instead of holding the pool."""
        for source in sorted(self._open, key=lambda s: len(self._open[s]), reverse=True):
            if len(self._open[source]) <= mine:
                return None
            idle = next((slot for slot in self._open[source] if not slot.busy), None)
            if idle is not None:
                return idle
        return None

    def closer(self, close: Callable[[], Coroutine[Any, Any, Any]]) -> Callable[[], None]:
        """An ``evict`` callback that runs ``close()`` as a task of its own (the
        gate keeps it until it is done: a task nobody holds may be collected)."""

        def evict() -> None:
            task = asyncio.get_running_loop().create_task(close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

        return evict

    def release(self, slot: Slot | None) -> None:
        """The socket closed (or logged in): its slot is free. Harmless twice,
        after an eviction, or for None."""
        if slot is not None:
            self._drop(slot)

    def _drop(self, slot: Slot) -> None:
        if slot.released:
            return
        slot.released = True
        slots = self._open.get(slot.source)
        if slots is None or slot not in slots:
            return
        del slots[slot]
        self._count -= 1
        if not slots:
            del self._open[slot.source]
