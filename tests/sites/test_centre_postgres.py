"""The centre on PostgreSQL (a national centre's usual database), a site on
SQLite: a session run at the site and its records applied at the centre
batch by batch (small batches, so answers of one attempt span several),
stored once, verified, rescored equal, and read by the results."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from sqlalchemy import text

from exam_server import scheduling as sch
from exam_server.db import make_engine
from exam_server.results.from_db import load_outcomes
from exam_server.settings import Settings
from exam_server.sites import intake, link, package
from exam_server.sites.install import install
from exam_server.sites.keys import release
from exam_server.sites.outbox import build_batch
from exam_server.sites.wire import ChainHead, Positions
from exam_server.testing import Terminal, ThreadServer, candidate_login, free_port, staff_token
from tests.conftest import TEST_SCRYPT_N, TEST_SECRET
from tests.sites.conftest import make_centre_on


async def test_pg_centre_takes_a_sqlite_sites_session(postgres_url: str, tmp_path: Path) -> None:
    centre = make_centre_on(postgres_url, n_candidates=2)
    site_id = link.authenticate(centre.engine, link.issue_token(centre.engine, "TILOK-01"))
    data, keys = package.build(centre.engine, "TILOK-01", centre.key)
    site_url = f"sqlite:///{tmp_path / 'site.db'}"
    site = make_engine(site_url)
    install(site, data, centre.key.public_key())
    release(site, "SESI-1", keys["SESI-1"], "sealed")
    sch.create_staff(site, "admin", "Admin", "admin", "admin-password", TEST_SCRYPT_N)
    server = ThreadServer(
        Settings(
            database_url=site_url,
            secret_key=TEST_SECRET,
            port=free_port(),
            scrypt_n=TEST_SCRYPT_N,
            role="site",
            checkpoint_path=str(tmp_path / "site.jsonl"),
            checkpoint_key_path=str(tmp_path / "site.pem"),
        )
    ).start()
    try:
        admin = staff_token(server.url, "admin", "admin-password")
        auth = {"Authorization": f"Bearer {admin}"}
        sid = centre.seed.session_id
        opened = httpx.post(f"{server.url}/api/sessions/{sid}/open", headers=auth, timeout=30)
        session_token = opened.json()["token"]
        for i, cand in enumerate(centre.seed.candidates):
            reg = str(cand["registration_number"])
            pin = sch.issue_pin(site, TEST_SECRET, sid, reg, "proctor:p")
            r = candidate_login(server.url, reg, pin, session_token, f"T-{i}")
            t = await Terminal.open(server.ws_url, r.json()["token"], f"T-{i}")
            for number in range(1, 11):
                await t.answer(number, (number * (i + 2)) % 5)
            await t.request({"type": "finish", "confirm": True})
            await t.close()
        r = httpx.post(
            f"{server.url}/api/sessions/{sid}/close", json={"reason": "selesai"}, headers=auth
        )
        assert r.status_code == 200
    finally:
        server.stop()

    pos = intake.read_positions(centre.engine, site_id, time.time())
    for _ in range(100):
        batch = build_batch(site, pos, 7, None)
        result = intake.apply_batch(centre.engine, site_id, batch, time.time())
        assert result.problems == []
        pos = result.positions
        if batch.size == 0:
            break
    with centre.engine.connect() as c:
        held = c.execute(text("SELECT COUNT(*) FROM site_response")).scalar_one()
        checks = [x for (x,) in c.execute(text("SELECT centre_check FROM site_attempt"))]
    with site.connect() as c:
        assert held == c.execute(text("SELECT COUNT(*) FROM exam_response")).scalar_one() == 20
    assert checks == ["equal", "equal"]
    assert intake.verify_copies(centre.engine, site_id) == []
    _, outcomes = load_outcomes(centre.engine, centre.seed.exam_code)
    assert [o.status for o in outcomes] == ["finished", "finished"]
    # The whole history sent again stores no record twice.
    zero = Positions(
        audit=ChainHead(position=0, hash=""), checkpoint=ChainHead(position=0, hash="")
    )
    resend = build_batch(site, zero, 10_000, None).model_copy(update={"base_audit": pos.audit})
    again = intake.apply_batch(centre.engine, site_id, resend, time.time())
    assert again.duplicates == len(resend.audit) + len(resend.responses) > 20
    assert again.problems == []
    with centre.engine.connect() as c:
        assert c.execute(text("SELECT COUNT(*) FROM site_response")).scalar_one() == 20
