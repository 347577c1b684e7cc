"""The same server on PostgreSQL (a fresh schema per test; skipped only if unreachable)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from exam_server.audit import verify
from exam_server.testing import Terminal

pytestmark = pytest.mark.postgres


async def test_attempts_on_postgresql(postgres_url: str, server_factory: Any) -> None:
    # postgres_url first, so its schema is dropped only after the server stopped.
    h = server_factory(database_url=postgres_url, n_candidates=8)
    regs = [c["registration_number"] for c in h.seed.candidates]

    async def sit(reg: str) -> dict[str, Any]:
        t = await Terminal.open(h.ws_url, h.login(reg, f"T-{reg}"), f"T-{reg}")
        for n in range(1, 11):
            (ack,) = await t.answer(n, n % 5)
            assert ack["type"] == "ack"
        dup = await t.request({"type": "answer", "seq": 3, "number": 3, "option": 0})
        assert dup["duplicate"] is True
        await t.ws.close()
        t = await Terminal.open(h.ws_url, h.login(reg, f"T-{reg}"), f"T-{reg}")
        assert t.state["last_seq"] == 10 and all(m["answered"] for m in t.state["map"])
        final = await t.request({"type": "finish", "confirm": True})
        await t.close()
        return final

    finals = await asyncio.gather(*(sit(r) for r in regs))
    assert all(f["type"] == "final" for f in finals)
    with h.db.connect() as c:
        n = c.exec_driver_sql("SELECT count(*) FROM exam_response").scalar()
        statuses = {r[0] for r in c.exec_driver_sql("SELECT status FROM exam_attempt")}
    assert n == 10 * len(regs) and statuses == {"finished"}
    report = verify(h.db)
    assert report.ok, report.problems
    assert report.attempts == len(regs)


def test_start_warns_when_postgresql_has_too_few_connection_slots(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A process that may open more connections than PostgreSQL has free is told
    so at start, with the numbers and what to change, instead of answering
    logins 503 in the middle of a rush."""
    from exam_server.db import make_engine, warn_if_short_of_connections

    small = make_engine(postgres_url, pool_size=2)
    try:
        assert warn_if_short_of_connections(small) is not None
        assert "connection slots free" not in caplog.text  # 2 + 2 + 4 fit
    finally:
        small.dispose()
    huge = make_engine(postgres_url, pool_size=5000)
    try:
        with caplog.at_level("WARNING", logger="exam_server.db"):
            free = warn_if_short_of_connections(huge)
        assert free is not None and free < 10_004
        assert "connection slots free" in caplog.text
        assert "SELEKSI_DATABASE_POOL_SIZE" in caplog.text
    finally:
        huge.dispose()
