"""When a terminal was last seen alive: the one rule, and its records.

Each server process marks in ``exam_presence`` the terminals connected to
it, once when it first sees them connected (the row names the process) and
once when they have gone (the row gets the moment they were last known
alive, and no process). In between, every presence interval, the process
writes only its own heartbeat (``exam_process_beat``): a terminal marked
with a process was alive as of that process's last beat. A crashed
process's beat stays where it stopped. So a presence interval costs one
row per process, not one per connected terminal (:func:`record_presence`).

Answers and clock starts set ``exam_attempt.last_seen_at``; every stored
answer (``exam_response.at``, append-only) proves the terminal was there.
An attempt was last seen alive at the latest of the three
(:func:`seen_alive`, and :func:`seen_alive_sql` for queries).

A terminal whose connection dropped was last seen alive when it closed, if
it closed cleanly, and otherwise at the last sign of life the server has:
its last frame, or the last keep-alive pong the transport can vouch for
(:func:`alive_until_drop`). The grace period, and so the clock's stop,
counts from there (:func:`exam_server.clock.silent_stop_at`).
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterable, Mapping

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.engine import Connection
from sqlmodel import Session

from exam_server.db import pg_int_array, placeholder
from exam_server.models import Attempt, Presence, ProcessBeat, Response

PRESENCE = Presence.__table__  # type: ignore[attr-defined]
BEAT = ProcessBeat.__table__  # type: ignore[attr-defined]
RESPONSE = Response.__table__  # type: ignore[attr-defined]
ATTEMPT = Attempt.__table__  # type: ignore[attr-defined]


def new_process_id() -> str:
    """A name for this server process's presence marks, unique across hosts
    and restarts (host, pid, and a random part: a pid is reused)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


# A time only moves forward: a flush queued behind the group commit carries
# the time of its tick, which an earlier write may have passed. CASE rather
# than GREATEST/MAX(a, b): one spelling for SQLite and PostgreSQL.
_BEAT = (
    "INSERT INTO exam_process_beat (process_id, beat_at) VALUES ({ph}, {ph}) "
    "ON CONFLICT (process_id) DO UPDATE SET beat_at = excluded.beat_at "
    "WHERE exam_process_beat.beat_at < excluded.beat_at"
)
_LATER = (
    "CASE WHEN exam_presence.last_seen_at < excluded.last_seen_at "
    "THEN excluded.last_seen_at ELSE exam_presence.last_seen_at END"
)
# The row goes to the newer connection: a process may still hold a socket
# whose terminal has already connected to another process (it has not seen
# the close yet); its mark must not take the row back.
_NEWER = "exam_presence.connected_at IS NULL OR exam_presence.connected_at <= excluded.connected_at"
_CONNECTED_SET = (
    f"ON CONFLICT (attempt_id) DO UPDATE SET last_seen_at = {_LATER}, "
    f"process_id = CASE WHEN {_NEWER} THEN excluded.process_id "
    "ELSE exam_presence.process_id END, "
    f"connected_at = CASE WHEN {_NEWER} THEN excluded.connected_at "
    "ELSE exam_presence.connected_at END"
)
_CONNECTED = (
    "INSERT INTO exam_presence (attempt_id, last_seen_at, process_id, connected_at) "
    "VALUES ({ph}, {ph}, {ph}, {ph}) " + _CONNECTED_SET
)
# PostgreSQL: the same upsert as one statement over arrays. psycopg's
# executemany sends a row at a time (5,000 terminals at a login rush: 57-78 ms
# of the writer thread's CPU against 1.6 ms for one statement with the ids as
# an array literal; measured 2026-11-30, docs/benchmarks.md).
_CONNECTED_ARRAY = (
    "INSERT INTO exam_presence (attempt_id, last_seen_at, process_id, connected_at) "
    "SELECT u.id, %s, %s, u.at FROM unnest(%s::int[], %s::float8[]) AS u(id, at) " + _CONNECTED_SET
)
# Only the process that holds the mark lets it go: if the terminal connected
# to another process meanwhile, that process's mark stands.
_GONE = (
    "UPDATE exam_presence SET process_id = NULL, last_seen_at = CASE "
    "WHEN last_seen_at < {ph} THEN {ph} ELSE last_seen_at END "
    "WHERE attempt_id = {ph} AND process_id = {ph}"
)


def record_presence(
    conn: Connection,
    process_id: str,
    at: float,
    connected: Mapping[int, float] | None = None,
    gone: Mapping[int, float] | None = None,
) -> None:
    """One presence interval of a process, inside the caller's transaction.

    at: epoch seconds of the interval's tick, the process's new heartbeat;
    connected: attempt id → when its connection to this process began, for
    the connections new since the process's last interval (marked with it,
    seen alive at ``at``; a row marked for a newer connection elsewhere
    keeps that one); gone: attempt id → when its terminal, marked with this
    process, was last known alive (marked with no process). Terminals still
    connected are not written: they are alive as of the heartbeat. Never
    moves a time back."""
    ph = placeholder(conn)
    new = sorted((int(a), float(t)) for a, t in (connected or {}).items())  # one lock order
    cur = conn.connection.cursor()
    try:
        cur.execute(_BEAT.format(ph=ph), (process_id, at))
        if new and conn.dialect.name == "postgresql":
            ids = pg_int_array(a for a, _ in new)
            times = "{" + ",".join(repr(t) for _, t in new) + "}"
            cur.execute(_CONNECTED_ARRAY, (at, process_id, ids, times))
        elif new:
            cur.executemany(_CONNECTED.format(ph=ph), [(a, at, process_id, t) for a, t in new])
        if gone:
            cur.executemany(
                _GONE.format(ph=ph),
                [(t, t, a, process_id) for a, t in sorted(gone.items())],
            )
    finally:
        cur.close()


