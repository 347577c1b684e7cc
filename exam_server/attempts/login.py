"""A candidate's login, and the attempts prepared before the login rush.

A login checks the credentials (one statement), makes or finds the attempt
(assembled when the session opened, :func:`prepare_session`), binds the
terminal and signs a candidate token bound to candidate, attempt and
terminal.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import logging
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from cat_engine import engine as cat
from cat_engine.errors import EngineError
from cat_engine.exposure import ExposureUsage
from cat_engine.state import TestState
from exam_server import audit, state_codec
from exam_server import protocol as p
from exam_server.attempts import places, storage
from exam_server.attempts.state import LiveAttempt, LoginError
from exam_server.auth import CandidateClaims, check_pin
from exam_server.events import LiveEvent
from exam_server.forensics import forms
from exam_server.limits import Throttled
from exam_server.models import Candidate, ExamSession
from exam_server.scaleout.locks import PrepareClaims
from exam_server.usage import take_back_usage

if TYPE_CHECKING:
    from exam_server.attempts.service import AttemptService
    from exam_server.terminal_passes import PassRegistry, TerminalPass

log = logging.getLogger(__name__)
ATTEMPT = storage.ATTEMPT


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


async def login(
    svc: AttemptService,
    registration_number: str,
    pin: str,
    session_token: str,
    terminal_id: str,
    source: str = "unknown",
    terminal_pass: TerminalPass | None = None,
    passes: PassRegistry | None = None,
) -> tuple[str, LiveAttempt, dict[str, Any] | None]:
    """Check a candidate's credentials; return a candidate token, the attempt
    and the candidate's formation (``code``, ``position``, ``agency``,
    ``location``; None if unassigned).

    source: the client's address as a limit key
    (:func:`exam_server.limits.request_source`). terminal_pass: the
    terminal's pass, its signature and expiry already checked
    (:func:`exam_server.terminal_passes.verify`); unless ``passes`` says it
    is revoked, the back-off over every account counts under it at this
    address instead of under the address alone. Raises
    :class:`~exam_server.limits.Throttled` (429 with ``retry_after``) and
    :class:`LoginError` (``bad_credentials`` 401 for an unknown number and
    a wrong PIN alike, ``session_closed`` 403 only with the right PIN,
    ``terminal_locked`` 409).
    """
    svc.mark_login()
    if not p.valid_terminal_id(terminal_id):
        raise LoginError("bad_field", 400, "terminal_id is invalid")
    found = await anyio.to_thread.run_sync(
        check_login, svc, registration_number, pin, session_token, source, terminal_pass, passes
    )
    if isinstance(found, (LoginError, Throttled)):
        raise found
    attempt_id = found.attempt_id
    if attempt_id is None:
        attempt_id = await ensure_attempt(
            svc, found.candidate_id, found.session_id, found.exam_id, terminal_id
        )
    elif found.loaded is not None:
        svc.adopt(found.loaded)
    la = await svc.get(attempt_id)
    await bind_terminal(svc, la, terminal_id)
    svc.bus.publish(
        LiveEvent(
            "login",
            la.session_id,
            la.id,
            la.registration_number,
            at=svc.clock.now(),
            data={"terminal_id": terminal_id, "n_items": la.exam.n_items},
        )
    )
    token = svc.signer.candidate_token(
        CandidateClaims(la.candidate_id, la.id, la.session_id, terminal_id, la.registration_number)
    )
    return token, la, found.formation


#: Seconds in which an attempt's refused second logins after a recorded one
#: are only counted (:func:`bind_terminal`).
SECOND_LOGIN_QUIET_SECONDS = 60.0


async def bind_terminal(svc: AttemptService, la: LiveAttempt, terminal_id: str) -> None:
    """Bind the attempt to ``terminal_id``: refused while another terminal holds
    it (until a proctor releases it); a released or first terminal binds."""
    async with la.lock:
        now = svc.clock.now()
        if la.terminal_id not in (None, terminal_id) and not la.terminal_released:
            # Recorded (audit event, live event, the proctor's alert) at most
            # once a SECOND_LOGIN_QUIET_SECONDS per attempt, with how many were
            # refused since: a candidate with their own PIN sent 300 a second
            # from other terminal ids, 6,000 audit rows and alerts in 20 s
            # (found by a review). Every one is refused all the same.
            last = la.second_login_at
            if last is not None and now - last < SECOND_LOGIN_QUIET_SECONDS:
                la.second_login_repeats += 1
                raise LoginError("terminal_locked", 409)
            data: dict[str, Any] = {"terminal_id": terminal_id, "bound_terminal": la.terminal_id}
            if la.second_login_repeats:
                data["repeats"] = la.second_login_repeats
            la.second_login_at, la.second_login_repeats = now, 0
            svc.bus.publish(
                LiveEvent(
                    "second_login", la.session_id, la.id, la.registration_number, at=now, data=data
                )
            )
            await svc.committer.submit(
                storage.write_attempt(
                    la, {}, "second_login", f"candidate:{la.registration_number}", data=data, at=now
                )
            )
            raise LoginError("terminal_locked", 409)
        if la.terminal_id != terminal_id or la.terminal_released:
            old = la.conn
            write = storage.write_attempt(
                la,
                {"terminal_id": terminal_id, "terminal_released": False},
                "bind_terminal",
                f"candidate:{la.registration_number}",
                data={"terminal_id": terminal_id, "previous": la.terminal_id},
                at=now,
            )
            first = la.terminal_id is None and la.last_seq == 0 and la.running_since is None
            held, exam_id, bank = la.state, la.exam.exam_id, la.exam.bank

            def bind(conn: Connection) -> TestState | None:
                write(conn)
                # A prepared test read before a retirement another process
                # patched: the stored form is the one the candidate gets.
                return forms.stored_if_patched(conn, exam_id, la.id, held, bank) if first else None

            stored = await svc.committer.submit(bind)
            if stored is not None:
                la.state = stored
                la.refresh()
            la.terminal_id, la.terminal_released = terminal_id, False
            if old is not None and old.terminal_id != terminal_id:
                la.conn = None
                await old.send(p.error_frame(p.ProtocolError("replaced")))
                await old.close(p.CLOSE_POLICY, "terminal released")


def check_login(
    svc: AttemptService,
    registration_number: str,
    pin: str,
    session_token: str,
    source: str,
    terminal_pass: TerminalPass | None = None,
    passes: PassRegistry | None = None,
) -> LoginCheck | LoginError | Throttled:
    """One query for everything a login decides on (candidate, session, PIN,
    attempt, formation): in the login rush every statement counts. The
    back-off is read, counted and cleared on the same connection (on
    PostgreSQL one statement more, no thread hop more). Thread side.

    The back-off's keys (docs/reliability.md, "Terminal passes"): the
    (number, address) key always; the every-account key under the terminal
    pass at this address (``pass:<id>@<address>``) when the login brings a
    pass that ``passes`` does not know as revoked, else under the address.
    A login without a usable pass is counted exactly as one without any."""
    limits = svc.limits
    with svc.engine.connect() as conn:
        shared = None
        if terminal_pass is not None and passes is not None:
            usable = passes.usable_on(conn, terminal_pass)
            shared = None if usable is None else usable.source(source)
        try:
            had_failures = limits.check_on(conn, "pin", registration_number, source, shared)
        except Throttled as exc:
            return exc
        row = conn.execute(storage.LOGIN_QUERY, {"reg": registration_number}).first()
        found = checked(svc.settings.secret_key, pin, session_token, row)
        if isinstance(found, LoginError):
            if found.code == "bad_credentials":
                limits.failed_on(conn, "pin", registration_number, source, shared)
        elif had_failures:
            limits.succeeded_on(conn, "pin", registration_number, source)
        if (
            isinstance(found, LoginCheck)
            and found.attempt_id is not None
            and found.attempt_id not in svc.live
        ):
            loaded, _ = svc.load_on(conn, found.attempt_id)
            found = dataclasses.replace(found, loaded=loaded)
    return found


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def checked(secret_key: str, pin: str, session_token: str, row: Any) -> LoginCheck | LoginError:
    """The credentials check on the login query's row (None: no such candidate)."""
    bad = LoginError("bad_credentials", 401, "registration number, PIN or token is wrong")
    no_pin = "0" * 64  # a MAC no PIN has: the check runs and fails
    if row is None:
        # The same HMAC and compare as for a known number, so neither the
        # answer nor its time tells whether the number exists.
        check_pin(secret_key, 0, 0, pin.strip(), no_pin)
        _same(session_token.strip().upper(), "")
        return bad
    (cid, sid, status, sess_token, exam_id, pin_mac, aid, f_code, f_pos, f_agency, f_loc) = row
    pin_ok = check_pin(secret_key, sid, cid, pin.strip(), pin_mac or no_pin) and pin_mac is not None
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


