"""Meters of the server benchmarks: CPU seconds of processes, and the bytes a
database's write-ahead log grows by (SQLite's frames, PostgreSQL's records
read back with ``pg_walinspect``), with the machine's load averages."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of processes (Linux /proc/PID/stat)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError):
            pass
    return total


def postgres_pids() -> list[int]:
    """PIDs of this machine's PostgreSQL processes (their CPU is part of an
    answer's cost on the PostgreSQL path)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if (d / "comm").read_text().strip() == "postgres":
                    out.append(int(d.name))
            except OSError:
                pass
    return out


class WalMeter:
    """Bytes a SQLite database's write-ahead log grows by between :meth:`start`
    and :meth:`stop`: every page a commit writes is one WAL frame (the page and
    a 24-byte header), so this is what the database writes per answer, before
    the checkpoint copies the pages back.

    A read transaction held from ``start`` to ``stop`` keeps any writer from
    restarting the log at its beginning (the server's PASSIVE checkpoints still
    run), so the frame count only grows; it is read with a PASSIVE checkpoint
    on a connection of its own. ``stop`` returns None if the log was restarted
    anyway (its checkpoint sequence number moved)."""

    def __init__(self, path: str, table: str = "exam_attempt") -> None:
        self.path = path
        self._reader: Any = None
        self._start: tuple[int, int] = (0, 0)
        self.page_size = 4096
        self._reader_table = table

    def _frames(self) -> tuple[int, int]:
        import sqlite3

        con = sqlite3.connect(self.path, isolation_level=None)
        try:
            self.page_size = int(con.execute("PRAGMA page_size").fetchone()[0])
            frames = int(con.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1])
        finally:
            con.close()
        with open(self.path + "-wal", "rb") as f:
            header = f.read(16)
        return frames, int.from_bytes(header[12:16], "big")  # checkpoint sequence number

    def start(self) -> None:
        import sqlite3

        self._reader = sqlite3.connect(self.path, isolation_level=None)
        self._reader.execute("BEGIN")
        self._reader.execute(f"SELECT count(*) FROM {self._reader_table}").fetchone()
        self._start = self._frames()

    def stop(self) -> int | None:
        frames, ckpt_seq = self._frames()
        self._reader.execute("COMMIT")
        self._reader.close()
        if ckpt_seq != self._start[1] or frames < self._start[0]:
            return None
        return (frames - self._start[0]) * (self.page_size + 24)


