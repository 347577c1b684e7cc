"""SQLite write-ahead-log bytes per answer for the stored form, SQLite alone.

On the server's schema (head), 5,000 attempts 40 answers into a 110-item SKD
form, answering as in an exam: rounds in which every attempt answers once,
in a random order, cut into commits of ``batch`` answers (50 ≈ the group
commit under saturation, 2 and 1 ≈ exam pace); each answer a response row,
the narrow attempt update, and the engine state as a snapshot every 10
responses. Frames are counted by a checkpoint every 50 commits (PASSIVE
says how many the log holds, TRUNCATE empties it: a long log slows every
commit), each a page plus its 24-byte header, over 20 rounds (every attempt snapshots or
folds as often in the window as in the exam). Forms compared:

* ``head``: the server's stored form (1 kB pages, the snapshot compressed
  with zstd: ``exam_server.state_codec``, 1.4 kB for the SKD state);
* ``raw state``: the same with the snapshot as JSON text (6.3 kB), as
  before revision 0014;
* ``no attempt update``: head without the per-answer update of the
  attempt row (last_seq, chain head, last seen, item on screen);
* ``commit-ordered log``: head without the attempt update and without the
  unique ``(attempt_id, seq)`` index, so an answer touches only the shared
  last page of the response table: the log the issue's ≤ 1 kB target asks
  for, which no reader by attempt could use without an index of its own;
* ``journal, snapshot and fold every N``: a log-structured form that
  readers by attempt could still use: each answer appends to a journal in
  commit order with no index; every N answers of an attempt (with its
  snapshot) its rows move to ``exam_response`` in one go, with one
  attempt-row update, and rows already moved leave the journal as a prefix
  every 100 commits;
* ``... on 512-byte pages``: forms with SQLite's smallest page.

The state bytes are a real SKD state (``cat_engine``'s synthetic SKD bank,
40 answers in), compressed per snapshot as the server does.

    python -m benchmarks.server_wal
"""

from __future__ import annotations

import random
import sqlite3
import tempfile
import time
from dataclasses import dataclass

import numpy as np

from benchmarks.report import machine_line, write_section
from cat_engine import engine as cat
from cat_engine.design import skd_design
from cat_engine.synthetic import skd_synthetic_bank
from exam_server import state_codec
from exam_server.db import create_schema, make_engine


@dataclass(frozen=True)
class Form:
    """One stored form measured: its name and what it writes per answer."""

    name: str
    packed: bool = True
    attempt_update: bool = True
    attempt_index: bool = True
    page_size: int = 1024
    #: Journal and fold: each answer appends to a commit-ordered journal with
    #: no index; an attempt's rows move to ``exam_response`` (indexed by
    #: attempt) in one go with each snapshot, with the attempt row's update;
    #: folded rows leave the journal as a prefix (every ``trim`` commits of
    #: :func:`run`). every: answers between snapshots (and folds).
    journal: bool = False
    every: int = 10


FORMS = (
    Form("head (zstd snapshot, 1 kB pages)"),
    Form("raw state (before 0014)", packed=False),
    Form("no attempt update", attempt_update=False),
    Form("commit-ordered log", attempt_update=False, attempt_index=False),
    Form("no attempt update, 512-byte pages", attempt_update=False, page_size=512),
    Form("commit-ordered log, 512-byte pages", False, False, False, 512),
    Form("journal, snapshot and fold every 10", attempt_update=False, journal=True),
    Form("journal, snapshot and fold every 20", attempt_update=False, journal=True, every=20),
    Form(
        "journal, snapshot and fold every 10, 512-byte pages",
        attempt_update=False,
        page_size=512,
        journal=True,
    ),
    Form(
        "journal, snapshot and fold every 20, 512-byte pages",
        attempt_update=False,
        page_size=512,
        journal=True,
        every=20,
    ),
)


def skd_state_json() -> str:
    """A 110-item linear SKD state 40 answers in, as the server stores it."""
    bank = skd_synthetic_bank()
    state = cat.start(skd_design("linear"), bank, 7)
    rng = np.random.default_rng(0)
    for _ in range(40):
        item = cat.current(state)
        assert item is not None
        state = cat.record(state, bank, item, int(rng.integers(0, 4)), elapsed=3.0)
    return state_codec.state_json(state)


