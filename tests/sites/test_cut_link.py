"""A real centre and a real site server (two uvicorn servers in two
processes — the centre a ``seleksi serve`` subprocess, the site in the
test's own — and two SQLite databases), the line between them a proxy the
test cuts (the browser tests' CuttableProxy).

The site gets its key from the centre, then the line is cut; the whole
session runs at the site (check-in, logins over the real WebSocket client,
answers, one candidate finishing, one ending at time-up, the close) and is
over well before the line comes back. When it does, the site's background
sync sends everything: every acknowledged answer and audit event arrives
exactly once, the chains verify at the centre, and the centre's results —
recomputed from the synced answers — equal the site's. Then resends, a gap
and a site that rewrites a synced answer.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from exam_server import audit
from exam_server.db import writer
from exam_server.receipts import key_id
from exam_server.sites import intake
from exam_server.sites.checkpoint_keys import load_pem
from exam_server.sites.client import CentreClient, sync_state
from exam_server.sites.outbox import build_batch
from exam_server.sites.reverify import verify_sites
from exam_server.sites.service import site_checkpoints
from exam_server.sites.wire import Batch, ChainHead, Positions, ResponseRecord
from exam_server.testing import staff_token
from seleksi.cli import main
from tests.sites.cut_world import (  # noqa: F401  (world_fixture: the world)
    TIME_LIMIT,
    N,
    World,
    count,
    raise_site_points,
    rebuild_site_answers,
    resign_site_lines,
    run_session,
    site_id,
    world_fixture,
)
from tests.sites.helpers import rows, wait_for


async def test_session_through_a_cut_line_arrives_once_and_verifies(world: World) -> None:
    w = world
    admin = staff_token(w.site_server.url, "admin", "admin-password")
    r = httpx.post(
        w.site_server.url + "/api/site/keys",
        json={"session_code": "SESI-1"},
        headers={"Authorization": f"Bearer {admin}"},
        timeout=30,
    )
    assert r.status_code == 200 and r.json()["items"] == 36, r.text
    await wait_for(
        lambda: count(w.centre.engine, "SELECT COUNT(*) FROM site_audit") >= 2, 20, "first sync"
    )

    cut_at = time.monotonic()
    w.proxy.cut()
    acked = await run_session(w)
    # The session started and ended inside the outage; nothing got through.
    await asyncio.sleep(1.0)
    assert time.monotonic() - cut_at > TIME_LIMIT
    assert count(w.centre.engine, "SELECT COUNT(*) FROM site_response") == 0
    assert sync_state(w.site_engine)["last_error"]
    centre_admin = staff_token(w.centre_server.url, "admin", "admin-password")
    sites = httpx.get(
        w.centre_server.url + "/api/centre/sites",
        headers={"Authorization": f"Bearer {centre_admin}"},
        timeout=30,
    ).json()["sites"]
    assert [(s["code"], s["online"]) for s in sites] == [("TILOK-01", False)]
    assert sites[0]["lag_seconds"] > TIME_LIMIT
    status = httpx.get(
        w.site_server.url + "/api/site/status",
        headers={"Authorization": f"Bearer {admin}"},
        timeout=30,
    ).json()
    assert status["site"] == "TILOK-01" and "cannot be reached" in status["sync"]["last_error"]
    assert status["sessions"][0]["key_released"] and status["sessions"][0]["released_how"] == (
        "centre"
    )
    # The line is down: the key can come only from the sealed sheet.
    r = httpx.post(
        w.site_server.url + "/api/site/keys",
        json={"session_code": "SESI-1"},
        headers={"Authorization": f"Bearer {admin}"},
        timeout=30,
    )
    assert r.status_code == 503 and "sealed key" in r.json()["message"]
    r = httpx.post(
        w.site_server.url + "/api/site/keys",
        json={"session_code": "SESI-1", "sealed_key": "0" * 55},
        headers={"Authorization": f"Bearer {admin}"},
        timeout=30,
    )
    assert r.status_code == 422 and "mistyped" in r.json()["message"]
    site_answers = rows(
        w.site_engine, "SELECT attempt_id, seq, hash FROM exam_response ORDER BY attempt_id, seq"
    )
    assert len(site_answers) == sum(len(v) for v in acked.values()) == 25

    w.proxy.restore()
    site_events = rows(w.site_engine, "SELECT id, hash FROM exam_audit ORDER BY id")
    last_cp = site_checkpoints(w.site_server.settings).lines_after(0, 10_000)[-1]

    def arrived() -> bool:
        return (
            count(w.centre.engine, "SELECT COUNT(*) FROM site_response") == len(site_answers)
            and count(w.centre.engine, "SELECT COUNT(*) FROM site_audit") >= len(site_events)
            and count(w.centre.engine, "SELECT MAX(n) FROM site_checkpoint")
            >= int(last_cp.split('"n":')[1].split(",")[0])
            and count(w.centre.engine, "SELECT site_pending FROM site_link") == 0
        )

    await wait_for(arrived, 60, "catch-up after the line returned")
    # Exactly once: the centre's copy is the site's chain, row for row.
    centre_answers = rows(
        w.centre.engine,
        "SELECT attempt_id, seq, hash FROM site_response ORDER BY attempt_id, seq",
    )
    assert centre_answers == site_answers
    site_events = rows(w.site_engine, "SELECT id, hash FROM exam_audit ORDER BY id")
    assert rows(w.centre.engine, "SELECT id, hash FROM site_audit ORDER BY id") == site_events
    kinds = [k for (k,) in rows(w.centre.engine, "SELECT kind FROM site_audit ORDER BY id")]
    assert kinds.count("finish") == N and "open_session" in kinds and "close_session" in kinds
    # The chains verify at the centre; no problem was found.
    assert intake.verify_copies(w.centre.engine, site_id(w)) == []
    assert rows(w.centre.engine, "SELECT message FROM site_problem") == []
    # The centre's results, recomputed from the synced answers, are the site's.
    site_results = rows(
        w.site_engine,
        "SELECT id, status, finish_reason, total_points, passed FROM exam_attempt ORDER BY id",
    )
    centre_results = rows(
        w.centre.engine,
        "SELECT attempt_id, status, finish_reason, centre_total, centre_passed, centre_check"
        " FROM site_attempt ORDER BY attempt_id",
    )
    assert [r[:5] for r in centre_results] == site_results
    assert {r[5] for r in centre_results} == {"equal"}
    assert {r[2] for r in site_results} == {"candidate", "time_up"}
    centre_admin = staff_token(w.centre_server.url, "admin", "admin-password")
    (site,) = httpx.get(
        w.centre_server.url + "/api/centre/sites",
        headers={"Authorization": f"Bearer {centre_admin}"},
        timeout=30,
    ).json()["sites"]
    assert site["online"] and site["pending"] == 0 and site["lag_seconds"] == 0
    assert site["results"] == {"equal": N, "differs": 0, "pending": 0}
    assert site["problems"] == []


def test_results_at_the_centre_count_the_sites_verified_attempts(world: World) -> None:
    w = world
    # The one reader of outcomes for ranking and publication.
    from exam_server.results.from_db import SourceError, load_outcomes

    _, outcomes = load_outcomes(w.centre.engine, w.centre.seed.exam_code)
    site = {
        str(reg): json.loads(score)
        for reg, score in rows(
            w.site_engine,
            "SELECT c.registration_number, a.score_json FROM exam_attempt a"
            " JOIN exam_candidate c ON c.id = a.candidate_id",
        )
    }
    assert {o.registration_number: o.status for o in outcomes} == dict.fromkeys(site, "finished")
    for o in outcomes:
        want = {s["code"]: s["points"] for s in site[o.registration_number]["sections"]}
        assert o.scores == pytest.approx(want)
    # With records still pending at the site, no outcome is read from it. (The
    # line is cut meanwhile so that the site's next sync does not report 0.)
    w.proxy.cut()
    time.sleep(1.0)  # a batch in flight is applied or refused by now
    with w.centre.engine.begin() as c:
        c.execute(text("UPDATE site_link SET site_pending = 7"))
    try:
        with pytest.raises(SourceError, match=r"held at site TILOK-01.*7 records pending"):
            load_outcomes(w.centre.engine, w.centre.seed.exam_code)
    finally:
        w.proxy.restore()


def test_attempt_records_that_contradict_the_sites_chain_are_not_counted(world: World) -> None:
    """The attempt record (whose test, how it ended) is outside every chain,
    so the centre holds it against the site's own chain before it counts:
    two candidates' results swapped, a finished test voided, or a started one
    stored as never taken are each refused by name (found in review), and the
    true records count again."""
    from exam_server.results.from_db import SourceError, load_outcomes
    from exam_server.sites.client import CentreClient
    from exam_server.sites.wire import AttemptRecord, Batch

    w = world
    fields = set(AttemptRecord.model_fields)
    with w.centre.engine.connect() as c:
        true = [
            {k: v for k, v in dict(r).items() if k in fields}
            for r in c.execute(text("SELECT * FROM site_attempt ORDER BY attempt_id")).mappings()
        ]

    def send(records: list[dict[str, Any]]) -> None:
        client = CentreClient(w.centre_server.url, w.token)  # the site's own token
        try:
            pos = client.positions()
            batch = Batch(
                base_audit=pos.audit,
                audit_head=pos.audit,
                attempts=[AttemptRecord(**r) for r in records],
            )
            client.send(batch)
        finally:
            client.close()

    a, b = true[0], true[1]
    swapped = [{**a, "candidate_id": b["candidate_id"]}, {**b, "candidate_id": a["candidate_id"]}]
    voided = [{**a, "status": "void"}]
    untaken = [{**a, "status": "absent", "terminal_id": None, "last_seq": 0}]
    w.proxy.cut()  # the site's own syncer stays out of it meanwhile
    time.sleep(1.0)  # a batch in flight is applied or refused by now
    try:
        for changed, said in (
            (swapped, f"belongs to candidate:{a['candidate_id']} in its start event"),
            (voided, "status is 'void' stored, 'finished' in its finish event"),
            (untaken, "status is 'absent' stored, 'finished' in its finish event"),
        ):
            send(changed)
            with pytest.raises(SourceError, match=re.escape(said)):
                load_outcomes(w.centre.engine, w.centre.seed.exam_code)
            send(true[:2])
        _, outcomes = load_outcomes(w.centre.engine, w.centre.seed.exam_code)
        assert {o.status for o in outcomes} == {"finished"}
    finally:
        w.proxy.restore()


def test_a_site_held_candidate_edited_at_the_centre_is_not_counted(world: World) -> None:
    """Found by a review: at the centre, a site-held candidate's category,
    name or birth date edited in exam_candidate changed the ranking (another
    list) unnoticed: only the registration number was compared with the
    site's start event."""
    from exam_server.results.from_db import SourceError, load_outcomes

    w = world
    with w.centre.engine.connect() as c:
        cid, category = c.execute(
            text(
                "SELECT c.id, c.category FROM site_attempt a JOIN exam_candidate c"
                " ON c.id = a.candidate_id ORDER BY a.attempt_id LIMIT 1"
            )
        ).one()
    other = "cumlaude" if category != "cumlaude" else "general"
    for column, value in (("category", other), ("name", "Orang Lain")):
        with writer(w.centre.engine).begin() as c:
            before = c.execute(
                text(f"SELECT {column} FROM exam_candidate WHERE id = :i"), {"i": cid}
            ).scalar_one()
            c.execute(
                text(f"UPDATE exam_candidate SET {column} = :v WHERE id = :i"),
                {"v": value, "i": cid},
            )
        try:
            with pytest.raises(SourceError, match=f"the candidate's {column} is {value!r} stored"):
                load_outcomes(w.centre.engine, w.centre.seed.exam_code)
        finally:
            with w.centre.engine.begin() as c:
                c.execute(
                    text(f"UPDATE exam_candidate SET {column} = :v WHERE id = :i"),
                    {"v": before, "i": cid},
                )
    load_outcomes(w.centre.engine, w.centre.seed.exam_code)  # as it was: counted


