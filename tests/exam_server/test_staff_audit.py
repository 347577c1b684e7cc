"""Staff accounts nobody changes unnoticed (a review on 2026-12-07).

Every way an account is made or changed (the admin API, ``seleksi staff``,
the SKB's assessors, the demos) writes an audit event in the same
transaction; :func:`exam_server.audit.staff_records.check_staff` compares
every ``exam_staff`` row (and its rooms) with them. The reviewer's edits made
with SQL on a seeded database are each named; an account from before
accounts were audited is a note, not a problem."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from exam_server.audit import verify
from exam_server.audit.staff_records import check_staff, password_sha256
from exam_server.auth import hash_password
from exam_server.db import make_engine
from seleksi.cli import main as seleksi_main
from tests.conftest import TEST_SCRYPT_N, ServerHandle, seed_small


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[Engine]:
    """A database seeded as the test servers are: admin ``admin`` and proctor
    ``pengawas`` (room R1), made by the demo's code."""
    url = f"sqlite:///{tmp_path / 'staff.db'}"
    seed_small(url, "linear", 2)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def _check(engine: Engine) -> tuple[list[str], list[str]]:
    with engine.connect() as conn:
        return check_staff(conn)


def _edit(engine: Engine, *sql: str) -> list[str]:
    with engine.begin() as conn:
        for statement in sql:
            assert conn.execute(text(statement)).rowcount >= 1, statement
    problems, _notes = _check(engine)
    return problems


def _events(engine: Engine, kind: str) -> list[tuple[str, dict[str, Any]]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT actor, data_json FROM exam_audit WHERE kind = :k ORDER BY id"),
            {"k": kind},
        ).all()
    return [(str(actor), json.loads(data)) for actor, data in rows]


def _stored_hash(engine: Engine, username: str) -> str:
    with engine.connect() as conn:
        return str(
            conn.execute(
                text("SELECT password_hash FROM exam_staff WHERE username = :u"), {"u": username}
            ).scalar_one()
        )


def test_the_seeded_accounts_are_on_record(seeded: Engine) -> None:
    assert _check(seeded) == ([], [])
    created = _events(seeded, "staff_created")
    assert [(actor, d["username"], d["role"]) for actor, d in created] == [
        ("demo", "admin", "admin"),
        ("demo", "pengawas", "proctor"),
    ]
    for _actor, d in created:
        # the digest of the stored hash, never the password nor the hash itself
        assert d["password_sha256"] == password_sha256(_stored_hash(seeded, d["username"]))
        assert "password" not in d and "password_hash" not in d
    (actor, rooms), *_ = _events(seeded, "staff_rooms")
    assert actor == "demo" and rooms["username"] == "pengawas" and len(rooms["room_ids"]) == 1


def test_a_role_changed_in_the_table_is_named(seeded: Engine) -> None:
    problems = _edit(seeded, "UPDATE exam_staff SET role = 'admin' WHERE username = 'pengawas'")
    assert len(problems) == 1
    assert "staff account pengawas" in problems[0] and "role 'admin' stored" in problems[0]


def test_a_password_hash_replaced_in_the_table_is_named(seeded: Engine) -> None:
    """The attacker's own password on the administrator's account."""
    theirs = hash_password("penyerang-123", n=TEST_SCRYPT_N)
    problems = _edit(
        seeded, f"UPDATE exam_staff SET password_hash = '{theirs}' WHERE username = 'admin'"
    )
    assert len(problems) == 1
    assert "staff account admin" in problems[0] and "password hash" in problems[0]


def test_disabled_or_enabled_without_its_event_is_named(seeded: Engine) -> None:
    problems = _edit(seeded, "UPDATE exam_staff SET disabled = 1 WHERE username = 'pengawas'")
    assert len(problems) == 1 and "pengawas" in problems[0] and "disabled" in problems[0]
    from exam_server.scheduling import set_staff_disabled

    with seeded.begin() as conn:
        conn.execute(text("UPDATE exam_staff SET disabled = 0 WHERE username = 'pengawas'"))
    set_staff_disabled(seeded, "pengawas", True, actor="admin:admin")
    assert _check(seeded) == ([], [])
    # disabled by its event, enabled again in the table
    problems = _edit(seeded, "UPDATE exam_staff SET disabled = 0 WHERE username = 'pengawas'")
    assert len(problems) == 1 and "enabled stored, disabled by its last" in problems[0]


def test_a_room_added_or_removed_in_the_table_is_named(seeded: Engine) -> None:
    problems = _edit(
        seeded,
        "INSERT INTO exam_staff_room (staff_id, room_id) SELECT s.id, r.id "
        "FROM exam_staff s, exam_room r WHERE s.username = 'pengawas' AND r.code = 'R2'",
    )
    assert len(problems) == 1 and "pengawas" in problems[0] and "rooms" in problems[0]
    problems = _edit(seeded, "DELETE FROM exam_staff_room")
    assert len(problems) == 1 and "pengawas" in problems[0] and "rooms [] stored" in problems[0]
    # An admin given a room: no staff_rooms event gave the admin any.
    problems = _edit(
        seeded,
        "INSERT INTO exam_staff_room (staff_id, room_id) SELECT s.id, r.id "
        "FROM exam_staff s, exam_room r WHERE s.username = 'admin' AND r.code = 'R1'",
    )
    assert any("staff account admin" in p and "rooms" in p for p in problems)


