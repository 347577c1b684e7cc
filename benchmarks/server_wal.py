"""SQLite write-ahead-log bytes per answer for the stored form, SQLite alone.

On the server's schema (head), 5,000 attempts 40 answers into their test:
groups of ``batch`` answers from distinct random attempts (50 ≈ the group
commit under load, 1 ≈ exam pace), each a response row and the narrow
attempt update, with the engine state (6 kB, a 110-item SKD form) as a
snapshot every N responses, or rewritten with every answer
("rewrite-in-place", the shape of the old form); with and without the
single-column index on ``exam_response.attempt_id`` (dropped by revision 0013:
the unique ``(attempt_id, seq)`` index covers its lookups; "kept" recreates
it), and with SQLite's default 4 kB pages or the server's 1 kB
(``exam_server.db.make_engine``). Frames counted as in
``benchmarks.server.WalMeter``. Used to choose ``Settings.snapshot_every``
and to find the floor of the per-answer writes (docs/benchmarks.md).

    python -m benchmarks.server_wal
"""

import random
import sqlite3
import tempfile
import time

from exam_server.db import create_schema, make_engine


def run(
    every: int,
    state_bytes: int,
    batch: int,
    drop_index: bool,
    answers: int = 20000,
    n: int = 5000,
    page_size: int = 1024,
) -> float:
    with tempfile.TemporaryDirectory() as d:
        path = f"{d}/w.db"
        e = make_engine(f"sqlite:///{path}", sqlite_page_size=page_size)
        create_schema(e)
        e.dispose()
        con = sqlite3.connect(path, isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=OFF")
        con.execute("PRAGMA foreign_keys=OFF")
        if not drop_index:
            con.execute("CREATE INDEX ix_exam_response_attempt_id ON exam_response (attempt_id)")
        con.execute("BEGIN")
        con.executemany(
            "INSERT INTO exam_attempt (id, session_id, candidate_id, status, seed, last_seq,"
            " response_head, terminal_released, remaining_at_start, last_seen_at, started_at)"
            " VALUES (?,1,?,'running',0,0,'',0,100,0,0)",
            [(i, i) for i in range(1, n + 1)],
        )
        con.executemany(
            "INSERT INTO exam_attempt_snapshot VALUES (?,0,?)",
            [(i, "x" * state_bytes) for i in range(1, n + 1)],
        )
        con.execute("COMMIT")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        seqs = dict.fromkeys(range(1, n + 1), 0)
        rng = random.Random(1)

        # warm: 40 answers each already stored (mid-exam)
        def commit(ids: list[int]) -> None:
            con.execute("BEGIN IMMEDIATE")
            con.executemany(
                "INSERT INTO exam_response (at, attempt_id, elapsed, flagged, hash, item_id,"
                " kind, number, option, prev_hash, seq, server_elapsed)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        time.time(),
                        i,
                        1.5,
                        False,
                        "b" * 64,
                        "TWK-0001",
                        "answer",
                        3,
                        2,
                        "a" * 64,
                        seqs[i] + 1,
                        12.25,
                    )
                    for i in ids
                ],
            )
            con.executemany(
                "UPDATE exam_attempt SET last_seen_at=?, last_seq=?, response_head=?,"
                " on_screen=? WHERE id=?",
                [(time.time(), seqs[i] + 1, "c" * 64, 3, i) for i in ids],
            )
            if every:
                con.executemany(
                    "INSERT INTO exam_attempt_snapshot VALUES (?,?,?)",
                    [
                        (i, seqs[i] + 1, "x" * state_bytes)
                        for i in ids
                        if (seqs[i] + 1) % every == 0
                    ],
                )
            else:
                con.executemany(
                    "UPDATE exam_attempt_snapshot SET state_json=? WHERE attempt_id=? AND seq=0",
                    # Other bytes each time, as a new state has: SQLite skips
                    # writing a page whose bytes an overwrite left the same.
                    [(chr(65 + (seqs[i] + 1) % 26) * state_bytes, i) for i in ids],
                )
            con.execute("COMMIT")
            for i in ids:
                seqs[i] += 1

        for _ in range(40 * n // 500):
            commit(sorted(rng.sample(range(1, n + 1), 500)))
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        reader = sqlite3.connect(path, isolation_level=None)
        reader.execute("BEGIN")
        reader.execute("SELECT 1 FROM exam_attempt").fetchone()
        f0 = con.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]
        done = 0
        while done < answers:
            commit(sorted(rng.sample(range(1, n + 1), batch)))
            done += batch
        f1 = con.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]
        reader.execute("COMMIT")
        return (f1 - f0) * (page_size + 24) / done  # + each frame's header


def main() -> None:
    for batch in (50, 1):
        for page_size in (4096, 1024):
            for drop in (False, True):
                for every in (0, 1, 5, 10, 20, 50):
                    ans = 20000 if batch == 50 else 2000
                    per = run(every, 6000, batch, drop, answers=ans, page_size=page_size)
                    how = every or "rewrite-in-place"
                    print(
                        f"batch {batch} page {page_size} drop_ix {drop} every {how}:"
                        f" {per:,.0f} B/answer",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
