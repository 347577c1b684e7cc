"""The integrity review of the staff side, against a real server with the demo
recruitment: the four-eyes rule on appeals and on needs (over HTTP, and a
need changed while its approval runs), and ``audit verify`` noticing a
registration's or a need's status changed in the table without its event.
Each test failed on the code before its fix."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlmodel import Session, col

from exam_server.db import writer
from exam_server.recruitment import needs as needs_mod
from exam_server.recruitment import service as svc
from recruitment.models import RecRegistration
from recruitment.states import TransitionError
from tests.recruitment.conftest import (
    PASSWORDS,
    RecServer,
    recruitment_problems,
    staff_client,
)


def _set(db: Any, table: str, ident: int, status: str) -> None:
    with db.begin() as conn:
        conn.execute(
            text(f"UPDATE {table} SET status = :s WHERE id = :i"), {"s": status, "i": ident}
        )


def test_audit_verify_notices_a_status_changed_without_its_event(rec_server: RecServer) -> None:
    db = rec_server.handle.db
    period = svc.current_period(db)
    assert period is not None
    # The demo, made through the service only, agrees with its events.
    assert recruitment_problems(db) == []
    with Session(db) as s:
        reg = (
            s.execute(select(RecRegistration).where(col(RecRegistration.status) == "tms"))
            .scalars()
            .first()
        )
    assert reg is not None
    _set(db, "rec_registration", reg.id or 0, "ms")  # an insider turns a TMS into MS
    try:
        assert recruitment_problems(db) == [
            f"recruitment registration {reg.id} ({reg.registration_number}): status is 'ms' "
            "stored, 'tms' by its last audit event (rec_tms_review)"
        ]
    finally:
        _set(db, "rec_registration", reg.id or 0, "tms")
    waiting = next(n for n in svc.needs(db, period.id) if n["status"] == "submitted")
    _set(db, "rec_need", waiting["id"], "approved")
    try:
        (problem,) = recruitment_problems(db)
        assert "'approved' stored, 'submitted'" in problem and waiting["code"] in problem
    finally:
        _set(db, "rec_need", waiting["id"], "submitted")
    assert recruitment_problems(db) == []


# An insider's edit of a decision's who, why or what (status left as it was),
# and a line of what `audit verify` says of it. Each edit runs in a
# transaction that is rolled back, so the server's demo stays as seeded.
_FIRST_SUBMITTED = "(SELECT min(id) FROM rec_registration WHERE submitted_json IS NOT NULL)"
_DECISION_EDITS = {
    "tms-verifier": (
        "UPDATE rec_verification SET verifier = 'verifikator3' "
        "WHERE id = (SELECT min(id) FROM rec_verification WHERE decision = 'TMS')",
        "verifier not as its rec_verify event records",
    ),
    "tms-reason-code": (
        "UPDATE rec_verification SET reason_code = 'LAIN' "
        "WHERE id = (SELECT min(id) FROM rec_verification WHERE decision = 'TMS')",
        "reason code not as its rec_verify event records",
    ),
    "second-person": (
        "UPDATE rec_verification SET approved_by = 'verifikator1' WHERE approved IS NOT NULL",
        "its review is not as its rec_tms_review event records",
    ),
    "decision-removed": (
        "DELETE FROM rec_verification WHERE id = (SELECT max(id) FROM rec_verification)",
        "0 verification decision(s) stored, 1 by the audit log",
    ),
    "appeal-reason": (
        "UPDATE rec_appeal SET reason = 'sanggah lain'",
        "is not as filed (rec_appeal)",
    ),
    "appeal-answer-without-event": (
        "UPDATE rec_appeal SET outcome = 'accepted', answer = 'diterima', answered_by = 'x'",
        "an answer stored, but no rec_appeal_answer event",
    ),
    "category-after-submit": (
        f"UPDATE rec_registration SET category = 'cumlaude' WHERE id = {_FIRST_SUBMITTED}",
        "category changed after it was submitted",
    ),
    "formation-after-submit": (
        "UPDATE rec_registration SET rec_formation_id = rec_formation_id + 1 "
        f"WHERE id = {_FIRST_SUBMITTED}",
        "rec_formation_id changed after it was submitted",
    ),
    "receipt-rewritten": (
        "UPDATE rec_registration SET submitted_json = replace(submitted_json, "
        '\'"category": "general"\', \'"category": "cumlaude"\'), category = \'cumlaude\' '
        f"WHERE id = {_FIRST_SUBMITTED}",
        "what it stores as submitted is not what its rec_submit event sealed",
    ),
    "need-openings-after-approval": (
        "UPDATE rec_need SET openings = openings + 1 WHERE status = 'approved'",
        "openings not as its last audited version",
    ),
    "need-editors": (
        # An editor's name taken off (or, as here, another put on) the list.
        "UPDATE rec_need SET editors_json = '[\"penyetuju\"]' "
        "WHERE id = (SELECT min(id) FROM rec_need)",
        "the accounts that changed it are not as the audit log records",
    ),
    "need-approver": (
        "UPDATE rec_need SET decided_by = 'operator' WHERE status = 'approved'",
        "decided by 'operator' stored",
    ),
    "formation-quota": (
        "UPDATE rec_formation SET openings = openings + 2 "
        "WHERE id = (SELECT min(id) FROM rec_formation)",
        "are not its approved allocation",
    ),
}


@pytest.mark.parametrize("edit", sorted(_DECISION_EDITS))
def test_audit_verify_notices_a_decision_changed_without_its_event(
    rec_server: RecServer, edit: str
) -> None:
    from exam_server.audit.recruitment_decisions import check_recruitment_decisions

    sql, said = _DECISION_EDITS[edit]
    # The write lock first: the server writes in the background, and a
    # deferred transaction that read before its edit would fail to upgrade.
    with writer(rec_server.handle.db).connect() as conn:
        trans = conn.begin()
        try:
            assert check_recruitment_decisions(conn) == []  # the demo agrees with its events
            assert conn.execute(text(sql)).rowcount >= 1, "the edit must change a row"
            problems = check_recruitment_decisions(conn)
        finally:
            trans.rollback()
    assert any(said in p for p in problems), problems


def test_the_verifier_who_confirmed_a_tms_may_not_answer_its_appeal(rec_server: RecServer) -> None:
    """The demo's appeal is against a TMS of verifikator1 confirmed by
    verifikator2: neither answers it (page or service); verifikator3 does."""
    db = rec_server.handle.db
    period = svc.current_period(db)
    assert period is not None
    (appeal,) = svc.open_appeals(db, period.id, "verifikator3")
    for user, password in (
        ("verifikator1", PASSWORDS["verifier"]),
        ("verifikator2", PASSWORDS["verifier2"]),
    ):
        c, token = staff_client(rec_server, user, password)
        r = c.post(
            f"/recruitment/staff/appeal/{appeal['id']}?lang=en",
            data={"csrf": token, "decision": "accept", "answer": "Diterima"},
        )
        c.close()
        assert r.status_code == 409 and "another account" in r.text, (user, r.status_code)
        with pytest.raises(TransitionError):
            svc.answer_appeal(db, appeal["id"], user, False, "Ditolak", time.time())
    assert [a["id"] for a in svc.open_appeals(db, period.id, "verifikator3")] == [appeal["id"]]
    c, token = staff_client(rec_server, "verifikator3", PASSWORDS["verifier3"])
    r = c.post(
        f"/recruitment/staff/appeal/{appeal['id']}",
        data={"csrf": token, "decision": "accept", "answer": "Ijazah terbaca"},
    )
    c.close()
    assert r.status_code == 303
    row = svc.appeal_of(db, appeal["registration_id"])
    assert row is not None and row.answered_by == "verifikator3" and row.outcome == "accepted"
    assert recruitment_problems(db) == []


_NEED = {
    "code": "PRANATA",
    "unit": "Biro Umum",
    "position": "Pranata Komputer",
    "location": "Jakarta",
    "education_level": "S1",
    "majors": "Informatika",
    "max_age": "35",
    "other_requirements": "",
    "alloc_general": "1",
    "agency": "KEMCON",
}


def test_a_need_is_not_approved_by_the_account_that_wrote_it(rec_server: RecServer) -> None:
    """The national admin enters a need, the agency's operator submits it: the
    admin may not approve its own need because another account pressed submit."""
    db = rec_server.handle.db
    period = svc.current_period(db)
    assert period is not None
    admin, admin_token = staff_client(rec_server, "admin-rekrutmen", PASSWORDS["admin"])
    assert (
        admin.post("/recruitment/staff/needs", data={"csrf": admin_token, **_NEED}).status_code
        == 303
    )
    need = next(n for n in svc.needs(db, period.id) if n["code"] == "PRANATA")
    op, op_token = staff_client(rec_server, "operator", PASSWORDS["operator"])
    r = op.post(f"/recruitment/staff/needs/{need['id']}/submit", data={"csrf": op_token})
    assert r.status_code == 303
    r = admin.post(
        f"/recruitment/staff/needs/{need['id']}/decide?lang=en",
        data={"csrf": admin_token, "decision": "approve"},
    )
    assert r.status_code == 409 and "another account" in r.text
    assert next(n for n in svc.needs(db, period.id) if n["id"] == need["id"])["status"] == (
        "submitted"
    )
    ap, ap_token = staff_client(rec_server, "penyetuju", PASSWORDS["approver"])
    r = ap.post(
        f"/recruitment/staff/needs/{need['id']}/decide",
        data={"csrf": ap_token, "decision": "approve"},
    )
    assert r.status_code == 303
    for c in (admin, op, ap):
        c.close()


def test_an_account_that_changed_a_need_does_not_approve_it(rec_server: RecServer) -> None:
    """The operator enters and submits a need; the approver returns it and
    the national admin changes it; the operator submits it again. The admin
    wrote what is now to be approved, so it may not approve it; the approver
    may. (Before revision 0021 only the creator and the submitter counted.)"""
    db = rec_server.handle.db
    period = svc.current_period(db)
    assert period is not None
    fields = svc.parse_need({**_NEED, "code": "ARSIPARIS", "agency": ""}, period.rules)
    need_id = svc.create_need(db, period.id, "operator", fields, time.time())
    svc.submit_need(db, need_id, "operator", time.time())
    svc.decide_need(db, need_id, "penyetuju", False, "kurangi formasi", time.time())
    changed = {**fields, "allocation": {"general": 2}, "openings": 2}
    svc.update_need(db, need_id, "admin-rekrutmen", changed, time.time())
    svc.submit_need(db, need_id, "operator", time.time())
    admin, admin_token = staff_client(rec_server, "admin-rekrutmen", PASSWORDS["admin"])
    r = admin.post(
        f"/recruitment/staff/needs/{need_id}/decide?lang=en",
        data={"csrf": admin_token, "decision": "approve"},
    )
    assert r.status_code == 409 and "another account" in r.text
    need = next(n for n in svc.needs(db, period.id) if n["id"] == need_id)
    assert need["status"] == "submitted"
    assert svc.decide_need(db, need_id, "penyetuju", True, "", time.time()) == ["ARSIPARIS-GENERAL"]
    admin.close()
    assert recruitment_problems(db) == []


def test_a_need_changed_while_its_approval_runs_is_not_approved(
    rec_server: RecServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The approval reads the need, then writes the decision (and makes the
    formations) under the need's lock: in between, the same admin returns the
    need, changes it and submits it itself. The write must see that (it
    approved its own submission, with the old allocation's formations,
    before), and leave no formation behind (a review found formations made
    before the refused write kept the old openings for a later approval)."""
    db = rec_server.handle.db
    period = svc.current_period(db)
    assert period is not None
    fields = svc.parse_need({**_NEED, "code": "STATISTISI", "agency": ""}, period.rules)
    need_id = svc.create_need(db, period.id, "operator", fields, time.time())
    svc.submit_need(db, need_id, "operator", time.time())
    real = needs_mod._check_decidable
    calls = []

    def meanwhile(need: Any, actor: str, approve: bool) -> None:
        real(need, actor, approve)
        calls.append(actor)
        if len(calls) == 1 and actor == "admin-rekrutmen" and approve:  # after the first read
            svc.decide_need(db, need_id, "admin-rekrutmen", False, "ubah", time.time())
            changed = {**fields, "allocation": {"general": 3}, "openings": 3}
            svc.update_need(db, need_id, "admin-rekrutmen", changed, time.time())
            svc.submit_need(db, need_id, "admin-rekrutmen", time.time())

    monkeypatch.setattr(needs_mod, "_check_decidable", meanwhile)
    with pytest.raises(TransitionError):
        svc.decide_need(db, need_id, "admin-rekrutmen", True, "", time.time())
    monkeypatch.setattr(needs_mod, "_check_decidable", real)
    need = next(n for n in svc.needs(db, period.id) if n["id"] == need_id)
    assert need["status"] == "submitted" and need["submitted_by"] == "admin-rekrutmen"
    assert "STATISTISI-GENERAL" not in {f["code"] for f in svc.formations(db, period.id)}
    with db.connect() as c:  # nor in the exam server's formations
        assert (
            c.exec_driver_sql(
                "SELECT count(*) FROM exam_formation WHERE code LIKE 'STATISTISI-%'"
            ).scalar_one()
            == 0
        )
    # Approved by another account: the new allocation's openings, made once.
    svc.decide_need(db, need_id, "penyetuju", True, "", time.time())
    with db.connect() as c:
        assert (
            c.exec_driver_sql(
                "SELECT openings FROM exam_formation WHERE code = 'STATISTISI-GENERAL'"
            ).scalar_one()
            == 3
        )
    assert recruitment_problems(db) == []
