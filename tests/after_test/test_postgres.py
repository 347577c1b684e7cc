"""The after-the-test tables and reads on PostgreSQL (the multi-worker database)."""

from __future__ import annotations

from exam_server.after_test import service, store
from exam_server.after_test.seed import seed_finished_exam
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
        assert store.store_survey(engine, 1, "SKD-PG", "2025-01-01", {"overall": 4})
        assert not store.store_survey(engine, 1, "SKD-PG", "2025-01-01", {"overall": 2})
        assert store.survey_rows(engine, "SKD-PG")[0][2:] == ("overall", 4)
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
