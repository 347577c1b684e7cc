"""The database adapter: outcomes built from the server's tables, and a publication that
recomputes byte for byte from the database, or not after one stored response changed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from exam_server import models as m
from exam_server.db import create_schema, make_engine
from exam_server.results import publication as pub
from exam_server.results.from_db import SourceError, load_outcomes, read_engine
from exam_server.results.outcomes import responses_digest
from exam_server.results.ranking import rank_skd
from tests.results.results_cases import KEY, POLICY


def _score(twk: float, tiu: float, tkp: float) -> str:
    sections = [{"code": c, "points": p} for c, p in (("TWK", twk), ("TIU", tiu), ("TKP", tkp))]
    return json.dumps({"sections": sections, "total": twk + tiu + tkp})


def _populate(engine: Engine) -> None:
    with Session(engine) as s:
        s.add(m.Site(id=1, code="JKT1", name="Jakarta 1"))
        s.flush()
        s.add(m.Room(id=1, site_id=1, code="R1", name="Ruang 1"))
        s.flush()
        s.add(
            m.Exam(
                id=1,
                code="SKD-T",
                name="SKD uji",
                design_json="{}",
                bank_json="{}",
                items_json="[]",
            )
        )
        s.flush()
        s.add(m.ExamSession(id=1, code="S1", exam_id=1, room_id=1, status="closed"))
        s.flush()
        s.add(
            m.Formation(
                id=1,
                code="PK-JKT",
                agency="Kemenkeu",
                position="Pranata Komputer",
                location="Jakarta",
                openings=1,
            )
        )
        s.flush()
        people = [
            (1, "R001", "Ani", "general", "1996-02-01"),
            (2, "R002", "Budi", "general", None),
            (3, "R003", "Citra", "papua", "1999-09-09"),
            (4, "R004", "Dewi", "general", None),  # never came: absent
        ]
        for cid, regno, name, cat, born in people:
            s.add(
                m.Candidate(
                    id=cid,
                    registration_number=regno,
                    name=name,
                    category=cat,
                    formation_id=1,
                    session_id=1,
                    birth_date=born,
                )
            )
        s.flush()
        attempts = [
            (1, 1, "finished", _score(90, 100, 180)),
            (2, 2, "finished", _score(60, 100, 180)),
            (3, 3, "void", None),
            (4, 4, "running", None),  # prepared when the session opened, never taken
        ]
        for aid, cid, status, score in attempts:
            s.add(
                m.Attempt(
                    id=aid,
                    session_id=1,
                    candidate_id=cid,
                    status=status,
                    state_json="{}",
                    score_json=score,
                    terminal_id=None if aid == 4 else f"T-{aid}",
                )
            )
        s.flush()
        for aid in (1, 2, 3):
            for seq in range(1, 4):
                s.add(
                    m.Response(
                        attempt_id=aid,
                        seq=seq,
                        kind="answer",
                        number=seq,
                        item_id=f"I{seq}",
                        option=seq % 4,
                        prev_hash="",
                        hash="",
                    )
                )
        s.add(
            m.AuditEvent(
                at=1.0,
                kind="void",
                actor="proctor:p1",
                session_id=1,
                attempt_id=3,
                reason="joki (stand-in)",
                prev_hash="",
                hash="",
            )
        )
        s.commit()


@pytest.fixture()
def engine(tmp_path: Path) -> Any:
    e = make_engine(f"sqlite:///{tmp_path / 'exam.db'}")
    create_schema(e)
    _populate(e)
    yield e
    e.dispose()


def test_outcomes_come_from_the_servers_records(engine: Engine) -> None:
    formations, outcomes = load_outcomes(engine, "SKD-T")
    assert [(f.id, f.openings, f.group) for f in formations] == [
        ("PK-JKT", 1, "Kemenkeu/Pranata Komputer")
    ]
    by = {o.registration_number: o for o in outcomes}
    assert by["R001"].status == "finished" and dict(by["R001"].scores) == {
        "TWK": 90.0,
        "TIU": 100.0,
        "TKP": 180.0,
    }
    assert by["R001"].birth_date is not None and by["R001"].birth_date.year == 1996
    # The proctor's free-text reason stays in the audit log, out of the results.
    assert by["R003"].status == "voided" and by["R003"].status_note == ""
    assert by["R004"].status == "absent" and by["R004"].responses_hash == ""
    expected = responses_digest(
        [
            {
                "seq": i,
                "kind": "answer",
                "number": i,
                "item": f"I{i}",
                "option": i % 4,
                "flagged": False,
            }
            for i in range(1, 4)
        ]
    )
    assert by["R001"].responses_hash == expected
    skd = rank_skd(POLICY, formations, outcomes)
    assert {e.registration_number: e.code for e in skd.formations[0].entries} == {
        "R001": "P/L",
        "R002": "TL",
        "R003": "DIS",
        "R004": "TH",
    }


def test_publication_recomputes_from_the_database_and_catches_a_changed_response(
    engine: Engine,
) -> None:
    formations, outcomes = load_outcomes(engine, "SKD-T")
    exam = pub.ExamInfo("SKD-T", "SKD uji", "2024-12-01")
    p = pub.publish(exam, POLICY, rank_skd(POLICY, formations, outcomes), KEY)
    assert pub.recompute(p.files, *load_outcomes(engine, "SKD-T")) == []
    # Someone edits one stored answer of R001 in the database.
    resp = m.Response.__table__
    with engine.begin() as conn:
        conn.execute(
            update(resp).where(resp.c.attempt_id == 1, resp.c.seq == 2).values(option=3)  # type: ignore[attr-defined]
        )
    diffs = pub.recompute(p.files, *load_outcomes(engine, "SKD-T"))
    assert "skd/PK-JKT.json: differs from the source (R001 responses_hash: published" in diffs[1]


def test_running_attempts_and_unknown_exams_are_refused(engine: Engine) -> None:
    with pytest.raises(SourceError, match="no exam with code 'NOPE'"):
        load_outcomes(engine, "NOPE")
    att = m.Attempt.__table__
    with engine.begin() as conn:
        conn.execute(update(att).where(att.c.id == 2).values(status="running"))  # type: ignore[attr-defined]
    with pytest.raises(SourceError, match="candidate R002: attempt 2 is still running"):
        load_outcomes(engine, "SKD-T")


def test_a_prepared_attempt_nobody_took_is_absent_only_once_the_session_closed(
    engine: Engine,
) -> None:
    _, outcomes = load_outcomes(engine, "SKD-T")
    assert {o.registration_number: o.status for o in outcomes}["R004"] == "absent"
    sess = m.ExamSession.__table__
    with engine.begin() as conn:
        conn.execute(update(sess).values(status="open"))  # type: ignore[attr-defined]
    with pytest.raises(SourceError, match="R004: has not come yet and session S1 is still open"):
        load_outcomes(engine, "SKD-T")
    # Closing the session finishes the untouched attempt with an empty score: still absent.
    att = m.Attempt.__table__
    with engine.begin() as conn:
        conn.execute(update(sess).values(status="closed"))  # type: ignore[attr-defined]
        conn.execute(
            update(att)  # type: ignore[attr-defined]
            .where(att.c.id == 4)  # type: ignore[attr-defined]
            .values(status="finished", finish_reason="session_closed", score_json=_score(0, 0, 0))
        )
    _, outcomes = load_outcomes(engine, "SKD-T")
    assert {o.registration_number: o.status for o in outcomes}["R004"] == "absent"


def test_reading_results_takes_no_write_lock(engine: Engine, tmp_path: Path) -> None:
    # A server writer holds the write lock (BEGIN IMMEDIATE, uncommitted change)…
    writer = engine.connect()
    try:
        writer.execute(
            update(m.Candidate.__table__).values(name="x")  # type: ignore[arg-type]
        )
        # …and the results reader still gets its snapshot, without the change.
        reader = read_engine(str(tmp_path / "exam.db"))
        try:
            _, outcomes = load_outcomes(reader, "SKD-T")
        finally:
            reader.dispose()
        assert {o.name for o in outcomes} == {"Ani", "Budi", "Citra", "Dewi"}
    finally:
        writer.rollback()
        writer.close()
