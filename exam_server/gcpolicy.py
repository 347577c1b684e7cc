"""Keeping full garbage collections short on a server that holds thousands of
attempts.

CPython's cycle collector stops the whole process while it scans the oldest
generation, and that scan grows with every object the server keeps alive: at
5,000 connected terminals a full collection took up to 0.74 s, and during a
login rush there were 14 of them in 150 s (docs/benchmarks.md, exam pace).
Every answer waiting at that moment waits as long.

:class:`GcFreezer` moves what has survived into the permanent generation
(``gc.freeze()``) every ``interval`` seconds, after a collection of whatever
is not frozen yet (cheap: only what was created since the last freeze). A
full collection then scans seconds' worth of objects instead of the whole
heap. Frozen objects are still freed by reference counting, as nearly all
are; only reference cycles that become garbage after being frozen wait. They
are collected by a *maintenance* pass (``gc.unfreeze()`` then a full
collection) which runs when no terminal is connected and nobody logged in
for 30 s (between sessions), or
when the frozen set has grown past ``max_growth`` times its size after the
last maintenance (and past ``max_growth`` million objects), so memory stays
bounded on a server that is never idle. A busy maintenance pass is a full
pause again (0.6 s at 5,000 terminals), which is why its threshold is high:
a site server's heap grows several-fold during a login rush by design.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable

from exam_server.background import cancelled

log = logging.getLogger(__name__)


class GcFreezer:
    """Periodic ``gc.freeze()`` with maintenance passes.

    interval: seconds between freezes (> 0). busy: returns True while
    terminals are connected (a maintenance pass waits for a quiet moment
    unless the frozen set outgrew ``max_growth``). min_maintenance_gap:
    seconds between maintenance passes when quiet. growth_floor: the frozen
    count below which growth never forces a busy maintenance (a small heap
    is cheap to keep). growth_check_every: ticks between counts of the
    frozen set while busy.
    """

    def __init__(
        self,
        interval: float,
        busy: Callable[[], bool],
        max_growth: float = 4.0,
        min_maintenance_gap: float = 60.0,
        growth_floor: int = 1_000_000,
        growth_check_every: int = 12,
    ) -> None:
        if not interval > 0:
            raise ValueError("GcFreezer interval must be positive")
        if not max_growth > 1:
            raise ValueError("GcFreezer max_growth must be above 1")
        self.interval = interval
        self.busy = busy
        self.max_growth = max_growth
        self.min_maintenance_gap = min_maintenance_gap
        self.growth_floor = growth_floor
        self.growth_check_every = max(1, growth_check_every)
        self._steps = 0
        self.freezes = 0
        self.maintenances = 0
        self.baseline = 0  # frozen objects right after the last maintenance
        self.frozen = 0  # frozen objects when last counted
        self._last_maintenance = 0.0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.maintain()  # start from a clean, frozen heap (startup garbage gone)
        self._task = asyncio.create_task(self._run(), name="gc-freezer")

    async def stop(self) -> None:
        await cancelled(self._task)
        self._task = None
        gc.unfreeze()  # leave the interpreter as we found it (tests run many apps)

    def freeze(self) -> None:
        """Collect what is not frozen yet, then freeze the survivors."""
        gc.collect()
        gc.freeze()
        self.freezes += 1

    def maintain(self) -> None:
        """Unfreeze everything and collect it all (one full pause), then freeze."""
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        self.baseline = self.frozen = gc.get_freeze_count()
        self._last_maintenance = time.monotonic()
        self.maintenances += 1

    def step(self) -> None:
        """One tick: a maintenance pass if due, else a freeze."""
        self._steps += 1
        quiet = not self.busy()
        gap_ok = time.monotonic() - self._last_maintenance >= self.min_maintenance_gap
        outgrown = False
        # Counting the frozen set walks it (milliseconds at a million
        # objects): only when it can matter.
        if (quiet and gap_ok) or self._steps % self.growth_check_every == 0:
            frozen = self.frozen = gc.get_freeze_count()
            outgrown = frozen > self.max_growth * max(self.baseline, self.growth_floor)
            quiet = quiet and frozen > self.baseline
        if (quiet and gap_ok) or outgrown:
            self.maintain()
        else:
            self.freeze()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                self.step()
            except Exception:  # never let housekeeping kill the server
                log.exception("gc freeze step failed")
