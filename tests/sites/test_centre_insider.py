"""An insider at the centre, with SQL access to its database but not the
site's checkpoint key, edits a site's synced copies: `seleksi audit verify`
at the centre names each edit that would change what the rankings read,
and the results refuse the ones that would make a candidate absent.

One real centre (``seleksi serve`` in a subprocess) and site, the session
at the site with five candidates: two finish, one is ended by the clock,
one is voided and one never comes. After the sync the centre's database is
copied; each test edits a fresh copy. The edits are the ones a review found
unnoticed (2026-12-07), and the honest copy is the false alarm it found: a
candidate who never came stopped the whole session from being ranked.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from exam_server import audit
from exam_server import checkpoints as cps
from exam_server.db import make_engine, writer
from exam_server.results.from_db import SourceError, load_outcomes
from exam_server.sites import checkpoint_keys as ck
from exam_server.sites import link
from exam_server.sites.copies import S_RESPONSE
from exam_server.testing import Terminal, candidate_login, staff_token
from seleksi.cli import main
from tests.sites.cut_world import centre_and_site, count, resign_site_lines
from tests.sites.helpers import wait_for

TIME_LIMIT = 8.0  # seconds: one candidate is ended by the clock
N = 5


@dataclass
class Copy:
    """The centre's database after the sync, and the facts of the session."""

    path: Path
    exam: str
    site_id: int
    regnos: list[str]  # by the site's attempt order: finish, finish, time-up, void, absent


async def _session(site: str, ws: str, sid: int, cands: list[dict[str, Any]]) -> None:
    admin = staff_token(site, "admin", "admin-password")
    proctor = {"Authorization": f"Bearer {staff_token(site, 'pengawas', 'proctor-password')}"}
    async with httpx.AsyncClient(base_url=site, timeout=30) as http:
        r = await http.post(
            "/api/site/keys",
            json={"session_code": "SESI-1"},
            headers={"Authorization": f"Bearer {admin}"},
        )
        assert r.status_code == 200, r.text
        r = await http.post(f"/api/sessions/{sid}/open", headers=proctor)
        assert r.status_code == 200, r.text
        token = r.json()["token"]
        pins = {}
        for c in cands[:4]:  # the fifth never comes
            reg = str(c["registration_number"])
            r = await http.post(
                f"/api/proctor/sessions/{sid}/checkin",
                json={"registration_number": reg},
                headers=proctor,
            )
            pins[reg] = r.json()["pin"]
        terminals = []
        for i, (reg, pin) in enumerate(pins.items()):
            r = candidate_login(site, reg, pin, token, f"T-{i}")
            assert r.status_code == 200, r.text
            terminals.append(await Terminal.open(ws, r.json()["token"], f"T-{i}"))
        for i, t in enumerate(terminals):
            for number in range(1, 11 if i < 2 else 6):
                (ack,) = await t.answer(number, (number + i) % 5)
                assert ack["type"] == "ack"
            if i < 2:
                assert (await t.request({"type": "finish", "confirm": True}))["type"] == "final"
            if i == 3:
                r = await http.post(
                    f"/api/proctor/attempts/{t.state['attempt_id']}/void",
                    json={"reason": "menyontek"},
                    headers=proctor,
                )
                assert r.status_code == 200, r.text
        await asyncio.sleep(TIME_LIMIT)  # the third is ended by the clock
        for t in terminals:
            await t.close()
        r = await http.post(
            f"/api/sessions/{sid}/close",
            json={"reason": "selesai"},
            headers={"Authorization": f"Bearer {admin}"},
        )
        assert r.status_code == 200, r.text


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Copy]:
    tmp = tmp_path_factory.mktemp("insider")
    with centre_and_site(tmp, N, TIME_LIMIT) as w:
        centre, site, site_engine = w.centre, w.site_server, w.site_engine
        sid = centre.seed.session_id
        asyncio.run(_session(site.url, site.ws_url, sid, centre.seed.candidates))
        answers = count(site_engine, "SELECT COUNT(*) FROM exam_response")
        events = count(site_engine, "SELECT MAX(id) FROM exam_audit")

        def arrived() -> bool:  # every record, and a signed line after the close
            lines = [ln for (ln,) in _rows(centre.engine, "SELECT line FROM site_checkpoint")]
            return (
                count(centre.engine, "SELECT COUNT(*) FROM site_response") == answers
                and count(centre.engine, "SELECT COALESCE(MAX(id), 0) FROM site_audit") >= events
                and any(cps.parse_line(str(ln).encode()).audit_id >= events for ln in lines)
                and count(centre.engine, "SELECT site_pending FROM site_link") == 0
            )

        asyncio.run(wait_for(arrived, 60, "the sync after the close"))
        order = _rows(
            site_engine,
            "SELECT c.registration_number FROM exam_attempt a JOIN"
            " exam_candidate c ON c.id = a.candidate_id ORDER BY a.id",
        )
        copy = tmp / "synced.db"
        with sqlite3.connect(tmp / "centre.db") as src, sqlite3.connect(copy) as dst:
            src.backup(dst)
        yield Copy(
            copy,
            centre.seed.exam_code,
            link.site_id_of(centre.engine, "TILOK-01"),
            [str(r) for (r,) in order],
        )