def test_a_deleted_or_inserted_account_is_named(seeded: Engine) -> None:
    problems = _edit(
        seeded,
        "DELETE FROM exam_staff_room",
        "DELETE FROM exam_staff WHERE username = 'pengawas'",
    )
    assert problems == [
        "staff account pengawas: named by the audit log, but no longer in exam_staff "
        "(deleted or renamed?)"
    ]
    problems = _edit(
        seeded,
        "INSERT INTO exam_staff (username, name, role, password_hash, disabled) "
        "VALUES ('asesor2', 'Asesor', 'admin', 'x', 0)",
    )
    assert any("staff account asesor2" in p and "no staff_created event" in p for p in problems)


def test_an_account_inserted_with_a_low_id_is_a_problem(seeded: Engine) -> None:
    """Found by a review: an administrator inserted with id 0, below every
    audited account, with another admin's hash, passed as an account from
    before auditing (a note) and verify said OK. Ids tell nothing now."""
    problems = _edit(
        seeded,
        "INSERT INTO exam_staff (id, username, name, role, password_hash, disabled) "
        "SELECT 0, 'admin2', 'Admin Dua', 'admin', password_hash, 0 FROM exam_staff "
        "WHERE username = 'admin'",
    )
    assert any(
        "staff account admin2 (id 0)" in p and "no staff_created event" in p for p in problems
    ), problems


def test_the_upgrade_lists_the_old_accounts_once_and_no_other_passes(seeded: Engine) -> None:
    """A database from before accounts were audited: the upgrade writes one
    staff_baseline event with its accounts and their password digests; then an
    inserted account (any id) is a problem, and so is an old account's
    password hash replaced."""
    from exam_server.audit.staff_records import record_baseline

    with seeded.begin() as conn:
        conn.execute(text("DELETE FROM exam_audit WHERE kind LIKE 'staff_%'"))
        assert record_baseline(conn) is True
        assert record_baseline(conn) is False  # once
    (actor, data), *rest = _events(seeded, "staff_baseline")
    assert actor == "upgrade" and rest == []
    assert data["accounts"]["admin"] == password_sha256(_stored_hash(seeded, "admin"))
    problems, notes = _check(seeded)
    assert problems == [] and len(notes) == 2
    problems = _edit(
        seeded,
        "INSERT INTO exam_staff (id, username, name, role, password_hash, disabled) "
        "VALUES (0, 'admin2', 'Admin Dua', 'admin', 'x', 0)",
    )
    assert any("admin2" in p and "no staff_created event" in p for p in problems), problems
    theirs = hash_password("penyerang-123", n=TEST_SCRYPT_N)
    problems = _edit(
        seeded, f"UPDATE exam_staff SET password_hash = '{theirs}' WHERE username = 'admin'"
    )
    (replaced,) = [p for p in problems if "staff account admin " in p]
    assert "password hash" in replaced and "staff_baseline" in replaced


def test_a_later_upgrade_does_not_list_an_inserted_account(seeded: Engine) -> None:
    """Found by a review of the baseline: on a database whose accounts were
    audited, the next upgrade listed an admin inserted by SQL as an old
    account. Where accounts were audited the baseline lists nobody."""
    from exam_server.audit.staff_records import record_baseline

    problems = _edit(
        seeded,
        "INSERT INTO exam_staff (username, name, role, password_hash, disabled) "
        "SELECT 'rogue', 'Rogue', 'admin', password_hash, 0 FROM exam_staff "
        "WHERE username = 'admin'",
    )
    assert any("rogue" in p for p in problems)
    with seeded.begin() as conn:
        assert record_baseline(conn) is True  # what the next upgrade runs
    ((_, data),) = _events(seeded, "staff_baseline")
    assert data == {"accounts": {}}
    problems, _notes = _check(seeded)
    assert any("staff account rogue" in p and "no staff_created event" in p for p in problems)


def test_accounts_from_before_auditing_are_notes_not_problems(seeded: Engine) -> None:
    """A database made by older code: no staff events at all."""
    with seeded.begin() as conn:
        conn.execute(text("DELETE FROM exam_audit WHERE kind LIKE 'staff_%'"))
    problems, notes = _check(seeded)
    assert problems == []
    assert len(notes) == 2
    assert all("created before staff accounts were audited" in n for n in notes)
    assert "rooms" in next(n for n in notes if "pengawas" in n)
    # A password set since then is on record and checked.
    from exam_server.scheduling import set_staff_password

    set_staff_password(seeded, "admin", "sandi-baru-admin", TEST_SCRYPT_N)
    (actor, data), *_ = _events(seeded, "staff_password")
    assert actor == "cli" and data["password_sha256"] == password_sha256(
        _stored_hash(seeded, "admin")
    )
    theirs = hash_password("penyerang-123", n=TEST_SCRYPT_N)
    problems = _edit(
        seeded, f"UPDATE exam_staff SET password_hash = '{theirs}' WHERE username = 'admin'"
    )
    assert len(problems) == 1 and "admin" in problems[0] and "password hash" in problems[0]


