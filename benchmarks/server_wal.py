"""SQLite write-ahead-log bytes per answer for the stored form, SQLite alone.

On the server's schema (head), 5,000 attempts 40 answers into a 110-item SKD
form: commits of ``batch`` answers from distinct random attempts (50 ≈ the
group commit under saturation, 2 and 1 ≈ exam pace), each a response row,
the narrow attempt update, and the engine state as a snapshot every 10
responses. Frames counted as in ``benchmarks.meters.WalMeter`` (a reader
holds the log over the window; frames counted by a PASSIVE checkpoint), each
a page plus its 24-byte header. Forms compared:

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
* ``... on 512-byte pages``: the same two forms with SQLite's smallest page.

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


FORMS = (
    Form("head (zstd snapshot, 1 kB pages)"),
    Form("raw state (before 0014)", packed=False),
    Form("no attempt update", attempt_update=False),
    Form("commit-ordered log", attempt_update=False, attempt_index=False),
    Form("no attempt update, 512-byte pages", attempt_update=False, page_size=512),
    Form("commit-ordered log, 512-byte pages", False, False, False, 512),
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


def run(form: Form, batch: int, state: str, answers: int, n: int = 5000, every: int = 10) -> float:
    """Log bytes per answer of ``form`` in commits of ``batch`` answers."""

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
        if not form.attempt_index:
            # The same columns with no UNIQUE (attempt_id, seq): rows in commit order only.
            con.execute("ALTER TABLE exam_response RENAME TO exam_response_indexed")
            con.execute("CREATE TABLE exam_response AS SELECT * FROM exam_response_indexed LIMIT 0")
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
        rng = random.Random(1)

        def commit(ids: list[int]) -> None:
            con.execute("BEGIN IMMEDIATE")
            con.executemany(
                "INSERT INTO exam_response (at, attempt_id, elapsed, flagged, hash, item_id,"
                " kind, number, option, prev_hash, seq, server_elapsed)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (time.time(), i, 1.5, False, "b" * 64, "I00267", "answer", seqs[i] + 1, 2,
                     "a" * 64, seqs[i] + 1, 12.25)
                    for i in ids
                ],
            )  # fmt: skip
            if form.attempt_update:
                con.executemany(
                    "UPDATE exam_attempt SET last_seen_at=?, last_seq=?, response_head=?,"
                    " on_screen=? WHERE id=?",
                    [(time.time(), seqs[i] + 1, "c" * 64, 3, i) for i in ids],
                )
            con.executemany(
                "INSERT INTO exam_attempt_snapshot (attempt_id, seq, state) VALUES (?,?,?)",
                [(i, seqs[i] + 1, stored(seqs[i] + 1)) for i in ids if (seqs[i] + 1) % every == 0],
            )
            con.execute("COMMIT")
            for i in ids:
                seqs[i] += 1

        # Mid-exam: 40 answers of everyone already stored.
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
        return (f1 - f0) * (form.page_size + 24) / done


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
        "level 1), a snapshot every 10 responses; bytes of write-ahead log per answer "
        "(frames of page + 24-byte header) in commits of 50 answers (the group commit "
        "under saturation) and of 2 and 1 (exam pace). Deterministic: no timing.",
        "",
        "| stored form | " + " | ".join(f"commits of {b}" for b in batches) + " |",
        "| --- |" + " ---: |" * len(batches),
    ]
    for form in FORMS:
        cells = [run(form, b, state, 20000 if b == 50 else 3000) for b in batches]
        lines.append(f"| {form.name} | " + " | ".join(f"{c:,.0f}" for c in cells) + " |")
        print(lines[-1], flush=True)
    lines += ["", "`python -m benchmarks.server_wal`"]
    md = "\n".join(lines)
    if not args.no_doc:
        write_section("server_wal", md)
    print(md)


if __name__ == "__main__":
    main()
