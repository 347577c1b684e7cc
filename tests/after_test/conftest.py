"""A server holding a finished exam (simulated whole tests, stored as the server
stores them), its signed publication, and a manual clock on the publication day."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy.engine import Engine

from cat_engine.bank import BankArrays
from exam_server.after_test.seed import FinishedExam, seed_finished_exam
from exam_server.auth import CandidateClaims, TokenSigner
from exam_server.checkpoints import load_or_create_key, paths_for
from exam_server.clock import ManualClock
from exam_server.db import make_engine
from exam_server.results import publication as pub
from exam_server.results.from_db import load_outcomes
from exam_server.results.ranking import rank_skd
from exam_server.results.rules import RankingPolicy
from exam_server.testing import ThreadServer, small_bank, small_design, staff_token
from tests.conftest import ADMIN_PASSWORD, make_settings, seed_small

EXAM = "SKD-HASIL"
PUBLISHED = "2025-01-06"
SIGNING_KEY = pub.Ed25519PrivateKey.from_private_bytes(bytes(range(7, 39)))
START = dt.datetime(2025, 1, 6, 9, 0, tzinfo=dt.UTC).timestamp()


def area_bank(per_subtest: int = 60) -> tuple[BankArrays, list]:  # type: ignore[type-arg]
    """The tests' small bank with two content areas in each subtest."""
    bank, items = small_bank(per_subtest)
    area = bank.subtest * 2 + (np.arange(bank.n_items) % 2)
    codes = ("twk_a", "twk_b", "tiu_a", "tiu_b", "tkp_a", "tkp_b")
    return dataclasses.replace(bank, content_area=area, content_codes=codes), items


@dataclass
class AfterServer:
    server: ThreadServer
    clock: ManualClock
    db: Engine
    finished: FinishedExam
    results_dir: Path

    def admin(self) -> dict[str, str]:
        """An administrator's headers (a fresh login: the tests move the clock
        past a token's lifetime)."""
        return {"Authorization": f"Bearer {staff_token(self.url, 'admin', ADMIN_PASSWORD)}"}

    @property
    def url(self) -> str:
        return self.server.url

    def candidate_token(self, registration_number: str) -> str:
        """A terminal's token for the candidate's finished attempt (as login gives)."""
        from sqlalchemy import select

        from exam_server import models as m

        a, c = m.Attempt.__table__, m.Candidate.__table__  # type: ignore[attr-defined]
        with self.db.connect() as conn:
            row = conn.execute(
                select(a.c.id, a.c.session_id, c.c.id.label("cid"))
                .join(c, c.c.id == a.c.candidate_id)
                .where(c.c.registration_number == registration_number)
            ).one()
        s = self.server.settings
        signer = TokenSigner(
            s.secret_key, s.candidate_token_seconds, s.staff_token_seconds, self.clock
        )
        return signer.candidate_token(
            CandidateClaims(row.cid, row.id, row.session_id, "T-9", registration_number)
        )


@pytest.fixture(scope="module")
def after_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AfterServer]:
    tmp = tmp_path_factory.mktemp("after")
    url = f"sqlite:///{tmp / 'after.db'}"
    seed_small(url, n_candidates=2)
    engine = make_engine(url)
    _, key_path = paths_for(url)
    receipt_key = load_or_create_key(key_path)  # the server's own key, made before it starts
    bank, items = area_bank()
    finished = seed_finished_exam(
        engine,
        design=small_design("linear", 6000.0, lengths=(30, 35, 45)),
        bank=bank,
        items=items,
        formations=["F-ANALIS-KEU", "F-PRANATA-KOMP", "F-AUDITOR"],
        site_code="TILOK-01",
        room_code="R1",
        receipt_key=receipt_key,
        exam_code=EXAM,
        n_candidates=60,
        starts_at=START - 86_400.0,
    )
    results = tmp / "results"
    publish_version_1(engine, receipt_key, results)
    clock = ManualClock(START)
    server = ThreadServer(make_settings(url, results_dir=str(results)), clock=clock).start()
    try:
        yield AfterServer(server, clock, engine, finished, results)
    finally:
        server.stop()
        engine.dispose()


def publish_version_1(engine: Any, receipt_key: Any, directory: Path) -> None:
    """The SKD ranking of EXAM as stored, signed as version 1 into ``directory``
    (the publication the corrections of appeals follow)."""
    policy = RankingPolicy.default_2024()
    formations, outcomes = load_outcomes(engine, EXAM)
    v1 = pub.publish(
        pub.ExamInfo(EXAM, "SKD uji", PUBLISHED),
        policy,
        rank_skd(policy, formations, outcomes),
        SIGNING_KEY,
        receipt_keys=[receipt_key.public_key()],
    )
    pub.write_publication(directory, v1.files)