# --- preparing attempts ahead of the login rush ----------------------------------


def spawn_prepare(svc: AttemptService, session_id: int) -> None:
    """Assemble every scheduled candidate's test in the background (see
    :func:`prepare_session`); logins that come first build their own."""
    task = asyncio.create_task(prepare_session(svc, session_id), name=f"prepare-{session_id}")
    svc.prepare_tasks.add(task)
    task.add_done_callback(svc.prepare_tasks.discard)
    task.add_done_callback(_report)


def _report(task: asyncio.Task[int]) -> None:
    """Log a preparation that died (the database unreachable when it began):
    nothing is lost, the candidates' logins build their tests."""
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("%s failed; logins will build the tests", task.get_name(), exc_info=exc)


async def prepare_session(svc: AttemptService, session_id: int) -> int:
    """Create the attempts (assembled forms, first adaptive items) of every
    candidate of the session who has none yet; returns how many were made.

    A linear form is assembled by an optimisation that takes a fraction of
    a second: doing it when the session opens, one at a time in a worker
    thread, keeps the login rush at the start down to a PIN check and a
    token signature per candidate.
    """

    def todo() -> list[tuple[int, int]]:
        with Session(svc.engine) as s:
            sess = s.get(ExamSession, session_id)
            if sess is None:
                return []
            have = select(ATTEMPT.c.candidate_id).where(ATTEMPT.c.session_id == session_id)
            rows = s.execute(
                select(col(Candidate.id))
                .where(col(Candidate.session_id) == session_id, col(Candidate.id).not_in(have))
                # One order in every process: they meet at the claims and
                # split the session rather than each making all of it.
                .order_by(col(Candidate.id))
            ).all()
            return [(int(r[0]), sess.exam_id) for r in rows]

    def stored(candidate_id: int) -> bool:
        with svc.engine.connect() as conn:
            return (
                conn.execute(
                    select(ATTEMPT.c.id).where(
                        ATTEMPT.c.session_id == session_id, ATTEMPT.c.candidate_id == candidate_id
                    )
                ).first()
                is not None
            )

    made = 0
    # Other processes prepare the same session: each candidate's test is
    # assembled by whichever claims it first (exam_server.scaleout.locks).
    claims = await anyio.to_thread.run_sync(PrepareClaims, svc.engine)
    try:
        for candidate_id, exam_id in await anyio.to_thread.run_sync(todo):
            key = (session_id, candidate_id)
            if key in svc.created or key in svc.creating:
                continue  # the candidate logged in first
            if not await anyio.to_thread.run_sync(claims.claim, candidate_id):
                continue  # another process is making it
            try:
                if await anyio.to_thread.run_sync(stored, candidate_id):
                    continue  # another process made it since the list was read
                await ensure_attempt(svc, candidate_id, session_id, exam_id, None)
                made += 1
            except LoginError:
                break  # the exam cannot be assembled: logins will report it
            except Exception:
                # The database refused a write (it is down, say): the candidates
                # left build their tests when they log in, as without preparation.
                log.exception("session %s: preparing the tests stopped after %d", session_id, made)
                break
            finally:
                await anyio.to_thread.run_sync(claims.release, candidate_id)
    finally:
        await anyio.to_thread.run_sync(claims.close)
    return made