def prune_beats(conn: Connection) -> None:
    """Forget the heartbeats no presence mark refers to (processes that
    stopped and whose terminals have all been marked elsewhere or gone)."""
    conn.execute(
        BEAT.delete().where(
            BEAT.c.process_id.not_in(
                select(PRESENCE.c.process_id).where(PRESENCE.c.process_id.is_not(None))
            )
        )
    )


def _mark() -> ColumnElement[float]:
    """An ``exam_presence`` row's mark: its ``last_seen_at``, or its process's
    heartbeat if that is later (the terminal is connected to it)."""
    beat = func.coalesce(
        select(BEAT.c.beat_at).where(BEAT.c.process_id == PRESENCE.c.process_id).scalar_subquery(),
        0.0,
    )
    seen = func.coalesce(PRESENCE.c.last_seen_at, 0.0)
    return case((beat > seen, beat), else_=seen)


def seen_alive(db: Connection | Session, attempts: Iterable[Attempt]) -> dict[int, float]:
    """When each attempt's terminal was last seen alive (epoch seconds): the
    latest of its presence mark (or its process's heartbeat while connected),
    ``Attempt.last_seen_at`` (set by answers and the clock) and its last
    stored answer; keyed by attempt id."""
    stored = {int(a.id): a.last_seen_at or 0.0 for a in attempts if a.id is not None}
    ids = sorted(stored)
    mark = _mark()
    for i in range(0, len(ids), 500):  # bounded IN lists
        chunk = ids[i : i + 500]
        marks = db.execute(
            select(PRESENCE.c.attempt_id, mark).where(PRESENCE.c.attempt_id.in_(chunk))
        ).all()
        answers = db.execute(
            select(RESPONSE.c.attempt_id, func.max(RESPONSE.c.at))
            .where(RESPONSE.c.attempt_id.in_(chunk))
            .group_by(RESPONSE.c.attempt_id)
        ).all()
        for aid, at in [*marks, *answers]:
            if at is not None:
                stored[int(aid)] = max(stored[int(aid)], float(at))
    return stored


def seen_alive_sql(attempt_last_seen: ColumnElement[float]) -> ColumnElement[float]:
    """:func:`seen_alive` as an SQL expression over ``exam_attempt`` outer-joined
    with ``exam_presence`` (the same rule, for queries that filter on it; the
    heartbeat is read by a subquery, so callers join nothing more).

    Why the answers too: every answer row is committed with its own time and
    never updated, so the last one proves the terminal was alive then even if
    a mark or ``last_seen_at`` were older (a crashed server must not hand
    candidates time back; docs/reliability.md)."""
    mark = _mark()
    answered = func.coalesce(
        select(func.max(RESPONSE.c.at))
        .where(RESPONSE.c.attempt_id == ATTEMPT.c.id)
        .scalar_subquery(),
        0.0,
    )
    # CASE rather than GREATEST/MAX(a, b, c): one spelling for SQLite and PostgreSQL.
    both = case((attempt_last_seen >= mark, attempt_last_seen), else_=mark)
    return case((both >= answered, both), else_=answered)


#: Close codes a terminal sends when it closes its socket itself.
CLEAN_CLOSE_CODES = frozenset({1000, 1001})


def alive_until_drop(
    last_heard: float, noticed_at: float, close_code: int | None, keepalive_seconds: float
) -> float:
    """When a terminal whose connection dropped was last seen alive (epoch s).

    last_heard: when its last frame arrived; noticed_at: when the server saw
    the connection end; close_code: the WebSocket close code (None if
    unknown); keepalive_seconds: the transport's ping interval plus ping
    timeout — a connection that ends without a clean close was still
    answering pings at most that long before the end was noticed.

    A clean close (1000/1001) is a sign of life at that moment. Otherwise the
    later of the last frame and the last pong the transport vouches for: a
    terminal that pings (the browser terminal pings every few seconds) is
    charged the grace period from its last frame, not the ping timeout on top.
    """
    if close_code in CLEAN_CLOSE_CODES:
        return noticed_at
    return min(noticed_at, max(last_heard, noticed_at - keepalive_seconds))


def looks_connected(seen: float, now: float, presence_interval: float) -> bool:
    """Whether a terminal seen alive at ``seen`` is still connected to some
    process: the process holding a connected terminal beats every presence
    interval, so three missed beats mean nobody is there."""
    return now - seen <= 3 * presence_interval
