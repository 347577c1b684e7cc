"""Marking connected terminals alive, and reading when each attempt was last
seen (``exam_presence``; see :class:`exam_server.models.Presence`)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlmodel import Session

from exam_server.db import pg_int_array, placeholder
from exam_server.models import Attempt, Presence

PRESENCE = Presence.__table__  # type: ignore[attr-defined]

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
    later of its presence mark and ``Attempt.last_seen_at`` (set by answers
    and the clock); keyed by attempt id."""
    stored = {int(a.id): a.last_seen_at or 0.0 for a in attempts if a.id is not None}
    ids = sorted(stored)
    for i in range(0, len(ids), 500):  # bounded IN lists
        chunk = ids[i : i + 500]
        rows = db.execute(
            select(PRESENCE.c.attempt_id, PRESENCE.c.last_seen_at).where(
                PRESENCE.c.attempt_id.in_(chunk)
            )
        ).all()
        for aid, mark in rows:
            stored[int(aid)] = max(stored[int(aid)], float(mark))
    return stored
