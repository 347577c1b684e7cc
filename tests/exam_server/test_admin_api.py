"""The REST API: roles, setup, CSV import, OpenAPI, results, audit chain."""

from __future__ import annotations

import asyncio
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from exam_server.audit import verify
from exam_server.testing import Terminal
from seleksi.cli import main as seleksi_main
from tests.conftest import ServerHandle


def test_roles_are_separate_and_tokens_required(live_server: ServerHandle) -> None:
    h = live_server
    sid = h.seed.session_id
    admin_get = f"{h.url}/api/admin/sessions/{sid}/attempts"
    proctor_get = f"{h.url}/api/proctor/sessions/{sid}/attempts"
    assert httpx.get(admin_get).status_code == 401
    assert httpx.get(admin_get, headers={"Authorization": "Bearer nonsense"}).status_code == 401
    assert httpx.get(admin_get, headers=h.headers("proctor")).status_code == 403
    assert httpx.get(admin_get, headers=h.headers("admin")).status_code == 200
    assert httpx.get(proctor_get, headers=h.headers("admin")).status_code == 403
    assert httpx.get(proctor_get, headers=h.headers("proctor")).status_code == 200
    bad = httpx.post(h.url + "/api/auth/login", json={"username": "admin", "password": "wrong"})
    assert bad.status_code == 401 and bad.json()["error"] == "bad_credentials"
    # The proctor's view has no scores.
    rows = httpx.get(proctor_get, headers=h.headers("proctor")).json()
    assert all("total" not in r and "score" not in r for r in rows)


def test_candidate_csv_import_is_all_or_nothing(live_server: ServerHandle) -> None:
    h = live_server
    hdr = h.headers("admin")
    url = h.url + "/api/admin/candidates/import"
    good = "registration_number,name,category,formation_code,session_code\n"
    bad = (
        good
        + "NEW0001,Sari Dewi,general,F-GURU-MAT,SESI-1\n"
        + "NEW0002,,general,F-GURU-MAT,SESI-1\n"
        + "NEW0003,Rudi,alien,F-NOPE,SESI-1\n"
        + "20240001,Dup,general,F-GURU-MAT,SESI-1\n"
    )
    r = httpx.post(url, content=bad.encode(), headers=hdr)
    assert r.status_code == 422
    errs = {(e["row"], e["field"]) for e in r.json()["errors"]}
    assert errs == {
        (3, "name"),
        (4, "category"),
        (4, "formation_code"),
        (5, "registration_number"),
    }
    with h.db.connect() as c:
        n = c.exec_driver_sql(
            "SELECT count(*) FROM exam_candidate WHERE registration_number LIKE 'NEW%'"
        ).scalar()
    assert n == 0  # the valid row was not imported either
    r = httpx.post(
        url, content=(good + "NEW0001,Sari Dewi,papua,F-GURU-MAT,SESI-1\n").encode(), headers=hdr
    )
    assert r.status_code == 201 and r.json() == {"imported": 1}
    missing = httpx.post(url, content=b"registration_number,name\nX1,Y\n", headers=hdr)
    assert {e["field"] for e in missing.json()["errors"]} == {
        "category",
        "formation_code",
        "session_code",
    }


def new_session_in_r2(h: ServerHandle, code: str) -> tuple[int, int]:
    """Schedule a demo-exam session ``code`` in room R2 (the demo proctor
    supervises R1 only) through the admin API: (session id, room id)."""
    admin = h.headers("admin")
    r = httpx.post(
        h.url + "/api/admin/sessions",
        json={"code": code, "exam_code": "SKD-DEMO", "site_code": "TILOK-01", "room_code": "R2"},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    sid = int(r.json()["id"])
    sessions = httpx.get(h.url + "/api/admin/sessions", headers=admin).json()
    return sid, int(next(x for x in sessions if x["id"] == sid)["room_id"])


def new_proctor(h: ServerHandle, username: str, room_ids: list[int]) -> dict[str, str]:
    """Create a proctor of ``room_ids`` through the admin API; their bearer header."""
    r = httpx.post(
        h.url + "/api/admin/staff",
        json={
            "username": username,
            "role": "proctor",
            "password": "rahasia-123",
            "room_ids": room_ids,
        },
        headers=h.headers("admin"),
    )
    assert r.status_code == 201, r.text
    assert r.json()["room_ids"] == sorted(set(room_ids))
    login = httpx.post(
        h.url + "/api/auth/login", json={"username": username, "password": "rahasia-123"}
    )
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['token']}"}


