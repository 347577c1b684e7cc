"""What decides every candidate's SKB result before a sheet is scored — the
formation's plan (the CAT's weight), who sits on a panel and who chairs it,
each assessor's conflict-of-interest declaration — is checked against its
audit event (``exam_server.audit.skb_setup.check_skb_setup``, run by
``seleksi audit verify``): edited in the database, it is reported, naming
the formation, panel, assessor and candidate.

The rig is the demo's SKB (``exam_server.assessment.demo.seed_skb_demo``:
plan, panel WWN-DEMO chaired by asesor1, eight declarations and sheets) on
the tests' small SKD (``skb_cases``), seeded once; each test edits it in a
transaction it rolls back."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Connection, Engine

from exam_server import audit
from exam_server.assessment.demo import PANEL, seed_skb_demo
from exam_server.audit.skb_setup import check_skb_setup
from exam_server.db import create_schema, make_engine
from tests.assessment import skb_cases as cases

NOW = 1_747_000_000.0
EVENT_CHAIR = "its skb_panel event's chair is asesor1"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    root = Path(tmp_path_factory.mktemp("skb-setup"))
    engine = make_engine(f"sqlite:///{root / 'skb.db'}")
    create_schema(engine)
    cases.populate(engine)
    assert seed_skb_demo(engine, root, now=NOW)
    yield engine
    engine.dispose()


@pytest.fixture()
def conn(demo: Engine) -> Iterator[Connection]:
    """The demo's database in a transaction rolled back after the test."""
    with demo.connect() as c:
        tx = c.begin()
        try:
            yield c
        finally:
            tx.rollback()


def _edit(conn: Connection, sql: str) -> list[str]:
    assert conn.exec_driver_sql(sql).rowcount >= 1, sql
    return check_skb_setup(conn)


def test_the_demo_as_seeded_has_no_problem(conn: Connection) -> None:
    assert check_skb_setup(conn) == []
    counts = {
        t: conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar()
        for t in ("skb_plan", "skb_panel_member", "skb_declaration")
    }
    assert counts == {"skb_plan": 1, "skb_panel_member": 3, "skb_declaration": 8}


def test_the_plan_event_carries_the_stored_plans_digest(conn: Connection) -> None:
    (plan_json,) = conn.exec_driver_sql("SELECT plan_json FROM skb_plan").one()
    (data,) = conn.exec_driver_sql("SELECT data_json FROM exam_audit WHERE kind = 'skb_plan'").one()
    assert json.loads(data)["plan_sha256"] == hashlib.sha256(plan_json.encode()).hexdigest()


def test_a_changed_cat_weight_is_reported(conn: Connection) -> None:
    """The reviewer's edit: CAT weighs 90 % of every candidate's SKB score."""
    problems = _edit(
        conn,
        """UPDATE skb_plan SET plan_json = replace(plan_json,'"weight":"60"','"weight":"90"')""",
    )
    assert problems == [
        f"SKB plan of formation {cases.FORMATION}: plan_json (components, weights, rubrics) "
        "differs from its last skb_plan event"
    ]


def test_a_plan_changed_in_its_bytes_only_is_reported_by_its_digest(conn: Connection) -> None:
    problems = _edit(conn, "UPDATE skb_plan SET plan_json = plan_json || ' '")
    assert len(problems) == 1 and problems[0].startswith(
        f"SKB plan of formation {cases.FORMATION}: plan_json"
    )


def test_a_plan_event_from_before_the_digest_is_checked_on_its_plan(conn: Connection) -> None:
    """An ``skb_plan`` event written before events carried ``plan_sha256``
    (here appended as the formation's last) is checked on the plan it carries."""
    (plan_json, caps) = conn.exec_driver_sql("SELECT plan_json, caps_version FROM skb_plan").one()
    old = {"formation": cases.FORMATION, "plan": json.loads(plan_json), "caps": caps}
    audit.append(conn, "skb_plan", "admin:admin", data=old, at=NOW)
    assert check_skb_setup(conn) == []
    # The same plan, written otherwise: the event has no digest to tell it.
    assert _edit(conn, "UPDATE skb_plan SET plan_json = plan_json || ' '") == []
    problems = _edit(
        conn,
        """UPDATE skb_plan SET plan_json = replace(plan_json,'"weight":"60"','"weight":"90"')""",
    )
    assert [p.split(":")[0] for p in problems] == [f"SKB plan of formation {cases.FORMATION}"]


