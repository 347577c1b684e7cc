"""Anonymous survey answers, held back and written in shuffled batches.

A submission used to be written in the same transaction as the attempt's
``after_survey_done`` marker. On PostgreSQL every row carries the id of the
transaction that wrote it (``xmin``), so one join on it put a name to every
"anonymous" answer::

    SELECT d.attempt_id, a.question, a.value
    FROM after_survey_done d JOIN after_survey_answer a ON a.xmin = d.xmin

and the write-ahead log, on either database, held the two side by side.
Now the marker is written alone when the candidate submits (so nobody
answers twice), and the answers wait in this pool until ``min_batch``
submissions are there; then all of them are written in one transaction, in
a random order, each under a random submission id. Within a batch nothing
in the database (transaction, order, time) tells one candidate's answers
from another's. A pool that does not fill is written after ``max_wait``
seconds and when the server stops: a small batch hides less, which the
operations guide says.

What a crash costs: the answers still in the pool (at most one batch). The
marker stays, so those candidates are not asked again; an optional survey
losing a few answers is the price of not being able to link any.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import anyio.to_thread
from sqlalchemy import insert
from sqlalchemy.engine import Engine

from after_test import models as am
from exam_server.background import cancelled

log = logging.getLogger(__name__)

ANSWER = am.AfterSurveyAnswer.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Submission:
    """One candidate's answers (question code → value), without the candidate."""

    exam_code: str
    day: str
    answers: Mapping[str, int]


class SurveyPool:
    """Submissions waiting to be written together (thread-safe: the API adds
    from worker threads, the timer flushes from another).

    min_batch: submissions written together (≥ 1); max_wait: seconds the
    oldest may wait before a smaller batch is written (> 0); clock: seconds,
    monotonic (tests give their own)."""

    def __init__(
        self,
        engine: Engine,
        min_batch: int = 10,
        max_wait: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if min_batch < 1:
            raise ValueError("SurveyPool: min_batch must be at least 1")
        if not max_wait > 0:
            raise ValueError("SurveyPool: max_wait must be positive")
        self.engine = engine
        self.min_batch = min_batch
        self.max_wait = max_wait
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: list[Submission] = []
        self._oldest: float | None = None
        self._task: asyncio.Task[None] | None = None
        self.batches = 0  # batches written (for /healthz-style reports and tests)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def add(self, submission: Submission) -> None:
        """Hold ``submission``; write the pool if it is full (a failed write
        keeps it pending). Worker thread."""
        if not submission.answers:
            return  # declined: the marker alone says so
        with self._lock:
            if not self._pending:
                self._oldest = self._clock()
            self._pending.append(submission)
            full = len(self._pending) >= self.min_batch
        if full:
            # A failed write is logged and the answers stay pending for the
            # timer's next try: the candidate's submission is not refused.
            with contextlib.suppress(Exception):
                self.flush()

    def due(self) -> bool:
        """Whether the pool is full or its oldest submission waited ``max_wait``."""
        with self._lock:
            if not self._pending:
                return False
            assert self._oldest is not None
            return (
                len(self._pending) >= self.min_batch
                or self._clock() - self._oldest >= self.max_wait
            )

    def flush(self) -> int:
        """Write every pending submission in one transaction, rows shuffled,
        each submission under a random id; returns the submissions written.
        On a database error they stay pending for the next flush. Thread side."""
        with self._lock:
            batch, self._pending, self._oldest = self._pending, [], None
        if not batch:
            return 0
        rows = [
            {"submission": sid, "question": q, "exam_code": s.exam_code, "day": s.day, "value": v}
            for s in batch
            for sid in (secrets.token_hex(16),)
            for q, v in s.answers.items()
        ]
        # The order rows reach the table (and PostgreSQL's heap) is random,
        # not the order candidates finished in.
        secrets.SystemRandom().shuffle(rows)
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(ANSWER), rows)
        except Exception:
            with self._lock:  # back in front, due again at the next check
                self._pending[:0] = batch
                self._oldest = self._clock() - self.max_wait
            log.exception("survey answers: a batch of %d could not be written", len(batch))
            raise
        self.batches += 1
        return len(batch)

    async def start(self, every: float = 30.0) -> None:
        """Write a waiting pool once it is due, checking every ``every`` seconds."""

        async def run() -> None:
            while True:
                await asyncio.sleep(every)
                if self.due():
                    with contextlib.suppress(Exception):  # logged by flush; kept pending
                        await anyio.to_thread.run_sync(self.flush)

        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(run())

    async def stop(self) -> None:
        """Stop the timer and write what is pending (the server is stopping)."""
        await cancelled(self._task)
        self._task = None
        with contextlib.suppress(Exception):
            await anyio.to_thread.run_sync(self.flush)
