"""Attempts at run time: the clock, durable answers, terminals, proctor acts.

:class:`AttemptService` (one per app, ``context(app).attempts``) keeps a
:class:`LiveAttempt` in memory for every attempt this process is serving and
serialises everything that changes one attempt under its ``lock``. Every
change is committed (through the :class:`GroupCommitter`) before it shows
in memory, before it is acknowledged and before it is published.

The clock (all seconds, server time): while running, ``remaining =
remaining_at_start − (now − running_since)``. It starts when the terminal
connects, stops when a proctor pauses or the terminal has been gone longer
than ``grace_seconds`` (stopped at the moment the grace ran out), and starts
again on reconnect. A sweeper task ends attempts at their deadline and
stops the clocks of vanished terminals, including after a server restart
(using the latest of the presence mark in ``exam_presence``, refreshed for
connected terminals every ``presence_interval_seconds``, the attempt's
``last_seen_at`` and its last stored answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio.to_thread
import orjson
from sqlalchemy import bindparam, func, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from cat_engine import engine as cat
from cat_engine.errors import EngineError
from cat_engine.state import TestState
from exam_server import audit, presence
from exam_server import protocol as p
from exam_server.auth import (
    CandidateClaims,
    TokenSigner,
    check_pin,
)
from exam_server.clock import Clock, SystemClock
from exam_server.durability import GroupCommitter
from exam_server.events import EventBus, LiveEvent
from exam_server.exams import ExamData
from exam_server.limits import LoginLimiter, Throttled
from exam_server.models import (
    Attempt,
    Candidate,
    CheckIn,
    Exam,
    ExamSession,
    Formation,
    Response,
)
from exam_server.scaleout.locks import StaleAttempt, read_attempts_locked
from exam_server.settings import Settings

log = logging.getLogger(__name__)

ATTEMPT = Attempt.__table__  # type: ignore[attr-defined]
RESPONSE = Response.__table__  # type: ignore[attr-defined]
CANDIDATE = Candidate.__table__  # type: ignore[attr-defined]
SESSION = ExamSession.__table__  # type: ignore[attr-defined]
CHECKIN = CheckIn.__table__  # type: ignore[attr-defined]
FORMATION = Formation.__table__  # type: ignore[attr-defined]
PRESENCE = presence.PRESENCE

# A candidate's login in one statement: the session, the PIN issued for it,
# the attempt if prepared, the formation shown on the terminal.
_LOGIN_QUERY = (
    select(
        CANDIDATE.c.id,
        CANDIDATE.c.session_id,
        SESSION.c.status,
        SESSION.c.token,
        SESSION.c.exam_id,
        CHECKIN.c.pin_mac,
        ATTEMPT.c.id,
        FORMATION.c.code,
        FORMATION.c.position,
        FORMATION.c.agency,
        FORMATION.c.location,
    )
    .select_from(
        CANDIDATE.join(SESSION, SESSION.c.id == CANDIDATE.c.session_id)
        .outerjoin(
            CHECKIN,
            (CHECKIN.c.session_id == SESSION.c.id) & (CHECKIN.c.candidate_id == CANDIDATE.c.id),
        )
        .outerjoin(
            ATTEMPT,
            (ATTEMPT.c.session_id == SESSION.c.id) & (ATTEMPT.c.candidate_id == CANDIDATE.c.id),
        )
        .outerjoin(FORMATION, FORMATION.c.id == CANDIDATE.c.formation_id)
    )
    .where(CANDIDATE.c.registration_number == bindparam("reg"))
)

# An attempt with what the terminal shows of its candidate, in one statement.
_LOAD_QUERY = (
    select(
        ATTEMPT,
        CANDIDATE.c.registration_number,
        CANDIDATE.c.name,
        CANDIDATE.c.category,
        SESSION.c.exam_id,
    )
    .select_from(
        ATTEMPT.join(CANDIDATE, CANDIDATE.c.id == ATTEMPT.c.candidate_id).join(
            SESSION, SESSION.c.id == ATTEMPT.c.session_id
        )
    )
    .where(ATTEMPT.c.id == bindparam("aid"))
)

# What the terminal shows of an attempt's answers and doubtful flags, in order.
_RESPONSES_QUERY = (
    select(RESPONSE.c.kind, RESPONSE.c.number, RESPONSE.c.option, RESPONSE.c.flagged)
    .where(RESPONSE.c.attempt_id == bindparam("aid"))
    .order_by(RESPONSE.c.seq)
)


@dataclass(frozen=True)
class LoginCheck:
    """What a successful credentials check found."""

    candidate_id: int
    session_id: int
    exam_id: int
    attempt_id: int | None
    formation: dict[str, Any] | None
    # The attempt read on the same connection when this process did not hold
    # it: a login needs it next, and a second thread hop and connection
    # checkout (on PostgreSQL with its pre-ping round trip) cost more than
    # the read itself.
    loaded: LiveAttempt | None = None


ACTIVE = ("running", "paused")
ENGINE_CODES = {
    "not_presented": "not_presented",
    "already_answered": "already_answered",
    "not_current": "not_current",
    "complete": "attempt_finished",
    "navigation_not_allowed": "not_allowed",
    "invalid_option": "bad_option",
}


class LoginError(Exception):
    """A refused login; ``code`` is a protocol error code, ``status`` the HTTP status."""

    def __init__(self, code: str, status: int, message: str = "") -> None:
        super().__init__(message or p.ERROR_CODES.get(code, code))
        self.code = code
        self.status = status


class ActionError(Exception):
    """A refused proctor action (HTTP 409 with ``code``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Terminal(Protocol):
    """What the service needs from a connected terminal (``exam_server.terminal``)."""

    terminal_id: str

    async def send(self, msg: dict[str, Any]) -> None: ...

    async def close(self, code: int, reason: str = "") -> None: ...


@dataclass
class LiveAttempt:
    id: int
    session_id: int
    candidate_id: int
    registration_number: str
    name: str
    category: str
    exam: ExamData
    state: TestState
    status: str
    last_seq: int
    response_head: str
    terminal_id: str | None
    terminal_released: bool
    remaining_at_start: float
    running_since: float | None
    answers: dict[int, int] = field(default_factory=dict)  # number → option
    flags: dict[int, bool] = field(default_factory=dict)
    finish: dict[str, Any] | None = None  # the final frame once finished
    conn: Terminal | None = None
    disconnected_at: float | None = None
    dirty: bool = False  # navigation not yet stored
    last_event_at: float = 0.0  # server time of the last answer or clock start
    started_at: float = 0.0  # when the clock first started (0: not yet)
    presented: list[int] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def refresh(self) -> None:
        self.presented = list(cat.presented(self.state))

    def remaining(self, now: float) -> float:
        if self.running_since is None:
            return max(0.0, self.remaining_at_start)
        return max(0.0, self.remaining_at_start - (now - self.running_since))

    @property
    def deadline_at(self) -> float | None:
        if self.running_since is None:
            return None
        return self.running_since + self.remaining_at_start

    def index_of(self, number: int) -> int:
        if not 1 <= number <= len(self.presented):
            raise p.ProtocolError("not_presented", f"item {number} was not given to you")
        return self.presented[number - 1]

    def number_of(self, index: int | None) -> int | None:
        if index is None:
            return None
        try:
            return self.presented.index(index) + 1
        except ValueError:
            return None

    def clock_values(self) -> dict[str, Any]:
        return {
            "remaining_at_start": self.remaining_at_start,
            "running_since": self.running_since,
            "deadline_at": self.deadline_at,
        }


def _orjson_dumps(obj: dict[str, Any]) -> str:
    return orjson.dumps(obj).decode()


def _state_json(state: TestState) -> str:
    # Stored with every answer: orjson writes the (shortest round-trip) floats
    # the stdlib would, several times faster; the design's JSON is cached.
    return state.to_json(_orjson_dumps)


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
    ) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.engine = engine
        self.committer = committer
        self.bus = bus
        self.signer = signer
        self.live: dict[int, LiveAttempt] = {}
        self.exams: dict[int, ExamData] = {}
        self._loading: dict[int, asyncio.Lock] = {}
        # Wrong PINs back off per (registration number, source address), never
        # per client-chosen terminal id (exam_server.limits).
        self.limits = limits or LoginLimiter.for_settings(settings, engine, self.clock)
        self._tasks: list[asyncio.Task[None]] = []
        self._last_login = -1e9  # time.monotonic() of the last login attempt
        self._prepare_tasks: set[asyncio.Task[int]] = set()
        # (session id, candidate id) → attempt id, made or being made here.
        self._created: dict[tuple[int, int], int] = {}
        self._creating: dict[tuple[int, int], asyncio.Future[int]] = {}
        self._policy: Any = None

    def categories(self) -> set[str] | None:
        """The passing-grade categories of the ranking policy (None if unknown)."""
        try:
            from exam_server.results import rules
        except ImportError:
            return None
        if self._policy is None:
            self._policy = rules.RankingPolicy.default_2024()
        return set(self._policy.categories)

    # --- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        await self.sweep_database(self.clock.now())

        def open_sessions() -> list[int]:
            with Session(self.engine) as s:
                rows = s.execute(
                    select(col(ExamSession.id)).where(col(ExamSession.status) == "open")
                )
                return [int(r[0]) for r in rows]

        for sid in await anyio.to_thread.run_sync(open_sessions):
            self.spawn_prepare(sid)
        self._tasks = [
            asyncio.create_task(self._every(self.settings.sweep_interval_seconds, self.sweep)),
            asyncio.create_task(
                self._every(self.settings.presence_interval_seconds, self.flush_presence)
            ),
        ]

    async def stop(self) -> None:
        for pt in list(self._prepare_tasks):
            pt.cancel()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks = []

    def is_busy(self, quiet_seconds: float = 30.0) -> bool:
        """True while any terminal holds a connection to this process, or a
        candidate logged in within ``quiet_seconds`` (a rush is starting:
        the moment before the first connection is not a quiet one)."""
        if time.monotonic() - self._last_login < quiet_seconds:
            return True
        return any(la.conn is not None for la in self.live.values())

    async def _every(self, seconds: float, fn: Callable[[float], Awaitable[None]]) -> None:
        n = 0
        while True:
            await asyncio.sleep(seconds)
            n += 1
            try:
                await fn(self.clock.now())
                if fn == self.sweep and n % 10 == 0:
                    await self.sweep_database(self.clock.now())
            except Exception:  # a failing sweep must not kill the loop
                log.exception("periodic task failed")

    # --- loading ---------------------------------------------------------------

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

    async def get(self, attempt_id: int) -> LiveAttempt:
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

    def _load(self, attempt_id: int) -> LiveAttempt:
        with self.engine.connect() as conn:
            return self._load_on(conn, attempt_id)

    def _load_on(self, conn: Connection, attempt_id: int) -> LiveAttempt:
        """The attempt as this process keeps it, read on ``conn`` (thread side)."""
        a = conn.execute(_LOAD_QUERY, {"aid": attempt_id}).mappings().first()
        if a is None:
            raise KeyError(f"no attempt {attempt_id}")
        rows = conn.execute(_RESPONSES_QUERY, {"aid": attempt_id}).all()
        exam = self.exam_data(a["exam_id"])
        la = LiveAttempt(
            id=attempt_id,
            session_id=a["session_id"],
            candidate_id=a["candidate_id"],
            registration_number=a["registration_number"],
            name=a["name"],
            category=a["category"],
            exam=exam,
            state=TestState.from_dict(orjson.loads(a["state_json"])),
            status=a["status"],
            last_seq=a["last_seq"],
            response_head=a["response_head"],
            terminal_id=a["terminal_id"],
            terminal_released=bool(a["terminal_released"]),
            remaining_at_start=float(a["remaining_at_start"]),
            running_since=a["running_since"],
            started_at=float(a["started_at"] or 0.0),
        )
        for kind, number, option, flagged in rows:
            if kind == "answer":
                if option >= 0:
                    la.answers[number] = option
                else:
                    la.answers.pop(number, None)
            la.flags[number] = bool(flagged)
        if a["status"] == "finished" and a["score_json"]:
            stored_score = json.loads(a["score_json"])
            la.finish = self._final_frame(
                stored_score,
                a["passed"],
                self._stored_reasons(a["category"], stored_score, a["pass_reason"]),
                a["finish_reason"],
            )
        la.refresh()
        return la

    # --- login -----------------------------------------------------------------

    async def login(
        self,
        registration_number: str,
        pin: str,
        session_token: str,
        terminal_id: str,
        source: str = "unknown",
    ) -> tuple[str, LiveAttempt, dict[str, Any] | None]:
        """Check a candidate's credentials; return a candidate token, the attempt
        and the candidate's formation (``code``, ``position``, ``agency``,
        ``location``; None if unassigned).

        source: the client's address as a limit key
        (:func:`exam_server.limits.request_source`). Raises
        :class:`~exam_server.limits.Throttled` (429 with ``retry_after``) and
        :class:`LoginError` (``bad_credentials`` 401 for an unknown number and
        a wrong PIN alike, ``session_closed`` 403 only with the right PIN,
        ``terminal_locked`` 409).
        """
        self._last_login = time.monotonic()
        if not p.valid_terminal_id(terminal_id):
            raise LoginError("bad_field", 400, "terminal_id is invalid")
        found = await anyio.to_thread.run_sync(
            self._check_login, registration_number, pin, session_token, source
        )
        if isinstance(found, (LoginError, Throttled)):
            raise found
        candidate_id, session_id, exam_id, attempt_id = (
            found.candidate_id,
            found.session_id,
            found.exam_id,
            found.attempt_id,
        )
        if attempt_id is None:
            attempt_id = await self._ensure_attempt(candidate_id, session_id, exam_id, terminal_id)
        elif (
            found.loaded is not None
            and attempt_id not in self.live
            and attempt_id not in self._loading
        ):
            # Read with the credentials; a copy loaded meanwhile by another
            # login of this attempt wins (it may hold newer answers).
            self.live[attempt_id] = found.loaded
        la = await self.get(attempt_id)
        async with la.lock:
            if la.terminal_id not in (None, terminal_id) and not la.terminal_released:
                self.bus.publish(
                    LiveEvent(
                        "second_login",
                        la.session_id,
                        la.id,
                        la.registration_number,
                        data={"terminal_id": terminal_id, "bound_terminal": la.terminal_id},
                    )
                )
                await self.committer.submit(
                    lambda conn: audit.append(
                        conn,
                        "second_login",
                        f"candidate:{la.registration_number}",
                        session_id=la.session_id,
                        attempt_id=la.id,
                        data={"terminal_id": terminal_id, "bound_terminal": la.terminal_id},
                    )
                )
                raise LoginError("terminal_locked", 409)
            if la.terminal_id != terminal_id or la.terminal_released:
                old = la.conn
                await self._write_attempt(
                    la,
                    {"terminal_id": terminal_id, "terminal_released": False},
                    "bind_terminal",
                    f"candidate:{la.registration_number}",
                    data={"terminal_id": terminal_id, "previous": la.terminal_id},
                )
                la.terminal_id, la.terminal_released = terminal_id, False
                if old is not None and old.terminal_id != terminal_id:
                    la.conn = None
                    await old.send(p.error_frame(p.ProtocolError("replaced")))
                    await old.close(p.CLOSE_POLICY, "terminal released")
        self.bus.publish(
            LiveEvent(
                "login",
                la.session_id,
                la.id,
                la.registration_number,
                data={"terminal_id": terminal_id, "n_items": la.exam.n_items},
            )
        )
        token = self.signer.candidate_token(
            CandidateClaims(
                la.candidate_id, la.id, la.session_id, terminal_id, la.registration_number
            )
        )
        return token, la, found.formation

    def _check_login(
        self, registration_number: str, pin: str, session_token: str, source: str
    ) -> LoginCheck | LoginError | Throttled:
        """One query for everything a login decides on (candidate, session,
        PIN, attempt, formation): in the login rush every statement counts.
        The back-off is read, counted and cleared on the same connection (on
        PostgreSQL one statement more, no thread hop more)."""
        limits = self.limits
        with self.engine.connect() as conn:
            try:
                had_failures = limits.check_on(conn, "pin", registration_number, source)
            except Throttled as exc:
                return exc
            row = conn.execute(_LOGIN_QUERY, {"reg": registration_number}).first()
            found = self._checked(pin, session_token, row)
            if isinstance(found, LoginError):
                if found.code == "bad_credentials":
                    limits.failed_on(conn, "pin", registration_number, source)
            elif had_failures:
                limits.succeeded_on(conn, "pin", registration_number, source)
            if (
                isinstance(found, LoginCheck)
                and found.attempt_id is not None
                and found.attempt_id not in self.live
            ):
                found = dataclasses.replace(found, loaded=self._load_on(conn, found.attempt_id))
        return found

    def _checked(self, pin: str, session_token: str, row: Any) -> LoginCheck | LoginError:
        """The credentials check on the login query's row (None: no such candidate)."""
        bad = LoginError("bad_credentials", 401, "registration number, PIN or token is wrong")
        key = self.settings.secret_key
        no_pin = "0" * 64  # a MAC no PIN has: the check runs and fails
        if row is None:
            # The same HMAC and compare as for a known number, so neither the
            # answer nor its time tells whether the number exists.
            check_pin(key, 0, 0, pin.strip(), no_pin)
            _same(session_token.strip().upper(), "")
            return bad
        (cid, sid, status, sess_token, exam_id, pin_mac, aid, f_code, f_pos, f_agency, f_loc) = row
        pin_ok = check_pin(key, sid, cid, pin.strip(), pin_mac or no_pin) and pin_mac is not None
        token_ok = _same(session_token.strip().upper(), sess_token or "")
        if not pin_ok:
            return bad  # closed session or not: a wrong PIN learns nothing
        if status != "open" or not sess_token:
            # Only the right PIN may learn that the session is over.
            return LoginError("session_closed", 403)
        if not token_ok:
            return bad
        formation = (
            None
            if f_code is None
            else {"code": f_code, "position": f_pos, "agency": f_agency, "location": f_loc}
        )
        attempt = None if aid is None else int(aid)
        return LoginCheck(int(cid), int(sid), int(exam_id), attempt, formation)

    # --- preparing attempts ahead of the login rush ----------------------------

    def spawn_prepare(self, session_id: int) -> None:
        """Assemble every scheduled candidate's test in the background (see
        :meth:`prepare_session`); logins that come first build their own."""
        task = asyncio.create_task(self.prepare_session(session_id), name=f"prepare-{session_id}")
        self._prepare_tasks.add(task)
        task.add_done_callback(self._prepare_tasks.discard)

    async def prepare_session(self, session_id: int) -> int:
        """Create the attempts (assembled forms, first adaptive items) of every
        candidate of the session who has none yet; returns how many were made.

        A linear form is assembled by an optimisation that takes a fraction of
        a second: doing it when the session opens, one at a time in a worker
        thread, keeps the login rush at the start down to a PIN check and a
        token signature per candidate.
        """

        def todo() -> list[tuple[int, int]]:
            with Session(self.engine) as s:
                sess = s.get(ExamSession, session_id)
                if sess is None:
                    return []
                have = select(ATTEMPT.c.candidate_id).where(ATTEMPT.c.session_id == session_id)
                rows = s.execute(
                    select(Candidate.id).where(  # type: ignore[call-overload]
                        Candidate.session_id == session_id,
                        Candidate.id.not_in(have),  # type: ignore[union-attr]
                    )
                ).all()
                return [(int(r[0]), sess.exam_id) for r in rows]

        made = 0
        for candidate_id, exam_id in await anyio.to_thread.run_sync(todo):
            key = (session_id, candidate_id)
            if key in self._created or key in self._creating:
                continue  # the candidate logged in first
            try:
                await self._ensure_attempt(candidate_id, session_id, exam_id, None)
                made += 1
            except LoginError:
                break  # the exam cannot be assembled: logins will report it
        return made

    async def _ensure_attempt(
        self, candidate_id: int, session_id: int, exam_id: int, terminal_id: str | None
    ) -> int:
        """The candidate's attempt, assembling it once even when the background
        preparation and the candidate's own login ask for it at the same time."""
        key = (session_id, candidate_id)
        if key in self._created:
            return self._created[key]
        pending = self._creating.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        fut.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved
        self._creating[key] = fut
        try:
            aid = await self._create_attempt(candidate_id, session_id, exam_id, terminal_id)
        except BaseException as exc:
            fut.set_exception(exc)
            raise
        finally:
            self._creating.pop(key, None)
        self._created[key] = aid
        fut.set_result(aid)
        return aid

    async def _create_attempt(
        self, candidate_id: int, session_id: int, exam_id: int, terminal_id: str | None
    ) -> int:
        exam = await anyio.to_thread.run_sync(self.exam_data, exam_id)
        seed = random.SystemRandom().randrange(2**31)
        # Assembling a form may take a while (shadow tests): not on the loop.
        try:
            state = await anyio.to_thread.run_sync(cat.start, exam.design, exam.bank, seed)
        except EngineError as exc:
            log.error("cannot start an attempt of exam %s: %s", exam.code, exc)
            raise LoginError(
                "internal", 500, "the exam cannot be started; call the proctor"
            ) from None
        now = self.clock.now()
        values = {
            "session_id": session_id,
            "candidate_id": candidate_id,
            "status": "running",
            "seed": seed,
            "state_json": _state_json(state),
            "last_seq": 0,
            "response_head": "",
            "terminal_id": terminal_id,
            "terminal_released": False,
            "remaining_at_start": exam.time_limit_seconds,
            "running_since": None,
            "deadline_at": None,
            "last_seen_at": now,
            "started_at": 0.0,  # set when the clock first starts
        }

        def write(conn: Connection) -> int:
            try:
                with conn.begin_nested():
                    res = conn.execute(insert(ATTEMPT).values(**values))
                    aid = int(res.inserted_primary_key[0])  # type: ignore[index]
            except IntegrityError:  # a concurrent login created it first
                existing = conn.execute(
                    select(ATTEMPT.c.id).where(
                        ATTEMPT.c.session_id == session_id, ATTEMPT.c.candidate_id == candidate_id
                    )
                ).scalar_one()
                return int(existing)
            audit.append(
                conn,
                "start",
                f"candidate:{candidate_id}",
                session_id=session_id,
                attempt_id=aid,
                data={"seed": seed, "terminal_id": terminal_id},
            )
            return aid

        return await self.committer.submit(write)

    # --- terminal connection ---------------------------------------------------

    async def hello(self, conn: Terminal, msg: p.Hello) -> LiveAttempt:
        try:
            claims = self.signer.read_candidate(msg.token)
        except Exception as exc:
            code = getattr(exc, "code", "bad_token")
            raise p.ProtocolError(code if code in p.ERROR_CODES else "bad_token") from None
        if claims.terminal_id != msg.terminal_id:
            raise p.ProtocolError("wrong_terminal")
        try:
            la = await self.get(claims.attempt_id)
        except KeyError:
            raise p.ProtocolError("bad_token", "no such attempt") from None
        async with la.lock:
            if la.terminal_id != claims.terminal_id:
                raise p.ProtocolError(
                    "wrong_terminal" if not la.terminal_released else "terminal_locked"
                )
            if la.terminal_released:
                raise p.ProtocolError("terminal_locked", "released: log in again with your PIN")
            old = la.conn
            la.conn = conn
            la.disconnected_at = None
            if old is not None and old is not conn:
                await old.send(p.error_frame(p.ProtocolError("replaced")))
                await old.close(p.CLOSE_POLICY, "replaced")
            now = self.clock.now()
            if la.status == "running" and la.running_since is None:
                await self._set_clock(la, now, "clock_start", f"terminal:{conn.terminal_id}")
        self.bus.publish(
            LiveEvent(
                "connect",
                la.session_id,
                la.id,
                la.registration_number,
                data={
                    "terminal_id": conn.terminal_id,
                    "deadline_at": la.deadline_at,
                    "remaining": la.remaining(self.clock.now()),
                    "n_items": la.exam.n_items,
                    "answered": len(la.answers),
                },
            )
        )
        return la

    async def disconnected(self, la: LiveAttempt, conn: Terminal) -> None:
        if la.conn is not conn:
            return
        la.conn = None
        la.disconnected_at = self.clock.now()
        if la.dirty:
            await self._store_navigation(la)
        self.bus.publish(
            LiveEvent(
                "disconnect",
                la.session_id,
                la.id,
                la.registration_number,
                data={
                    "terminal_id": conn.terminal_id,
                    "grace_seconds": self.settings.grace_seconds,
                },
            )
        )

    # --- frames ----------------------------------------------------------------

    def item_frame(self, la: LiveAttempt, number: int) -> dict[str, Any]:
        idx = la.index_of(number)
        it = la.exam.items[idx]
        return p.frame(
            "item",
            number=number,
            subtest=it.subtest,
            stem=it.stem,
            stem_format=it.stem_format,
            options=list(it.options),
            answer=la.answers.get(number, -1),
            flagged=la.flags.get(number, False),
        )

    def state_frame(self, la: LiveAttempt) -> dict[str, Any]:
        now = self.clock.now()
        cur = la.number_of(cat.current(la.state)) if la.status in ACTIVE else None
        subtests = la.exam.bank.subtest_codes
        bank_sub = la.exam.bank.subtest
        return p.frame(
            "state",
            attempt_id=la.id,
            registration_number=la.registration_number,
            name=la.name,
            exam=la.exam.name,
            mode=la.exam.mode,
            status=la.status,
            server_time=now,
            remaining_seconds=round(la.remaining(now), 3),
            deadline=la.deadline_at,
            clock_running=la.running_since is not None,
            last_seq=la.last_seq,
            n_items=la.exam.n_items,
            sections=la.exam.sections(),
            map=[
                {
                    "number": i + 1,
                    "subtest": subtests[int(bank_sub[idx])],
                    "answered": (i + 1) in la.answers,
                    "flagged": la.flags.get(i + 1, False),
                }
                for i, idx in enumerate(la.presented)
            ],
            current=self.item_frame(la, cur) if cur is not None else None,
        )

    def time_frame(self, la: LiveAttempt) -> dict[str, Any]:
        now = self.clock.now()
        return p.frame(
            "time",
            server_time=now,
            remaining_seconds=round(la.remaining(now), 3),
            deadline=la.deadline_at,
            clock_running=la.running_since is not None,
            status=la.status,
        )

    # --- candidate actions -----------------------------------------------------

    def _check_active(self, la: LiveAttempt, now: float) -> None:
        if la.status == "finished":
            raise p.ProtocolError("attempt_finished")
        if la.status == "void":
            raise p.ProtocolError("attempt_void")
        if la.status == "paused":
            raise p.ProtocolError("attempt_paused")
        if la.running_since is not None and la.remaining(now) <= 0:
            raise p.ProtocolError("time_up")

    def _check_seq(self, la: LiveAttempt, seq: int) -> bool:
        """True if ``seq`` was already acknowledged (a duplicate)."""
        if seq <= la.last_seq:
            return True
        if seq != la.last_seq + 1:
            raise p.ProtocolError(
                "out_of_order", f"expected seq {la.last_seq + 1}, got {seq}", ref=seq
            )
        return False

    async def answer(self, la: LiveAttempt, msg: p.Answer) -> list[dict[str, Any]]:
        """Store an answer, then acknowledge it (adaptive: with the next item)."""
        finished = False
        async with la.lock:
            if msg.seq <= la.last_seq:
                return [p.frame("ack", seq=msg.seq, duplicate=True)]
            now = self.clock.now()
            self._check_active(la, now)
            self._check_seq(la, msg.seq)
            idx = self._checked_index(la, msg.number, msg.seq)
            n_opt = int(la.exam.bank.n_options[idx])
            if msg.option >= n_opt:
                raise p.ProtocolError(
                    "bad_option", f"item {msg.number} has {n_opt} options", msg.seq
                )
            adaptive = la.exam.mode == "adaptive"
            flagged = la.flags.get(msg.number, False) if msg.flagged is None else msg.flagged
            if adaptive:
                flagged = False
            # The engine counts time from the server's clock, never the
            # terminal's report (kept in the response row for analysis).
            since = max(la.last_event_at, la.running_since or now)
            server_elapsed = max(0.0, now - since) if la.running_since is not None else 0.0
            # The server's deadline (with proctor extensions) decides when time
            # is up; keep the engine's own counter below the design's limit so
            # that an extension is never cut short by the engine.
            limit = la.exam.design.time_limit_seconds
            if limit is not None:
                used = float(getattr(la.state, "time_used", 0.0))
                server_elapsed = min(server_elapsed, max(0.0, float(limit) - used - 0.001))
            try:
                new_state = cat.record(
                    la.state, la.exam.bank, idx, msg.option, flagged=flagged, elapsed=server_elapsed
                )
            except EngineError as exc:
                raise p.ProtocolError(_engine_code(exc), exc.message, msg.seq) from None
            await self._store_response(
                la,
                msg.seq,
                "answer",
                msg.number,
                idx,
                msg.option,
                flagged,
                msg.elapsed,
                new_state,
                now,
            )
            if msg.option >= 0:
                la.answers[msg.number] = msg.option
            else:
                la.answers.pop(msg.number, None)
            la.flags[msg.number] = flagged
            la.last_event_at = now
            ack = p.frame("ack", seq=msg.seq, duplicate=False, number=msg.number)
            out = [ack]
            finished = cat.is_complete(la.state)
            if adaptive:
                nxt = la.number_of(cat.current(la.state))
                if nxt is not None and not finished:
                    out.append(self.item_frame(la, nxt))
            points = cat.running_points(la.state, la.exam.bank)
        self.bus.publish(
            LiveEvent(
                "answer",
                la.session_id,
                la.id,
                la.registration_number,
                at=now,
                data={
                    "number": msg.number,
                    "item": idx,
                    "item_id": la.exam.bank.item_ids[idx],
                    "option": msg.option,
                    "flagged": flagged,
                    "elapsed": msg.elapsed,
                    "answered": len(la.answers),
                    "n_items": la.exam.n_items,
                    "points": {k: float(v) for k, v in points.items()},
                    "total": float(sum(points.values())),
                },
            )
        )
        if finished:
            final = await self.finish(la, "complete", f"candidate:{la.registration_number}")
            if final is not None:
                out.append(final)
        return out

    def _checked_index(self, la: LiveAttempt, number: int, seq: int | None) -> int:
        try:
            return la.index_of(number)
        except p.ProtocolError as exc:
            exc.ref = seq
            raise

    async def flag(self, la: LiveAttempt, msg: p.Flag) -> list[dict[str, Any]]:
        async with la.lock:
            if msg.seq <= la.last_seq:
                return [p.frame("ack", seq=msg.seq, duplicate=True)]
            now = self.clock.now()
            self._check_active(la, now)
            if la.exam.mode != "linear":
                raise p.ProtocolError("not_allowed", "no doubtful flags in adaptive mode", msg.seq)
            self._check_seq(la, msg.seq)
            idx = self._checked_index(la, msg.number, msg.seq)
            try:
                new_state = cat.flag(la.state, idx, msg.flagged)
            except EngineError as exc:
                raise p.ProtocolError(_engine_code(exc), exc.message, msg.seq) from None
            option = la.answers.get(msg.number, -1)
            await self._store_response(
                la, msg.seq, "flag", msg.number, idx, option, msg.flagged, 0.0, new_state, now
            )
            la.flags[msg.number] = msg.flagged
        self.bus.publish(
            LiveEvent(
                "flag",
                la.session_id,
                la.id,
                la.registration_number,
                at=now,
                data={"number": msg.number, "item": idx, "flagged": msg.flagged},
            )
        )
        return [p.frame("ack", seq=msg.seq, duplicate=False, number=msg.number)]

    async def navigate(self, la: LiveAttempt, msg: p.Navigate) -> list[dict[str, Any]]:
        async with la.lock:
            self._check_active(la, self.clock.now())
            if la.exam.mode != "linear":
                raise p.ProtocolError("not_allowed", "adaptive tests do not navigate")
            idx = la.index_of(msg.number)
            try:
                la.state = cat.navigate(la.state, idx)
            except EngineError as exc:
                raise p.ProtocolError(_engine_code(exc), exc.message) from None
            la.dirty = True
            frame = self.item_frame(la, msg.number)
        self.bus.publish(
            LiveEvent(
                "navigate",
                la.session_id,
                la.id,
                la.registration_number,
                data={"number": msg.number, "item": idx},
            )
        )
        return [frame]

    async def _store_response(
        self,
        la: LiveAttempt,
        seq: int,
        kind: str,
        number: int,
        idx: int,
        option: int,
        flagged: bool,
        elapsed: float,
        new_state: TestState,
        now: float,
    ) -> None:
        row: dict[str, Any] = {
            "attempt_id": la.id,
            "seq": seq,
            "kind": kind,
            "number": number,
            "item_id": la.exam.bank.item_ids[idx],
            "option": option,
            "flagged": flagged,
            "elapsed": elapsed,
            "at": round(now, 6),
            "prev_hash": la.response_head,
        }
        head = audit.response_hash(la.response_head, row)
        row["hash"] = head
        state_json = _state_json(new_state)

        values = {
            "state_json": state_json,
            "last_seq": seq,
            "response_head": head,
            "last_seen_at": now,
        }
        try:
            # Grouped with the other answers of this moment into one transaction;
            # the guard (scale-out) locks the attempt across processes and
            # refuses a stale copy (see check_attempt_guards).
            await self.committer.submit_rows(
                [(RESPONSE, row)], [(ATTEMPT, la.id, values)], guard=(la.id, la.last_seq)
            )
        except Exception as exc:
            log.warning("answer of attempt %s seq %s not stored: %s", la.id, seq, exc)
            if getattr(exc, "stale", False):  # another process moved the attempt on
                self.live.pop(la.id, None)
                stale_conn, la.conn = la.conn, None
                if stale_conn is not None:  # the terminal reconnects and reloads
                    await stale_conn.close(p.CLOSE_POLICY, "replaced")
            raise p.ProtocolError("unavailable", ref=seq) from None
        old_step, la.state = la.state.step, new_state
        la.last_seq = seq
        la.response_head = head
        la.dirty = False
        if new_state.step != old_step:  # step counts presented items: linear never moves it
            la.refresh()

    async def _store_navigation(self, la: LiveAttempt) -> None:
        state_json = _state_json(la.state)

        def write(conn: Connection) -> None:
            conn.execute(update(ATTEMPT).where(ATTEMPT.c.id == la.id).values(state_json=state_json))

        with contextlib.suppress(Exception):
            await self.committer.submit(write)
            la.dirty = False

    # --- finishing -------------------------------------------------------------

    def _final_frame(
        self,
        score: dict[str, Any],
        passed: bool | None,
        reasons: dict[str, str | None],
        why: str | None,
    ) -> dict[str, Any]:
        """The ``final`` frame. ``reasons``: the pass/fail reason by language
        (``"id"``, ``"en"``); ``pass_reason`` stays the English text that
        version-1 clients have always read, ``pass_reasons`` carries both."""
        return p.frame(
            "final",
            reason=why,
            sections=[
                {
                    "code": s["code"],
                    "points": s["points"],
                    "max_points": s["max_points"],
                    "n_answered": s.get("n_answered"),
                    "n_items": s.get("n_items"),
                }
                for s in score.get("sections", [])
            ],
            total=score.get("total"),
            passed=passed,
            pass_reason=reasons.get("en"),
            pass_reasons=reasons,
        )

    def pass_fail(self, category: str, score: dict[str, Any]) -> tuple[bool | None, str]:
        """Whether ``score`` passes for ``category``, and why in English (stored)."""
        passed, reasons = self.pass_fail_reasons(category, score)
        return passed, reasons["en"]

    def pass_fail_reasons(
        self, category: str, score: dict[str, Any]
    ) -> tuple[bool | None, dict[str, str]]:
        """Whether ``score`` passes for ``category``, and why: ``{"id": …, "en": …}``
        (Bahasa Indonesia for the candidate first, English beside it)."""
        try:
            from exam_server.results import rules
        except ImportError:
            return None, {
                "id": "Kebijakan kelulusan tidak tersedia.",
                "en": "no ranking policy available",
            }
        if self._policy is None:
            self._policy = rules.RankingPolicy.default_2024()
        points = {s["code"]: s["points"] for s in score.get("sections", [])}
        try:
            ok, why_en = rules.passes(self._policy, category, points, lang="en")
            _, why_id = rules.passes(self._policy, category, points, lang="id")
        except ValueError as exc:
            # The policy's message is for staff (English); the candidate gets
            # a plain Indonesian sentence and the staff text beside it.
            return None, {"id": "Kelulusan belum dapat ditentukan.", "en": str(exc)}
        return bool(ok), {"id": str(why_id), "en": str(why_en)}

    def _stored_reasons(
        self, category: str, score: dict[str, Any], stored: str | None
    ) -> dict[str, str | None]:
        """Both reasons of a finished attempt loaded from the database, where only
        the English one is stored: recomputed from the stored points (the policy
        is a pure function of them). If the recomputed English text differs from
        the stored one (the policy changed since), the stored one is the record
        and no Indonesian text is offered (clients fall back to ``pass_reason``)."""
        _, reasons = self.pass_fail_reasons(category, score)
        if reasons["en"] != stored:
            return {"id": None, "en": stored}
        return dict(reasons)

    async def finish(self, la: LiveAttempt, reason: str, actor: str) -> dict[str, Any] | None:
        """End the attempt: score it, store and publish the result; returns the final frame."""
        async with la.lock:
            if la.status not in ACTIVE:
                return la.finish
            now = self.clock.now()
            remaining = la.remaining(now) if la.running_since is not None else la.remaining_at_start
            final_state = cat.finish(la.state, reason)
            score = cat.score(final_state, la.exam.bank).to_dict()
            state_json = _state_json(final_state)
            passed, reasons = self.pass_fail_reasons(la.category, score)
            why = reasons["en"]
            total = float(score.get("total", 0.0))
            score_json = json.dumps(score, separators=(",", ":"))
            head = la.response_head

            def write(conn: Connection) -> None:
                conn.execute(
                    update(ATTEMPT)
                    .where(ATTEMPT.c.id == la.id)
                    .values(
                        status="finished",
                        state_json=state_json,
                        finished_at=now,
                        finish_reason=reason,
                        score_json=score_json,
                        total_points=total,
                        passed=passed,
                        pass_reason=why,
                        remaining_at_start=remaining,
                        running_since=None,
                        deadline_at=None,
                    )
                )
                audit.append(
                    conn,
                    "finish",
                    actor,
                    session_id=la.session_id,
                    attempt_id=la.id,
                    reason=reason,
                    data={"response_head": head, "total": total, "passed": passed, "score": score},
                    at=now,
                )

            await self.committer.submit(write)
            la.status = "finished"
            la.state = final_state
            la.remaining_at_start, la.running_since = remaining, None
            la.finish = self._final_frame(score, passed, dict(reasons), reason)
            conn = la.conn
        self.bus.publish(
            LiveEvent(
                "finish",
                la.session_id,
                la.id,
                la.registration_number,
                at=now,
                data={
                    "reason": reason,
                    "total": total,
                    "points": {s["code"]: s["points"] for s in score.get("sections", [])},
                    "passed": passed,
                    "category": la.category,
                },
            )
        )
        if conn is not None and reason != "complete" and not actor.startswith("candidate:"):
            await conn.send(la.finish)
        return la.finish

    # --- clock -----------------------------------------------------------------

    async def _set_clock(
        self,
        la: LiveAttempt,
        running_since: float | None,
        kind: str,
        actor: str,
        at: float | None = None,
    ) -> None:
        """Start (``running_since`` = now) or stop (None, as of ``at``) the clock.

        The caller holds the attempt's lock."""
        if running_since is None:
            stop_at = self.clock.now() if at is None else at
            remaining = la.remaining(stop_at)
            values = {"remaining_at_start": remaining, "running_since": None, "deadline_at": None}
        else:
            remaining = la.remaining_at_start
            values = {
                "remaining_at_start": remaining,
                "running_since": running_since,
                "deadline_at": running_since + remaining,
                "last_seen_at": running_since,
            }
            if not la.started_at:
                values["started_at"] = running_since

        def write(conn: Connection) -> None:
            conn.execute(update(ATTEMPT).where(ATTEMPT.c.id == la.id).values(**values))

        await self.committer.submit(write)
        la.remaining_at_start = remaining
        la.running_since = running_since
        if running_since is not None:
            la.last_event_at = running_since
            la.started_at = la.started_at or running_since

    async def _write_attempt(
        self,
        la: LiveAttempt,
        values: dict[str, Any],
        kind: str,
        actor: str,
        reason: str = "",
        data: dict[str, Any] | None = None,
    ) -> None:
        def write(conn: Connection) -> None:
            if values:
                conn.execute(update(ATTEMPT).where(ATTEMPT.c.id == la.id).values(**values))
            audit.append(
                conn,
                kind,
                actor,
                session_id=la.session_id,
                attempt_id=la.id,
                reason=reason,
                data=data or {},
            )

        await self.committer.submit(write)

    # --- periodic work ---------------------------------------------------------

    async def sweep(self, now: float) -> None:
        """End attempts past their deadline; stop clocks of terminals gone past the grace."""
        grace = self.settings.grace_seconds
        for la in list(self.live.values()):
            if la.status != "running":
                if la.conn is None and la.status in ("finished", "void"):
                    self.live.pop(la.id, None)
                continue
            deadline = la.deadline_at
            if la.conn is None and la.disconnected_at is not None and la.running_since is not None:
                stop_at = max(la.disconnected_at + grace, la.running_since)
                if deadline is not None and deadline <= stop_at and deadline <= now:
                    await self.finish(la, "time_up", "server")
                elif stop_at <= now:
                    async with la.lock:
                        if (
                            la.conn is None
                            and la.running_since is not None
                            and la.status == "running"
                        ):
                            await self._set_clock(la, None, "clock_stop", "server", at=stop_at)
                continue
            if deadline is not None and deadline <= now:
                await self.finish(la, "time_up", "server")

    async def sweep_database(self, now: float) -> None:
        """Attempts with a running clock not kept alive by any process (e.g. after
        a crash): stop their clocks as of (last moment seen alive) + grace, or end
        them if the deadline came first. Seen alive: the latest of the presence
        mark (``exam_presence``), ``last_seen_at`` (answers, clock) and the
        attempt's last stored answer (``exam_response.at``)."""
        grace = self.settings.grace_seconds
        # Why the answers too: the presence flush (last_seen_at) can lag behind
        # schedule under load, and a flush queued behind the group commit can
        # overwrite a newer last_seen_at with its older tick time. Every answer
        # row is committed with its own time and never updated, so the last one
        # proves the terminal was alive then; without it a crashed server handed
        # candidates seconds of extra time (docs/reliability.md, issue 8).
        # Navigation is not stored with a time, so it cannot count.
        last_answer = (
            select(func.max(RESPONSE.c.at))
            .where(RESPONSE.c.attempt_id == ATTEMPT.c.id)
            .scalar_subquery()
        )
        marked = PRESENCE.c.last_seen_at

        def find(conn: Connection) -> list[Any]:
            rows = conn.execute(
                select(
                    ATTEMPT.c.id, ATTEMPT.c.last_seen_at, marked, ATTEMPT.c.deadline_at, last_answer
                )
                .select_from(ATTEMPT.outerjoin(PRESENCE, PRESENCE.c.attempt_id == ATTEMPT.c.id))
                .where(
                    ATTEMPT.c.status == "running",
                    ATTEMPT.c.running_since.is_not(None),
                    ATTEMPT.c.last_seen_at < now - grace,
                    or_(marked.is_(None), marked < now - grace),
                )
            ).all()
            return [
                (aid, max(seen, mark or 0.0), deadline, answered)
                for aid, seen, mark, deadline, answered in rows
            ]

        def read() -> list[Any]:
            with self.engine.connect() as conn:
                return find(conn)

        for aid, last_seen, deadline, answered_at in await anyio.to_thread.run_sync(read):
            stop_at = max(last_seen, answered_at or 0.0) + grace
            if stop_at > now:  # answered recently: not gone past the grace yet
                continue
            la = self.live.get(aid)
            if la is not None and la.conn is not None:
                continue
            la = await self.get(aid)
            if deadline is not None and deadline <= min(stop_at, now):
                await self.finish(la, "time_up", "server")
                continue
            async with la.lock:
                if la.conn is None and la.running_since is not None and la.status == "running":
                    await self._set_clock(la, None, "clock_stop", "server", at=stop_at)

    async def flush_presence(self, now: float) -> None:
        """Mark attempts with a connected terminal as seen now (``exam_presence``,
        one executemany), and store navigation not yet stored.

        A mark only moves forward: a flush queued behind the group commit
        carries the time of its tick, which can be older than a mark already
        stored; writing it blindly would make the terminal look gone earlier
        than it was and give time back after a crash (docs/reliability.md,
        "Reading the drill table")."""
        ids = [la.id for la in self.live.values() if la.conn is not None]
        dirty = [la for la in self.live.values() if la.dirty and la.conn is not None]
        if not ids:
            return
        states = {la.id: _state_json(la.state) for la in dirty}

        def write(conn: Connection) -> None:
            presence.mark_seen(conn, ids, now)
            for aid, sj in states.items():
                conn.execute(update(ATTEMPT).where(ATTEMPT.c.id == aid).values(state_json=sj))

        await self.committer.submit(write)
        for la in dirty:
            la.dirty = False

    # --- proctor actions ---------------------------------------------------------

    async def act(
        self, attempt_id: int, action: str, actor: str, reason: str, seconds: float = 0.0
    ) -> dict[str, Any]:
        """pause | resume | extend | release | void | note on one attempt (audited)."""
        la = await self.get(attempt_id)
        now = self.clock.now()
        data: dict[str, Any] = {}
        async with la.lock:
            if action != "note" and la.status not in ACTIVE:
                raise ActionError("attempt_finished", f"attempt is {la.status}")
            if action == "pause":
                if la.status != "running":
                    raise ActionError("not_running", "attempt is not running")
                if la.running_since is not None:
                    await self._set_clock(la, None, "clock_stop", actor, at=now)
                await self._write_attempt(la, {"status": "paused"}, "pause", actor, reason)
                la.status = "paused"
            elif action == "resume":
                if la.status != "paused":
                    raise ActionError("not_paused", "attempt is not paused")
                await self._write_attempt(la, {"status": "running"}, "resume", actor, reason)
                la.status = "running"
                if la.conn is not None:
                    await self._set_clock(la, now, "clock_start", actor)
                data["connected"] = la.conn is not None
            elif action == "extend":
                if not 0 < seconds <= 4 * 3600:
                    raise ActionError("bad_field", "seconds must be between 0 and 14400")
                la.remaining_at_start += seconds
                await self._write_attempt(
                    la, la.clock_values(), "extend", actor, reason, {"seconds": seconds}
                )
                data["seconds"] = seconds
            elif action == "release":
                await self._write_attempt(
                    la,
                    {"terminal_released": True},
                    "release",
                    actor,
                    reason,
                    {"terminal_id": la.terminal_id},
                )
                la.terminal_released = True
                data["terminal_id"] = la.terminal_id
            elif action == "void":
                remaining = la.remaining(now)
                await self._write_attempt(
                    la,
                    {
                        "status": "void",
                        "finished_at": now,
                        "finish_reason": "void",
                        "remaining_at_start": remaining,
                        "running_since": None,
                        "deadline_at": None,
                    },
                    "void",
                    actor,
                    reason,
                )
                la.status, la.remaining_at_start, la.running_since = "void", remaining, None
            elif action == "note":
                await self._write_attempt(la, {}, "note", actor, reason)
            else:
                raise ActionError("bad_action", f"unknown action {action!r}")
            conn = la.conn
            data.update(
                {
                    "reason": reason,
                    "actor": actor,
                    "deadline_at": la.deadline_at,
                    "remaining": la.remaining(now),
                    "status": la.status,
                }
            )
        self.bus.publish(LiveEvent(action, la.session_id, la.id, la.registration_number, data=data))
        if conn is not None:
            if action in ("pause", "resume", "extend"):
                await conn.send(self.time_frame(la))
                await conn.send(p.frame("notice", action=action))
            elif action == "void":
                await conn.send(p.error_frame(p.ProtocolError("attempt_void")))
                await conn.close(p.CLOSE_POLICY, "void")
            elif action == "release":
                la.conn = None
                await conn.send(p.error_frame(p.ProtocolError("replaced", "terminal released")))
                await conn.close(p.CLOSE_POLICY, "released")
        return {
            "attempt_id": la.id,
            "status": la.status,
            "remaining_seconds": la.remaining(now),
            "deadline": la.deadline_at,
            "terminal_released": la.terminal_released,
        }


def check_attempt_guards(conn: Connection, guards: list[tuple[int, int]]) -> dict[int, Exception]:
    """The group committer's guard for answers: lock each attempt (PostgreSQL
    advisory lock, in id order so two processes never deadlock) and refuse
    writes from a copy whose ``last_seq`` is not the database's or whose
    attempt is no longer running (``exam_server.scaleout.locks``)."""
    expected = dict(guards)
    ids = sorted(expected)
    found = read_attempts_locked(conn, ids)
    refused: dict[int, Exception] = {}
    for aid in ids:
        seq_status = found.get(aid)
        if seq_status is None:
            refused[aid] = StaleAttempt(aid, expected[aid], None, "missing")
        elif seq_status[0] != expected[aid] or seq_status[1] != "running":
            refused[aid] = StaleAttempt(aid, expected[aid], seq_status[0], seq_status[1])
    return refused


def _same(a: str, b: str) -> bool:
    import hmac

    return hmac.compare_digest(a.encode(), b.encode())


def _engine_code(exc: EngineError) -> str:
    return ENGINE_CODES.get(exc.code, "bad_field")