def test_schedule_open_checkin_and_close(live_server: ServerHandle) -> None:
    h = live_server
    admin = h.headers("admin")
    sid, room = new_session_in_r2(h, "SESI-2")
    # Room R2 has its own proctor (the demo proctor supervises R1 only).
    proctor = new_proctor(h, "pengawas-r2", [room])
    dup = httpx.post(
        h.url + "/api/admin/sessions",
        json={
            "code": "SESI-2",
            "exam_code": "SKD-DEMO",
            "site_code": "TILOK-01",
            "room_code": "R2",
        },
        headers=admin,
    )
    assert dup.status_code == 409
    csv = (
        "registration_number,name,category,formation_code,session_code\n"
        "S2-001,Tono,general,F-PERAWAT,SESI-2\n"
    )
    assert (
        httpx.post(h.url + "/api/admin/candidates/import", content=csv, headers=admin).status_code
        == 201
    )
    # Tests can be assembled before the session opens (the night before).
    assert httpx.post(f"{h.url}/api/admin/sessions/{sid}/prepare", headers=admin).status_code == 202
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        rows = httpx.get(h.url + "/api/admin/sessions", headers=admin).json()
        if next(r for r in rows if r["id"] == sid)["prepared"] == 1:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the session's attempt was not prepared")
    pin = httpx.post(
        f"{h.url}/api/proctor/sessions/{sid}/checkin",
        json={"registration_number": "S2-001"},
        headers=proctor,
    ).json()["pin"]
    body = {
        "registration_number": "S2-001",
        "pin": pin,
        "session_token": "AAAAAA",
        "terminal_id": "T-S2",
    }
    # Not open yet: no login.
    assert httpx.post(h.url + "/api/candidate/login", json=body).status_code == 403
    # A double-click, or a second console, opens it again at the same moment:
    # one token for all (a review saw two, and the room typed the old one
    # until its address waited out the login back-off).
    with ThreadPoolExecutor(4) as pool:
        opened = list(
            pool.map(
                lambda _: httpx.post(f"{h.url}/api/sessions/{sid}/open", headers=proctor),
                range(4),
            )
        )
    assert all(r.status_code == 200 for r in opened)
    (token,) = {r.json()["token"] for r in opened}
    assert len(token) == 6
    again = httpx.post(f"{h.url}/api/sessions/{sid}/open", headers=proctor).json()
    assert again["token"] == token
    assert httpx.post(h.url + "/api/candidate/login", json=body).status_code == 401
    body["session_token"] = token
    assert httpx.post(h.url + "/api/candidate/login", json=body).status_code == 200
    # A PIN of one session does not open another candidate's attempt.
    other = dict(body, registration_number="20240001")
    assert httpx.post(h.url + "/api/candidate/login", json=other).status_code == 401
    r = httpx.post(
        f"{h.url}/api/sessions/{sid}/close", json={"reason": "session over"}, headers=proctor
    )
    closed = r.json()
    # The close signs a checkpoint whose fingerprint goes in the session report.
    assert re.fullmatch(r"[0-9A-Z]{5}-[0-9A-Z]{5}", closed.pop("checkpoint"))
    assert closed == {"session_id": sid, "status": "closed", "finished": 1}
    assert httpx.post(h.url + "/api/candidate/login", json=body).status_code == 403
    rows = httpx.get(f"{h.url}/api/admin/sessions/{sid}/attempts", headers=admin).json()
    assert rows[0]["status"] == "finished" and rows[0]["finish_reason"] == "session_closed"
    assert rows[0]["total"] == 0.0 and rows[0]["passed"] is False


def test_openapi_schema_lists_every_endpoint(live_server: ServerHandle) -> None:
    doc = httpx.get(live_server.url + "/api/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    for path in (
        "/api/candidate/login",
        "/api/admin/candidates/import",
        "/api/admin/exams",
        "/api/proctor/attempts/{attempt_id}/{action}",
        "/api/sessions/{session_id}/open",
    ):
        assert path in paths
    assert paths["/api/admin/exams"]["post"]["security"] == [{"bearer": []}]


