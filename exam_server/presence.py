"""When a terminal was last seen alive: the one rule, and its records.

A connected terminal is marked alive every presence interval
(``exam_presence``; see :class:`exam_server.models.Presence`); answers and
clock starts set ``exam_attempt.last_seen_at``; every stored answer
(``exam_response.at``, append-only) proves the terminal was there. An
attempt was last seen alive at the latest of the three (:func:`seen_alive`,
and :func:`seen_alive_sql` for queries).

A terminal whose connection dropped was last seen alive when it closed, if
it closed cleanly, and otherwise at the last sign of life the server has:
its last frame, or the last keep-alive pong the transport can vouch for
(:func:`alive_until_drop`). The grace period, and so the clock's stop,
counts from there (:func:`exam_server.clock.silent_stop_at`).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.engine import Connection
from sqlmodel import Session

from exam_server.db import pg_int_array, placeholder
from exam_server.models import Attempt, Presence, Response

PRESENCE = Presence.__table__  # type: ignore[attr-defined]
RESPONSE = Response.__table__  # type: ignore[attr-defined]
ATTEMPT = Attempt.__table__  # type: ignore[attr-defined]

# One upsert per terminal, one executemany per flush; the WHERE keeps a row
# that is already newer (a flush queued behind the group commit carries the
# time of its tick, which an earlier flush may have passed).
_UPSERT = (
    "INSERT INTO exam_presence (attempt_id, last_seen_at) VALUES ({ph}, {ph}) "
    "ON CONFLICT (attempt_id) DO UPDATE SET last_seen_at = excluded.last_seen_at "
    "WHERE exam_presence.last_seen_at < excluded.last_seen_at"
)


# PostgreSQL: the same upsert as one statement over an array of ids. psycopg's
# executemany sends a row at a time (5,000 terminals: 57-78 ms of the writer
# thread's CPU and 71-81 ms of its time, every flush, with answers queued
# behind it); one statement with the ids as an array literal takes 1.6 ms of
# CPU and 34-40 ms (measured 2026-11-30, docs/benchmarks.md).
_UPSERT_ARRAY = (
    "INSERT INTO exam_presence (attempt_id, last_seen_at) "
    "SELECT u.id, %s FROM unnest(%s::int[]) AS u(id) "
    "ON CONFLICT (attempt_id) DO UPDATE SET last_seen_at = excluded.last_seen_at "
    "WHERE exam_presence.last_seen_at < excluded.last_seen_at"
)


def mark_seen(conn: Connection, attempt_ids: Iterable[int], at: float) -> None:
    """Record that the terminals of ``attempt_ids`` were connected at ``at``
    (epoch seconds), inside the caller's transaction; never moves a time back."""
    ids = sorted({int(a) for a in attempt_ids})  # sorted: two writers lock rows in one order
    if not ids:
        return
    cur = conn.connection.cursor()
    try:
        if conn.dialect.name == "postgresql":
            cur.execute(_UPSERT_ARRAY, (at, pg_int_array(ids)))
        else:
            cur.executemany(_UPSERT.format(ph=placeholder(conn)), [(a, at) for a in ids])
    finally:
        cur.close()


def seen_alive(db: Connection | Session, attempts: Iterable[Attempt]) -> dict[int, float]:
    """When each attempt's terminal was last seen alive (epoch seconds): the
    latest of its presence mark, ``Attempt.last_seen_at`` (set by answers and
    the clock) and its last stored answer; keyed by attempt id."""
    stored = {int(a.id): a.last_seen_at or 0.0 for a in attempts if a.id is not None}
    ids = sorted(stored)
    for i in range(0, len(ids), 500):  # bounded IN lists
        chunk = ids[i : i + 500]
        marks = db.execute(
            select(PRESENCE.c.attempt_id, PRESENCE.c.last_seen_at).where(
                PRESENCE.c.attempt_id.in_(chunk)
            )
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
    with ``exam_presence`` (the same rule, for queries that filter on it).

    Why the answers too: every answer row is committed with its own time and
    never updated, so the last one proves the terminal was alive then even if
    a mark or ``last_seen_at`` were older (a crashed server must not hand
    candidates time back; docs/reliability.md)."""
    mark = func.coalesce(PRESENCE.c.last_seen_at, 0.0)
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
    process: connected terminals are marked every presence interval, so
    three missed marks mean nobody is there."""
    return now - seen <= 3 * presence_interval