def test_a_removed_plan_is_reported(conn: Connection) -> None:
    assert _edit(conn, "DELETE FROM skb_plan") == [
        f"SKB plan of formation {cases.FORMATION}: in the audit log (skb_plan), "
        "but no longer stored (removed?)"
    ]


def test_a_changed_chair_is_reported(conn: Connection) -> None:
    """The reviewer's edit: the chair (who resolves disagreements) swapped."""
    problems = _edit(conn, "UPDATE skb_panel_member SET chair = 1 - chair")
    assert problems == [
        f"SKB panel {PANEL}: assessor asesor1 does not chair stored; {EVENT_CHAIR}",
        f"SKB panel {PANEL}: assessor asesor2 chairs stored; {EVENT_CHAIR}",
        f"SKB panel {PANEL}: assessor asesor3 chairs stored; {EVENT_CHAIR}",
    ]


def test_a_removed_panel_member_is_reported(conn: Connection) -> None:
    problems = _edit(
        conn,
        "DELETE FROM skb_panel_member WHERE staff_id = "
        "(SELECT id FROM exam_staff WHERE username = 'asesor2')",
    )
    assert problems == [
        f"SKB panel {PANEL}: assessor asesor2 is a member in its skb_panel event, "
        "but no longer stored (removed?)"
    ]


def test_an_added_panel_member_is_reported(conn: Connection) -> None:
    conn.exec_driver_sql(
        "INSERT INTO exam_staff (username, name, role, password_hash) "
        "VALUES ('asesor9', 'Asesor 9', 'assessor', 'x')"
    )
    problems = _edit(
        conn,
        "INSERT INTO skb_panel_member (panel_id, staff_id, chair) SELECT p.id, s.id, 0 "
        f"FROM skb_panel p, exam_staff s WHERE p.code = '{PANEL}' AND s.username = 'asesor9'",
    )
    assert problems == [
        f"SKB panel {PANEL}: assessor asesor9 is a member stored, but not in its skb_panel event"
    ]


def test_a_declared_conflict_is_reported(conn: Connection) -> None:
    """The reviewer's edit: a conflict recuses the assessor from the candidate."""
    (who, regno) = conn.exec_driver_sql(
        "SELECT s.username, c.registration_number FROM skb_declaration d "
        "JOIN exam_staff s ON s.id = d.staff_id "
        "JOIN exam_candidate c ON c.id = d.candidate_id WHERE d.id = 1"
    ).one()
    problems = _edit(conn, "UPDATE skb_declaration SET conflict = 1 WHERE id = 1")
    assert problems == [
        f"SKB declaration of {who} for {regno} on panel {PANEL}: conflict (recused) stored, "
        "no conflict in its skb_declaration event"
    ]


def test_a_deleted_declaration_is_reported(conn: Connection) -> None:
    (who, regno) = conn.exec_driver_sql(
        "SELECT s.username, c.registration_number FROM skb_declaration d "
        "JOIN exam_staff s ON s.id = d.staff_id "
        "JOIN exam_candidate c ON c.id = d.candidate_id WHERE d.id = 3"
    ).one()
    problems = _edit(conn, "DELETE FROM skb_declaration WHERE id = 3")
    assert problems == [
        f"SKB declaration of {who} for {regno} on panel {PANEL}: in the audit log "
        "(skb_declaration), but no longer stored"
    ]


def test_a_declaration_moved_to_another_candidate_is_reported(conn: Connection) -> None:
    """asesor1's declaration for R001 now names R004 (no event for it), and
    R001's declaration is gone."""
    problems = _edit(
        conn,
        "UPDATE skb_declaration SET candidate_id = (SELECT id FROM exam_candidate "
        "WHERE registration_number = 'R004') WHERE id = 1",
    )
    assert problems == [
        f"SKB declaration of asesor1 for R001 on panel {PANEL}: in the audit log "
        "(skb_declaration), but no longer stored",
        f"SKB declaration of asesor1 for R004 on panel {PANEL}: stored, but no "
        "skb_declaration event",
    ]
