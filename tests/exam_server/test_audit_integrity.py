"""Issue 14, hole 2: a score edited in the database, and a chain's tail removed
with its head rewound, are each reported with where; checkpoints are signed,
chained and shown to the proctor.

Every database here is made by the real server (uvicorn in a thread) driven
by real terminals over the real WebSocket protocol; the attacks are SQL run
against that database, as someone with access to the file would run them.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine

from exam_server import audit, checkpoints
from exam_server.audit.replay import _check_finish_event
from exam_server.context import context
from exam_server.db import writer
from exam_server.receipts import key_id
from exam_server.testing import Terminal, small_bank
from seleksi.cli import main as seleksi
from tests.conftest import ADMIN_PASSWORD, ServerHandle


def reg(h: ServerHandle, i: int = 0) -> str:
    return str(h.seed.candidates[i]["registration_number"])


def db_path(h: ServerHandle) -> str:
    return h.settings.database_url.removeprefix("sqlite:///")


def sql(db: Engine, statement: str, *params: Any) -> list[Any]:
    with db.begin() as c:
        res = c.exec_driver_sql(statement, tuple(params))
        return list(res.all()) if res.returns_rows else []


async def finished_attempt(h: ServerHandle, i: int = 0) -> int:
    """A candidate answers every item (linear: options 0..4 in turn) and finishes."""
    t = await Terminal.open(h.ws_url, h.login(reg(h, i), f"T-{i}"), f"T-{i}")
    n = int(t.state["n_items"])
    for number in range(1, n + 1):
        await t.answer(number, (number + i) % 5)
    if t.state["mode"] == "linear":
        t.seq += 1
        flag = await t.request({"type": "flag", "seq": t.seq, "number": 2, "flagged": True})
        assert flag["type"] == "ack"
        final = await t.request({"type": "finish", "confirm": True})
        assert final["type"] == "final"
    await t.close()
    return int(t.state["attempt_id"])


def cli_verify(h: ServerHandle, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    code = seleksi(["audit", "verify", "--db", db_path(h), *extra])
    return code, capsys.readouterr().out


def checkpoint_now(h: ServerHandle, reason: str = "test") -> checkpoints.Checkpoint | None:
    """Write a checkpoint as the running server would (its file, its key)."""
    cps = context(h.app).checkpoints
    assert cps is not None and cps.key is not None
    return checkpoints.write_checkpoint(h.db, cps.path, cps.key, reason)


# -- scores inside the chain --------------------------------------------------------


async def test_an_edited_score_is_reported_by_attempt_and_field(
    server_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    h = server_factory(checkpoint_seconds=0)
    aid = await finished_attempt(h, 0)
    other = await finished_attempt(h, 1)
    code, out = cli_verify(h, capsys)
    assert code == 0, out
    assert "scores recomputed: 2" in out and "OK: every chain verifies" in out

    # The attack: raise one candidate's TWK points, total and verdict in the
    # database, consistently, so that results export would publish them.
    (score_json, total) = sql(
        h.db, "SELECT score_json, total_points FROM exam_attempt WHERE id = ?", aid
    )[0]
    score = json.loads(score_json)
    score["sections"][0]["points"] += 40.0
    score["total"] += 40.0
    sql(
        h.db,
        "UPDATE exam_attempt SET score_json = ?, total_points = ?, passed = 1,"
        " pass_reason = 'meets the passing grade' WHERE id = ?",
        json.dumps(score),
        total + 40.0,
        aid,
    )
    code, out = cli_verify(h, capsys)
    assert code == 1
    problems = [line for line in out.splitlines() if line.startswith("PROBLEM")]
    assert all(f"attempt {aid}:" in p for p in problems), problems  # the other one is fine
    text = "\n".join(problems)
    assert f"attempt {aid}: score_json TWK points is" in text
    assert f"attempt {aid}: score_json total is" in text
    assert f"attempt {aid}: total_points is {total + 40.0} stored, {total}" in text
    assert f"attempt {aid}: passed is True stored, False under the exam's policy" in text
    assert f"attempt {aid}: pass_reason is 'meets the passing grade' stored" in text
    assert f"attempt {other}" not in text


async def test_an_edited_end_or_a_removed_attempt_is_reported(
    server_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """The rows results are made from must say what the chain recorded: a
    finished attempt set to void (DIS in the ranking), with or without its
    result, a changed finish reason, and an attempt deleted outright."""
    h = server_factory(checkpoint_seconds=0)
    a0, a1, a2, a3 = [await finished_attempt(h, i) for i in range(4)]
    code, out = cli_verify(h, capsys)
    assert code == 0, out
    (reason,) = sql(h.db, "SELECT finish_reason FROM exam_attempt WHERE id = ?", a2)[0]
    sql(h.db, "UPDATE exam_attempt SET status = 'void', finish_reason = 'void' WHERE id = ?", a0)
    sql(
        h.db,
        "UPDATE exam_attempt SET status = 'void', finish_reason = 'void', score_json = NULL,"
        " total_points = NULL, passed = NULL, pass_reason = NULL WHERE id = ?",
        a1,
    )
    sql(h.db, "UPDATE exam_attempt SET finish_reason = 'time' WHERE id = ?", a2)
    for table in ("exam_response", "exam_attempt_snapshot"):
        sql(h.db, f"DELETE FROM {table} WHERE attempt_id = ?", a3)
    sql(h.db, "DELETE FROM exam_attempt WHERE id = ?", a3)
    code, out = cli_verify(h, capsys)
    assert code == 1
    problems = "\n".join(line for line in out.splitlines() if line.startswith("PROBLEM"))
    for aid in (a0, a1):
        assert f"attempt {aid}: status is 'void' stored, 'finished' in its finish event" in problems
        assert f"attempt {aid}: finish_reason is 'void' stored, {reason!r}" in problems
    assert f"attempt {a2}: finish_reason is 'time' stored, {reason!r} in its finish event" in (
        problems
    )
    assert f"attempt {a3}: named by the audit log, but no longer in exam_attempt" in problems


async def test_a_moved_attempt_or_a_changed_category_is_reported(
    server_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Whose test it is and which list the candidate ranks in are bound into
    the start event: an attempt given to another candidate (who gets its
    score) or a candidate moved to another category is reported."""
    h = server_factory(checkpoint_seconds=0)
    a0, a1, a2 = [await finished_attempt(h, i) for i in range(3)]
    ((c0, cat0),) = sql(
        h.db,
        "SELECT c.id, c.category FROM exam_attempt a JOIN exam_candidate c"
        " ON c.id = a.candidate_id WHERE a.id = ?",
        a0,
    )
    # Candidate 3 never sat the test: the attempt is given to them.
    ((c3,),) = sql(h.db, "SELECT id FROM exam_candidate WHERE registration_number = ?", reg(h, 3))
    code, out = cli_verify(h, capsys)
    assert code == 0, out
    # Their own attempt, made ready when the session opened, is removed first.
    (before,) = sql(h.db, "SELECT id, status FROM exam_attempt WHERE candidate_id = ?", c3)
    sql(h.db, "DELETE FROM exam_attempt_snapshot WHERE attempt_id = ?", before[0])
    sql(h.db, "DELETE FROM exam_attempt WHERE id = ?", before[0])
    sql(h.db, "UPDATE exam_attempt SET candidate_id = ? WHERE id = ?", c3, a0)
    ((c2,),) = sql(h.db, "SELECT candidate_id FROM exam_attempt WHERE id = ?", a2)
    other = "papua" if cat0 != "papua" else "general"
    sql(h.db, "UPDATE exam_candidate SET category = ? WHERE id = ?", other, c2)
    code, out = cli_verify(h, capsys)
    assert code == 1
    assert (
        f"attempt {a0}: belongs to candidate:{c0} in its start event, candidate:{c3} stored"
    ) in out, out
    assert f"attempt {a0}: the candidate's registration_number is {reg(h, 3)!r} stored" in out
    assert f"attempt {a2}: the candidate's category is {other!r} stored" in out
    assert f"attempt {a1}:" not in out


