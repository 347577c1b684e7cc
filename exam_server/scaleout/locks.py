"""Serialising one attempt's writes across server processes.

Each process keeps the attempts it serves in memory and writes an answer
only after checking it against that copy. With several processes (or
hosts) on one PostgreSQL database the copy can be stale: the terminal may
have reconnected to another process which has stored answers since. So
every durable candidate action takes, inside its own transaction,

1. ``pg_advisory_xact_lock(NAMESPACE, attempt_id)``: a transaction-scoped
   lock on that attempt, released by COMMIT/ROLLBACK (also when the
   process dies, since PostgreSQL ends the session), so two processes never
   interleave one attempt's writes; then
2. a read of the attempt row: its ``last_seq`` must be the one the writer
   expects and its status ``running``; otherwise :class:`StaleAttempt` is
   raised, nothing is written, and the server drops its copy and closes
   the connection so the terminal reconnects and reloads the true state.

On SQLite the server opens every transaction with ``BEGIN IMMEDIATE``
(the database-wide write lock), which already serialises writers of all
processes on the file; only step 2 runs there.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from exam_server.db import pg_int_array

#: First key of the two-key advisory lock: "SLKS" in ASCII, so that our locks
#: cannot collide with another application's single-key locks on the database.
NAMESPACE = 0x534C4B53 - 2**31  # as a signed 32-bit integer

_LOCK = text("SELECT pg_advisory_xact_lock(:ns, :aid)")
_READ = text("SELECT last_seq, status FROM exam_attempt WHERE id = :aid")


class StaleAttempt(Exception):
    """This process's copy of the attempt is out of date; nothing was written.

    ``stale`` is a marker the attempt service tests for (it does not import
    this module).
    """

    stale = True

    def __init__(self, attempt_id: int, expected_seq: int, found_seq: int | None, status: str):
        super().__init__(
            f"attempt {attempt_id}: expected last_seq {expected_seq}, "
            f"database has {found_seq} ({status})"
        )
        self.attempt_id = attempt_id
        self.expected_seq = expected_seq
        self.found_seq = found_seq
        self.status = status


def lock_attempt(conn: Connection, attempt_id: int) -> None:
    """Take the attempt's transaction-scoped lock (PostgreSQL; no-op elsewhere)."""
    if conn.dialect.name == "postgresql":
        conn.execute(_LOCK, {"ns": NAMESPACE, "aid": attempt_id})


_READ_CLOCK = text(
    "SELECT last_seq, status, remaining_at_start, running_since FROM exam_attempt WHERE id = :aid"
)


def check_attempt_current(
    conn: Connection,
    attempt_id: int,
    last_seq: int,
    status: str,
    remaining_at_start: float,
    running_since: float | None,
) -> None:
    """Lock the attempt for this transaction and check that this process's
    copy (``last_seq``, ``status`` and the clock) is what the database holds,
    before a write that ends the attempt: another process may have paused,
    extended or voided it, and a copy that missed the news would end it as
    time-up (or overwrite the void). Raises :class:`StaleAttempt`."""
    lock_attempt(conn, attempt_id)
    row = conn.execute(_READ_CLOCK, {"aid": attempt_id}).first()
    if row is None:
        raise StaleAttempt(attempt_id, last_seq, None, "missing")
    found = (int(row[0]), str(row[1]), float(row[2]), None if row[3] is None else float(row[3]))
    if found != (last_seq, status, float(remaining_at_start), running_since):
        raise StaleAttempt(
            attempt_id, last_seq, found[0], f"{found[1]}, clock {found[2]} since {found[3]}"
        )


