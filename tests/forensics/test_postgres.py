"""The item watch, the review and the withdrawal on PostgreSQL (as on SQLite)."""

from __future__ import annotations

import numpy as np

from exam_server.db import make_engine
from exam_server.demo import seed_exam
from exam_server.forensics.service import decide, feed_watch, flag, review_queue
from exam_server.testing import small_bank, small_design
from exam_server.usage import read_usage
from forensics.data import SessionItems
from forensics.simulate import simulate_session
from tests.conftest import ADMIN_PASSWORD, PROCTOR_PASSWORD, TEST_SCRYPT_N, TEST_SECRET
from tests.forensics.stored import store_sittings


def test_watch_review_and_withdrawal_on_postgres(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    try:
        bank, public = small_bank()
        seed = seed_exam(
            engine,
            TEST_SECRET,
            design=small_design("linear"),
            bank=bank,
            items=public,
            n_candidates=12,
            scrypt_n=TEST_SCRYPT_N,
            admin_password=ADMIN_PASSWORD,
            proctor_password=PROCTOR_PASSWORD,
            open_session=False,
        )
        sim = simulate_session(SessionItems.from_bank(bank), 12, seed=2, rows=3, cols=4)
        store_sittings(engine, seed, sim)
        result = feed_watch(engine, 1000.0)
        assert result.attempts == 12 and result.administrations == int(sim.data.answered.sum())
        assert feed_watch(engine, 1001.0).attempts == 0  # each attempt is taken in once
        item = bank.item_ids[4]
        flag(engine, item, "admin:test", "reported", 1002.0)
        withdrawn = decide(engine, item, "retired", "admin:test", "confirmed", 1003.0)
        assert [(w.exam_id, w.item_index) for w in withdrawn] == [(seed.exam_id, 4)]
        with engine.connect() as conn:
            usage = read_usage(conn, seed.exam_id, bank.n_items)
        assert usage.withdrawn is not None and np.flatnonzero(usage.withdrawn).tolist() == [4]
        row = next(r for r in review_queue(engine) if r["item_id"] == item)
        assert row["status"] == "retired" and row["administrations"] > 0
    finally:
        engine.dispose()
