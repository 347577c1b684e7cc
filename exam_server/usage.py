"""Item usage (exposure) of live exams: counted when items are given, read
back for the engine's exposure control.

Per exam (``exam_usage``: tests started; ``exam_item_usage``: times each item
of the exam's bank snapshot was given) and per bank item (``bank_item_usage``,
the item bank's own usage column). Counts are added in the same transaction
that stores the attempt step which gave the items (the group commit), as
``count = count + n`` upserts, so several processes on one PostgreSQL never
lose an increment; rows are written in key order so two transactions never
wait on each other in a cycle.

Each process keeps the counts of the exams it serves in a :class:`UsageCache`
(its own administrations added at once; the database's totals, with other
processes' administrations, read back every few seconds) and hands them to
the engine as an :class:`~cat_engine.exposure.ExposureUsage` on every
selection. The hard rate cap is therefore exact in one process and at most a
few seconds of other processes' tests behind with several.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from cat_engine.exposure import ExposureUsage
from exam_server.forensics.models import WithdrawnItem
from exam_server.models import ExamItemUsage, ExamUsage
from item_bank.models import ItemUsage, utcnow

EXAM_USAGE = ExamUsage.__table__  # type: ignore[attr-defined]
ITEM_USAGE = ExamItemUsage.__table__  # type: ignore[attr-defined]
BANK_USAGE = ItemUsage.__table__  # type: ignore[attr-defined]
WITHDRAWN = WithdrawnItem.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Administered:
    """Items one attempt step gave: bank indices of the exam's snapshot with
    their bank item ids, and ``tests`` = 1 when the step started a test."""

    exam_id: int
    indices: tuple[int, ...]
    item_ids: tuple[str, ...]
    tests: int = 0
    # The places were taken in exam_item_usage already (:func:`reserve`):
    # the step's commit counts only the tests and the bank's usage.
    reserved: bool = False


def _insert(conn: Connection):  # type: ignore[no-untyped-def]
    return pg_insert if conn.dialect.name == "postgresql" else sqlite_insert


def _counts(
    steps: Iterable[Administered],
) -> tuple[Counter[int], Counter[tuple[int, int]], Counter[str]]:
    """What ``steps`` add: tests per exam, administrations per (exam, item
    index) (none for places already reserved), and per bank item."""
    tests: Counter[int] = Counter()
    items: Counter[tuple[int, int]] = Counter()
    bank: Counter[str] = Counter()
    for s in steps:
        if s.tests:
            tests[s.exam_id] += s.tests
        if not s.reserved:
            items.update((s.exam_id, int(i)) for i in s.indices)
        bank.update(s.item_ids)
    return tests, items, bank


def add_usage(conn: Connection, steps: Iterable[Administered]) -> None:
    """Count ``steps`` inside the caller's transaction (one upsert per table)."""
    tests, items, bank = _counts(steps)
    insert = _insert(conn)
    if tests:
        stmt = insert(EXAM_USAGE).values(
            [{"exam_id": e, "tests": n} for e, n in sorted(tests.items())]
        )
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[EXAM_USAGE.c.exam_id],
                set_={"tests": EXAM_USAGE.c.tests + stmt.excluded.tests},
            )
        )
    if items:
        stmt = insert(ITEM_USAGE).values(
            [
                {"exam_id": e, "item_index": i, "administered": n}
                for (e, i), n in sorted(items.items())
            ]
        )
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[ITEM_USAGE.c.exam_id, ITEM_USAGE.c.item_index],
                set_={"administered": ITEM_USAGE.c.administered + stmt.excluded.administered},
            )
        )
    if bank:
        now = utcnow()
        stmt = insert(BANK_USAGE).values(
            [
                {"item_id": i, "administered": n, "last_used_at": now}
                for i, n in sorted(bank.items())
            ]
        )
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[BANK_USAGE.c.item_id],
                set_={
                    "administered": BANK_USAGE.c.administered + stmt.excluded.administered,
                    "last_used_at": stmt.excluded.last_used_at,
                },
            )
        )


def take_back_usage(conn: Connection, steps: Iterable[Administered]) -> None:
    """Undo :func:`add_usage` of ``steps`` inside the same transaction, for a
    write that turned out not to be stored (a concurrent process stored the
    same attempt first). The rows were counted, hence locked, by this
    transaction already: no new lock is taken, so no deadlock is possible.
    ``last_used_at`` stays: the item was used by the attempt that was stored."""
    tests, items, bank = _counts(steps)
    for e, n in sorted(tests.items()):
        conn.execute(
            EXAM_USAGE.update()
            .where(EXAM_USAGE.c.exam_id == e)
            .values(tests=EXAM_USAGE.c.tests - n)
        )
    for (e, i), n in sorted(items.items()):
        conn.execute(
            ITEM_USAGE.update()
            .where(ITEM_USAGE.c.exam_id == e, ITEM_USAGE.c.item_index == i)
            .values(administered=ITEM_USAGE.c.administered - n)
        )
    for item_id, n in sorted(bank.items()):
        conn.execute(
            BANK_USAGE.update()
            .where(BANK_USAGE.c.item_id == item_id)
            .values(administered=BANK_USAGE.c.administered - n)
        )