def test_audit_verify_at_the_centre_holds_the_sites_copies_to_their_signed_lines(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by a review: the rankings count a site's copies, which are in
    none of the centre's chains, and `seleksi audit verify` at the centre did
    not look at them: an insider there could raise a site-held candidate's
    points, or rewrite an answer and rebuild every chain after it, unnoticed.
    The copies are now verified too: each result scored again, each signed
    checkpoint line's heads still held."""
    w = world
    sid = site_id(w)
    verify = ["audit", "verify", "--db", str(w.tmp / "centre.db")]
    events = count(w.centre.engine, "SELECT COUNT(*) FROM site_audit")
    assert main(verify) == 0
    said = capsys.readouterr().out
    assert f"sites' copies: 1 site(s), audit events: {events}, attempts: {N}" in said
    assert f"responses: 25, scores recomputed: {N}, signed checkpoint lines: " in said
    assert "OK: every chain verifies" in said

    aid = count(w.centre.engine, "SELECT MIN(attempt_id) FROM site_attempt")
    where = f"WHERE site_id={sid} AND attempt_id={aid}"
    (kept,) = rows(w.centre.engine, f"SELECT score_json, total_points FROM site_attempt {where}")
    with writer(w.centre.engine).begin() as c:  # the centre writes meanwhile
        raise_site_points(c, sid, aid, 5.0)
    try:
        assert main(verify) == 1
        said = capsys.readouterr().out
    finally:
        with writer(w.centre.engine).begin() as c:
            c.execute(
                text(f"UPDATE site_attempt SET score_json=:j, total_points=:t {where}"),
                {"j": kept[0], "t": kept[1]},
            )
    assert f"PROBLEM: site TILOK-01: site result: attempt {aid}: total_points is" in said

    # Every chain rebuilt after the edit links and hashes and scores the
    # same; the heads the site signed no longer hold.
    with writer(w.centre.engine).connect() as c:
        trans = c.begin()
        try:
            rebuild_site_answers(c, sid, aid, 1)
            found = verify_sites(c).problems
        finally:
            trans.rollback()
    assert found and all("differs from checkpoint" in p for p in found), found
    assert any(p.startswith(f"site TILOK-01: attempt {aid}: answer seq") for p in found)
    # ...and with the insider's own key put in as the site's and every line
    # signed again with the rebuilt heads, only the centre's record of the
    # key it took at the first sync still tells.
    first = rows(w.centre.engine, "SELECT checkpoint_key FROM site_link")[0][0]
    with writer(w.centre.engine).connect() as c:
        trans = c.begin()
        try:
            rebuild_site_answers(c, sid, aid, 1)
            theirs = resign_site_lines(c, sid, Ed25519PrivateKey.generate())
            found = verify_sites(c).problems
        finally:
            trans.rollback()
    assert found == [
        f"site TILOK-01: its first checkpoint key is {theirs} stored, {key_id(load_pem(first))}"
        " by the centre's audit event of its first sync"
    ]
    assert main(verify) == 0  # as it was
    capsys.readouterr()


def test_a_resent_batch_stores_nothing_twice(world: World) -> None:
    w = world
    before = count(w.centre.engine, "SELECT COUNT(*) FROM site_response")
    events = count(w.centre.engine, "SELECT COUNT(*) FROM site_audit")
    client = CentreClient(w.proxy.url, w.token)
    try:
        zero = Positions(
            audit=ChainHead(position=0, hash=""), checkpoint=ChainHead(position=0, hash="")
        )
        batch = build_batch(w.site_engine, zero, 10_000, None)
        # Built as if the centre held nothing: the whole history again.
        result = client.send(batch.model_copy(update={"base_audit": client.positions().audit}))
    finally:
        client.close()
    assert result.duplicates == len(batch.audit) + len(batch.responses) > 0
    assert result.problems == []
    assert count(w.centre.engine, "SELECT COUNT(*) FROM site_response") == before
    assert count(w.centre.engine, "SELECT COUNT(*) FROM site_audit") == events


def test_a_gap_is_refused_whole(world: World) -> None:
    w = world
    client = CentreClient(w.proxy.url, w.token)
    try:
        pos = client.positions()
        aid, head = next(iter(pos.attempts.items()))
        row: dict[str, Any] = {
            "attempt_id": aid,
            "seq": head.seq + 2,  # seq head+1 never sent
            "kind": "answer",
            "number": 1,
            "item_id": "TWK-0000",
            "option": 1,
            "prev_hash": "0" * 64,
            "hash": "1" * 64,
        }
        batch = Batch(
            base_audit=pos.audit,
            responses=[ResponseRecord(**row)],
            audit_head=pos.audit,
        )
        r = client.http.post(
            "/api/centre/v1/batches",
            content=batch.model_dump_json(),
            headers={"Content-Type": "application/json"},
        )
    finally:
        client.close()
    assert r.status_code == 409
    assert f"seq {head.seq + 1} missing" in r.json()["message"]
    assert r.json()["positions"]["attempts"][str(aid)]["seq"] == head.seq


def test_a_malformed_batch_is_refused_naming_the_field(world: World) -> None:
    r = httpx.post(
        world.proxy.url + "/api/centre/v1/batches",
        json={"base_audit": {"position": 0, "hash": ""}, "audit_head": {"position": "x"}},
        headers={"Authorization": f"Bearer {world.token}"},
        timeout=30,
    )
    assert r.status_code == 422
    assert any(e["field"] == "audit_head.position" for e in r.json()["errors"])
    r = httpx.get(
        world.proxy.url + "/api/centre/v1/positions",
        headers={"Authorization": "Bearer TILOK-01.wrong"},
        timeout=30,
    )
    assert r.status_code == 401


async def test_a_site_that_rewrites_a_synced_answer_is_detected(world: World) -> None:
    w = world
    # At the site someone changes a synced answer and rebuilds the chain so
    # that the site's own `seleksi audit verify` of the answers still passes.
    aid = count(w.site_engine, "SELECT MIN(attempt_id) FROM exam_response")
    with writer(w.site_engine).begin() as c:  # reads, then writes while the site writes
        chain = [
            dict(r)
            for r in c.execute(
                text("SELECT * FROM exam_response WHERE attempt_id = :a ORDER BY seq"), {"a": aid}
            ).mappings()
        ]
        synced_option = chain[0]["option"]
        chain[0]["option"] = (synced_option + 1) % 5
        prev = ""
        for r in chain:
            r["prev_hash"], r["hash"] = prev, audit.response_hash(prev, r)
            prev = r["hash"]
            c.execute(
                text(
                    "UPDATE exam_response SET option=:option, prev_hash=:prev_hash, hash=:hash"
                    " WHERE id=:id"
                ),
                r,
            )
        c.execute(
            text("UPDATE exam_attempt SET response_head=:h WHERE id=:a"), {"h": prev, "a": aid}
        )

    def found() -> bool:
        return any(
            f"attempt {aid}" in m and "rewritten" in m
            for (m,) in rows(w.centre.engine, "SELECT message FROM site_problem")
        )

    await wait_for(found, 30, "the centre noticing the rewrite")
    # The centre kept what was synced.
    kept = rows(
        w.centre.engine, f"SELECT option FROM site_response WHERE attempt_id={aid} AND seq=1"
    )
    assert kept == [(synced_option,)]


async def test_a_rewritten_audit_chain_is_refused_and_answers_still_arrive(world: World) -> None:
    w = world
    # At the site someone edits the first audit event and re-hashes the chain
    # after it; then the site goes on writing (an event, and an answer). The
    # site server writes meanwhile, so the edit takes the write lock up front
    # (BEGIN IMMEDIATE): a plain BEGIN that reads first and writes later is
    # refused outright when the server committed in between.
    with writer(w.site_engine).begin() as c:
        events = [
            dict(r) for r in c.execute(text("SELECT * FROM exam_audit ORDER BY id")).mappings()
        ]
        events[0]["reason"] = "diubah"
        prev = ""
        for e in events:
            e["prev_hash"], e["hash"] = prev, audit.event_hash(prev, e)
            prev = e["hash"]
            c.execute(
                text(
                    "UPDATE exam_audit SET reason=:reason, prev_hash=:prev_hash, hash=:hash"
                    " WHERE id=:id"
                ),
                e,
            )
        c.execute(text("UPDATE exam_audit_head SET last_hash=:h"), {"h": prev})
        audit.append(c, "note", "proctor:p", reason="setelah diubah")
        aid, seq, head = c.execute(
            text("SELECT id, last_seq, response_head FROM exam_attempt ORDER BY id DESC LIMIT 1")
        ).one()
        row = {
            "attempt_id": aid,
            "seq": seq + 1,
            "kind": "flag",
            "number": 1,
            "item_id": "TWK-0000",
            "option": -1,
            "flagged": True,
            "at": time.time(),
        }
        row["prev_hash"], row["hash"] = head, audit.response_hash(head, row)
        c.execute(
            text(
                "INSERT INTO exam_response (attempt_id, seq, kind, number, item_id, option,"
                " flagged, elapsed, at, prev_hash, hash) VALUES (:attempt_id, :seq, :kind,"
                " :number, :item_id, :option, :flagged, 0, :at, :prev_hash, :hash)"
            ),
            row,
        )
        c.execute(
            text("UPDATE exam_attempt SET last_seq=:s, response_head=:h WHERE id=:a"),
            {"s": seq + 1, "h": row["hash"], "a": aid},
        )

    def arrived() -> bool:
        return (
            count(
                w.centre.engine,
                f"SELECT COUNT(*) FROM site_response WHERE attempt_id={aid} AND seq={seq + 1}",
            )
            == 1
        )

    await wait_for(arrived, 30, "the new answer arriving")
    messages = [m for (m,) in rows(w.centre.engine, "SELECT message FROM site_problem")]
    assert any("audit chain was rewritten" in m for m in messages)
    # An answer written after the attempt's finish is caught too, as it
    # arrives and when the copies are verified again; the audit chain the
    # centre holds is what arrived before, intact.
    assert any(f"attempt {aid}: its answers differ from its finish event" in m for m in messages)
    found = intake.verify_copies(w.centre.engine, site_id(w))
    assert found[0] == f"attempt {aid}: its answers do not end at its finish event's head"
    # The site's lines signed after its rewrite name events the centre refused;
    # until a line records the new answer, the lines end the attempt before it.
    assert all(
        (m.startswith("audit event ") and "refused when it arrived" in m)
        or m.startswith(f"attempt {aid}: answers up to seq {seq + 1} held, but the site's")
        for m in found[1:]
    ), found