def _rows(engine: Any, sql: str) -> list[Any]:
    with engine.connect() as c:
        return list(c.execute(text(sql)).all())


@dataclass
class Seen:
    code: int  # `seleksi audit verify`'s exit code
    said: str  # what it printed
    outcomes: dict[str, str] | str  # registration number → status, or the SourceError


def _after(
    synced: Copy,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    edit: Callable[[Connection], Any] | None = None,
) -> Seen:
    path = tmp_path / "edited.db"
    shutil.copy(synced.path, path)
    engine = make_engine(f"sqlite:///{path}")
    try:
        if edit is not None:
            with writer(engine).begin() as conn:
                edit(conn)
        capsys.readouterr()
        code = main(["audit", "verify", "--db", str(path)])
        said = capsys.readouterr().out
        try:
            outcomes: dict[str, str] | str = {
                o.registration_number: o.status for o in load_outcomes(engine, synced.exam)[1]
            }
        except SourceError as exc:
            outcomes = str(exc)
    finally:
        engine.dispose()
    return Seen(code, said, outcomes)


def test_an_honest_site_session_with_an_absentee_and_a_void_verifies_and_ranks(
    synced: Copy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seen = _after(synced, tmp_path, capsys)
    assert seen.code == 0, seen.said
    assert "sites' copies: 1 site(s)" in seen.said and f"attempts: {N}" in seen.said
    statuses = ["finished", "finished", "finished", "voided", "absent"]
    assert seen.outcomes == dict(zip(synced.regnos, statuses, strict=True))


def test_a_terminal_set_on_a_test_nobody_took_is_named(
    synced: Copy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """TH turned into a finished 0: the attempt record's terminal is outside
    every chain, and nothing compared it with the chain's."""

    def edit(conn: Connection) -> None:
        conn.execute(text("UPDATE site_attempt SET terminal_id = 'T-9' WHERE attempt_id = 5"))

    seen = _after(synced, tmp_path, capsys, edit)
    assert seen.code == 1
    assert (
        "PROBLEM: site TILOK-01: session SESI-1: attempt 5: stored as taken (terminal 'T-9',"
        " last seq 0), but no terminal took it and it holds no answer in the chain"
    ) in seen.said
    assert isinstance(seen.outcomes, str) and "attempt 5: stored as taken" in seen.outcomes


@pytest.mark.parametrize("which", [1, 4], ids=["finished", "voided"])
def test_a_removed_attempt_record_is_named_not_read_as_absent(
    synced: Copy, tmp_path: Path, capsys: pytest.CaptureFixture[str], which: int
) -> None:
    def edit(conn: Connection) -> None:
        conn.execute(text("DELETE FROM site_attempt WHERE attempt_id = :a"), {"a": which})

    seen = _after(synced, tmp_path, capsys, edit)
    said = f"attempt {which}: started in the site's chain, but the centre holds no record of it"
    assert seen.code == 1 and f"PROBLEM: site TILOK-01: session SESI-1: {said}" in seen.said
    assert isinstance(seen.outcomes, str) and said in seen.outcomes


def test_a_removed_package_record_does_not_make_the_session_the_centres(
    synced: Copy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seen = _after(
        synced, tmp_path, capsys, lambda c: c.execute(text("DELETE FROM site_session_key"))
    )
    said = "but the centre holds no package of it for"
    assert seen.code == 1
    assert f"PROBLEM: site TILOK-01: session SESI-1: tests started in the site's chain, {said}" in (
        seen.said
    )
    # Not four absentees: the results refuse the session, saying why.
    assert isinstance(seen.outcomes, str) and "has tests started at site TILOK-01" in seen.outcomes
    assert said in seen.outcomes


def test_removed_checkpoint_lines_leave_the_close_uncovered(
    synced: Copy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without the lines a chain rebuilt after an edit is held to nothing."""
    seen = _after(
        synced, tmp_path, capsys, lambda c: c.execute(text("DELETE FROM site_checkpoint"))
    )
    assert seen.code == 1
    assert (
        "PROBLEM: site TILOK-01: session SESI-1: no signed checkpoint line covers its close"
    ) in seen.said


def test_a_checkpoint_key_added_without_its_registration_is_named(
    synced: Copy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    theirs = Ed25519PrivateKey.generate()

    def edit(conn: Connection) -> None:
        conn.execute(
            text(
                "INSERT INTO site_checkpoint_key (site_id, from_n, key_id, public_pem,"
                " statement, registered_at, registered_by, reason)"
                " VALUES (:s, 1, :k, :p, '{}', :t, 'x', 'x')"
            ),
            {
                "s": synced.site_id,
                "k": ck.key_id(theirs.public_key()),
                "p": ck._pem(theirs.public_key()),
                "t": time.time(),
            },
        )

    seen = _after(synced, tmp_path, capsys, edit)
    assert seen.code == 1
    assert (
        f"PROBLEM: site TILOK-01: checkpoint key {ck.key_id(theirs.public_key())} from line 1"
        " is stored, but the centre's audit chain records no registration of it"
    ) in seen.said


def test_a_renamed_site_keeps_its_key_events(
    synced: Copy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by a second review: the key events were matched by the site's
    code, so renaming the site left its key without events (a note), and an
    insider's own key with every line signed again passed."""

    def edit(conn: Connection) -> None:
        conn.execute(text("UPDATE exam_site SET code = 'TILOK-09'"))
        resign_site_lines(conn, synced.site_id, Ed25519PrivateKey.generate())

    seen = _after(synced, tmp_path, capsys, edit)
    assert seen.code == 1
    assert "PROBLEM: site TILOK-09: its first checkpoint key " in seen.said
    assert "by the centre's audit event of its first sync" in seen.said


def test_a_record_moved_past_its_answers_is_named(
    synced: Copy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by a second review: a finished test whose last seq was moved on
    was taken as not all synced, never scored again, and still ranked."""
    moved = "UPDATE site_attempt SET last_seq = last_seq + 1 WHERE attempt_id = 1"
    seen = _after(synced, tmp_path, capsys, lambda c: c.execute(text(moved)))
    said = "attempt 1: its record ends at seq 11, its answers held at seq 10"
    assert seen.code == 1 and f"PROBLEM: site TILOK-01: session SESI-1: {said}" in seen.said
    assert isinstance(seen.outcomes, str) and said in seen.outcomes


def test_answers_appended_after_the_signed_end_are_named(
    synced: Copy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by a second review: an answer added to the voided test, its
    record and head made to match, changed its published responses hash."""

    def edit(conn: Connection) -> None:
        last = dict(
            conn.execute(
                select(S_RESPONSE)
                .where(S_RESPONSE.c.attempt_id == 4)
                .order_by(S_RESPONSE.c.seq.desc())
                .limit(1)
            )
            .mappings()
            .one()
        )
        row = {**last, "seq": last["seq"] + 1, "number": 7, "option": 2, "at": last["at"] + 1}
        row["prev_hash"], row["hash"] = last["hash"], audit.response_hash(last["hash"], row)
        conn.execute(S_RESPONSE.insert().values(**row))
        ends = {"s": row["seq"], "h": row["hash"]}
        conn.execute(
            text("UPDATE site_attempt SET last_seq=:s, response_head=:h WHERE attempt_id=4"), ends
        )
        conn.execute(text("UPDATE site_chain_head SET seq=:s, hash=:h WHERE attempt_id=4"), ends)

    seen = _after(synced, tmp_path, capsys, edit)
    assert seen.code == 1
    assert (
        "PROBLEM: site TILOK-01: attempt 4: answers up to seq 6 held, but the site's signed"
        " lines end it at seq 5"
    ) in seen.said


def test_an_unreadable_line_is_named_not_a_crash(
    synced: Copy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def edit(conn: Connection) -> None:
        conn.execute(
            text("INSERT INTO site_checkpoint (site_id, n, line) VALUES (:s, 999, '[[[1e400')"),
            {"s": synced.site_id},
        )

    seen = _after(synced, tmp_path, capsys, edit)
    assert seen.code == 1
    assert "PROBLEM: site TILOK-01: checkpoint 999: unreadable (not a checkpoint line" in seen.said