async def ensure_attempt(
    svc: AttemptService, candidate_id: int, session_id: int, exam_id: int, terminal_id: str | None
) -> int:
    """The candidate's attempt, assembling it once even when the background
    preparation and the candidate's own login ask for it at the same time."""
    key = (session_id, candidate_id)
    if key in svc.created:
        return svc.created[key]
    pending = svc.creating.get(key)
    if pending is not None:
        return await asyncio.shield(pending)
    fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    fut.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved
    svc.creating[key] = fut
    try:
        aid = await create_attempt(svc, candidate_id, session_id, exam_id, terminal_id)
    except BaseException as exc:
        fut.set_exception(exc)
        raise
    finally:
        svc.creating.pop(key, None)
    svc.created[key] = aid
    fut.set_result(aid)
    return aid


async def create_attempt(
    svc: AttemptService, candidate_id: int, session_id: int, exam_id: int, terminal_id: str | None
) -> int:
    """Start the engine (a linear form is assembled here) under the exam's
    exposure control and store the new attempt with the items it gives."""
    exam = await anyio.to_thread.run_sync(svc.exam_data, exam_id)
    seed = random.SystemRandom().randrange(2**31)

    # Under a hard exposure cap, tests of one exam start one at a time, each
    # seeing the items the previous ones took (counted here before their
    # commit; taken back if it fails): parallel starts from one snapshot of
    # the counts would all take the same last places.
    async def step(usage: ExposureUsage | None) -> tuple[TestState, None]:
        # Assembling a form may take a while (shadow tests): not on the loop.
        try:
            state = await anyio.to_thread.run_sync(
                lambda: cat.start(exam.design, exam.bank, seed, usage=usage)
            )
        except EngineError as exc:
            log.error("cannot start an attempt of exam %s: %s", exam.code, exc)
            raise LoginError(
                "internal", 500, "the exam cannot be started; call the proctor"
            ) from None
        return state, None

    async with svc.start_lock(exam):
        await svc.exposure(exam)  # the counts loaded
        state, _, given = await places.administer(svc, exam, None, step, tests=1)
    now = svc.clock.now()
    start_json = state_codec.state_json(state)
    start_state = state_codec.pack_json(start_json)
    values = {
        "session_id": session_id,
        "candidate_id": candidate_id,
        "status": "running",
        "seed": seed,
        "last_seq": 0,
        "on_screen": storage.on_screen(state),
        "response_head": "",
        "terminal_id": terminal_id,
        "terminal_released": False,
        "remaining_at_start": exam.time_limit_seconds,
        "running_since": None,
        "deadline_at": None,
        "last_seen_at": now,
        "started_at": 0.0,  # set when the clock first starts
    }

    def write(conn: Connection) -> int | None:
        try:
            with conn.begin_nested():
                res = conn.execute(insert(ATTEMPT).values(**values))
                aid = int(res.inserted_primary_key[0])  # type: ignore[index]
        except IntegrityError:
            # A concurrent login (here or in another process) stored it first
            # and counted its own usage: this one's is taken back.
            take_back_usage(conn, [given])
            return None
        # The state as it started: the snapshot the first answers replay from.
        conn.execute(insert(storage.SNAPSHOT).values(attempt_id=aid, seq=0, state=start_state))
        audit.append(
            conn,
            "start",
            f"candidate:{candidate_id}",
            session_id=session_id,
            attempt_id=aid,
            data=audit.start_event_data(
                seed,
                terminal_id,
                audit.candidate_facts(conn, candidate_id),
                audit.form_digest(start_json),
            ),
            at=now,
        )
        return aid

    def existing() -> int:
        with svc.engine.connect() as conn:
            return int(
                conn.execute(
                    select(ATTEMPT.c.id).where(
                        ATTEMPT.c.session_id == session_id, ATTEMPT.c.candidate_id == candidate_id
                    )
                ).scalar_one()
            )

    try:
        # The usage is counted with the whole group's, first and in key order
        # (exam_server.durability): counted here, after the attempt's insert,
        # two processes' groups could each hold what the other waits for
        # (the exam's usage row; the attempt's unique key) and deadlock.
        aid = await svc.committer.submit(write, usage=[given])
    except BaseException:
        await places.forget(svc, exam, given)
        raise
    if aid is None:
        # A concurrent login's attempt was stored instead (it took its own).
        await places.forget(svc, exam, given)
        return await anyio.to_thread.run_sync(existing)
    return aid
