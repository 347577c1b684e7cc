"""When a terminal was last seen alive: the one rule, and its records.

Every presence interval each server process rewrites its own row of
``exam_presence_process`` (:class:`exam_server.models.ProcessPresence`): the
attempt ids of the terminals connected to it, and the time. Answers and
clock starts set ``exam_attempt.last_seen_at``; every stored answer
(``exam_response.at``, append-only) proves the terminal was there; marks
of ``exam_presence``, written per terminal before revision 0019, still
count. An attempt was last seen alive at the latest of these
(:func:`seen_alive`).

SQL evaluates the per-attempt part (:func:`stored_seen_sql`, for queries
that filter on it); the process rows are then added in Python
(:func:`with_process_marks`), since they hold sets, not one row an attempt.

A terminal whose connection dropped was last seen alive when it closed, if
it closed cleanly, and otherwise at the last sign of life the server has:
its last frame, or the last keep-alive pong the transport can vouch for
(:func:`alive_until_drop`). The grace period, and so the clock's stop,
counts from there (:func:`exam_server.clock.silent_stop_at`).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Integer,
    Select,
    all_,
    case,
    delete,
    func,
    literal,
    literal_column,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlmodel import Session

from exam_server.models import Attempt, Presence, ProcessPresence, Response

PRESENCE = Presence.__table__  # type: ignore[attr-defined]
PROCESS_PRESENCE = ProcessPresence.__table__  # type: ignore[attr-defined]
RESPONSE = Response.__table__  # type: ignore[attr-defined]
ATTEMPT = Attempt.__table__  # type: ignore[attr-defined]


def pack_attempts(attempt_ids: Iterable[int]) -> bytes:
    """The attempt ids of a process row: sorted, unique, delta-coded as
    little-endian uint32 and zlib-compressed (the gaps between a session's
    ids are mostly 1: 5,000 ids take a few hundred bytes)."""
    ids = np.unique(np.fromiter((int(a) for a in attempt_ids), dtype=np.int64))
    return zlib.compress(np.diff(ids, prepend=0).astype("<u4").tobytes(), 1)


def unpack_attempts(blob: bytes) -> np.ndarray:
    """:func:`pack_attempts` undone: the sorted attempt ids, shape (n,), int64."""
    return np.cumsum(np.frombuffer(zlib.decompress(blob), dtype="<u4").astype(np.int64))


def mark_seen(conn: Connection, process: str, attempt_ids: Iterable[int], at: float) -> None:
    """Record that the terminals of ``attempt_ids`` are the ones connected to
    ``process`` at ``at`` (epoch seconds), inside the caller's transaction.
    One row per process, replaced each time, but never by an older time (a
    flush queued behind the group commit carries the time of its tick, which
    a later flush may have passed)."""
    values = {"process": process, "seen_at": at, "attempts": pack_attempts(attempt_ids)}
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = insert(PROCESS_PRESENCE).values(**values)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[PROCESS_PRESENCE.c.process],
            set_={"seen_at": stmt.excluded.seen_at, "attempts": stmt.excluded.attempts},
            where=PROCESS_PRESENCE.c.seen_at < stmt.excluded.seen_at,
        )
    )


def forget_processes(conn: Connection, before: float) -> int:
    """Delete the rows of processes not heard of since ``before`` (epoch s):
    every attempt they held has long reached its deadline. Returns how many."""
    res = conn.execute(delete(PROCESS_PRESENCE).where(PROCESS_PRESENCE.c.seen_at < before))
    return int(res.rowcount or 0)


def process_marks(db: Connection | Session) -> tuple[np.ndarray, np.ndarray]:
    """The latest process row that held each attempt: attempt ids (n,) int64,
    sorted, and the rows' times (n,) float64 (epoch seconds). A handful of
    rows (one a process start), each unpacked and merged with numpy."""
    ids, times = [], []
    for at, blob in db.execute(select(PROCESS_PRESENCE.c.seen_at, PROCESS_PRESENCE.c.attempts)):
        held = unpack_attempts(blob)
        ids.append(held)
        times.append(np.full(held.shape, float(at)))
    if not ids:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    all_ids, all_times = np.concatenate(ids), np.concatenate(times)
    order = np.lexsort((all_times, all_ids))  # by id, then time: each id's latest last
    all_ids, all_times = all_ids[order], all_times[order]
    last = np.append(all_ids[1:] != all_ids[:-1], True)
    return all_ids[last], all_times[last]


def with_process_marks(
    db: Connection | Session,
    seen: Mapping[int, float],
    marks: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[int, float]:
    """``seen`` (attempt id → when last seen alive by the per-attempt
    records, :func:`stored_seen_sql`) raised to the latest process row that
    held each attempt: the whole rule. marks: :func:`process_marks`, if the
    caller read them already."""
    if not seen:
        return {}
    held, at = process_marks(db) if marks is None else marks
    ids = np.fromiter(seen.keys(), dtype=np.int64, count=len(seen))
    times = np.fromiter(seen.values(), dtype=np.float64, count=len(seen))
    pos = np.clip(np.searchsorted(held, ids), 0, max(len(held) - 1, 0))
    found = (pos < len(held)) & (held[pos] == ids) if len(held) else np.zeros(len(ids), bool)
    times[found] = np.maximum(times[found], at[pos[found]])
    return dict(zip(ids.tolist(), times.tolist(), strict=True))


def none_of(column: ColumnElement[int], ids: np.ndarray, dialect: str) -> ColumnElement[bool]:
    """``column`` is none of ``ids`` (int64 array), as one bound value however
    many: an array on PostgreSQL, a JSON list on SQLite (not thousands of
    parameters, which cost more to build than the query saves)."""
    if len(ids) == 0:
        return true()
    if dialect == "postgresql":
        return column != all_(literal(ids.tolist(), type_=ARRAY(Integer)))
    listed: Select[Any] = select(literal_column("value")).select_from(
        func.json_each(literal(json.dumps(ids.tolist())))
    )
    return column.not_in(listed.scalar_subquery())


def seen_alive(db: Connection | Session, attempts: Iterable[Attempt]) -> dict[int, float]:
    """When each attempt's terminal was last seen alive (epoch seconds): the
    latest of the process rows that held it, its old per-terminal mark,
    ``Attempt.last_seen_at`` (set by answers and the clock) and its last
    stored answer; keyed by attempt id."""
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
    return with_process_marks(db, stored)


def stored_seen_sql(attempt_last_seen: ColumnElement[float]) -> ColumnElement[float]:
    """The per-attempt part of :func:`seen_alive` as an SQL expression over
    ``exam_attempt`` outer-joined with ``exam_presence``. A lower bound:
    the process rows are added by :func:`with_process_marks`, so a query
    that filters ``stored_seen_sql(...) < t`` keeps every attempt the rule
    could put before ``t`` and must check the rest in Python.

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