def read_attempts_locked(conn: Connection, ids: list[int]) -> dict[int, tuple[int, str]]:
    """Lock the attempts ``ids`` for this transaction (PostgreSQL: advisory
    locks taken in ascending id order, so two processes never deadlock) and
    read each one's ``(last_seq, status)``; missing ids are left out.

    Two statements on the driver's cursor whatever the batch size: the
    locks first, then the read, whose snapshot (READ COMMITTED) is taken
    after every lock is held, so it sees the last writes of the other
    processes."""
    ids = sorted(set(ids))
    if not ids:
        return {}
    cur = conn.connection.cursor()
    try:
        if conn.dialect.name == "postgresql":
            # unnest yields the sorted array in order; the function runs per row.
            array = pg_int_array(ids)
            cur.execute(
                "SELECT pg_advisory_xact_lock(%s::int, id) FROM unnest(%s::int[]) AS u(id)",
                (NAMESPACE, array),
            )
            cur.fetchall()
            cur.execute(
                "SELECT id, last_seq, status FROM exam_attempt WHERE id = ANY(%s::int[])",
                (array,),
            )
        else:
            marks = ",".join("?" * len(ids))
            cur.execute(f"SELECT id, last_seq, status FROM exam_attempt WHERE id IN ({marks})", ids)
        return {int(r[0]): (int(r[1]), str(r[2])) for r in cur.fetchall()}
    finally:
        cur.close()


def serialise_attempt(conn: Connection, attempt_id: int, expected_last_seq: int) -> None:
    """Lock the attempt for this transaction and check the writer's copy is current.

    Call first thing inside the write that stores answer/flag ``expected_last_seq + 1``.
    Raises :class:`StaleAttempt` when the database's ``last_seq`` differs or the
    attempt is not running (paused, finished or voided by another process).
    """
    lock_attempt(conn, attempt_id)
    row = conn.execute(_READ, {"aid": attempt_id}).first()
    if row is None:
        raise StaleAttempt(attempt_id, expected_last_seq, None, "missing")
    last_seq, status = int(row[0]), str(row[1])
    if last_seq != expected_last_seq or status != "running":
        raise StaleAttempt(attempt_id, expected_last_seq, last_seq, status)


#: First key of the claims on preparing a candidate's test (a namespace of its
#: own: candidate ids and attempt ids are different numbers).
PREPARE_NAMESPACE = NAMESPACE + 1


class PrepareClaims:
    """Which process assembles a candidate's test ahead of the login rush.

    Every process prepares the open sessions when it starts
    (``exam_server.attempts.login.prepare_session``); without claims, two
    workers would each assemble every form of the session and throw half
    away. On PostgreSQL a process claims a candidate with a session-scoped
    ``pg_try_advisory_lock`` on a connection of its own and skips those
    another process holds, so the workers split the session between them;
    a claim ends with :meth:`release`, or with the process (PostgreSQL
    ends its session). Correctness does not rest on it: a candidate's
    attempt is unique in the database, and a test made twice is stored
    once. On SQLite every claim is granted.
    """

    def __init__(self, engine: Engine) -> None:
        self._conn: Connection | None = None
        if engine.dialect.name == "postgresql":
            # Autocommit: the claims live in the database session, not in a
            # transaction left open for the length of the preparation.
            self._conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")

    def claim(self, candidate_id: int) -> bool:
        """Claim ``candidate_id``; False when another process holds it."""
        if self._conn is None:
            return True
        got = self._conn.execute(
            text("SELECT pg_try_advisory_lock(:ns, :cid)"),
            {"ns": PREPARE_NAMESPACE, "cid": candidate_id},
        ).scalar_one()
        return bool(got)

    def release(self, candidate_id: int) -> None:
        if self._conn is not None:
            self._conn.execute(
                text("SELECT pg_advisory_unlock(:ns, :cid)"),
                {"ns": PREPARE_NAMESPACE, "cid": candidate_id},
            )

    def close(self) -> None:
        """End every claim still held. The connection goes back to the pool,
        whose database session lives on: the claims are ended explicitly."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.execute(text("SELECT pg_advisory_unlock_all()"))
            finally:
                conn.close()