def test_results_and_audit_chain_verify_and_detect_tampering(
    live_server: ServerHandle, capsys: Any
) -> None:
    h = live_server

    async def sit() -> int:
        t = await Terminal.open(h.ws_url, h.login("20240002"), "T-1")
        for n in range(1, 11):
            await t.answer(n, 0)
        final = await t.request({"type": "finish", "confirm": True})
        assert final["type"] == "final"
        await t.close()
        return int(t.state["attempt_id"])

    aid = asyncio.run(sit())
    detail = httpx.get(f"{h.url}/api/admin/attempts/{aid}", headers=h.headers("admin")).json()
    assert detail["status"] == "finished" and detail["responses"] == 10
    assert [s["code"] for s in detail["score"]["sections"]] == ["TWK", "TIU", "TKP"]
    report = verify(h.db)
    assert report.ok, report.problems
    assert report.events > 5 and report.responses == 10
    url = h.settings.database_url
    assert seleksi_main(["audit", "verify", "--db", url]) == 0
    # Change one stored answer behind the server's back: verify must notice.
    with h.db.begin() as c:
        c.exec_driver_sql(
            "UPDATE exam_response SET option = 4 WHERE attempt_id = ? AND seq = 3", (aid,)
        )
    assert seleksi_main(["audit", "verify", "--db", url]) == 1
    out = capsys.readouterr().out
    assert f"attempt {aid}, seq 3): altered" in out
    with h.db.begin() as c:
        c.exec_driver_sql("UPDATE exam_audit SET reason = 'edited' WHERE id = 2")
    problems = verify(h.db).problems
    assert any("audit event 2: hash does not match" in p for p in problems)


def test_tests_are_assembled_before_the_login_rush(live_server: ServerHandle) -> None:
    h = live_server
    n = len(h.seed.candidates)

    def prepared() -> list[tuple[Any, ...]]:
        with h.db.connect() as c:
            return list(c.exec_driver_sql("SELECT candidate_id, terminal_id FROM exam_attempt"))

    deadline = time.monotonic() + 20
    while len(prepared()) < n and time.monotonic() < deadline:
        time.sleep(0.1)
    rows = prepared()
    assert len(rows) == n and all(t is None for _, t in rows)  # no terminal bound yet
    h.login("20240003", "T-3")
    rows = prepared()
    assert len(rows) == n and sum(t == "T-3" for _, t in rows) == 1


def test_exam_from_the_item_bank_via_rest(live_server: ServerHandle) -> None:
    from item_bank.demo import seed_demo_bank

    h = live_server
    seed_demo_bank(h.db, per_subtest=60)
    admin = h.headers("admin")
    too_long = {
        "name": "SKD",
        "mode": "linear",
        "time_limit_seconds": 6000,
        "sections": [{"code": "TWK", "n_items": 500}],
    }
    r = httpx.post(
        h.url + "/api/admin/exams",
        json={"code": "SKD-LONG", "name": "too long", "design": too_long},
        headers=admin,
        timeout=60,
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "design"
    assert "needs 500 items" in r.json()["message"]
    r = httpx.post(
        h.url + "/api/admin/exams",
        json={"code": "SKD-BANK", "name": "SKD from the bank", "design": "skd_linear"},
        headers=admin,
        timeout=60,
    )
    assert r.status_code == 201, r.text
    assert r.json()["n_items"] > 110
    exams = httpx.get(h.url + "/api/admin/exams", headers=admin).json()
    assert [e["code"] for e in exams] == ["SKD-DEMO", "SKD-BANK"]
    with h.db.connect() as c:
        items_json = c.exec_driver_sql(
            "SELECT items_json FROM exam_exam WHERE code = 'SKD-BANK'"
        ).scalar()
    assert items_json is not None
    first = json.loads(items_json)[0]
    assert set(first) == {"item_id", "subtest", "stem", "stem_format", "options"}
    assert len(first["options"]) == 5


def test_inputs_found_by_the_api_fuzz_get_client_errors(live_server: ServerHandle) -> None:
    # Both once answered 500 (found by schemathesis, docs/reliability.md).
    h = live_server
    hdr = h.headers("admin")
    huge = httpx.get(h.url + "/api/admin/attempts/99999999999999999999", headers=hdr)
    assert huge.status_code == 404 and huge.json()["error"] == "not_found"
    # A bare CR ends a line, as in a spreadsheet: the row imports.
    text = (
        "registration_number,name,category,formation_code,session_code\r"
        "CR0001,Ani,general,F-GURU-MAT,SESI-1\r"
    )
    r = httpx.post(h.url + "/api/admin/candidates/import", content=text.encode(), headers=hdr)
    assert r.status_code == 201 and r.json() == {"imported": 1}
    # An unterminated quote swallows the rest of the file: a 422 naming the row.
    broken = 'registration_number,name,category,formation_code,session_code\nX2,"Ani\x00,general\n'
    r = httpx.post(h.url + "/api/admin/candidates/import", content=broken.encode(), headers=hdr)
    assert r.status_code == 422 and r.json()["errors"][0]["row"] >= 1
