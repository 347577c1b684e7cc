"""The periodic work of the attempts: deadlines, vanished terminals,
presence marks, exposure counts.

* :func:`sweep` (every ``sweep_interval_seconds``): ends attempts at their
  deadline and stops the clocks of terminals gone past the grace period,
  as of last-seen-alive + grace (:func:`exam_server.clock.silent_stop_at`).
* :func:`sweep_database` (at start and every tenth sweep): the same for
  attempts no process holds (after a crash), from the stored marks.
* :func:`flush_presence` (every ``presence_interval_seconds``): marks
  connected terminals alive and stores navigation not yet stored; also
  reads back the exposure counts other processes added.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio.to_thread
from sqlalchemy import select
from sqlalchemy.engine import Connection

from exam_server import clock, presence
from exam_server.attempts import actions, storage, timing
from exam_server.attempts.state import LiveAttempt
from exam_server.usage import read_usage

if TYPE_CHECKING:
    from exam_server.attempts.service import AttemptService

ATTEMPT, PRESENCE = storage.ATTEMPT, storage.PRESENCE


async def _stop_or_end(
    svc: AttemptService, la: LiveAttempt, seen: float, deadline: float | None, now: float
) -> None:
    """A terminal last seen alive at ``seen`` is gone: end the attempt if its
    deadline came before the grace ran out, else stop its clock as of the
    end of the grace — once that moment has passed."""
    if la.running_since is None:
        return
    stop_at = clock.silent_stop_at(seen, svc.settings.grace_seconds, la.running_since)
    if deadline is not None and deadline <= min(stop_at, now):
        await actions.finish(svc, la, "time_up", "server")
    elif stop_at <= now:
        async with la.lock:
            if la.conn is None and la.running_since is not None and la.status == "running":
                await timing.stop_clock(svc, la, stop_at)


async def catch_up(svc: AttemptService, la: LiveAttempt, now: float) -> None:
    """The vanished-terminal rule for one attempt whose terminal is back,
    before its clock goes on: a gap longer than the grace that no sweep
    stopped yet (the server crashed and the terminal came back before the
    database sweep ran; or between two sweeps) is charged up to the grace,
    as the sweep would have charged it, not in full. The terminal was last
    seen alive when this process saw it go, or else as the database says
    (another process's presence row, its answers)."""
    if la.status != "running" or la.running_since is None or la.conn is not None:
        return
    seen = la.gone_since
    if seen is None:

        def read() -> float:
            with svc.engine.connect() as conn:
                return storage.seen_alive_of(conn, la.id)

        seen = await anyio.to_thread.run_sync(read)
    await _stop_or_end(svc, la, seen, la.deadline_at, now)


async def sweep(svc: AttemptService, now: float) -> None:
    """End attempts past their deadline; stop clocks of terminals gone past the grace."""
    for la in list(svc.live.values()):
        if la.status != "running":
            if la.conn is None and la.status in ("finished", "void"):
                svc.forget(la.id)
            continue
        deadline = la.deadline_at
        if la.conn is None and la.gone_since is not None and la.running_since is not None:
            await _stop_or_end(svc, la, la.gone_since, deadline, now)
        elif deadline is not None and deadline <= now:
            await actions.finish(svc, la, "time_up", "server")


async def sweep_database(svc: AttemptService, now: float) -> None:
    """Attempts with a running clock that no process keeps alive (e.g. after
    a crash): stop their clocks as of last-seen-alive + grace, or end them if
    the deadline came first (:mod:`exam_server.presence` says when an
    attempt was last seen alive)."""
    grace = svc.settings.grace_seconds
    stored = presence.stored_seen_sql(ATTEMPT.c.last_seen_at)

    def find() -> list[tuple[int, float, float | None]]:
        with svc.engine.connect() as conn:
            # The process rows first: the attempts they saw within the grace
            # (every connected terminal) are left out in SQL; the rest are
            # filtered on the per-attempt records (a lower bound of the
            # rule), and the rule decides with both.
            marks = presence.process_marks(conn)
            alive = marks[0][marks[1] >= now - grace]
            rows = conn.execute(
                select(ATTEMPT.c.id, stored, ATTEMPT.c.deadline_at)
                .select_from(ATTEMPT.outerjoin(PRESENCE, PRESENCE.c.attempt_id == ATTEMPT.c.id))
                .where(
                    ATTEMPT.c.status == "running",
                    ATTEMPT.c.running_since.is_not(None),
                    stored < now - grace,
                    presence.none_of(ATTEMPT.c.id, alive, conn.dialect.name),
                )
            ).all()
            deadlines = {int(r[0]): r[2] for r in rows}
            seen = presence.with_process_marks(conn, {int(r[0]): float(r[1]) for r in rows}, marks)
        return [(a, t, deadlines[a]) for a, t in seen.items() if t < now - grace]

    for aid, seen_at, deadline in await anyio.to_thread.run_sync(find):
        held = svc.live.get(aid)
        if held is not None and held.conn is not None:
            continue
        la = await svc.get(aid)
        if la.conn is None:
            await _stop_or_end(svc, la, float(seen_at), deadline, now)


async def flush_presence(svc: AttemptService, now: float) -> None:
    """Record this process's connected terminals as seen now (its row of
    ``exam_presence_process``), store navigation not yet stored, and read
    back the exposure counts.

    A row only moves forward: a flush queued behind the group commit
    carries the time of its tick, which can be older than a row already
    stored (``presence.mark_seen``)."""
    ids = [la.id for la in svc.live.values() if la.conn is not None]
    dirty = [la for la in svc.live.values() if la.dirty and la.conn is not None]
    if ids:
        screens = {la.id: storage.on_screen(la.state) for la in dirty}

        def write(conn: Connection) -> None:
            presence.mark_seen(conn, svc.process_key, ids, now)
            for aid, screen in screens.items():
                storage.update_attempt(conn, aid, {"on_screen": screen})

        await svc.committer.submit(write)
        for la in dirty:
            la.dirty = False
    await refresh_usage(svc)


async def refresh_usage(svc: AttemptService) -> None:
    """Take the stored exposure counts (with other processes' administrations)."""
    exams = [svc.exams[e] for e in svc.usage.exams() if e in svc.exams]
    if not exams:
        return

    def read() -> list[Any]:
        with svc.engine.connect() as conn:
            return [(e.exam_id, read_usage(conn, e.exam_id, e.bank.n_items)) for e in exams]

    for exam_id, stored in await anyio.to_thread.run_sync(read):
        svc.usage.replace(exam_id, stored)
