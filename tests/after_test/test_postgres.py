"""The after-the-test tables and reads on PostgreSQL (the multi-worker database)."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import select, update

from after_test import models as am
from after_test.errors import Refused
from exam_server.after_test import service, store
from exam_server.after_test.seed import seed_finished_exam
from exam_server.after_test.survey_pool import Submission, SurveyPool
from exam_server.checkpoints import load_or_create_key
from exam_server.clock import ManualClock
from exam_server.db import make_engine
from exam_server.testing import ThreadServer, small_design, staff_token
from tests.after_test.conftest import (
    EXAM,
    START,
    area_bank,
    publish_version_1,
)
from tests.conftest import ADMIN_PASSWORD, make_settings, seed_small


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


def test_two_acceptances_of_one_field_cannot_both_be_stored(postgres_url: str) -> None:
    """A decision reads the candidate's appeals locked: one accepting a field
    while another transaction accepts the same field waits for it, then sees
    it and is refused (READ COMMITTED would otherwise let both in)."""
    seed_small(postgres_url, n_candidates=1)
    engine = make_engine(postgres_url)
    t = am.AfterAppeal.__table__  # type: ignore[attr-defined]
    try:
        ids = [
            store.add_appeal(
                engine,
                exam_code="SKD-PG",
                registration_number="R1",
                receipt_sha256="0" * 64,
                reason="nama salah",
                field="name",
                submitted_at=1.0,
                answer_by=2.0,
            )
            for _ in range(2)
        ]
        outcome: list[object] = []

        def second() -> None:
            try:
                outcome.append(
                    store.decide_appeal(
                        engine,
                        ids[1],
                        status="accepted",
                        answer="ya",
                        answered_at=1.5,
                        field="name",
                        correction_from="A",
                        correction_to="C",
                    )
                )
            except Refused as exc:
                outcome.append(exc)

        with engine.connect() as conn, conn.begin():
            # Another decision of the first appeal, not committed yet.
            conn.execute(select(t).where(t.c.registration_number == "R1").with_for_update())
            conn.execute(
                update(t)
                .where(t.c.id == ids[0])
                .values(status="accepted", field="name", correction_from="A", correction_to="B")
            )
            worker = threading.Thread(target=second)
            worker.start()
            time.sleep(0.5)
            assert outcome == []  # waiting for the lock
        worker.join(30)
        assert len(outcome) == 1 and isinstance(outcome[0], Refused), outcome
        assert f"appeal {ids[0]}" in outcome[0].message_en
        assert store.appeal(engine, ids[1])["status"] == "submitted"
    finally:
        engine.dispose()


def test_overlong_appeal_input_is_refused_not_a_server_error(
    postgres_url: str, tmp_path: Path
) -> None:
    """On PostgreSQL a value longer than its column is an error of the
    database: a candidate's appeal naming a 44-character SKB component, a
    decision's 500-character correction and feedback to a 60-character exam
    code were each a 500. Now: 422 saying why, 404 for the exam."""
    seed_small(postgres_url, n_candidates=1)
    engine = make_engine(postgres_url)
    receipt_key = load_or_create_key(tmp_path / "checkpoint-key.pem")
    bank, items = area_bank(30)
    finished = seed_finished_exam(
        engine,
        design=small_design("linear", 6000.0, lengths=(10, 10, 10)),
        bank=bank,
        items=items,
        formations=["F-ANALIS-KEU"],
        site_code="TILOK-01",
        room_code="R1",
        receipt_key=receipt_key,
        exam_code=EXAM,
        n_candidates=4,
        starts_at=START - 86_400.0,
    )
    publish_version_1(engine, receipt_key, tmp_path / "results")
    clock = ManualClock(START)
    settings = make_settings(
        postgres_url,
        results_dir=str(tmp_path / "results"),
        checkpoint_path=str(tmp_path / "checkpoints.jsonl"),
        checkpoint_key_path=str(tmp_path / "checkpoint-key.pem"),
    )
    server = ThreadServer(settings, clock=clock).start()
    try:
        url, regno = server.url, finished.registration_numbers[0]
        form = {"receipt": finished.receipts[regno], "reason": "nilai salah salin"}
        r = httpx.post(f"{url}/after/{EXAM}/sanggah", data={**form, "field": "skb:" + "a" * 40})
        assert r.status_code == 422 and "administratif" in r.text
        ok = httpx.post(f"{url}/after/{EXAM}/sanggah", data={**form, "field": "name"})
        assert ok.status_code == 200, ok.text
        appeal_id = int(re.search(r"Sanggah nomor (\d+)", ok.text)[1])  # type: ignore[index]
        admin = {"Authorization": f"Bearer {staff_token(url, 'admin', ADMIN_PASSWORD)}"}
        long = httpx.post(
            f"{url}/api/after/appeals/{appeal_id}/decide",
            headers=admin,
            json={"status": "accepted", "answer": "ya", "field": "name", "value": "y" * 500},
        )
        assert long.status_code == 422, long.text
        assert long.json()["message"] == "the corrected value is limited to 200 characters"
        assert store.appeal(engine, appeal_id)["status"] == "submitted"
        page = httpx.get(f"{url}/after/{'X' * 60}/saran")
        assert page.status_code == 404
        sent = httpx.post(
            f"{url}/after/{'X' * 60}/saran",
            data={"form": "1.x", "category": "venue", "text": "t", "website": ""},
        )
        assert sent.status_code == 404
    finally:
        server.stop()
        engine.dispose()
