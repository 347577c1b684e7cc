"""Caps on the sockets anyone may hold open without logging in.

A WebSocket costs the server one file descriptor and some memory for as
long as it is open. Two kinds need no credential: a candidate terminal's
socket before its ``hello`` is accepted, and the public live board's. Without
a cap, one address could open sockets until the process ran out of file
descriptors, after which no terminal, proctor or admin could connect
(docs/reliability.md, *Sockets without a login*). A :class:`SocketGate`
counts the sockets of one kind a process holds, per source address
(:func:`exam_server.limits.source_of`: IPv6 by its /64) and in all, and
refuses one more past either cap; the endpoint then closes it with 1013
("try again later"), which the terminal and the board page answer by
reconnecting after their back-off.

The caps bound what one address, and what everyone together, can hold;
with a candidate socket's ``hello`` due within a fixed time of its accept
(``exam_server.terminal``), each pre-login slot is held for seconds at most.
The counts are per process: with several workers, each has its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


class SocketGate:
    """Open sockets of one kind: at most ``per_source`` from one source and
    ``total`` in all. Used from the event loop only (no lock)."""

    def __init__(self, name: str, per_source: int, total: int) -> None:
        if per_source < 1 or total < per_source:
            raise ValueError(f"{name}: need 1 <= per_source <= total, got {per_source}, {total}")
        self.name = name
        self.per_source = per_source
        self.total = total
        self._open: dict[str, int] = {}
        self._count = 0
        self.refused = 0  # since the start, for /healthz

    @property
    def open(self) -> int:
        return self._count

    def admit(self, source: str) -> bool:
        """Count one more socket from ``source``; False (nothing counted) past a cap."""
        held = self._open.get(source, 0)
        if held >= self.per_source or self._count >= self.total:
            self.refused += 1
            return False
        self._open[source] = held + 1
        self._count += 1
        return True

    def release(self, source: str) -> None:
        """One socket from ``source`` closed (or logged in)."""
        held = self._open.get(source, 0)
        if held <= 0:
            return
        self._count -= 1
        if held == 1:
            del self._open[source]
        else:
            self._open[source] = held - 1

    @contextlib.contextmanager
    def holding(self, source: str) -> Iterator[bool]:
        """``admit`` on entry (the bool), ``release`` on exit if admitted."""
        admitted = self.admit(source)
        try:
            yield admitted
        finally:
            if admitted:
                self.release(source)
