"""The exam clock: where the server's time comes from, and the rules on it.

One rule each, called by every path that shows or decides on time (the
terminal's frames, the sweeps, proctor acts, the proctor grid, the admin
API, the fan-out between workers):

* :func:`remaining_seconds` — how much of an attempt's time is left;
* :func:`deadline_at` — when a running clock reaches zero;
* :func:`silent_stop_at` — when the clock of a terminal that went silent
  stops (last seen alive + the grace period, however late the server
  notices).

All times are epoch seconds (floats). The clock of an attempt is two
stored numbers: while it runs, ``remaining = remaining_at_start − (now −
running_since)``; while it is stopped (paused, terminal gone, finished,
void) ``running_since`` is None and ``remaining_at_start`` is what is
left. A finished or void attempt keeps the time that was left when it
ended.

The time itself comes from a :class:`Clock` injected into the services, so
tests drive time with :class:`ManualClock` instead of sleeping.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """The server's source of time (epoch seconds)."""

    def now(self) -> float: ...


class SystemClock:
    """Wall-clock time (``time.time``): the server's clock in production."""

    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock that moves only when told to (tests)."""

    def __init__(self, start: float = 1_900_000_000.0) -> None:
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` (≥ 0); returns the new time."""
        if seconds < 0:
            raise ValueError("a clock never runs backwards")
        self._now += float(seconds)
        return self._now

    def set(self, at: float) -> None:
        if at < self._now:
            raise ValueError("a clock never runs backwards")
        self._now = float(at)


def remaining_seconds(remaining_at_start: float, running_since: float | None, now: float) -> float:
    """Seconds left on an attempt's clock at ``now`` (never negative).

    remaining_at_start: seconds left when the clock last started (or all
    that is left while it is stopped); running_since: when it started
    (None: stopped)."""
    if running_since is None:
        return max(0.0, float(remaining_at_start))
    return max(0.0, float(remaining_at_start) - (now - float(running_since)))


def deadline_at(remaining_at_start: float, running_since: float | None) -> float | None:
    """When a running clock reaches zero (None while it is stopped)."""
    if running_since is None:
        return None
    return float(running_since) + float(remaining_at_start)


def silent_stop_at(last_seen_alive: float, grace_seconds: float, running_since: float) -> float:
    """When the clock of a terminal that went silent stops: the grace period
    counts from the moment it was last seen alive (never before the clock
    started), however late the server notices — a dead socket found by a
    ping timeout is charged the grace, not the timeout as well."""
    return max(float(last_seen_alive) + float(grace_seconds), float(running_since))
