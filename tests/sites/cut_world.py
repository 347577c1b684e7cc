"""The drill's world for ``test_cut_link``: a real centre (``seleksi serve``
in a subprocess) and a real site server, two SQLite databases, the line
between them a proxy the test cuts; the session the site runs with the line
down; and what an insider at the centre does to a site's copies."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, text
from sqlalchemy.engine import Connection, Engine

from exam_server import audit
from exam_server import checkpoints as cps
from exam_server.receipts import key_id
from exam_server.sites import checkpoint_keys as ck
from exam_server.sites import link, package
from exam_server.sites.copies import S_AUDIT, S_RESPONSE
from exam_server.testing import (
    ProcessServer,
    Terminal,
    ThreadServer,
    candidate_login,
    staff_token,
)
from tests.proctor_ui.live_server import CuttableProxy
from tests.sites.conftest import Centre, make_centre
from tests.sites.helpers import installed_site, server_settings

TIME_LIMIT = 8.0  # seconds: the whole session is over long before the line returns
N = 3


@dataclass
class World:
    centre: Centre
    centre_server: ProcessServer
    site_engine: Engine
    site_server: ThreadServer
    proxy: CuttableProxy
    token: str
    tmp: Path


@contextlib.contextmanager
def centre_and_site(tmp: Path, n: int, time_limit: float) -> Iterator[World]:
    """A real centre (``seleksi serve`` in a subprocess, ``n`` candidates, tests
    of ``time_limit`` seconds) and a real site installed from its package,
    the site's line to the centre through a :class:`CuttableProxy`; both
    checkpoint every second. Stopped on leaving."""
    centre = make_centre(tmp / "centre.db", n_candidates=n, time_limit=time_limit)
    token = link.issue_token(centre.engine, "TILOK-01")
    data, _ = package.build(centre.engine, "TILOK-01", centre.key)
    centre_server = ProcessServer(
        server_settings(tmp, "centre", centre.url, checkpoint_seconds=1.0, role="centre")
    ).start()
    proxy = CuttableProxy(centre_server.settings.port)
    site_url, site_engine = installed_site(tmp, data, centre.key.public_key())
    site_server = ThreadServer(
        server_settings(
            tmp,
            "site",
            site_url,
            checkpoint_seconds=1.0,
            role="site",
            centre_url=proxy.url,
            site_token=token,
        )
    ).start()
    try:
        yield World(centre, centre_server, site_engine, site_server, proxy, token, tmp)
    finally:
        site_server.stop()
        proxy.close()
        centre_server.stop()


@pytest.fixture(scope="module", name="world")
def world_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with centre_and_site(tmp_path_factory.mktemp("sites"), N, TIME_LIMIT) as w:
        yield w


def count(engine: Engine, sql: str) -> int:
    with engine.connect() as c:
        return int(c.execute(text(sql)).scalar_one())


async def run_session(w: World) -> dict[str, list[int]]:
    """The session at the site with the line cut; returns each candidate's acked seqs."""
    site = w.site_server.url
    admin = staff_token(site, "admin", "admin-password")
    proctor = staff_token(site, "pengawas", "proctor-password")
    sid = w.centre.seed.session_id
    async with httpx.AsyncClient(base_url=site, timeout=30) as http:
        r = await http.post(
            f"/api/sessions/{sid}/open", headers={"Authorization": f"Bearer {proctor}"}
        )
        assert r.status_code == 200, r.text
        session_token = r.json()["token"]
        pins = {}
        for c in w.centre.seed.candidates:
            reg = str(c["registration_number"])
            r = await http.post(
                f"/api/proctor/sessions/{sid}/checkin",
                json={"registration_number": reg},
                headers={"Authorization": f"Bearer {proctor}"},
            )
            pins[reg] = r.json()["pin"]
    acked: dict[str, list[int]] = {}
    terminals = []
    for i, (reg, pin) in enumerate(pins.items()):
        r = candidate_login(site, reg, pin, session_token, f"T-{i}")
        assert r.status_code == 200, r.text
        t = await Terminal.open(w.site_server.ws_url, r.json()["token"], f"T-{i}")
        assert t.state["status"] == "running"
        terminals.append((reg, t))
    for i, (reg, t) in enumerate(terminals):
        # The first two answer everything and finish; the last answers half
        # and is ended by the clock.
        for number in range(1, 11 if i < 2 else 6):
            (ack,) = await t.answer(number, (number + i) % 5)
            assert ack["type"] == "ack"
            acked.setdefault(reg, []).append(int(ack["seq"]))
        if i < 2:
            final = await t.request({"type": "finish", "confirm": True})
            assert final["type"] == "final"
    deadline = time.monotonic() + TIME_LIMIT + 20
    while count(w.site_engine, "SELECT COUNT(*) FROM exam_attempt WHERE status='finished'") < N:
        assert time.monotonic() < deadline, "the last attempt did not end at time-up"
        await asyncio.sleep(0.2)
    for _, t in terminals:
        await t.close()
    r = httpx.post(
        f"{site}/api/sessions/{sid}/close",
        json={"reason": "selesai"},
        headers={"Authorization": f"Bearer {admin}"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return acked


def site_id(w: World) -> int:
    return count(w.centre.engine, "SELECT id FROM exam_site WHERE code='TILOK-01'")


def rebuild_site_answers(conn: Connection, site_id: int, aid: int, seq: int) -> None:
    """An insider at the centre moves answer ``seq`` of the site's attempt
    ``aid`` (its time, which no score reads) and rebuilds everything that
    links to it, as far as the centre's own tables go: the answer chain, the
    attempt's and the chain head's hash, the finish event's head, and the
    site's audit chain from that event on. Every chain then links and
    hashes, and the result scores the same: only the site's signed
    checkpoint lines still name the old heads."""
    # Read typed, as the hashes were made (a flag is a bool, not 0).
    chain = [
        dict(r)
        for r in conn.execute(
            select(S_RESPONSE)
            .where(S_RESPONSE.c.site_id == site_id, S_RESPONSE.c.attempt_id == aid)
            .order_by(S_RESPONSE.c.seq)
        ).mappings()
    ]
    prev = ""
    for r in chain:
        if r["seq"] == seq:
            r["at"] = float(r["at"]) - 1.0
        r["prev_hash"], r["hash"] = prev, audit.response_hash(prev, r)
        prev = r["hash"]
        conn.execute(
            text(
                "UPDATE site_response SET at=:at, prev_hash=:prev_hash, hash=:hash"
                " WHERE site_id=:site_id AND attempt_id=:attempt_id AND seq=:seq"
            ),
            r,
        )
    ids = {"s": site_id, "a": aid, "h": prev}
    conn.execute(
        text("UPDATE site_attempt SET response_head=:h WHERE site_id=:s AND attempt_id=:a"), ids
    )
    conn.execute(text("UPDATE site_chain_head SET hash=:h WHERE site_id=:s AND attempt_id=:a"), ids)
    events = [
        dict(r)
        for r in conn.execute(
            select(S_AUDIT).where(S_AUDIT.c.site_id == site_id).order_by(S_AUDIT.c.id)
        ).mappings()
    ]
    prev, rewriting = "", False
    for e in events:
        if e["kind"] == "finish" and e["attempt_id"] == aid:
            data = json.loads(e["data_json"])
            data["response_head"] = ids["h"]
            e["data_json"] = json.dumps(data)
            rewriting = True
        if rewriting:
            e["prev_hash"], e["hash"] = prev, audit.event_hash(prev, e)
            conn.execute(
                text(
                    "UPDATE site_audit SET data_json=:data_json, prev_hash=:prev_hash, hash=:hash"
                    " WHERE site_id=:site_id AND id=:id"
                ),
                e,
            )
        prev = e["hash"]


def raise_site_points(conn: Connection, site_id: int, aid: int, by: float) -> None:
    """An insider at the centre adds ``by`` points to the first section and
    the total of the site's attempt ``aid`` as the rankings read it."""
    score_json, total = conn.execute(
        text(
            "SELECT score_json, total_points FROM site_attempt WHERE site_id=:s AND attempt_id=:a"
        ),
        {"s": site_id, "a": aid},
    ).one()
    score: dict[str, Any] = json.loads(score_json)
    score["sections"][0]["points"] += by
    score["total"] = score.get("total", total) + by
    conn.execute(
        text(
            "UPDATE site_attempt SET score_json=:j, total_points=:t"
            " WHERE site_id=:s AND attempt_id=:a"
        ),
        {"j": json.dumps(score), "t": float(total) + by, "s": site_id, "a": aid},
    )


def resign_site_lines(conn: Connection, site_id: int, key: Ed25519PrivateKey) -> str:
    """An insider at the centre puts ``key`` (theirs) in as the site's first
    checkpoint key and signs every line the centre holds of the site again
    with it, each line's heads made the ones held now (after
    :func:`rebuild_site_answers`) and linked to the line before. Returns the
    new key's id."""
    audit_hashes = dict(
        conn.execute(select(S_AUDIT.c.id, S_AUDIT.c.hash).where(S_AUDIT.c.site_id == site_id))
        .tuples()
        .all()
    )
    answers = {
        (int(a), int(s)): str(h)
        for a, s, h in conn.execute(
            select(S_RESPONSE.c.attempt_id, S_RESPONSE.c.seq, S_RESPONSE.c.hash).where(
                S_RESPONSE.c.site_id == site_id
            )
        )
    }
    prev = ""
    for n, line in conn.execute(
        text("SELECT n, line FROM site_checkpoint WHERE site_id=:s ORDER BY n"), {"s": site_id}
    ).all():
        content = {k: v for k, v in json.loads(line).items() if k not in ("key_id", "sig")}
        content["prev"] = prev
        if content.get("audit", {}).get("id"):
            content["audit"]["hash"] = audit_hashes[content["audit"]["id"]]
        content["attempts"] = [
            [a, s, answers.get((a, s), h)] for a, s, h in content.get("attempts", [])
        ]
        raw = cps.sign_line(key, content)
        conn.execute(
            text("UPDATE site_checkpoint SET line=:l WHERE site_id=:s AND n=:n"),
            {"l": raw.decode(), "s": site_id, "n": n},
        )
        prev = cps.line_hash(raw)
    conn.execute(
        text("UPDATE site_link SET checkpoint_key=:k, checkpoint_hash=:h WHERE site_id=:s"),
        {"k": ck._pem(key.public_key()), "h": prev, "s": site_id},
    )
    return key_id(key.public_key())