def read_usage(conn: Connection, exam_id: int, n_items: int) -> ExposureUsage:
    """The stored usage of one exam: counts (n_items,) and tests started."""
    counts = np.zeros(n_items, dtype=np.int64)
    rows = conn.execute(
        select(ITEM_USAGE.c.item_index, ITEM_USAGE.c.administered).where(
            ITEM_USAGE.c.exam_id == exam_id
        )
    ).all()
    if rows:
        idx = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        val = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
        keep = (idx >= 0) & (idx < n_items)
        counts[idx[keep]] = val[keep]
    tests = conn.execute(
        select(EXAM_USAGE.c.tests).where(EXAM_USAGE.c.exam_id == exam_id)
    ).scalar_one_or_none()
    # Retired items (issue 21, exam_server.forensics.service.decide) leave selection.
    gone = [int(r[0]) for r in conn.execute(
        select(WITHDRAWN.c.item_index).where(WITHDRAWN.c.exam_id == exam_id)
    )]  # fmt: skip
    withdrawn = None
    if gone:
        withdrawn = np.zeros(n_items, dtype=bool)
        withdrawn[[i for i in gone if 0 <= i < n_items]] = True
    return ExposureUsage(counts, int(tests or 0), withdrawn)


# One place on an item, taken atomically across processes if the item is
# under the exam's hard rate (the engine's own test, ExposureUsage.allowed:
# count + 1 <= max_rate · max(tests + 1, warmup)); the row lock of the upsert
# makes two processes taking the last place see each other.
_RESERVE = """
INSERT INTO exam_item_usage (exam_id, item_index, administered)
SELECT %(exam)s, %(item)s, 1
WHERE 1 <= %(rate)s * GREATEST(
    COALESCE((SELECT tests FROM exam_usage WHERE exam_id = %(exam)s), 0) + 1, %(warmup)s
) + 1e-9
ON CONFLICT (exam_id, item_index) DO UPDATE
SET administered = exam_item_usage.administered + 1
WHERE exam_item_usage.administered + 1 <= %(rate)s * GREATEST(
    COALESCE((SELECT tests FROM exam_usage WHERE exam_id = %(exam)s), 0) + 1, %(warmup)s
) + 1e-9
RETURNING administered
"""


def reserve(
    conn: Connection, exam_id: int, indices: Sequence[int], max_rate: float, warmup: int
) -> list[int]:
    """Take one place on each item for a step, in the database (PostgreSQL;
    the caller commits at once). Returns the items refused because they are
    at the exam's rate limit; the places of the others are taken. Several
    processes then never give an item past the limit, however stale their
    in-memory counts (:class:`UsageCache`) were."""
    refused: list[int] = []
    cur = conn.connection.cursor()
    try:
        for i in sorted({int(i) for i in indices}):  # one order: no deadlock
            cur.execute(_RESERVE, {"exam": exam_id, "item": i, "rate": max_rate, "warmup": warmup})
            if cur.fetchone() is None:
                refused.append(i)
    finally:
        cur.close()
    return refused


def release(conn: Connection, exam_id: int, indices: Sequence[int]) -> None:
    """Give back places taken by :func:`reserve` for a step that was not stored."""
    for i in sorted({int(i) for i in indices}):
        conn.execute(
            ITEM_USAGE.update()
            .where(ITEM_USAGE.c.exam_id == exam_id, ITEM_USAGE.c.item_index == i)
            .values(administered=ITEM_USAGE.c.administered - 1)
        )


# A process's share of the exam's administrations is measured over one
# read-back interval only when at least this many were made in all (fewer
# say little); it is never taken below MIN_SHARE, so a process whose
# traffic grows suddenly (a worker died, its terminals came here) still
# gets a place of every item the database says has room.
MIN_SAMPLE = 20
MIN_SHARE = 0.05