def test_the_admin_api_records_new_staff_and_their_rooms(live_server: ServerHandle) -> None:
    h = live_server
    admin = h.headers("admin")
    rooms = {
        r["code"]: r["id"]
        for site in httpx.get(h.url + "/api/admin/sites", headers=admin).json()
        for r in site["rooms"]
    }
    r = httpx.post(
        h.url + "/api/admin/staff",
        json={
            "username": "pengawas-r2",
            "name": "Pengawas R2",
            "role": "proctor",
            "password": "rahasia-123",
            "room_ids": [rooms["R2"]],
        },
        headers=admin,
    )
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    created = [(a, d) for a, d in _events(h.db, "staff_created") if d["username"] == "pengawas-r2"]
    assert created == [
        (
            "admin:admin",
            {
                "username": "pengawas-r2",
                "role": "proctor",
                "name": "Pengawas R2",
                "password_sha256": password_sha256(_stored_hash(h.db, "pengawas-r2")),
            },
        )
    ]
    put = httpx.put(
        f"{h.url}/api/admin/staff/{sid}/rooms",
        json={"room_ids": [rooms["R2"], rooms["R1"]]},
        headers=admin,
    )
    assert put.status_code == 200, put.text
    mine = [(a, d) for a, d in _events(h.db, "staff_rooms") if d["username"] == "pengawas-r2"]
    assert mine == [
        ("admin:admin", {"username": "pengawas-r2", "room_ids": [rooms["R2"]]}),
        ("admin:admin", {"username": "pengawas-r2", "room_ids": sorted(rooms.values())}),
    ]
    pw = httpx.put(
        f"{h.url}/api/admin/staff/{sid}/password", json={"password": "sandi-baru-r2"}, headers=admin
    )
    assert pw.status_code == 200, pw.text
    actor, data = _events(h.db, "staff_password")[-1]
    assert actor == "admin:admin"
    assert data["password_sha256"] == password_sha256(_stored_hash(h.db, "pengawas-r2"))
    off = httpx.post(f"{h.url}/api/admin/staff/{sid}/disable", json={}, headers=admin)
    assert off.status_code == 200, off.text
    assert _check(h.db) == ([], [])
    assert verify(h.db).problems == []
    # and the reviewer's edit on the new account is named
    problems = _edit(h.db, "UPDATE exam_staff SET role = 'admin' WHERE username = 'pengawas-r2'")
    assert len(problems) == 1 and "pengawas-r2" in problems[0]


def test_seleksi_staff_create_records_the_account(seeded: Engine, tmp_path: Path) -> None:
    pw = tmp_path / "pw.txt"
    pw.write_text("rahasia-cli-123\n", encoding="utf-8")
    db = ["--db", str(seeded.url)]
    argv = ["staff", "create", "pengawas2", "--role", "proctor", "--name", "P2"]
    assert seleksi_main([*argv, "--password-file", str(pw), *db]) == 0
    assert (
        seleksi_main(["staff", "reset-password", "pengawas2", "--password-file", str(pw), *db]) == 0
    )
    created = [d for a, d in _events(seeded, "staff_created") if a == "cli"]
    assert [(d["username"], d["role"], d["name"]) for d in created] == [
        ("pengawas2", "proctor", "P2")
    ]
    (actor, data), *_ = _events(seeded, "staff_password")
    assert actor == "cli" and data["username"] == "pengawas2"
    assert _check(seeded) == ([], [])


def test_an_skb_assessor_account_is_recorded(seeded: Engine) -> None:
    from exam_server.assessment import service as svc

    svc.add_assessor(
        seeded, "asesor2", "Asesor Dua", "rahasia-asesor", "admin:admin", TEST_SCRYPT_N
    )
    (actor, data), *_ = [(a, d) for a, d in _events(seeded, "staff_created") if a != "demo"]
    assert actor == "admin:admin"
    assert (data["username"], data["role"]) == ("asesor2", "assessor")
    assert _check(seeded) == ([], [])
    # The reviewer's edit: the assessor made an administrator.
    problems = _edit(seeded, "UPDATE exam_staff SET role = 'admin' WHERE username = 'asesor2'")
    assert len(problems) == 1 and "asesor2" in problems[0] and "role 'admin'" in problems[0]


def test_a_demo_started_again_records_its_new_passwords(seeded: Engine) -> None:
    """Without its credentials file the demo issues its staff new passwords:
    each is on record, so the check stays clean."""
    from exam_server.demo import seed_demo_exam
    from tests.conftest import TEST_SECRET

    before = _stored_hash(seeded, "admin")
    seed_demo_exam(seeded, TEST_SECRET, n_candidates=2)
    assert _stored_hash(seeded, "admin") != before
    users = sorted(d["username"] for a, d in _events(seeded, "staff_password") if a == "demo")
    assert users == ["admin", "pengawas"]
    assert _check(seeded) == ([], [])