def copy_row(db: Engine, table: str, row_id: int, **changes: Any) -> int:
    """Insert a copy of a row with ``changes`` (a new id); returns the id."""
    with writer(db).begin() as c:  # reads, then writes while the server writes
        cols = [r[1] for r in c.exec_driver_sql(f"PRAGMA table_info({table})") if r[1] != "id"]
        values = dict(
            zip(
                cols,
                c.exec_driver_sql(
                    f"SELECT {', '.join(cols)} FROM {table} WHERE id = ?", (row_id,)
                ).one(),
                strict=True,
            )
        )
        values.update(changes)
        marks = ", ".join("?" * len(values))
        res = c.exec_driver_sql(
            f"INSERT INTO {table} ({', '.join(values)}) VALUES ({marks})", tuple(values.values())
        )
        return int(res.lastrowid)  # type: ignore[attr-defined]


async def test_a_candidate_or_an_attempt_moved_out_of_the_ranking_is_reported(
    server_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by a review: the ranking reads the candidate's session, the
    attempt's session and the session's exam, the name it publishes and the
    birth date that breaks final ties; each could be edited unnoticed (a
    finished candidate published as absent, a whole exam emptied, a rename).
    The start event binds them."""
    h = server_factory(checkpoint_seconds=0)
    a0, a1, a2, a3, a4 = [await finished_attempt(h, i) for i in range(5)]
    code, out = cli_verify(h, capsys)
    assert code == 0, out

    def candidate_of(aid: int) -> int:
        ((cid,),) = sql(h.db, "SELECT candidate_id FROM exam_attempt WHERE id = ?", aid)
        return int(cid)

    ((session, exam),) = sql(
        h.db, "SELECT s.id, s.exam_id FROM exam_session s JOIN exam_attempt a"
        " ON a.session_id = s.id WHERE a.id = ?", a0)  # fmt: skip
    sql(h.db, "UPDATE exam_candidate SET name = 'Orang Lain' WHERE id = ?", candidate_of(a0))
    sql(h.db, "UPDATE exam_candidate SET birth_date = '1960-01-01' WHERE id = ?", candidate_of(a1))
    sql(h.db, "UPDATE exam_candidate SET session_id = NULL WHERE id = ?", candidate_of(a2))
    other_session = copy_row(h.db, "exam_session", session, code="S-OTHER", token="other-token")
    sql(h.db, "UPDATE exam_attempt SET session_id = ? WHERE id = ?", other_session, a3)
    code, out = cli_verify(h, capsys)
    assert code == 1
    assert f"attempt {a0}: the candidate's name is 'Orang Lain' stored" in out, out
    assert f"attempt {a1}: the candidate's birth_date is '1960-01-01' stored" in out
    assert f"attempt {a2}: the candidate's session_id is None stored, {session}" in out
    assert f"attempt {a3}: in session {other_session} stored, {session} in its start event" in out
    assert f"attempt {a4}:" not in out
    # The session moved to another exam (same design, bank and policy: the
    # scores still recompute) takes every attempt of it out of the exam's ranking.
    other_exam = copy_row(h.db, "exam_exam", exam, code="EX-OTHER")
    sql(h.db, "UPDATE exam_session SET exam_id = ? WHERE id = ?", other_exam, session)
    code, out = cli_verify(h, capsys)
    assert f"attempt {a4}: the candidate's exam_id is {other_exam} stored, {exam}" in out, out


async def test_a_formations_openings_or_code_changed_in_the_table_is_reported(
    server_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by a review: a formation's openings decide who passes (P/L or
    P), its code whom the published list names; neither was audited. The
    seed's formations are recorded by their create_formations event, and so
    is one an administrator adds over the API."""
    h = server_factory(checkpoint_seconds=0)
    await finished_attempt(h, 0)
    admin = httpx.post(
        f"{h.url}/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
    ).json()["token"]
    r = httpx.post(
        f"{h.url}/api/admin/formations",
        headers={"Authorization": f"Bearer {admin}"},
        json={"formations": [{"code": "F-NEW", "agency": "A", "openings": 2}]},
    )
    assert r.status_code == 201, r.text
    code, out = cli_verify(h, capsys)
    assert code == 0, out
    rows = sql(h.db, "SELECT id, code, openings FROM exam_formation ORDER BY id")
    (f1, c1, o1), (f2, c2, _o2) = rows[0], rows[1]
    sql(h.db, "UPDATE exam_formation SET openings = openings + 1 WHERE id = ?", f1)
    sql(h.db, "UPDATE exam_formation SET code = 'SWAP' WHERE id = ?", f2)
    sql(h.db, "DELETE FROM exam_formation WHERE code = 'F-NEW'")
    code, out = cli_verify(h, capsys)
    assert code == 1
    assert f"formation {f1} ({c1}): openings {o1 + 1} stored, {o1} recorded" in out, out
    assert f"formation {f2} (SWAP): code 'SWAP' stored, {c2!r} recorded" in out
    assert "(F-NEW): recorded by the audit log, but no longer stored" in out


async def test_a_form_the_seed_no_longer_gives_is_replayed_from_the_bound_start(
    server_factory: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by a review: a linear form is assembled by a solver with a time
    limit, so under load the same seed gave verify another form and a genuine
    attempt 'could not be scored'. The start event binds the state the test
    started in (form_sha256); verify replays from it when the seed's form
    does not fit, and reports a changed one."""
    from cat_engine import engine as cat

    h = server_factory(checkpoint_seconds=0)
    a0, a1 = [await finished_attempt(h, i) for i in range(2)]
    real = cat.start

    def busy_machine(design: Any, bank: Any, seed: int, **kw: Any) -> Any:
        return real(design, bank, seed + 1, **kw)  # another form for the same seed

    monkeypatch.setattr(cat, "start", busy_machine)  # verify's replay (no test starts now)
    code, out = cli_verify(h, capsys)
    assert code == 0, out
    assert f"attempt {a0}: replayed from the state its start event bound" in out
    # The bound state edited (another form put in): reported, and not scored from.
    ((blob,),) = sql(
        h.db, "SELECT state FROM exam_attempt_snapshot WHERE attempt_id = ? AND seq = 0", a1
    )
    from exam_server import state_codec

    text = state_codec.unpack_json(blob).replace('"seed":', '"seed": 0, "x":', 1)
    sql(
        h.db,
        "UPDATE exam_attempt_snapshot SET state = ? WHERE attempt_id = ? AND seq = 0",
        state_codec.pack_json(text),
        a1,
    )
    code, out = cli_verify(h, capsys)
    assert code == 1
    assert (
        f"attempt {a1}: the state it started in differs from the one its start event recorded"
    ) in out, out
    assert f"attempt {a1}: its chained answers cannot be scored" in out


async def test_an_edited_ranking_policy_is_reported(
    server_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """The policy decides the cut and the SKD/SKB weights of the published
    ranking: a stored policy that is not the one audited is reported, even
    when no recomputed verdict changes."""
    h = server_factory(checkpoint_seconds=0)
    await finished_attempt(h, 0)
    ((eid, policy_json),) = sql(h.db, "SELECT id, policy_json FROM exam_exam")
    policy = json.loads(policy_json)
    policy["skd"]["cut_multiple"] = 10
    sql(h.db, "UPDATE exam_exam SET policy_json = ? WHERE id = ?", json.dumps(policy), eid)
    code, out = cli_verify(h, capsys)
    assert code == 1
    assert (
        f"PROBLEM: exam {eid} ({h.seed.exam_code}): policy_json differs from the one its last "
        "create_exam/exam_documents event recorded"
    ) in out, out


async def test_an_edited_key_is_reported_though_scores_follow_it(
    server_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """An insider edits an item's points in the exam's frozen bank before the
    candidates finish: every score is then computed with the edited key, the
    recomputation too, so only the bank's audited digest tells."""
    h = server_factory(checkpoint_seconds=0)
    ((eid, bank_json),) = sql(h.db, "SELECT id, bank_json FROM exam_exam")
    bank = json.loads(bank_json)
    width = bank["option_points"]["shape"][1]
    points = bank["option_points"]["v"]
    points[:width] = list(reversed(points[:width]))  # item 0's key moved
    sql(h.db, "UPDATE exam_exam SET bank_json = ? WHERE id = ?", json.dumps(bank), eid)
    await finished_attempt(h, 0)
    code, out = cli_verify(h, capsys)
    assert code == 1
    assert (
        f"PROBLEM: exam {eid} ({h.seed.exam_code}): bank_json differs from the one its last "
        "create_exam/exam_documents event recorded"
    ) in out, out


async def test_edited_item_texts_are_reported(
    server_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by a review: the item texts candidates read were not audited, so
    an item's options swapped in the table changed what each chosen option
    meant (the keys left as they were). Their digest is recorded now."""
    h = server_factory(checkpoint_seconds=0)
    await finished_attempt(h, 0)
    code, out = cli_verify(h, capsys)
    assert code == 0, out
    ((eid, items_json),) = sql(h.db, "SELECT id, items_json FROM exam_exam")
    items = json.loads(items_json)
    first = items[0] if isinstance(items, list) else next(iter(items.values()))
    first["options"] = list(reversed(first["options"]))
    sql(h.db, "UPDATE exam_exam SET items_json = ? WHERE id = ?", json.dumps(items), eid)
    code, out = cli_verify(h, capsys)
    assert code == 1
    assert (
        f"PROBLEM: exam {eid} ({h.seed.exam_code}): items_json differs from the one its last "
        "create_exam/exam_documents event recorded"
    ) in out, out


async def test_a_changed_policy_verdict_alone_is_reported(
    server_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    h = server_factory(checkpoint_seconds=0)
    aid = await finished_attempt(h, 0)
    sql(h.db, "UPDATE exam_attempt SET passed = 1 WHERE id = ?", aid)
    code, out = cli_verify(h, capsys)
    assert code == 1
    assert f"PROBLEM: attempt {aid}: passed is True stored, False under the exam's policy" in out


async def test_adaptive_attempts_replay_through_the_engine(server_factory: Any) -> None:
    h = server_factory(mode="adaptive", checkpoint_seconds=0)
    aid = await finished_attempt(h, 0)
    rep = audit.verify(h.db)
    assert rep.ok, rep.problems
    assert rep.scores == 1 and not rep.notes  # a plain replay from the seed
    # An answer changed in the chain (and the chain re-hashed to hide it) is
    # caught by the replay: the recomputed score differs from the stored one.
    rows = sql(
        h.db,
        "SELECT id, attempt_id, seq, kind, number, item_id, option, flagged, at, prev_hash"
        " FROM exam_response WHERE attempt_id = ? ORDER BY seq",
        aid,
    )
    bank, _ = small_bank()  # the bank the fixture's exam froze
    names = ("id", "attempt_id", "seq", "kind", "number", "item_id", "option", "flagged", "at")
    prev = ""
    for r in rows:
        row = dict(zip((*names, "prev_hash"), r, strict=True))
        if row["seq"] == 1:  # the first answer flips between right and wrong
            points = bank.option_points[bank.item_ids.index(row["item_id"])]
            key = int(points.argmax())
            row["option"] = key if row["option"] != key else (key + 1) % 5
        row["flagged"] = bool(row["flagged"])
        row["prev_hash"] = prev
        prev = audit.response_hash(prev, row)
        sql(
            h.db,
            "UPDATE exam_response SET option = ?, prev_hash = ?, hash = ? WHERE id = ?",
            row["option"],
            row["prev_hash"],
            prev,
            row["id"],
        )
    sql(h.db, "UPDATE exam_attempt SET response_head = ? WHERE id = ?", prev, aid)
    problems = audit.verify(h.db).problems
    # The finish event still names the old head, and the replay now presents
    # other items or scores other points than the stored result.
    assert f"attempt {aid}: responses changed after the finish event" in problems
    assert any(
        p.startswith(f"attempt {aid}: score_json") or "cannot be scored" in p for p in problems
    ), problems


def test_score_digest_binds_the_stored_result() -> None:
    score = {"mode": "linear", "sections": [{"code": "TWK", "points": 85.0}], "total": 85.0}
    digest = audit.score_digest(score, 85.0, False)
    assert digest == audit.score_digest(json.loads(json.dumps(score)), 85.0, False)
    assert len(digest) == 64
    data = {"score_digest": digest}
    assert _check_finish_event(7, data, score, 85.0, False) == []
    edited = {**score, "total": 90.0}
    assert _check_finish_event(7, data, edited, 85.0, False) == [
        "attempt 7: score_json/total_points/passed differ from the finish event's"
        " score_digest (changed after finish)"
    ]
    assert _check_finish_event(7, data, score, 85.0, True) != []
    assert _check_finish_event(7, data, score, 85.5, False) != []


# -- anchored chain heads -----------------------------------------------------------


async def test_removed_audit_tail_with_rewound_head_is_located(
    server_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    h = server_factory(checkpoint_seconds=0)
    aid = await finished_attempt(h, 0)
    cp = checkpoint_now(h)
    assert cp is not None and cp.audit_id > 2
    last = cp.audit_id
    h.server.stop()  # nothing else writes while we attack (detectors add events late)
    # The attack: delete the last two audit events (a finish and what came
    # before it) and rewind the head so the shorter chain checks out.
    (prev_hash,) = sql(h.db, "SELECT hash FROM exam_audit WHERE id = ?", last - 2)[0]
    sql(h.db, "DELETE FROM exam_audit WHERE id > ?", last - 2)
    sql(h.db, "UPDATE exam_audit_head SET last_id = ?, last_hash = ?", last - 2, prev_hash)
    # The chains alone cannot tell; the attempt's row still says it finished.
    assert audit.verify(h.db, scores=False).problems == [
        f"attempt {aid}: status is 'finished', but the audit log has no finish event for it"
    ]

    code, out = cli_verify(h, capsys)
    assert code == 1
    assert (
        f"PROBLEM: audit log: checkpoint {cp.n} (" in out
        and f"recorded event {last}, but the log ends at event {last - 2}:"
        f" events {last - 1}–{last} removed"
        in out
    ), out


async def test_removed_last_answer_of_a_running_attempt_is_located(
    server_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    h = server_factory(checkpoint_seconds=0)
    t = await Terminal.open(h.ws_url, h.login(reg(h)), "T-1")
    aid = int(t.state["attempt_id"])
    for number in (1, 2, 3):
        await t.answer(number, 1)
    cp = checkpoint_now(h)
    assert cp is not None and (aid, 3) in [(a, s) for a, s, _ in cp.attempts]
    await t.close()
    h.server.stop()  # nothing else writes while we attack
    # The attack: delete the last answer and rewind the attempt's head to seq 2.
    (head2,) = sql(h.db, "SELECT hash FROM exam_response WHERE attempt_id = ? AND seq = 2", aid)[0]
    sql(h.db, "DELETE FROM exam_response WHERE attempt_id = ? AND seq = 3", aid)
    sql(h.db, "UPDATE exam_attempt SET response_head = ?, last_seq = 2 WHERE id = ?", head2, aid)
    assert audit.verify(h.db).ok  # the chains alone cannot tell

    code, out = cli_verify(h, capsys)
    assert code == 1
    assert (
        f"PROBLEM: attempt {aid}: checkpoint {cp.n} (" in out
        and "recorded its answers up to seq 3, but its chain ends at seq 2: seq 3 removed" in out
    ), out


async def test_a_removed_checkpoint_file_is_not_taken_for_none(
    server_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by a review: with the checkpoint file deleted, verify said only
    'no checkpoint file given' and exited 0, so whoever cut a chain's tail and
    rewound its head removed the file too. The server's key beside the
    database says checkpoints were written: verify refuses to go on without
    them unless told to (--no-checkpoints)."""
    h = server_factory()
    await finished_attempt(h, 0)
    checkpoint_now(h)
    cps = context(h.app).checkpoints
    assert cps.path.exists()
    cps.path.unlink()
    assert seleksi(["audit", "verify", "--db", db_path(h)]) == 1
    err = capsys.readouterr().err
    assert "no checkpoint file" in err and "--no-checkpoints" in err, err
    code, out = cli_verify(h, capsys, "--no-checkpoints")
    assert code == 0, out
    assert "no checkpoint file given" in out


async def test_checkpoint_file_edits_and_cuts_are_reported(
    server_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    h = server_factory(checkpoint_seconds=0)
    cps = context(h.app).checkpoints
    assert cps is not None
    path = cps.path
    for i in range(3):
        aid = await finished_attempt(h, i)
        assert checkpoint_now(h) is not None
    # A proctor's note after the last checkpoint: the server's own checkpoint
    # at stop must take it in (without it, whether a detector's alert about
    # the last disconnect lands before or after the checkpoint above decides
    # if the stop adds a line).
    note = httpx.post(
        f"{h.url}/api/proctor/attempts/{aid}/note",
        json={"reason": "catatan akhir sesi"},
        headers=h.headers("proctor"),
    )
    assert note.status_code == 200, note.text
    # Once the server has stopped (its last checkpoint written) nothing
    # changes any more, and a checkpoint adds no line: files stay small.
    h.server.stop()
    key = checkpoints.load_or_create_key(cps.key_path)
    assert checkpoints.write_checkpoint(h.db, path, key, "again") is None
    last = checkpoints.latest(path)
    assert last is not None and last.reason == "stop"
    code, out = cli_verify(h, capsys, "--expect", last.fingerprint.lower())
    assert code == 0, out
    lines = path.read_bytes().splitlines(keepends=True)
    n = len(lines)

    # A line edited (its recorded head moved back) fails its signature.
    edited = json.loads(lines[-2])
    edited["audit"]["id"] -= 1
    path.write_bytes(b"".join([*lines[:-2], json.dumps(edited).encode() + b"\n", lines[-1]]))
    code, out = cli_verify(h, capsys)
    assert code == 1 and f"checkpoint file line {n - 1}: signature does not match" in out

    # A line removed from the middle breaks the chain of lines.
    path.write_bytes(b"".join([*lines[:-2], lines[-1]]))
    code, out = cli_verify(h, capsys)
    assert code == 1
    assert f"does not follow checkpoint {n - 2} (checkpoints {n - 1}–{n - 1} removed)" in out

    # The file cut at its end still chains: the fingerprint a proctor wrote
    # in the session report shows the cut.
    path.write_bytes(b"".join(lines[:-1]))
    code, out = cli_verify(h, capsys, "--expect", last.fingerprint)
    assert code == 1
    assert f"fingerprint {last.fingerprint} (from a session report) is not in" in out


async def test_session_close_signs_a_checkpoint_the_proctor_sees(server_factory: Any) -> None:
    h = server_factory(checkpoint_seconds=0)
    await finished_attempt(h, 0)
    sid = h.seed.session_id
    r = httpx.post(
        f"{h.url}/api/sessions/{sid}/close", json={"reason": "selesai"}, headers=h.headers()
    )
    assert r.status_code == 200, r.text
    fingerprint = r.json()["checkpoint"]
    assert isinstance(fingerprint, str) and len(fingerprint) == 11 and fingerprint[5] == "-"
    latest = httpx.get(f"{h.url}/api/v1/checkpoints/latest", headers=h.headers()).json()
    assert latest["fingerprint"] == fingerprint
    assert latest["reason"] == "session_close" and latest["session_id"] == sid
    assert httpx.get(f"{h.url}/api/v1/checkpoints/latest").status_code == 401
    cps = context(h.app).checkpoints
    assert cps is not None and checkpoints.latest_fingerprint(cps.path) == fingerprint
    # The server's own key, readable by its owner only, beside the database.
    assert cps.key_path.parent == Path(db_path(h)).parent
    assert stat.S_IMODE(cps.key_path.stat().st_mode) == 0o600
    assert latest["key_id"] == key_id(cps.public_key)
