"""The survey pool: answers wait for a batch of other candidates' answers, are
written shuffled in one transaction, and are not lost when a write fails or
the server stops."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from exam_server.after_test import store
from exam_server.after_test.survey_pool import Submission, SurveyPool
from exam_server.db import create_schema, make_engine


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    e = make_engine(f"sqlite:///{tmp_path / 'pool.db'}")
    create_schema(e)
    return e


def answers(e: Engine) -> list[tuple[str, str, int]]:
    return [(r[0], r[2], r[3]) for r in store.survey_rows(e, "SKD")]


def sub(value: int) -> Submission:
    return Submission("SKD", "2025-01-01", {"overall": value, "staff": value})


def test_answers_wait_for_a_batch_then_are_written_together(engine: Engine) -> None:
    pool = SurveyPool(engine, min_batch=3, max_wait=600.0)
    pool.add(sub(1))
    pool.add(sub(2))
    assert answers(engine) == [] and pool.pending == 2  # two candidates: not yet
    pool.add(sub(3))
    assert pool.pending == 0 and pool.batches == 1
    rows = answers(engine)
    assert sorted(v for _, q, v in rows if q == "overall") == [1, 2, 3]
    # Each submission keeps its answers together under one random id, and the
    # ids say nothing of the order the candidates answered in.
    by_id: dict[str, set[int]] = {}
    for sid, _, v in rows:
        by_id.setdefault(sid, set()).add(v)
    assert sorted(len(v) for v in by_id.values()) == [1, 1, 1]
    assert all(len(sid) == 32 for sid in by_id)


def test_a_declined_survey_writes_nothing(engine: Engine) -> None:
    pool = SurveyPool(engine, min_batch=1)
    pool.add(Submission("SKD", "2025-01-01", {}))
    assert pool.pending == 0 and pool.batches == 0 and answers(engine) == []


def test_a_pool_that_does_not_fill_is_written_after_the_wait_and_at_stop(engine: Engine) -> None:
    clock = Clock()
    pool = SurveyPool(engine, min_batch=10, max_wait=600.0, clock=clock)
    pool.add(sub(4))
    clock.now += 599.0
    assert not pool.due()
    clock.now += 1.0
    assert pool.due()
    assert pool.flush() == 1 and len(answers(engine)) == 2

    async def run() -> None:
        await pool.start(every=3600.0)
        pool.add(sub(5))
        await pool.stop()  # the server stops: what waits is written

    asyncio.run(run())
    assert pool.pending == 0 and len(answers(engine)) == 4


def test_a_failed_write_keeps_the_answers_for_the_next_one(engine: Engine) -> None:
    clock = Clock()
    pool = SurveyPool(engine, min_batch=2, max_wait=600.0, clock=clock)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE after_survey_answer RENAME TO held_away"))
    pool.add(sub(1))
    pool.add(sub(2))  # the batch is full, its write fails: the candidate is not refused
    assert pool.pending == 2 and pool.due()  # kept, and due at the next check
    with pytest.raises(Exception, match="after_survey_answer"):
        pool.flush()  # the timer's try, still failing: still kept
    assert pool.pending == 2
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE held_away RENAME TO after_survey_answer"))
    assert pool.flush() == 2 and len(answers(engine)) == 4


def test_settings_refuse_a_pool_that_cannot_work(engine: Engine) -> None:
    from exam_server.settings import Settings

    with pytest.raises(ValueError, match="min_batch"):
        SurveyPool(engine, min_batch=0)
    with pytest.raises(ValueError, match="max_wait"):
        SurveyPool(engine, max_wait=0.0)
    with pytest.raises(ValueError, match="survey_batch"):
        Settings(secret_key="x" * 32, survey_batch=0)
    with pytest.raises(ValueError, match="survey_max_wait_seconds"):
        Settings(secret_key="x" * 32, survey_max_wait_seconds=-1.0)
