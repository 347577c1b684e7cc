"""The attempt service: the attempts this process serves, and the door to
everything done to them.

:class:`AttemptService` (one per app, ``context(app).attempts``) holds the
state that outlives one request — the attempts in memory (:class:`LiveAttempt`,
each changed only under its own lock), the exams they sit, the exposure
counts, the login limits — and the parts everything shares (settings,
database, group committer, event bus, token signer, clock). What is done to
an attempt lives in modules named for the job; the service's methods are
the public entry points the terminal socket, the REST API and the fan-out
call:

==================  ===========================================================
``login``           credentials, attempt preparation, terminal binding
``terminals``       a socket's ``hello`` and its drop
``actions``         answer, flag, navigate, finish
``proctor_acts``    pause, resume, extend, release, void, note
``sweeps``          deadlines, vanished terminals, presence, exposure counts
``frames``          what the terminal is sent
``verdicts``        pass/fail under the exam's ranking policy
``storage``         the statements
``timing``          starting and stopping the clock durably
==================  ===========================================================

Every change is committed (through the :class:`GroupCommitter`) before it
shows in memory, before it is acknowledged and before it is published.
Time comes from the injected :class:`~exam_server.clock.Clock`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import anyio.to_thread
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col

from cat_engine import engine as cat
from cat_engine.exposure import ExposureUsage
from cat_engine.state import TestState
from exam_server import presence
from exam_server import protocol as p
from exam_server.attempts import (
    actions,
    frames,
    login,
    proctor_acts,
    storage,
    sweeps,
    terminals,
    verdicts,
)
from exam_server.attempts.state import LiveAttempt, Terminal
from exam_server.auth import TokenSigner
from exam_server.clock import Clock, SystemClock
from exam_server.durability import GroupCommitter
from exam_server.events import EventBus, LiveEvent
from exam_server.exams import ExamData
from exam_server.limits import LoginLimiter
from exam_server.models import Exam, ExamSession
from exam_server.settings import Settings
from exam_server.terminal_passes import PassRegistry, TerminalPass
from exam_server.usage import Administered, UsageCache, read_usage, release, reserve

log = logging.getLogger(__name__)

#: How long the presence row of a process that stopped writing is kept.
PROCESS_ROWS_KEPT_SECONDS = 7 * 86400.0


def next_due(due: float, period: float, now: float) -> float:
    """When a periodic task runs next (loop seconds): one period after its
    last run was due, not after that run ended, so a run that takes a while
    under load does not stretch the period (the presence flush's period is
    how stale a crashed process's presence row can be: the time a crash may
    hand back to a candidate, docs/operations.md); a run that overran the
    period is followed at once, without a burst for the ticks it missed."""
    return max(due + period, now)


class AttemptService:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        committer: GroupCommitter,
        bus: EventBus,
        signer: TokenSigner,
        clock: Clock | None = None,
        limits: LoginLimiter | None = None,
        receipt_key: Ed25519PrivateKey | None = None,
        *,
        presence_timer: bool = True,
    ) -> None:
        self.settings = settings
        # False: flush_presence runs only when called (exam_server.app.create_app).
        self.presence_timer = presence_timer
        self.engine = engine
        self.committer = committer
        # This process's row of presence (exam_server.presence): new each
        # start, so a crashed run's row stays as it stopped.
        self.process_key = secrets.token_hex(16)
        self.bus = bus
        self.signer = signer
        self.clock: Clock = clock or SystemClock()
        # Signs each candidate's receipt at finish (the server's checkpoint
        # key, exam_server.checkpoints); None: no receipts.
        self.receipt_key = receipt_key
        self.live: dict[int, LiveAttempt] = {}
        self.exams: dict[int, ExamData] = {}
        self.usage = UsageCache()
        self._loading: dict[int, asyncio.Lock] = {}
        self._start_locks: dict[int, asyncio.Lock] = {}
        # Wrong PINs back off per (registration number, source address), never
        # per client-chosen terminal id (exam_server.limits).
        self.limits = limits or LoginLimiter.for_settings(settings, engine, self.clock)
        self._tasks: list[asyncio.Task[None]] = []
        self._last_login = -1e9  # time.monotonic() of the last login attempt
        self.prepare_tasks: set[asyncio.Task[int]] = set()
        # (session id, candidate id) → attempt id, made or being made here.
        self.created: dict[tuple[int, int], int] = {}
        self.creating: dict[tuple[int, int], asyncio.Future[int]] = {}

    # --- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        now = self.clock.now()
        await self.sweep_database(now)
        # Rows of processes gone for a week: every attempt they held is past
        # its deadline, and the sweep just ended what was still running.
        await self.committer.submit(
            lambda conn: presence.forget_processes(conn, now - PROCESS_ROWS_KEPT_SECONDS)
        )

        def open_sessions() -> list[int]:
            with Session(self.engine) as s:
                rows = s.execute(
                    select(col(ExamSession.id)).where(col(ExamSession.status) == "open")
                )
                return [int(r[0]) for r in rows]

        for sid in await anyio.to_thread.run_sync(open_sessions):
            self.spawn_prepare(sid)
        self._tasks = [
            asyncio.create_task(self._every(self.settings.sweep_interval_seconds, self._sweeps))
        ]
        if self.presence_timer:
            self._tasks.append(
                asyncio.create_task(
                    self._every(self.settings.presence_interval_seconds, self.flush_presence)
                )
            )

    async def stop(self) -> None:
        for pt in list(self.prepare_tasks):
            pt.cancel()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks = []

    def mark_login(self) -> None:
        self._last_login = time.monotonic()

    def is_busy(self, quiet_seconds: float = 30.0) -> bool:
        """True while any terminal holds a connection to this process, or a
        candidate logged in within ``quiet_seconds`` (a rush is starting:
        the moment before the first connection is not a quiet one)."""
        if time.monotonic() - self._last_login < quiet_seconds:
            return True
        return any(la.conn is not None for la in self.live.values())

    async def _every(self, seconds: float, fn: Callable[[float], Awaitable[None]]) -> None:
        # The period is real time (asyncio's loop clock), the sweeps read the
        # server's clock: tests drive the clock and call the sweeps directly.
        loop = asyncio.get_running_loop()
        due = loop.time() + seconds
        while True:
            await asyncio.sleep(due - loop.time())
            try:
                await fn(self.clock.now())
            except Exception:  # a failing sweep must not kill the loop
                log.exception("periodic task failed")
            due = next_due(due, seconds, loop.time())

    _sweep_count = 0

    async def _sweeps(self, now: float) -> None:
        await self.sweep(now)
        self._sweep_count += 1
        if self._sweep_count % 10 == 0:
            await self.sweep_database(now)

    # --- the attempts and exams in memory ----------------------------------------

    def exam_data(self, exam_id: int) -> ExamData:
        """The exam (cached); blocking: call from a thread or at startup."""
        data = self.exams.get(exam_id)
        if data is None:
            with Session(self.engine) as conn:
                row = conn.execute(select(Exam).where(Exam.id == exam_id)).scalars().first()  # type: ignore[arg-type]
            if row is None:
                raise KeyError(f"no exam {exam_id}")
            data = ExamData.from_row(row)
            self.exams[exam_id] = data
        return data

    async def exposure(self, exam: ExamData) -> ExposureUsage | None:
        """The exam's usage counts for the engine's exposure control (loaded on
        first use, then kept current; see ``exam_server.usage``)."""
        if not self.usage.known(exam.exam_id):

            def read() -> ExposureUsage:
                with self.engine.connect() as conn:
                    return read_usage(conn, exam.exam_id, exam.bank.n_items)

            stored = await anyio.to_thread.run_sync(read)
            if not self.usage.known(exam.exam_id):
                self.usage.replace(exam.exam_id, stored)
        return self.usage.usage(exam.exam_id)

    def reserves(self, exam: ExamData) -> bool:
        """Whether items of ``exam`` take their places in the database before
        they are given: several processes (PostgreSQL) under a hard exposure
        limit (``exam_server.attempts.places``)."""
        return not self.settings.is_sqlite and exam.design.exposure.max_rate is not None

    async def take_places(self, exam: ExamData, indices: Sequence[int]) -> list[int]:
        """Reserve the items' places (``exam_server.usage.reserve``); the refused."""
        rate = exam.design.exposure.max_rate
        assert rate is not None
        warmup = exam.design.exposure.warmup

        def work() -> list[int]:
            with self.engine.begin() as conn:
                return reserve(conn, exam.exam_id, indices, float(rate), int(warmup))

        return await anyio.to_thread.run_sync(work)

    async def give_back(self, exam: ExamData, indices: Sequence[int]) -> None:
        def work() -> None:
            with self.engine.begin() as conn:
                release(conn, exam.exam_id, indices)

        await anyio.to_thread.run_sync(work)

    def start_lock(self, exam: ExamData) -> contextlib.AbstractAsyncContextManager[Any]:
        """Held while a test of ``exam`` starts, if the exam has a hard exposure
        cap (``exposure.max_rate``): starts then see each other's items."""
        if exam.design.exposure.max_rate is None:
            return contextlib.nullcontext()
        return self._start_locks.setdefault(exam.exam_id, asyncio.Lock())

    @staticmethod
    def administered(
        exam: ExamData, before: TestState | None, after: TestState, tests: int = 0
    ) -> Administered:
        """The items an engine step gave (``tests`` = 1 for a test's start)."""
        idx = tuple(int(i) for i in cat.administered(before, after))
        ids = tuple(exam.bank.item_ids[i] for i in idx)
        return Administered(exam.exam_id, idx, ids, tests)

    async def get(self, attempt_id: int) -> LiveAttempt:
        """The attempt in memory, loaded from the database on first use."""
        la = self.live.get(attempt_id)
        if la is not None:
            return la
        lock = self._loading.setdefault(attempt_id, asyncio.Lock())
        async with lock:
            la = self.live.get(attempt_id)
            if la is None:
                la = await anyio.to_thread.run_sync(self._load, attempt_id)
                self.live[attempt_id] = la
        self._loading.pop(attempt_id, None)
        return la

    def adopt(self, la: LiveAttempt) -> None:
        """Keep a copy read elsewhere (a login's) unless one is held or loading:
        a copy loaded meanwhile may hold newer answers."""
        if la.id not in self.live and la.id not in self._loading:
            self.live[la.id] = la

    def forget(self, attempt_id: int) -> None:
        """Drop the copy in memory; it is reloaded on next use."""
        self.live.pop(attempt_id, None)

    def _load(self, attempt_id: int) -> LiveAttempt:
        with self.engine.connect() as conn:
            return self.load_on(conn, attempt_id)[0]

    def load_on(self, conn: Connection, attempt_id: int) -> tuple[LiveAttempt, Any]:
        """The attempt read on ``conn`` (thread side), with its final frame
        rebuilt if it has finished."""
        la, ended = storage.load_attempt(conn, attempt_id, self.exam_data)
        if ended is not None:
            # Ed25519 signatures are deterministic: the receipt signed again
            # is the one the candidate was shown at finish.
            la.finish = frames.final_frame(
                ended["score"],
                ended["passed"],
                verdicts.stored_reasons(la.exam, la.category, ended["score"], ended["pass_reason"]),
                ended["finish_reason"],
                frames.receipt(la, ended["score"], self.receipt_key),
                la.exam.policy,
            )
        return la, ended

    def categories(self, exam_id: int) -> set[str]:
        """The passing-grade categories of an exam's ranking policy (blocking)."""
        return set(self.exam_data(exam_id).policy.categories)

    # --- the public entry points -----------------------------------------------

    async def login(
        self,
        registration_number: str,
        pin: str,
        session_token: str,
        terminal_id: str,
        source: str = "unknown",
        terminal_pass: TerminalPass | None = None,
        passes: PassRegistry | None = None,
    ) -> tuple[str, LiveAttempt, dict[str, Any] | None]:
        """:func:`exam_server.attempts.login.login`."""
        return await login.login(
            self,
            registration_number,
            pin,
            session_token,
            terminal_id,
            source,
            terminal_pass,
            passes,
        )

    def spawn_prepare(self, session_id: int) -> None:
        login.spawn_prepare(self, session_id)

    async def prepare_session(self, session_id: int) -> int:
        return await login.prepare_session(self, session_id)

    async def hello(self, conn: Terminal, msg: p.Hello) -> LiveAttempt:
        return await terminals.hello(self, conn, msg)

    async def disconnected(
        self, la: LiveAttempt, conn: Terminal, close_code: int | None = None
    ) -> None:
        await terminals.disconnected(self, la, conn, close_code)

    def item_frame(self, la: LiveAttempt, number: int) -> dict[str, Any]:
        return frames.item_frame(la, number)

    def state_frame(self, la: LiveAttempt) -> dict[str, Any]:
        return frames.state_frame(la, self.clock.now())

    def time_frame(self, la: LiveAttempt) -> dict[str, Any]:
        return frames.time_frame(la, self.clock.now())

    async def answer(self, la: LiveAttempt, msg: p.Answer) -> list[dict[str, Any]]:
        return await actions.answer(self, la, msg)

    async def flag(self, la: LiveAttempt, msg: p.Flag) -> list[dict[str, Any]]:
        return await actions.flag(self, la, msg)

    async def navigate(self, la: LiveAttempt, msg: p.Navigate) -> list[dict[str, Any]]:
        return await actions.navigate(self, la, msg)

    async def finish(self, la: LiveAttempt, reason: str, actor: str) -> dict[str, Any] | None:
        return await actions.finish(self, la, reason, actor)

    async def act(
        self,
        attempt_id: int,
        action: str,
        actor: str,
        reason: str,
        seconds: float = 0.0,
        request: str = "",
    ) -> dict[str, Any]:
        return await proctor_acts.act(self, attempt_id, action, actor, reason, seconds, request)

    async def apply_remote(self, la: LiveAttempt, event: LiveEvent) -> None:
        await proctor_acts.apply_remote(self, la, event)

    async def sweep(self, now: float) -> None:
        await sweeps.sweep(self, now)

    async def sweep_database(self, now: float) -> None:
        await sweeps.sweep_database(self, now)

    async def flush_presence(self, now: float) -> None:
        await sweeps.flush_presence(self, now)
