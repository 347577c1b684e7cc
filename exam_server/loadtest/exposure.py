"""Exposure of a live exam, measured: terminals that answer like the
simulator's simulees, and the exam's item usage read back from the database.

* :func:`public_items` — item texts for any bank (a synthetic bank has none);
  each stem names its item, so a terminal can tell which item it was given.
* :class:`IrtAnswers` — a terminal's answer to the item it was shown, drawn
  as ``seleksi simulate --seed S`` draws simulee j's answer to that item
  (the same abilities, the same item response model, the same random
  stream): the live run and the simulation differ only in who is served
  when, not in what the candidates know.
* :func:`read_live_exposure` — per item, how often it was given
  (``exam_item_usage`` / ``exam_usage``, the counts the engine's exposure
  control reads), beside the same counts rebuilt from the items each
  attempt was actually presented and the bank's own ``bank_item_usage``.
* :class:`Exposure` — one set of counts and its summary (max rate, items
  above the target, items at the cap, mean, top items), for a live exam and
  for a simulation alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cat_engine.bank import BankArrays
from exam_server.exams import ExamData
from exam_server.snapshot import PublicItemContent

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

# cat_engine.simulation.simulate draws simulee answers from seed + 1_000_003
# (not exported there); the live terminals use the same offset so that
# terminal j answers an item exactly as simulee j of that simulation would.
ANSWER_SEED_OFFSET = 1_000_003


def public_items(bank: BankArrays) -> list[PublicItemContent]:
    """Item texts for ``bank`` (aligned with its indices): the stem names the item."""
    return [
        PublicItemContent(
            item_id,
            bank.subtest_codes[int(bank.subtest[i])],
            f"Butir {item_id}: pilih jawaban yang paling tepat.",
            tuple(f"Pilihan {chr(65 + k)}" for k in range(int(bank.n_options[i]))),
        )
        for i, item_id in enumerate(bank.item_ids)
    ]


class IrtAnswers:
    """Terminal j's option for an ``item`` frame, as simulee j of a simulation.

    exam: the exam as the server holds it (bank snapshot, item texts, design);
    theta: (N, S) abilities, one column per design section (what
    ``seleksi simulate --seed S`` draws without ``--theta``); seed: that
    simulation's seed. Terminal j must be candidate j of the same order.
    """

    def __init__(self, exam: ExamData, theta: FloatArray, seed: int) -> None:
        from cat_engine.response import option_for_category

        codes = [s.code for s in exam.design.sections]
        self.bank = exam.bank
        self.theta = np.asarray(theta, dtype=np.float64)
        if self.theta.ndim != 2 or self.theta.shape[1] != len(codes):
            raise ValueError(f"theta must be (N, {len(codes)}), got {self.theta.shape}")
        self.answer_seed = int(seed) + ANSWER_SEED_OFFSET
        self.by_stem = {it.stem: i for i, it in enumerate(exam.items)}
        if len(self.by_stem) != len(exam.items):
            raise ValueError("IrtAnswers needs one stem per item (see public_items)")
        # The section of each bank item: the design section of its subtest.
        sub_codes = [exam.bank.subtest_codes[int(s)] for s in exam.bank.subtest]
        self.section = np.array(
            [codes.index(c) if c in codes else 0 for c in sub_codes], dtype=np.int64
        )
        self.options = option_for_category(exam.bank)

    def item_index(self, item: Mapping[str, Any]) -> int:
        return self.by_stem[str(item["stem"])]

    def __call__(self, terminal: int, item: Mapping[str, Any]) -> int:
        from cat_engine.simulation import draw_answers

        idx = self.item_index(item)
        j = np.array([terminal], dtype=np.int64)
        th = self.theta[j, int(self.section[idx])]
        category = int(draw_answers(self.bank, th, self.answer_seed, j, np.array([[idx]]))[0, 0])
        return int(self.options[idx, category])


@dataclass(frozen=True)
class Exposure:
    """How often each item was given over ``tests`` tests.

    item_ids: (n,); counts: (n,) administrations; max_rate: the design's
    hard limit (None: none)."""

    item_ids: tuple[str, ...]
    counts: IntArray
    tests: int
    max_rate: float | None

    @property
    def rates(self) -> FloatArray:
        """(n,) administrations / tests started."""
        return np.asarray(self.counts / max(self.tests, 1), dtype=np.float64)

    @property
    def cap(self) -> int | None:
        """The most tests an item may go to at the end (the engine's rule at n = tests)."""
        if self.max_rate is None:
            return None
        from cat_engine.exposure import remaining_places

        return int(remaining_places(np.zeros(1, dtype=np.int64), self.tests, self.max_rate, 1)[0])

    def summary(self, top: int = 10) -> dict[str, Any]:
        """max, items above the target (rate > max_rate) and at the cap (count
        ≥ the cap), mean over the bank, mean over items given at least once,
        and the ``top`` items by rate (id, rate)."""
        r = self.rates
        order = np.argsort(-r, kind="stable")[:top]
        used = r[self.counts > 0]
        cap = self.cap
        return {
            "tests": int(self.tests),
            "items": len(self.item_ids),
            "target": self.max_rate,
            "max": float(r.max()) if r.size else 0.0,
            "above_target": (
                int(np.sum(r > self.max_rate + 1e-12)) if self.max_rate is not None else None
            ),
            "at_cap": int(np.sum(self.counts >= cap)) if cap is not None else None,
            "over_cap": int(np.sum(np.maximum(self.counts - cap, 0))) if cap is not None else None,
            "mean": float(r.mean()) if r.size else 0.0,
            "mean_used": float(used.mean()) if used.size else 0.0,
            "never_used": int(np.sum(self.counts == 0)),
            "top": [[self.item_ids[i], round(float(r[i]), 4)] for i in order],
        }


@dataclass(frozen=True)
class LiveExposure:
    """One exam's usage as stored (``usage``: exam_item_usage / exam_usage,
    what the engine reads) and as rebuilt from the attempts (``presented``:
    every attempt's presented items; ``attempts`` of them), with the bank's
    ``bank_item_usage`` counts of the same items (``bank_counts``, (n,))."""

    exam_code: str
    usage: Exposure
    presented: Exposure
    attempts: int
    bank_counts: IntArray

    def mismatches(self) -> dict[str, int]:
        """Lost or double counts: items whose stored count differs from what the
        attempts were given, and tests counted vs attempts stored."""
        return {
            "exam_item_usage": int(np.sum(self.usage.counts != self.presented.counts)),
            "bank_item_usage": int(np.sum(self.bank_counts != self.presented.counts)),
            "exam_usage": abs(self.usage.tests - self.attempts),
        }

    def to_dict(self, top: int = 10) -> dict[str, Any]:
        return {
            "exam": self.exam_code,
            "usage": self.usage.summary(top),
            "presented": self.presented.summary(top),
            "attempts": self.attempts,
            "mismatches": self.mismatches(),
        }

    def to_text(self, top: int = 10) -> str:
        s = self.usage.summary(top)
        mm = self.mismatches()
        target = "none" if s["target"] is None else f"{s['target']:g}"
        lines = [
            f"exposure of exam {self.exam_code}: {s['tests']} tests, {s['items']} items, "
            f"target {target}",
            f"  max {s['max']:.4f}; above target {s['above_target']}; at the cap "
            f"{s['at_cap']} (cap {self.usage.cap}); mean {s['mean']:.4f} "
            f"(items given: {s['mean_used']:.4f}); never given {s['never_used']}",
            "  top: " + ", ".join(f"{i} {r:.4f}" for i, r in s["top"]),
            f"  stored vs the attempts' items: {mm['exam_item_usage']} items differ in "
            f"exam_item_usage, {mm['bank_item_usage']} in bank_item_usage; tests "
            f"{self.usage.tests} vs attempts {self.attempts}",
        ]
        return "\n".join(lines)


def exam_of(database_url: str, registration_number: str) -> ExamData:
    """The exam candidate ``registration_number`` is scheduled to sit."""
    from sqlalchemy import select
    from sqlmodel import Session

    from exam_server.db import make_engine
    from exam_server.models import Candidate, Exam, ExamSession

    engine = make_engine(database_url, pool_size=1)
    try:
        with Session(engine) as s:
            row = s.execute(
                select(Exam)
                .join(ExamSession, ExamSession.exam_id == Exam.id)  # type: ignore[arg-type]
                .join(Candidate, Candidate.session_id == ExamSession.id)  # type: ignore[arg-type]
                .where(Candidate.registration_number == registration_number)  # type: ignore[arg-type]
            ).scalar_one_or_none()
            if row is None:
                raise LookupError(f"no exam for candidate {registration_number}")
            return ExamData.from_row(row)
    finally:
        engine.dispose()


def read_live_exposure(database_url: str, exam: ExamData) -> LiveExposure:
    """The exam's stored usage and the usage rebuilt from its attempts."""
    from sqlalchemy import select

    from cat_engine.engine import presented
    from exam_server.attempts.storage import ATTEMPT, SESSION, read_state
    from exam_server.db import make_engine
    from exam_server.usage import BANK_USAGE, read_usage

    n = exam.bank.n_items
    engine = make_engine(database_url, pool_size=1)
    try:
        with engine.connect() as conn:
            stored = read_usage(conn, exam.exam_id, n)
            given = np.zeros(n, dtype=np.int64)
            attempts = 0
            rows = conn.execute(
                select(ATTEMPT.c.id)
                .join(SESSION, SESSION.c.id == ATTEMPT.c.session_id)
                .where(SESSION.c.exam_id == exam.exam_id)
            ).all()
            for (aid,) in rows:
                items = presented(read_state(conn, aid, exam.bank))
                np.add.at(given, np.asarray(items, dtype=np.int64), 1)
                attempts += 1
            bank_rows: dict[str, int] = dict(
                conn.execute(
                    select(BANK_USAGE.c.item_id, BANK_USAGE.c.administered).where(
                        BANK_USAGE.c.item_id.in_(exam.bank.item_ids)
                    )
                ).all()
            )
    finally:
        engine.dispose()
    ids = tuple(exam.bank.item_ids)
    rate = exam.design.exposure.max_rate
    return LiveExposure(
        exam_code=exam.code,
        usage=Exposure(ids, np.asarray(stored.counts, dtype=np.int64), stored.n_tests, rate),
        presented=Exposure(ids, given, attempts, rate),
        attempts=attempts,
        bank_counts=np.array([int(bank_rows.get(i, 0)) for i in ids], dtype=np.int64),
    )
