"""What an operator needs to see when acknowledgements get slow: event-loop
lag and garbage-collector pauses, over a rolling window.

An acknowledgement can be late for reasons no request handler shows: the
event loop was busy with something else (a large presence flush, a burst
of logins), or the interpreter stopped everything for a full garbage
collection. :class:`LoopMonitor` wakes every ``interval`` seconds and
records how late it woke (the lag every other task saw at that moment);
``gc.callbacks`` time each collection. A watchdog thread notices when the
loop has not ticked for ``stall_seconds`` and records (and logs) where the
loop thread is at that moment, so a stall names its cause. ``/healthz``
reports all three.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import sys
import threading
import time
import traceback
from collections import deque
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

#: Innermost frames of the loop thread kept for a stall report.
STALL_FRAMES = 8


def _summary_ms(samples: deque[tuple[float, float]], since: float) -> dict[str, float]:
    """p50/p99/max of the samples (seconds) taken at or after ``since``, in ms."""
    vals = np.fromiter((v for t, v in samples if t >= since), dtype=float)
    if vals.size == 0:
        return {"n": 0, "p50": 0.0, "p99": 0.0, "max": 0.0}
    p50, p99 = np.percentile(vals, [50, 99]) * 1000.0
    return {
        "n": int(vals.size),
        "p50": round(float(p50), 2),
        "p99": round(float(p99), 2),
        "max": round(float(vals.max()) * 1000.0, 2),
    }


def _other_threads(frames: dict[int, Any], loop_thread: int | None) -> list[str]:
    """Where the other threads are (name: innermost frame), those parked in a
    wait left out: a loop thread that shows no frame of its own during a
    stall is usually waiting for the GIL that one of these holds."""
    names = {t.ident: t.name for t in threading.enumerate()}
    me = threading.get_ident()
    out = []
    for ident, frame in frames.items():
        if ident in (me, loop_thread):
            continue
        code = frame.f_code
        parked = (code.co_filename.endswith("threading.py") and code.co_name == "wait") or (
            # an idle executor thread waits in SimpleQueue.get (C), under _worker
            code.co_filename.endswith("concurrent/futures/thread.py") and code.co_name == "_worker"
        )
        if parked:
            continue  # parked on a condition, event or queue: not running
        out.append(
            f"{names.get(ident, ident)}: {code.co_name} "
            f"({code.co_filename.rsplit('/', 2)[-1]}:{frame.f_lineno})"
        )
    return out


#: Seconds between two log lines about the database being unavailable at one place.
OUTAGE_LOG_SECONDS = 5.0


def outage_cause(exc: BaseException) -> str:
    """The cause of a database failure in one line: the driver's own message
    (``too many clients already``, ``connection refused``, ``database is
    locked``), not SQLAlchemy's wrapper with the statement and its parameters."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(orig).__name__}: {first}"[:200]


