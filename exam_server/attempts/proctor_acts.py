"""What a proctor's act does to an attempt and to its terminal.

One function decides and stores an act (:func:`act`), one tells the
terminal (:func:`tell_terminal`); the worker that holds the terminal runs
the same :func:`tell_terminal` when the act was taken on another worker
(:func:`apply_remote`, called by ``exam_server.scaleout.fanout``), so the
act does the same thing wherever it was taken.

* pause: paused, clock stopped; the terminal gets ``time`` + ``notice``.
* resume: running, the clock started if the terminal is connected (here or
  to another worker); ``time`` + ``notice``.
* extend: more time on the clock; ``time`` + ``notice``.
* release: the terminal is unbound (the candidate logs in again elsewhere);
  it gets ``replaced`` and is closed.
* void: void, clock stopped; ``attempt_void``, closed.
* note: unchanged (audit only); nothing.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from exam_server import clock, presence
from exam_server import protocol as p
from exam_server.attempts import frames, storage, timing
from exam_server.attempts.state import ACTIVE, ActionError, LiveAttempt, Terminal
from exam_server.events import LiveEvent, Subscription

if TYPE_CHECKING:
    from exam_server.attempts.service import AttemptService

ACTS = ("pause", "resume", "extend", "release", "void", "note")
MAX_EXTENSION_SECONDS = 4 * 3600.0


async def act(
    svc: AttemptService,
    attempt_id: int,
    action: str,
    actor: str,
    reason: str,
    seconds: float = 0.0,
    request: str = "",
) -> dict[str, Any]:
    """pause | resume | extend | release | void | note on one attempt (audited);
    returns the attempt's status and clock after the act. request: the
    client's id of a session-wide act, kept in an extension's audit event
    (:func:`extended_under` finds it, so a retried request extends no
    attempt twice)."""
    if action not in ACTS:
        raise ActionError("bad_action", f"unknown action {action!r}")
    la = await svc.get(attempt_id)
    data: dict[str, Any] = {}
    async with la.lock:
        now = svc.clock.now()
        if action != "note" and la.status not in ACTIVE:
            raise ActionError("attempt_finished", f"attempt is {la.status}")
        write = storage.write_attempt
        if action == "pause":
            if la.status != "running":
                raise ActionError("not_running", "attempt is not running")
            # The clock stops and the status changes in one transaction: a
            # failure between two would leave a running attempt without a clock.
            values = {"status": "paused", **timing.stopped_clock(la, now)}
            await svc.committer.submit(write(la, values, "pause", actor, reason, at=now))
            la.status, la.running_since = "paused", None
            la.remaining_at_start = values["remaining_at_start"]
        elif action == "resume":
            if la.status != "paused":
                raise ActionError("not_paused", "attempt is not paused")
            await svc.committer.submit(
                write(la, {"status": "running"}, "resume", actor, reason, at=now)
            )
            la.status = "running"
            connected = la.conn is not None or await _connected_elsewhere(svc, la, now)
            if connected:
                await timing.start_clock(svc, la, now)
            data["connected"] = connected
        elif action == "extend":
            if not 0 < seconds <= MAX_EXTENSION_SECONDS:
                raise ActionError("bad_field", "seconds must be between 0 and 14400")
            # Stored first, then taken in memory: a failed commit adds nothing.
            longer = la.remaining_at_start + seconds
            values = {
                "remaining_at_start": longer,
                "running_since": la.running_since,
                "deadline_at": clock.deadline_at(longer, la.running_since),
            }
            audited: dict[str, Any] = {"seconds": seconds}
            if request:
                audited["request"] = request
            await svc.committer.submit(write(la, values, "extend", actor, reason, audited, at=now))
            la.remaining_at_start = longer
            data["seconds"] = seconds
        elif action == "release":
            data["terminal_id"] = la.terminal_id
            await svc.committer.submit(
                write(la, {"terminal_released": True}, "release", actor, reason, data, at=now)
            )
            la.terminal_released = True
        elif action == "void":
            stopped = timing.stopped_clock(la, now)
            values = {"status": "void", "finished_at": now, "finish_reason": "void", **stopped}
            await svc.committer.submit(write(la, values, "void", actor, reason, at=now))
            la.status, la.running_since = "void", None
            la.remaining_at_start = stopped["remaining_at_start"]
        else:  # note
            await svc.committer.submit(write(la, {}, "note", actor, reason, at=now))
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
    # A resume that found no fresh sign of the terminal may still have one
    # on another worker (its presence mark lags by up to an interval): that
    # worker starts the clock and says so (`clock`); wait briefly for it so
    # the reply says what the terminal and the consoles see.
    watch = (
        svc.bus.subscribe(la.session_id)
        if action == "resume" and not data.get("connected") and not svc.settings.is_sqlite
        else None
    )
    svc.bus.publish(
        LiveEvent(action, la.session_id, la.id, la.registration_number, at=now, data=data)
    )
    await tell_terminal(svc, la, action, conn)
    if watch is not None:
        await _await_remote_clock(svc, la, watch)
    return {
        "attempt_id": la.id,
        "status": la.status,
        "remaining_seconds": la.remaining(now),
        "deadline": la.deadline_at,
        "terminal_released": la.terminal_released,
    }


#: How long a resume waits for the worker holding the terminal to start its
#: clock (a LISTEN/NOTIFY round trip takes milliseconds).
REMOTE_CLOCK_WAIT_SECONDS = 1.0


async def _await_remote_clock(svc: AttemptService, la: LiveAttempt, watch: Subscription) -> None:
    """Take the clock another worker started for ``la`` (its `clock` event),
    if it comes within :data:`REMOTE_CLOCK_WAIT_SECONDS`."""

    async def clock_started() -> None:
        while True:
            event = await watch.get()
            if event.kind == "clock" and event.attempt_id == la.id:
                return

    try:
        await asyncio.wait_for(clock_started(), REMOTE_CLOCK_WAIT_SECONDS)
    except (TimeoutError, StopAsyncIteration):
        return
    finally:
        watch.close()

    def read() -> dict[str, Any] | None:
        with svc.engine.connect() as c:
            return storage.read_clock(c, la.id)

    row = await anyio.to_thread.run_sync(read)
    async with la.lock:
        if row is not None and row["running_since"] is not None and la.conn is None:
            la.remaining_at_start = float(row["remaining_at_start"])
            la.running_since = row["running_since"]


async def _connected_elsewhere(svc: AttemptService, la: LiveAttempt, now: float) -> bool:
    """Whether the attempt's terminal is connected to another process (its
    presence mark is fresh): a resume taken here starts its clock at once."""
    if svc.settings.is_sqlite:
        return False  # one process: a terminal connected anywhere is connected here

    def read() -> float:
        with svc.engine.connect() as c:
            return storage.seen_alive_of(c, la.id)

    seen = await anyio.to_thread.run_sync(read)
    return presence.looks_connected(seen, now, svc.settings.presence_interval_seconds)


async def tell_terminal(
    svc: AttemptService, la: LiveAttempt, action: str, conn: Terminal | None
) -> None:
    """What the act does to the terminal connected here (if any)."""
    if conn is None:
        return
    if action in ("pause", "resume", "extend"):
        await conn.send(frames.time_frame(la, svc.clock.now()))
        await conn.send(p.frame("notice", action=action))
    elif action == "void":
        la.conn = None
        await conn.send(p.error_frame(p.ProtocolError("attempt_void")))
        await conn.close(p.CLOSE_POLICY, "void")
    elif action == "release":
        la.conn = None
        await conn.send(p.error_frame(p.ProtocolError("replaced", "terminal released")))
        await conn.close(p.CLOSE_POLICY, "released")


def extended_under(engine: Any, attempt_id: int, request: str) -> bool:
    """Whether the attempt already has an extension made by the session-wide
    request ``request`` (blocking: call it in a thread)."""
    from sqlalchemy import select

    from exam_server.audit.chain import AUDIT

    # As the audit chain's canonical JSON writes it (ids are [A-Za-z0-9_-]).
    needle = f'"request":"{request}"'
    with engine.connect() as conn:
        found = conn.execute(
            select(AUDIT.c.id)
            .where(
                AUDIT.c.attempt_id == attempt_id,
                AUDIT.c.kind == "extend",
                AUDIT.c.data_json.contains(needle, autoescape=True),
            )
            .limit(1)
        ).first()
    return found is not None


def missed_act(la: LiveAttempt, row: dict[str, Any]) -> str | None:
    """The act that turns the copy ``la`` into the stored ``row``
    (:func:`exam_server.attempts.storage.read_clock`), or None when they agree
    (or differ in a way no proctor act makes, e.g. a finish): what a process
    that missed other processes' events (its listener reconnected) tells the
    terminal it holds."""
    status = str(row["status"])
    if status == "void":
        return None if la.status == "void" else "void"
    released = bool(row["terminal_released"]) and not la.terminal_released
    if released or row["terminal_id"] != la.terminal_id:
        return "release"  # released (and maybe bound to another terminal since)
    if status != la.status:
        return {"paused": "pause", "running": "resume"}.get(status)
    since, mine = row["running_since"], la.running_since
    same_start = (since is None) == (mine is None) and (since is None or abs(since - mine) < 1e-6)
    if same_start and abs(float(row["remaining_at_start"]) - la.remaining_at_start) < 1e-6:
        return None
    # Same status, another clock: more time (the start kept), or a pause and
    # a resume both missed (the clock started again).
    return "extend" if same_start else "resume"


async def apply_remote(svc: AttemptService, la: LiveAttempt, event: LiveEvent | None) -> str | None:
    """A proctor acted on another process on an attempt whose terminal is
    connected here: take the stored status and clock, start the clock if the
    act resumed a connected terminal whose clock the other process could not
    start, and tell the terminal what the act does.

    ``event`` None: the act's event was missed (a listener reconnect); the act
    is the difference between the copy and the stored row (:func:`missed_act`),
    judged under the attempt's lock, and nothing is done when they agree.
    Returns the act applied (None: nothing)."""

    def read() -> dict[str, Any] | None:
        with svc.engine.connect() as c:
            return storage.read_clock(c, la.id)

    async with la.lock:
        row = await anyio.to_thread.run_sync(read)
        if row is None:
            return None
        action = event.kind if event is not None else missed_act(la, row)
        if action is None:
            return None
        la.status = str(row["status"])
        la.remaining_at_start = float(row["remaining_at_start"])
        la.running_since = row["running_since"]
        la.terminal_id = row["terminal_id"]
        la.terminal_released = bool(row["terminal_released"])
        started = False
        if la.status == "running" and la.running_since is None and la.conn is not None:
            await timing.start_clock(svc, la, svc.clock.now())
            started = True
        conn = la.conn
    if started:
        # The consoles reload the attempt on this event: without it they kept
        # showing the clock the other process stored (stopped).
        svc.bus.publish(
            LiveEvent(
                "clock",
                la.session_id,
                la.id,
                la.registration_number,
                at=svc.clock.now(),
                data={"running": True, "deadline_at": la.deadline_at},
            )
        )
    await tell_terminal(svc, la, action, conn)
    return action