RESPONSE_COLS = (
    "at, attempt_id, elapsed, flagged, hash, item_id, kind, number, option, prev_hash, seq,"
    " server_elapsed"
)


def run(form: Form, batch: int, state: str, rounds: int, n: int = 5000, trim: int = 100) -> float:
    """Log bytes per answer of ``form`` in commits of ``batch`` answers.

    The stream is an exam's: rounds in which every attempt answers once, in
    a random order, cut into commits of ``batch``; 40 rounds are stored
    first, then ``rounds`` are measured (a multiple of the fold interval, so
    that every attempt folds as often in the window as in the exam)."""
    every = form.every

    def stored(seq: int) -> str | bytes:
        # Each snapshot differs from the last, as a new state does.
        text = state.replace('"seed":7', f'"seed":{seq}', 1)
        return state_codec.pack_json(text) if form.packed else text

    with tempfile.TemporaryDirectory() as d:
        path = f"{d}/w.db"
        e = make_engine(f"sqlite:///{path}", sqlite_page_size=form.page_size)
        create_schema(e)
        e.dispose()
        con = sqlite3.connect(path, isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=OFF")  # bytes are measured, not time
        con.execute("PRAGMA foreign_keys=OFF")
        # No automatic checkpoint: it would restart the log between two counts
        # (log_frames) and lose the frames written before it.
        con.execute("PRAGMA wal_autocheckpoint=0")
        if not form.attempt_index:
            # The same columns with no UNIQUE (attempt_id, seq): rows in commit order only.
            con.execute("ALTER TABLE exam_response RENAME TO exam_response_indexed")
            con.execute("CREATE TABLE exam_response AS SELECT * FROM exam_response_indexed LIMIT 0")
        if form.journal:
            # The journal: the response columns in commit order, no index.
            con.execute("CREATE TABLE journal AS SELECT * FROM exam_response LIMIT 0")
        con.execute("BEGIN")
        con.executemany(
            "INSERT INTO exam_attempt (id, session_id, candidate_id, status, seed, last_seq,"
            " response_head, terminal_id, terminal_released, remaining_at_start, running_since,"
            " deadline_at, last_seen_at, started_at)"
            " VALUES (?,1,?,'running',123456789,0,?,'T-0001',0,6000,1.7e9,1.7e9,1.7e9,1.7e9)",
            [(i, i, "c" * 64) for i in range(1, n + 1)],
        )
        con.executemany(
            "INSERT INTO exam_attempt_snapshot (attempt_id, seq, state) VALUES (?,0,?)",
            [(i, stored(0)) for i in range(1, n + 1)],
        )
        con.execute("COMMIT")
        seqs = dict.fromkeys(range(1, n + 1), 0)
        # Journal forms: each attempt's rows not yet folded, and the journal
        # rowid of the first of them (what a trim must keep).
        tail: dict[int, list[tuple[object, ...]]] = {i: [] for i in range(1, n + 1)}
        first_unfolded: dict[int, int] = {}
        commits = 0
        rng = random.Random(1)
        marks = ",".join("?" * 12)

        def commit(ids: list[int]) -> None:
            nonlocal commits
            rows = [
                (time.time(), i, 1.5, False, "b" * 64, "I00267", "answer", seqs[i] + 1, 2,
                 "a" * 64, seqs[i] + 1, 12.25)
                for i in ids
            ]  # fmt: skip
            due = [i for i in ids if (seqs[i] + 1) % every == 0]
            con.execute("BEGIN IMMEDIATE")
            if form.journal:
                cur = con.cursor()
                for i, row in zip(ids, rows, strict=True):
                    cur.execute(f"INSERT INTO journal ({RESPONSE_COLS}) VALUES ({marks})", row)
                    tail[i].append(row)
                    first_unfolded.setdefault(i, int(cur.lastrowid or 0))
                folded = [r for i in due for r in tail[i]]
                con.executemany(
                    f"INSERT INTO exam_response ({RESPONSE_COLS}) VALUES ({marks})", folded
                )
                con.executemany(
                    "UPDATE exam_attempt SET last_seen_at=?, last_seq=?, response_head=?,"
                    " on_screen=? WHERE id=?",
                    [(time.time(), seqs[i] + 1, "c" * 64, 3, i) for i in due],
                )
                for i in due:
                    tail[i] = []
                    first_unfolded.pop(i, None)
                if (commits + 1) % trim == 0:
                    # Folded rows leave the journal as a prefix: every row
                    # below the oldest unfolded one.
                    keep = min(first_unfolded.values(), default=1 << 62)
                    con.execute("DELETE FROM journal WHERE rowid < ?", (keep,))
            else:
                con.executemany(
                    f"INSERT INTO exam_response ({RESPONSE_COLS}) VALUES ({marks})", rows
                )
            if form.attempt_update:
                con.executemany(
                    "UPDATE exam_attempt SET last_seen_at=?, last_seq=?, response_head=?,"
                    " on_screen=? WHERE id=?",
                    [(time.time(), seqs[i] + 1, "c" * 64, 3, i) for i in ids],
                )
            con.executemany(
                "INSERT INTO exam_attempt_snapshot (attempt_id, seq, state) VALUES (?,?,?)",
                [(i, seqs[i] + 1, stored(seqs[i] + 1)) for i in due],
            )
            con.execute("COMMIT")
            commits += 1
            for i in ids:
                seqs[i] += 1

        def answer_rounds(k: int, size: int, count: bool = False) -> tuple[int, int]:
            """Answer ``k`` rounds in commits of ``size``; (answers, log frames written).
            Frames are counted every 50 commits (:func:`log_frames`)."""
            done = frames = 0
            for _ in range(k):
                order = list(range(1, n + 1))
                rng.shuffle(order)
                for at in range(0, n, size):
                    commit(order[at : at + size])
                    done += len(order[at : at + size])
                    if count and commits % 50 == 0:
                        frames += log_frames()
            if count:
                frames += log_frames()
            return done, frames

        def log_frames() -> int:
            # PASSIVE says how many frames the log holds; TRUNCATE then
            # empties it (it reports nothing of what it held).
            held = int(con.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1])
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            return held

        # Mid-exam: 40 answers of everyone already stored.
        answer_rounds(40, 500)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        done, frames = answer_rounds(rounds, batch, count=True)
        return frames * (form.page_size + 24) / done