class LoopMonitor:
    """Samples event-loop lag; times garbage collections.

    interval: seconds between wake-ups (lag resolution); window: seconds of
    history kept for the report; stall_seconds: a loop blocked this long has
    its stack recorded (0: no watchdog). ``start()`` inside the running
    loop, ``stop()`` at shutdown (also removes the GC callback).
    """

    def __init__(
        self, interval: float = 0.05, window: float = 300.0, stall_seconds: float = 0.25
    ) -> None:
        if not 0 < interval <= 1.0:
            raise ValueError("LoopMonitor interval must be in (0, 1] seconds")
        if window < interval:
            raise ValueError("LoopMonitor window must be at least one interval")
        if stall_seconds < 0 or (0 < stall_seconds < 2 * interval):
            raise ValueError("LoopMonitor stall_seconds must be 0 (off) or at least 2 intervals")
        self.stall_seconds = stall_seconds
        self.stalls: deque[dict[str, Any]] = deque(maxlen=20)
        self._last_tick = time.perf_counter()
        self._loop_thread: int | None = None
        self._watchdog: threading.Thread | None = None
        self._stop = threading.Event()
        self.interval = interval
        self.window = window
        n = int(window / interval) + 1
        self.lag: deque[tuple[float, float]] = deque(maxlen=n)
        self.gc_pauses: deque[tuple[float, float]] = deque(maxlen=4096)
        self.gc_generations = [0, 0, 0]
        self._gc_started: float | None = None
        self._task: asyncio.Task[None] | None = None
        # Requests the database could not serve (503 / ``unavailable``), by
        # place and cause: counted for /healthz, logged once per place every
        # OUTAGE_LOG_SECONDS (thousands of terminals retrying would otherwise
        # write thousands of lines a second).
        self.outages: dict[tuple[str, str], list[float]] = {}
        self._outage_logged: dict[str, float] = {}

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        elif self._gc_started is not None:
            now = time.perf_counter()
            self.gc_pauses.append((time.time(), now - self._gc_started))
            self.gc_generations[int(info.get("generation", 0))] += 1
            self._gc_started = None

    async def start(self) -> None:
        gc.callbacks.append(self._on_gc)
        self._loop_thread = threading.get_ident()
        self._last_tick = time.perf_counter()
        self._task = asyncio.create_task(self._run(), name="loop-monitor")
        if self.stall_seconds > 0:
            self._stop.clear()
            self._watchdog = threading.Thread(target=self._watch, name="loop-watchdog", daemon=True)
            self._watchdog.start()

    async def stop(self) -> None:
        self._stop.set()
        if self._watchdog is not None:
            self._watchdog.join(timeout=2.0)
            self._watchdog = None
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._on_gc)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            t0 = time.perf_counter()
            await asyncio.sleep(self.interval)
            self._last_tick = now = time.perf_counter()
            late = now - t0 - self.interval
            self.lag.append((time.time(), max(0.0, late)))

    def _watch(self) -> None:
        """The watchdog thread: one record per stall, taken while it lasts."""
        reported_tick = -1.0
        while not self._stop.wait(self.interval):
            tick = self._last_tick
            blocked = time.perf_counter() - tick - self.interval
            if blocked < self.stall_seconds or tick == reported_tick:
                continue
            reported_tick = tick
            frames = sys._current_frames()
            frame = frames.get(self._loop_thread or -1)
            where = (
                "".join(traceback.format_stack(frame, limit=STALL_FRAMES)).rstrip()
                if frame is not None
                else "(loop thread not found)"
            )
            self.stalls.append(
                {
                    "at": time.time(),
                    "blocked_ms": round(blocked * 1000, 1),
                    "where": where,
                    "other_threads": _other_threads(frames, self._loop_thread),
                }
            )
            log.warning(
                "event loop blocked for %.0f ms so far; the loop thread is in:\n%s",
                blocked * 1000,
                where,
            )

    def note_outage(self, where: str, exc: BaseException) -> None:
        """Count a request the database could not serve at ``where`` (e.g. "POST
        /api/candidate/login") and log its cause, at most once per place every
        :data:`OUTAGE_LOG_SECONDS` with the count since the last line."""
        cause = outage_cause(exc)
        now = time.time()
        entry = self.outages.setdefault((where, cause), [0.0, now])
        entry[0] += 1
        entry[1] = now
        last = self._outage_logged.get(where)
        if last is None or now - last >= OUTAGE_LOG_SECONDS:
            self._outage_logged[where] = now
            count = sum(int(n) for (w, _), (n, _) in self.outages.items() if w == where)
            log.warning("%s: database unavailable (%d so far): %s", where, count, cause)

    def report(self, seconds: float | None = None) -> dict[str, Any]:
        """Lag and GC pauses over the last ``seconds`` (default: the whole window)."""
        since = time.time() - (self.window if seconds is None else seconds)
        return {
            "loop_lag_ms": _summary_ms(self.lag, since),
            "gc_pause_ms": _summary_ms(self.gc_pauses, since),
            "gc_collections": {f"gen{i}": n for i, n in enumerate(self.gc_generations)},
            "stalls": [st for st in self.stalls if st["at"] >= since][-5:],
            # Since the start: the causes of 503s and ``unavailable`` frames.
            "database_unavailable": [
                {"where": w, "cause": c, "count": int(n), "last_at": at}
                for (w, c), (n, at) in sorted(self.outages.items())
            ],
        }
