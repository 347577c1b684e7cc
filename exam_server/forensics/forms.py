"""Tests assembled before a retirement that still hold the retired item.

A linear form is assembled when its session opens, an adaptive test's first
item with it (``exam_server.attempts.login.prepare_session``), so retiring
an item (:func:`exam_server.forensics.service.decide`) finds tests that
already hold it. Two kinds:

* **prepared** — never started: no terminal bound, no answer, the clock
  never ran. Nothing of it has been shown, so every retired item it holds
  is replaced by a parallel item (:func:`forensics.parallel.replace_unseen`):
  the stored start state is rewritten, the new item counted as used, and an
  ``form_patched`` event (old and new item per place) goes into the audit
  chain. ``seleksi audit verify`` scores such a test from its stored state
  checked against its answers, as for every test of an exam with retired
  items.
* **started** — left as they are and counted when they hold the item
  unanswered: a linear test does not record which items its candidate
  looked at, and an answer given stands and is scored.

All blocking (SQLAlchemy). The admin API holds this process's copies of the
prepared tests under their locks while they are patched (``api.py``); the
command line, and another worker, patch the database alone, so a process
that read a prepared test before the patch takes the stored form when the
candidate's first terminal binds (:func:`stored_if_patched`, in the bind's
own transaction).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.engine import Connection, Engine

from cat_engine.bank import BankArrays
from cat_engine.engine import presented
from cat_engine.state import TestState
from exam_server import audit, state_codec
from exam_server.attempts import storage
from exam_server.db import writer
from exam_server.forensics.load import ATTEMPT, EXAM, SESSION
from exam_server.forensics.models import WithdrawnItem
from exam_server.snapshot import bank_from_json
from exam_server.usage import Administered, add_usage, read_usage
from forensics.parallel import replace_unseen

WITHDRAWN = WithdrawnItem.__table__  # type: ignore[attr-defined]

#: Attempt statuses in which a test may still be worked on.
ACTIVE = ("running", "paused")


@dataclass(frozen=True)
class Holding:
    """The active tests of the exams holding a retired item that hold it unanswered.

    prepared: attempt ids never started (patchable); started: how many others."""

    prepared: tuple[int, ...]
    started: int


@dataclass
class Patched:
    """What :func:`patch_prepared` did.

    states: attempt id → its new engine state (for this process's copy);
    given: the new items as usage steps (for this process's counts);
    kept: prepared tests that still hold a retired item (the bank had no
    parallel item for it); started: started tests that hold it unanswered."""

    states: dict[int, TestState] = field(default_factory=dict)
    given: list[Administered] = field(default_factory=list)
    kept: int = 0
    started: int = 0

    def to_dict(self) -> dict[str, int]:
        """The counts the retire page and command print."""
        return {
            "prepared_patched": len(self.states),
            "prepared_kept": self.kept,
            "started_unanswered": self.started,
        }


def _prepared(row: Any) -> bool:
    """Never started: no terminal bound, no response, the clock never ran."""
    return bool(
        row.status == "running"
        and row.terminal_id is None
        and int(row.last_seq) == 0
        and not row.started_at
        and row.running_since is None
    )


def _holds_unanswered(state: TestState, index: int) -> bool:
    for sec in state.sections:
        for pos, i in enumerate(sec.items):
            if i == index and not sec.answered[pos] and sec.options[pos] < 0:
                return True
    return False


def _exams(conn: Connection, item_id: str) -> list[tuple[int, int]]:
    """(exam id, bank index) of every exam the item was withdrawn from."""
    rows = conn.execute(
        select(WITHDRAWN.c.exam_id, WITHDRAWN.c.item_index).where(WITHDRAWN.c.item_id == item_id)
    )
    return [(int(e), int(i)) for e, i in rows]


def _active(conn: Connection, exam_id: int, ids: list[int] | None = None) -> list[Any]:
    """The exam's attempts that may still be worked on (of ``ids`` only, if given)."""
    q = (
        select(
            ATTEMPT.c.id,
            ATTEMPT.c.session_id,
            ATTEMPT.c.status,
            ATTEMPT.c.terminal_id,
            ATTEMPT.c.last_seq,
            ATTEMPT.c.started_at,
            ATTEMPT.c.running_since,
        )
        .join(SESSION, SESSION.c.id == ATTEMPT.c.session_id)
        .where(SESSION.c.exam_id == exam_id, ATTEMPT.c.status.in_(ACTIVE))
        .order_by(ATTEMPT.c.id)
    )
    if ids is not None:
        q = q.where(ATTEMPT.c.id.in_(ids))
    return list(conn.execute(q))


def _bank(conn: Connection, exam_id: int) -> BankArrays:
    text = conn.execute(select(EXAM.c.bank_json).where(EXAM.c.id == exam_id)).scalar_one()
    return bank_from_json(text)


def scan(engine: Engine, item_id: str) -> Holding:
    """The active tests of every exam the item was withdrawn from that hold it unanswered."""
    prepared: list[int] = []
    started = 0
    with engine.connect() as conn:
        for exam_id, index in _exams(conn, item_id):
            bank = _bank(conn, exam_id)
            for row in _active(conn, exam_id):
                state = storage.read_state(conn, int(row.id), bank)
                if not _holds_unanswered(state, index):
                    continue
                if _prepared(row):
                    prepared.append(int(row.id))
                else:
                    started += 1
    return Holding(tuple(prepared), started)


def patch_prepared(
    engine: Engine, item_id: str, actor: str, now: float, attempt_ids: list[int]
) -> Patched:
    """Replace the retired items in the prepared tests ``attempt_ids`` that hold
    ``item_id`` (:func:`scan` found them), in one transaction; each is checked
    to be still prepared as it is rewritten. Tests that are not (any more)
    count as started. Call after :func:`~exam_server.forensics.service.decide`
    withdrew the item."""
    out = Patched()
    with writer(engine).begin() as conn:
        for exam_id, index in _exams(conn, item_id):
            bank = _bank(conn, exam_id)
            usage = read_usage(conn, exam_id, bank.n_items)
            unavailable = (
                usage.withdrawn
                if usage.withdrawn is not None
                else np.zeros(bank.n_items, dtype=bool)
            )
            counts = np.array(usage.counts, dtype=np.int64)
            for row in _active(conn, exam_id, attempt_ids):
                aid = int(row.id)
                state = storage.read_state(conn, aid, bank)
                if not _holds_unanswered(state, index):
                    continue
                if not _prepared(row):
                    out.started += 1
                    continue
                new, swaps, missing = replace_unseen(state, bank, unavailable, counts)
                if missing or not swaps:
                    out.kept += 1
                if not swaps:
                    continue
                # Rewritten only while still untouched (a login binds the
                # terminal first; on PostgreSQL the row lock orders the two).
                done = conn.execute(
                    update(ATTEMPT)
                    .where(
                        ATTEMPT.c.id == aid,
                        ATTEMPT.c.terminal_id.is_(None),
                        ATTEMPT.c.last_seq == 0,
                    )
                    .values(on_screen=storage.on_screen(new))
                ).rowcount
                if not done:
                    out.started += 1
                    continue
                storage.put_snapshot(conn, storage.snapshot_row(aid, 0, new))
                new_idx = tuple(s.new_index for s in swaps)
                given = Administered(exam_id, new_idx, tuple(bank.item_ids[i] for i in new_idx))
                add_usage(conn, [given])
                counts[list(new_idx)] += 1
                audit.append(
                    conn,
                    "form_patched",
                    actor,
                    session_id=int(row.session_id),
                    attempt_id=aid,
                    reason=f"item {item_id} retired before the test started",
                    data={
                        "item_id": item_id,
                        "swaps": [s.to_dict() for s in swaps],
                        "items": [bank.item_ids[i] for i in presented(new)],
                        # The form the test now starts from: verify replays from it.
                        "form_sha256": audit.form_digest(state_codec.state_json(new)),
                    },
                    at=now,
                )
                out.states[aid] = new
                out.given.append(given)
    return out


def stored_if_patched(
    conn: Connection, exam_id: int, attempt_id: int, held: TestState, bank: BankArrays
) -> TestState | None:
    """The stored state of a prepared test whose copy ``held`` (read earlier,
    by this process) holds an item retired in the exam since: the form may
    have been patched by another process (:func:`patch_prepared`). None when
    ``held`` holds no retired item, the normal case, which costs one indexed
    read. Call inside the transaction that binds the first terminal: a patch
    rewrites only tests no terminal is bound to, so after the bind the
    stored form is final."""
    shown = set(presented(held))
    retired = conn.execute(
        select(WITHDRAWN.c.item_index).where(WITHDRAWN.c.exam_id == exam_id)
    ).all()
    if not any(int(r[0]) in shown for r in retired):
        return None
    return storage.read_state(conn, attempt_id, bank)


def retire_forms(engine: Engine, item_id: str, actor: str, now: float) -> Patched:
    """:func:`scan`, then :func:`patch_prepared` on what it found, with the
    started tests counted (the command line: the database alone). The scan
    reads outside the write transaction, so SQLite's write lock is held only
    while the prepared tests are rewritten."""
    holding = scan(engine, item_id)
    out = patch_prepared(engine, item_id, actor, now, list(holding.prepared))
    out.started += holding.started
    return out
