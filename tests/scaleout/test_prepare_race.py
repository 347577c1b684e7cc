"""Two server processes preparing one session at once on PostgreSQL.

Every worker prepares the open sessions' tests when it starts
(``exam_server.attempts.login.prepare_session``), so with several workers
they all assemble the same candidates' forms at the same moment, while the
first candidates log in. The tests must come out once per candidate, the
usage counted once per stored test, and neither worker may lose its
preparation to a database deadlock.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from exam_server.attempts import login
from exam_server.attempts.storage import ATTEMPT, SNAPSHOT
from exam_server.context import context
from exam_server.db import make_engine
from exam_server.loadtest.seeding import seed_load_exam
from exam_server.models import Candidate, ExamSession
from exam_server.scaleout.locks import PrepareClaims
from exam_server.testing import ThreadServer
from exam_server.usage import BANK_USAGE, EXAM_USAGE
from tests.conftest import TEST_SECRET, make_settings

pytestmark = pytest.mark.postgres

N = 120


def test_two_workers_prepare_one_session_once_each_without_deadlock(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    seed, _ = seed_load_exam(pg_url, TEST_SECRET, N)
    engine = make_engine(pg_url)
    with engine.connect() as conn:
        ids = [
            int(c)
            for c in conn.execute(
                select(col(Candidate.id)).where(col(Candidate.session_id) == seed.session_id)
            ).scalars()
            if c is not None
        ]
        svc_exam_id = conn.execute(
            select(col(ExamSession.exam_id)).where(col(ExamSession.id) == seed.session_id)
        ).scalar_one()
    engine.dispose()
    caplog.set_level(logging.WARNING)
    servers = [ThreadServer(make_settings(pg_url)) for _ in range(2)]
    try:
        for s in servers:
            s.start()  # each starts preparing the open session at once

        async def prepared(server: ThreadServer, logins: list[int]) -> int:
            svc = context(server.app).attempts
            exam_id = svc_exam_id
            # Candidates logging in meanwhile, from the other end of the list
            # (a login builds its own test when it comes first).
            await asyncio.gather(
                *list(svc.prepare_tasks),
                *(login.ensure_attempt(svc, c, seed.session_id, exam_id, None) for c in logins),
            )
            # Then one more pass: it must find nothing left to do.
            return await svc.prepare_session(seed.session_id)

        futures = [
            asyncio.run_coroutine_threadsafe(prepared(s, ids[::-1][k::2]), s.loop)
            for k, s in enumerate(servers)
        ]
        left = [f.result(timeout=120) for f in futures]
        assert left == [0, 0]
    finally:
        for s in servers:
            s.stop()
    engine = make_engine(pg_url)
    try:
        with engine.connect() as conn:
            attempts = conn.execute(select(func.count()).select_from(ATTEMPT)).scalar_one()
            candidates = conn.execute(
                select(func.count(func.distinct(ATTEMPT.c.candidate_id)))
            ).scalar_one()
            tests = conn.execute(select(func.sum(EXAM_USAGE.c.tests))).scalar_one()
            bank = conn.execute(select(func.sum(BANK_USAGE.c.administered))).scalar_one()
            snapshots = conn.execute(select(func.count()).select_from(SNAPSHOT)).scalar_one()
    finally:
        engine.dispose()
    assert attempts == candidates == N == snapshots
    # Each stored test counted once, and its items once each (10 a form).
    assert tests == N
    assert bank == 10 * N
    problems = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not problems, [r.getMessage() for r in problems]


def test_a_claim_is_held_by_one_process_until_released_or_closed(pg_url: str) -> None:
    engine = make_engine(pg_url)
    a, b = PrepareClaims(engine), PrepareClaims(engine)
    try:
        assert a.claim(7) and not b.claim(7) and b.claim(8)
        a.release(7)
        assert b.claim(7)
        b.close()  # the process ended: its claims with it
        assert a.claim(7) and a.claim(8)
    finally:
        a.close()
        b.close()
        engine.dispose()