class PgWalMeter:
    """Bytes of PostgreSQL's write-ahead log that the run's own schema caused
    between :meth:`start` and :meth:`stop` (the server is shared with other
    work, so the log's growth as a whole would count theirs): read back with
    ``pg_walinspect`` (PostgreSQL 15+, a superuser here), the total length of
    each record (full-page images included) that touches a relation of the
    schema (tables, indexes, their TOAST), plus the commit records of the
    transactions that wrote them. ``stop`` returns None if the extension is
    unavailable; after it, ``fpi_bytes`` holds how much of the total was
    full-page images (the first change of a page after a checkpoint), and
    ``by_relation`` the records' bytes by relation (commit records apart)."""

    _RELS = (
        "SELECT c.relfilenode FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = current_schema() AND c.relfilenode <> 0"
        " UNION SELECT t.relfilenode FROM pg_class c JOIN pg_namespace n"
        " ON n.oid = c.relnamespace JOIN pg_class t ON t.oid = c.reltoastrelid"
        " WHERE n.nspname = current_schema()"
        " UNION SELECT i.relfilenode FROM pg_class c JOIN pg_namespace n"
        " ON n.oid = c.relnamespace JOIN pg_index x ON x.indrelid = c.reltoastrelid"
        " JOIN pg_class i ON i.oid = x.indexrelid WHERE n.nspname = current_schema()"
    )

    def __init__(self, url: str, checkpoint_first: bool = True) -> None:
        self.url = url
        self.checkpoint_first = checkpoint_first
        self._start: str | None = None
        self.fpi_bytes: int | None = None
        self.by_relation: dict[str, int] = {}
        self.attempt_updates: tuple[int, ...] = ()  # (HOT, all) updates of exam_attempt

    def _run(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        from exam_server.db import make_engine

        engine = make_engine(self.url, pool_size=1)
        try:
            with engine.connect() as conn:
                cur = conn.connection.cursor()
                cur.execute(sql, params)
                rows = [tuple(r) for r in cur.fetchall()] if cur.description else []
                conn.connection.commit()
                return rows
        finally:
            engine.dispose()

    def start(self) -> None:
        try:
            self._run("CREATE EXTENSION IF NOT EXISTS pg_walinspect SCHEMA public")
            if self.checkpoint_first:
                # The first change of each page after a checkpoint writes the
                # whole page to the log (full_page_writes): starting the window
                # on a checkpoint counts each page's image once, so a window
                # shorter than checkpoint_timeout (5 min) gives an upper bound.
                self._run("CHECKPOINT")
            self._start = str(self._run("SELECT pg_current_wal_insert_lsn()::text")[0][0])
        except Exception as exc:  # not a superuser, or PostgreSQL < 15
            print(f"PostgreSQL WAL not metered: {exc}")
            self._start = None

    def stop(self) -> int | None:
        if self._start is None:
            return None
        rows = self._run(
            f"WITH rels AS ({self._RELS}),"
            " recs AS (SELECT xid, record_length, fpi_length, resource_manager, record_type,"
            " block_ref"
            " FROM public.pg_get_wal_records_info(%s::pg_lsn, pg_current_wal_flush_lsn())),"
            " ours AS (SELECT r.xid, r.record_length, r.fpi_length FROM recs r WHERE EXISTS ("
            " SELECT 1 FROM regexp_matches(r.block_ref, 'rel \\d+/\\d+/(\\d+)', 'g') m"
            " WHERE m[1]::oid IN (SELECT relfilenode FROM rels)))"
            " SELECT (SELECT coalesce(sum(record_length), 0) FROM ours)"
            " + (SELECT coalesce(sum(record_length), 0) FROM recs"
            " WHERE resource_manager = 'Transaction' AND record_type LIKE 'COMMIT%%'"
            " AND xid IN (SELECT xid FROM ours)),"
            " (SELECT coalesce(sum(fpi_length), 0) FROM ours)",
            (self._start,),
        )
        self.fpi_bytes = int(rows[0][1])
        # Where it went: each record's bytes by the relation of its first
        # block (a heap or index change names one), largest first; TOAST
        # tables and their indexes under their own pg_toast names.
        self.by_relation = {
            str(name): int(n)
            for name, n in self._run(
                "WITH rels AS (SELECT c.relfilenode AS node, c.relname AS name FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = current_schema() AND c.relfilenode <> 0"
                " UNION SELECT t.relfilenode, t.relname FROM pg_class c JOIN pg_namespace n"
                " ON n.oid = c.relnamespace JOIN pg_class t ON t.oid = c.reltoastrelid"
                " WHERE n.nspname = current_schema()),"
                " recs AS (SELECT record_length AS len,"
                " (regexp_match(block_ref, 'rel \\d+/\\d+/(\\d+)'))[1]::oid AS node"
                " FROM public.pg_get_wal_records_info(%s::pg_lsn, pg_current_wal_flush_lsn()))"
                " SELECT rels.name, sum(recs.len) FROM recs JOIN rels USING (node)"
                " GROUP BY rels.name ORDER BY 2 DESC",
                (self._start,),
            )
        }
        # How many updates of the attempt rows stayed on their page (HOT:
        # no index entries), since the table was made (the logins included).
        self.attempt_updates = tuple(
            int(x)
            for x in self._run(
                "SELECT pg_stat_force_next_flush(), n_tup_hot_upd, n_tup_upd"
                " FROM pg_stat_user_tables WHERE relid = 'exam_attempt'::regclass"
            )[0][1:]
        )
        return int(rows[0][0])


def wal_meter(url: str) -> WalMeter | PgWalMeter | None:
    """The log meter for the run's database: SQLite's frames or PostgreSQL's records."""
    path = wal_path(url)
    if path is not None:
        return WalMeter(path)
    return PgWalMeter(url) if url.startswith("postgresql") else None


def wal_path(url: str) -> str | None:
    """The database file of a ``sqlite:///`` URL (None for other databases)."""
    return url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else None


def load_avg() -> str:
    """The 1/5/15-minute load averages: this machine is shared with other work."""
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())