class UsageCache:
    """This process's view of the usage of the exams it serves.

    ``usage(exam_id)`` is what the engine gets; ``count(step)`` adds this
    process's own administrations as soon as it makes them (``uncount``
    takes one back when its step was not stored); ``replace(exam_id,
    stored)`` takes the database's totals (with other processes'
    administrations) when they are read back.

    Several processes: between two read-backs each process sees only its
    own administrations, so an item with room for H more tests at the last
    read-back would get up to H from every process (measured: 2 PostgreSQL
    workers gave the best items to 0.50 of the tests under a 0.25 limit,
    docs/benchmarks.md "Exposure control, live"). Each process therefore
    counts its own administrations since the last read-back (and its tests)
    as ``1 / share`` each, ``share`` being its part of all administrations
    of the exam over the last interval: it expects the other processes to
    have given as much again meanwhile, and so takes about ``share · H`` of
    the room, the processes together about H. With one process the share
    is 1 and the counts are exact.
    """

    def __init__(self) -> None:
        self._base: dict[int, np.ndarray] = {}  # the database's counts at the last read-back
        self._base_tests: dict[int, int] = {}
        self._own: dict[int, np.ndarray] = {}  # this process's since then
        self._own_tests: dict[int, int] = {}
        self._share: dict[int, float] = {}
        # Items the database refused at the limit since the last read-back.
        self._full: dict[int, set[int]] = {}
        # Retired items no selection may give (read back, or withdrawn here).
        self._withdrawn: dict[int, set[int]] = {}

    def known(self, exam_id: int) -> bool:
        return exam_id in self._base

    def exams(self) -> Sequence[int]:
        return tuple(self._base)

    def share(self, exam_id: int) -> float:
        """This process's part of the exam's administrations (1 until measured)."""
        return self._share.get(exam_id, 1.0)

    def replace(self, exam_id: int, stored: ExposureUsage) -> None:
        counts = np.array(stored.counts, dtype=np.int64)
        tests = int(stored.n_tests)
        base = self._base.get(exam_id)
        if base is not None and base.shape == counts.shape:
            own = self._own[exam_id]
            grown = int(counts.sum()) - int(base.sum())
            if grown >= MIN_SAMPLE:
                self._share[exam_id] = min(1.0, max(MIN_SHARE, int(own.sum()) / grown))
            # Counts only grow: what this process already knew (its own steps,
            # some not yet committed when the database was read) is a lower
            # bound of the truth as much as the stored totals are.
            np.maximum(counts, base + own, out=counts)
            tests = max(tests, self._base_tests[exam_id] + self._own_tests[exam_id])
        self._base[exam_id] = counts
        self._base_tests[exam_id] = tests
        self._own[exam_id] = np.zeros_like(counts)
        self._own_tests[exam_id] = 0
        self._full.pop(exam_id, None)  # the stored counts show them now
        if stored.withdrawn is not None:
            self.withdraw(exam_id, np.flatnonzero(stored.withdrawn).tolist())

    def usage(self, exam_id: int) -> ExposureUsage | None:
        base = self._base.get(exam_id)
        if base is None:
            return None
        own = np.maximum(self._own[exam_id], 0)
        own_tests = max(self._own_tests[exam_id], 0)
        f = self.share(exam_id)
        if f < 1.0:
            own = np.floor(own / f).astype(np.int64)
            own_tests = int(own_tests / f)
        counts = base + own
        full = self._full.get(exam_id)
        if full:
            # At the limit in the database: no rate admits one more.
            counts[np.fromiter(full, dtype=np.int64)] = np.iinfo(np.int32).max
        withdrawn = None
        if self._withdrawn.get(exam_id):
            withdrawn = np.zeros(counts.shape[0], dtype=bool)
            withdrawn[[i for i in self._withdrawn[exam_id] if i < counts.shape[0]]] = True
        # ExposureUsage copies the counts: a linear form is assembled in a
        # worker thread while the loop keeps counting.
        return ExposureUsage(counts, self._base_tests[exam_id] + own_tests, withdrawn)

    def withdraw(self, exam_id: int, indices: Iterable[int]) -> None:
        """Items retired after a review: no later selection in this exam gives them."""
        self._withdrawn.setdefault(exam_id, set()).update(int(i) for i in indices)

    def mark_full(self, exam_id: int, indices: Iterable[int]) -> None:
        """Items the database refused at the rate limit (until the next read-back)."""
        self._full.setdefault(exam_id, set()).update(int(i) for i in indices)

    def count(self, step: Administered, sign: int = 1) -> None:
        own = self._own.get(step.exam_id)
        if own is None:
            return  # not loaded here: the next read-back has it
        if step.indices:
            np.add.at(own, np.asarray(step.indices, dtype=np.int64), sign)
        self._own_tests[step.exam_id] += sign * step.tests

    def uncount(self, step: Administered) -> None:
        """Take back a step counted by :meth:`count` that was not stored."""
        self.count(step, -1)