def main(argv: list[str] | None = None) -> None:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m benchmarks.server_wal")
    ap.add_argument("--no-doc", action="store_true", help="print only; docs unchanged")
    args = ap.parse_args(argv)
    state = skd_state_json()
    packed = len(state_codec.pack_json(state))
    batches = (50, 2, 1)
    lines = [
        "## Exam server: SQLite log bytes per answer by stored form",
        "",
        machine_line(),
        "",
        "SQLite alone on the server's schema, 5,000 attempts 40 answers into a 110-item "
        f"SKD form (its state: {len(state):,} bytes of JSON, {packed:,} stored with zstd "
        "level 1), a snapshot every 10 responses unless the form says otherwise; answered "
        "as in an exam (rounds in which every attempt answers once, in a random order); "
        "bytes of write-ahead log per answer over 20 rounds (frames of page + 24-byte "
        "header) in commits of 50 answers (the group commit under saturation) and of 2 "
        "and 1 (exam pace). Deterministic: no timing.",
        "",
        "| stored form | " + " | ".join(f"commits of {b}" for b in batches) + " |",
        "| --- |" + " ---: |" * len(batches),
    ]
    for form in FORMS:
        cells = [run(form, b, state, 20) for b in batches]
        lines.append(f"| {form.name} | " + " | ".join(f"{c:,.0f}" for c in cells) + " |")
        print(lines[-1], flush=True)
    lines += ["", "`python -m benchmarks.server_wal`"]
    md = "\n".join(lines)
    if not args.no_doc:
        write_section("server_wal", md)
    print(md)


if __name__ == "__main__":
    main()
