"""The after-the-test tables and reads on PostgreSQL (the multi-worker database)."""

from __future__ import annotations

from exam_server.after_test import service, store
from exam_server.after_test.seed import seed_finished_exam
from exam_server.after_test.survey_pool import Submission, SurveyPool
from exam_server.db import make_engine
from exam_server.testing import small_design
from tests.after_test.conftest import area_bank
from tests.conftest import seed_small


def test_store_and_reports_on_postgresql(postgres_url: str) -> None:
    seed_small(postgres_url, n_candidates=1)
    engine = make_engine(postgres_url)
    try:
        bank, items = area_bank(30)
        finished = seed_finished_exam(
            engine,
            design=small_design("linear", 6000.0, lengths=(10, 10, 10)),
            bank=bank,
            items=items,
            formations=["F-ANALIS-KEU", "F-AUDITOR"],
            site_code="TILOK-01",
            room_code="R1",
            receipt_key=None,
            exam_code="SKD-PG",
            n_candidates=32,
        )
        report = service.diagnostic(engine, "SKD-PG", finished.registration_numbers[0])
        assert report is not None and len(report.lines) == 6
        # Survey answers on PostgreSQL: every row carries the id of the
        # transaction that wrote it (xmin); no answer may share one with an
        # attempt's "answered" marker, or one join names every candidate.
        pool = SurveyPool(engine, min_batch=3)
        attempts = [1, 2, 3, 4]  # the seeded sittings
        for k, aid in enumerate(attempts):
            assert store.mark_survey_done(engine, aid)
            pool.add(Submission("SKD-PG", "2025-01-01", {"overall": 1 + k, "staff": 5 - k}))
        assert not store.mark_survey_done(engine, attempts[0])  # once per attempt
        assert (pool.batches, pool.pending) == (1, 1)  # three written together, one waiting
        pool.flush()
        assert sorted(r[3] for r in store.survey_rows(engine, "SKD-PG") if r[2] == "overall") == [
            1,
            2,
            3,
            4,
        ]
        with engine.connect() as conn:
            linked = conn.exec_driver_sql(
                "SELECT d.attempt_id FROM after_survey_done d"
                " JOIN after_survey_answer a ON a.xmin = d.xmin"
            ).all()
            batches = conn.exec_driver_sql(
                "SELECT count(DISTINCT xmin::text) FROM after_survey_answer"
            ).scalar_one()
        assert linked == []
        assert batches == 2  # the batch of three in one transaction, the last alone
        fid = store.add_feedback(engine, "SKD-PG", "venue", "AC mati", "0" * 64, 10.0, "m")
        assert store.recent_feedback(engine, "m", 0.0) == 1
        assert store.update_feedback(engine, fid, "pending", status="published")
        assert not store.update_feedback(engine, fid, "pending", text="diubah")
        aid = store.add_appeal(
            engine,
            exam_code="SKD-PG",
            registration_number=finished.registration_numbers[0],
            receipt_sha256="0" * 64,
            reason="r",
            submitted_at=1.0,
            answer_by=2.0,
        )
        assert store.decide_appeal(engine, aid, status="rejected", answer="tidak", answered_at=1.5)
        assert not store.decide_appeal(engine, aid, status="accepted", answer="x", answered_at=1.6)
    finally:
        engine.dispose()


def test_the_upgrade_unlinks_survey_answers_stored_before_batching(postgres_url: str) -> None:
    """Answers written in the marker's transaction (before revision 0020) are
    linked by xmin until the upgrade rewrites them."""
    from alembic import command

    from exam_server.migrations import alembic_config, head_revision

    link = "SELECT count(*) FROM after_survey_done d JOIN after_survey_answer a ON a.xmin = d.xmin"
    engine = make_engine(postgres_url, pool_size=1)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0019_presence_sets")
        for aid in (1, 2, 3):  # as store.store_survey wrote them
            with engine.begin() as conn:
                conn.exec_driver_sql(f"INSERT INTO after_survey_done (attempt_id) VALUES ({aid})")
                conn.exec_driver_sql(
                    "INSERT INTO after_survey_answer (submission, question, exam_code, day, value)"
                    f" VALUES ('s{aid}', 'overall', 'SKD', '2025-01-01', {aid})"
                )
        with engine.connect() as conn:
            assert conn.exec_driver_sql(link).scalar_one() == 3
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), head_revision())
        with engine.connect() as conn:
            assert conn.exec_driver_sql(link).scalar_one() == 0
            values = conn.exec_driver_sql("SELECT value FROM after_survey_answer").scalars()
            assert sorted(values) == [1, 2, 3]
    finally:
        engine.dispose()
