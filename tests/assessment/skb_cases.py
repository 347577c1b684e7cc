"""A small SKB day for the tests: one formation (1 opening), five candidates
whose SKD is finished (three within the 3x cut), a plan with the CAT field test
(60 %) and an interview (40 %) scored by three assessors on two criteria."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from exam_server import models as m

FORMATION = "PK-JKT"
EXAM = "SKD-T"
PEOPLE = [  # registration number, name, birth date, (TWK, TIU, TKP)
    ("R001", "Ani", "1996-02-01", (90, 100, 180)),
    ("R002", "Budi", "1997-03-02", (85, 95, 175)),
    ("R003", "Citra", "1998-04-03", (80, 90, 170)),
    ("R004", "Dedi", "1995-05-04", (70, 85, 168)),  # passes, outside the cut
    ("R005", "Eka", "1994-06-05", (40, 50, 100)),  # below the passing grade
]
CALLED = ("R001", "R002", "R003")
ASSESSORS = ("asesor1", "asesor2", "asesor3")
PASSWORD = "asesor-password"
SLOT_START = dt.datetime(2025, 5, 12, 1, 0, tzinfo=dt.UTC)  # 08.00 WIB


def _score(twk: int, tiu: int, tkp: int) -> str:
    sections = [{"code": c, "points": p} for c, p in (("TWK", twk), ("TIU", tiu), ("TKP", tkp))]
    return json.dumps({"sections": sections, "total": twk + tiu + tkp})


def populate(engine: Engine) -> None:
    """The SKD side: site, room, exam (2024 policy), closed session, formation, candidates."""
    with Session(engine) as s:
        s.add(m.Site(id=1, code="JKT1", name="Jakarta 1"))
        s.flush()
        s.add(m.Room(id=1, site_id=1, code="R1", name="Ruang 1"))
        s.flush()
        s.add(
            m.Exam(
                id=1, code=EXAM, name="SKD uji", design_json="{}", bank_json="{}",
                items_json="[]",
            )
        )  # fmt: skip
        s.flush()
        s.add(m.ExamSession(id=1, code="S1", exam_id=1, room_id=1, status="closed"))
        s.add(
            m.Formation(
                id=1, code=FORMATION, agency="Kemenkeu", position="Pranata Komputer",
                location="Jakarta", openings=1,
            )
        )  # fmt: skip
        s.flush()
        for i, (regno, name, born, sc) in enumerate(PEOPLE, start=1):
            s.add(
                m.Candidate(
                    id=i, registration_number=regno, name=name, category="general",
                    formation_id=1, session_id=1, birth_date=born,
                )
            )  # fmt: skip
            s.flush()
            s.add(
                m.Attempt(
                    id=i, session_id=1, candidate_id=i, status="finished",
                    finish_reason="submitted", score_json=_score(*sc), terminal_id=f"T-{i}",
                )
            )  # fmt: skip
            s.flush()
            chain_end(s, i, "finished")
        s.commit()


def chain_end(s: Session, attempt_id: int, status: str) -> None:
    """The audit event the server writes when an attempt ends (``finish``, or
    ``void`` by a proctor): ``seleksi audit verify`` checks the attempt's
    stored status and finish reason against it."""
    from exam_server import audit

    kind, reason = ("finish", "submitted") if status == "finished" else ("void", "")
    audit.append(s.connection(), kind, "test", attempt_id=attempt_id, reason=reason)


def rubric() -> dict[str, Any]:
    levels = [
        {"points": p, "label_id": lid, "label_en": len_}
        for p, lid, len_ in (
            (1, "kurang", "poor"),
            (2, "cukup", "fair"),
            (3, "baik", "good"),
            (4, "sangat baik", "very good"),
        )
    ]
    return {
        "criteria": [
            {"code": "komunikasi", "name_id": "Komunikasi", "name_en": "Communication",
             "levels": levels},
            {"code": "integritas", "name_id": "Integritas", "name_en": "Integrity",
             "levels": levels},
        ]
    }  # fmt: skip


def plan(margin: int = 30) -> dict[str, Any]:
    return {
        "formation": FORMATION,
        "components": [
            {"code": "CAT", "kind": "cat", "name_id": "Tes bidang (CAT)",
             "name_en": "Field test (CAT)", "weight": 60},
            {"code": "WWN", "kind": "interview", "name_id": "Wawancara", "name_en": "Interview",
             "weight": 40, "minimum": 20, "rubric": rubric(), "assessors": 3,
             "finalisation": {"rule": "mean", "adjudication_margin": margin}},
        ],
    }  # fmt: skip


def link_account(engine: Engine, candidate_id: int, email: str) -> None:
    """Make the candidate one who registered online (recruitment), so that the
    outbox has their address."""
    from recruitment import models as r

    with Session(engine) as s:
        if s.get(r.RecPeriod, 1) is None:
            s.add(r.RecPeriod(id=1, code="CASN-T", name="CASN uji", agency="Kemenkeu",
                              rules_json="{}", schedule_json="{}"))  # fmt: skip
            s.add(r.RecAgency(id=1, code="KEMENKEU", name="Kemenkeu"))
            s.flush()
            s.add(r.RecNeed(id=1, period_id=1, agency_id=1, code="N1", unit="u", position="p",
                            location="l", education_level="S1", majors_json="[]",
                            allocation_json="{}", created_by="t"))  # fmt: skip
            s.flush()
            s.add(r.RecFormation(id=1, need_id=1, formation_id=1, category="general"))
            s.flush()
        account = r.RecAccount(email=email, name=email, password_hash="x")
        s.add(account)
        s.flush()
        assert account.id is not None
        s.add(
            r.RecRegistration(
                period_id=1, account_id=account.id, nik_hash=f"h{candidate_id}", name=email,
                birth_date="1990-01-01", sex="P", education_level="S1", major="m",
                category="general", rec_formation_id=1, test_location="JKT",
                candidate_id=candidate_id,
            )
        )  # fmt: skip
        s.commit()


FIELD_TEST = "SKB-CAT"


def populate_field_test(engine: Engine, points: dict[str, float] | None = None) -> None:
    """The CAT field test as an exam on the server: finished attempts of R001-R003
    (points of 500: 80, 70 and 90 on the 0-100 scale by default)."""
    points = points or {"R001": 400.0, "R002": 350.0, "R003": 450.0}
    with Session(engine) as s:
        s.add(m.Exam(id=2, code=FIELD_TEST, name="Tes bidang", design_json="{}",
                     bank_json="{}", items_json="[]"))  # fmt: skip
        s.flush()
        s.add(m.ExamSession(id=2, code="S2", exam_id=2, room_id=1, status="closed"))
        s.flush()
        ids = {regno: k for k, (regno, *_rest) in enumerate(PEOPLE, start=1)}
        for n, (regno, pts) in enumerate(sorted(points.items()), start=1):
            score = {"sections": [{"code": "BID", "points": pts, "max_points": 500.0}],
                     "total": pts}  # fmt: skip
            s.add(m.Attempt(id=100 + n, session_id=2, candidate_id=ids[regno], status="finished",
                            finish_reason="submitted", score_json=json.dumps(score)))  # fmt: skip
            s.flush()
            chain_end(s, 100 + n, "finished")
        s.commit()
