"""A site whose checkpoint key is replaced mid-exam, after the line to the
centre was cut: a real centre (``seleksi serve`` in a subprocess) and a real
site server, the line a proxy the test cuts.

Candidates answer with the line up (synced, checkpoints under the site's
first key), the line is cut, they answer on, the site server is stopped and
its key replaced (``seleksi site replace-key``), the server starts again
with the new key and the candidates resume and finish. When the line
returns the centre takes the lines the old key signed, refuses those of the
new key until an administrator registers it (``seleksi site register-key``
with the fingerprint the site read out), then takes them: everything
verifies and the results are the site's. A checkpoint signed by a key
nobody registered is refused, naming the key.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from exam_server import checkpoints as cps
from exam_server.receipts import key_id
from exam_server.sites import checkpoint_keys as ck
from exam_server.sites import intake, link, package
from exam_server.sites.wire import Batch
from exam_server.testing import (
    ProcessServer,
    Terminal,
    ThreadServer,
    candidate_login,
    staff_token,
)
from seleksi.cli import main
from tests.proctor_ui.live_server import CuttableProxy
from tests.sites.conftest import make_centre
from tests.sites.helpers import installed_site, rows, scalar, server_settings, wait_for

N = 2


async def test_key_replaced_mid_exam_after_a_cut(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    tmp = tmp_path
    centre = make_centre(tmp / "centre.db", n_candidates=N, time_limit=600.0)
    token = link.issue_token(centre.engine, "TILOK-01")
    data, _ = package.build(centre.engine, "TILOK-01", centre.key)
    centre_server = ProcessServer(server_settings(tmp, "centre", centre.url, role="centre")).start()
    proxy = CuttableProxy(centre_server.settings.port)
    site_url, _ = installed_site(tmp, data, centre.key.public_key())
    site_settings = server_settings(
        tmp, "site", site_url, role="site", centre_url=proxy.url, site_token=token
    )
    site = ThreadServer(site_settings).start()
    site_id = link.site_id_of(centre.engine, "TILOK-01")
    try:
        # -- the line up: key from the centre, the session opens, answers sync
        admin = staff_token(site.url, "admin", "admin-password")
        proctor = staff_token(site.url, "pengawas", "proctor-password")
        auth = {"Authorization": f"Bearer {admin}"}
        r = httpx.post(f"{site.url}/api/site/keys", json={"session_code": "SESI-1"}, headers=auth)
        assert r.status_code == 200, r.text
        sid = centre.seed.session_id
        r = httpx.post(
            f"{site.url}/api/sessions/{sid}/open",
            headers={"Authorization": f"Bearer {proctor}"},
        )
        session_token = r.json()["token"]
        logins = []
        for i, c in enumerate(centre.seed.candidates):
            reg = str(c["registration_number"])
            r = httpx.post(
                f"{site.url}/api/proctor/sessions/{sid}/checkin",
                json={"registration_number": reg},
                headers={"Authorization": f"Bearer {proctor}"},
            )
            r = candidate_login(site.url, reg, r.json()["pin"], session_token, f"T-{i}")
            logins.append(r.json()["token"])

        async def answer(server: ThreadServer, numbers: range, finish: bool = False) -> None:
            for i, tok in enumerate(logins):
                t = await Terminal.open(server.ws_url, tok, f"T-{i}")
                for number in numbers:
                    (ack,) = await t.answer(number, (number + i) % 5)
                    assert ack["type"] == "ack"
                if finish:
                    assert (await t.request({"type": "finish", "confirm": True}))["type"] == "final"
                await t.close()

        await answer(site, range(1, 4))
        await wait_for(
            lambda: (
                (scalar(centre.engine, "SELECT COUNT(*) FROM site_response") or 0) == 3 * N
                and (scalar(centre.engine, "SELECT checkpoint_n FROM site_link") or 0) >= 2
            ),
            30,
            "the first sync with checkpoints",
        )

        # -- the line is cut; answers go on under the first key
        proxy.cut()
        await asyncio.sleep(0.5)
        await answer(site, range(4, 7))
        site.stop()  # the stop writes a last line with the first key
        cp_file = Path(str(site_settings.checkpoint_path))
        old_last = cps.latest(cp_file)
        assert old_last is not None
        held = int(scalar(centre.engine, "SELECT checkpoint_n FROM site_link"))
        assert held < old_last.n  # lines the centre has not seen, signed by the first key
        first_key = old_last.key_id

        # -- the key is replaced (the server stopped), the exam resumes
        monkeypatch.chdir(tmp)
        args = ["site", "replace-key", "--db", site_url, "--reason", "key file copied"]
        args += ["--checkpoints", str(cp_file), "--checkpoint-key", str(tmp / "site.key.pem")]
        assert main(args) == 0
        said = capsys.readouterr().out
        fingerprint = said.split("telephone): ")[1].split()[0]
        statement = tmp / "TILOK-01.checkpoint-key.json"
        st = ck.read_statement(statement.read_text())
        assert st.from_n == old_last.n + 1 and st.previous_key_id == first_key
        assert list(tmp.glob("site.key.replaced-*.pem"))  # the old key kept aside
        site = ThreadServer(site_settings).start()
        await answer(site, range(7, 11), finish=True)
        new_last = cps.latest(cp_file)
        assert new_last is not None and new_last.key_id == st.key_id != first_key

        # -- the line returns: the first key's lines go in, the new key's wait
        proxy.restore()
        await wait_for(
            lambda: (
                scalar(centre.engine, "SELECT checkpoint_n FROM site_link") == old_last.n
                and scalar(centre.engine, "SELECT COUNT(*) FROM site_problem") == 1
            ),
            30,
            "the first key's lines at the centre",
        )
        ((kind, message),) = rows(centre.engine, "SELECT kind, message FROM site_problem")
        assert kind == "unregistered_key"
        assert f"checkpoint {st.from_n} is signed by key {st.key_id}" in message
        assert "not registered for site TILOK-01" in message and "register-key" in message
        # Answers and audit events are not held back by the checkpoint key.
        await wait_for(
            lambda: scalar(centre.engine, "SELECT COUNT(*) FROM site_response") == 10 * N,
            30,
            "every answer at the centre",
        )
        # The site's operator sees what the centre refused: the site learns it
        # from the answer to its next sync, which may still be on its way.
        auth = {"Authorization": f"Bearer {staff_token(site.url, 'admin', 'admin-password')}"}

        def site_status() -> dict[str, Any]:
            out: dict[str, Any] = httpx.get(f"{site.url}/api/site/status", headers=auth).json()
            return out

        await wait_for(
            lambda: any("not registered" in p for p in site_status()["sync"]["problems"]),
            30,
            "the centre's refusal on the site's status",
        )
        assert site_status()["checkpoint_key_id"] == st.key_id

        # -- a forged line, signed by a key nobody registered, is refused
        forger = Ed25519PrivateKey.generate()
        head = intake.read_positions(centre.engine, site_id, time.time()).checkpoint
        forged = cps.sign_line(
            forger,
            {
                "v": 1,
                "n": head.position + 1,
                "at": time.time(),
                "reason": "interval",
                "session_id": None,
                "audit": {"id": 0, "hash": ""},
                "responses_upto": 0,
                "attempts": [],
                "prev": head.hash,
            },
        ).decode()
        pem = forger.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        audit_pos = intake.read_positions(centre.engine, site_id, time.time()).audit
        result = intake.apply_batch(
            centre.engine,
            site_id,
            Batch(
                base_audit=audit_pos,
                checkpoints=[forged],
                checkpoint_key=pem.decode(),
                audit_head=audit_pos,
            ),
            time.time(),
        )
        assert result.stored == 0 and result.positions.checkpoint == head
        (refused,) = result.problems
        assert refused.startswith(
            f"checkpoint {head.position + 1} is signed by key {key_id(forger.public_key())},"
            f" which is not registered for site TILOK-01 (checkpoint {head.position + 1}"
            f" verifies with key {first_key})"
        )

        # -- registering: a wrong fingerprint is refused; the right one taken
        register = ["site", "register-key", "--db", centre.url, "--site", "TILOK-01"]
        register += ["--statement", str(statement), "--by", "budi", "--reason", "phoned 10:42"]
        assert main([*register, "--fingerprint", "00000-00000"]) == 1
        assert "not this statement's" in capsys.readouterr().err
        assert main([*register, "--fingerprint", fingerprint.lower()]) == 0
        assert f"key {st.key_id} registered from checkpoint {st.from_n}" in capsys.readouterr().out
        (event,) = rows(
            centre.engine,
            "SELECT actor, reason, data_json FROM exam_audit WHERE kind='site_checkpoint_key'"
            " AND actor LIKE 'admin:%'",
        )
        assert event[:2] == ("admin:budi", "phoned 10:42")
        assert json.loads(event[2])["problems_resolved"] == 1

        # -- sync goes on: the new key's lines verify, nothing else is wrong
        await wait_for(
            lambda: (
                scalar(centre.engine, "SELECT checkpoint_n FROM site_link")
                == (cps.latest(cp_file) or old_last).n
            ),
            30,
            "the new key's lines at the centre",
        )
        assert intake.verify_copies(centre.engine, site_id) == []
        problems = [m for (m,) in rows(centre.engine, "SELECT message FROM site_problem")]
        assert len(problems) == 1 and key_id(forger.public_key()) in problems[0]
        await wait_for(
            lambda: (
                rows(centre.engine, "SELECT DISTINCT centre_check FROM site_attempt")
                == [("equal",)]
            ),
            30,
            "the results checked",
        )
        # Lines before the switch are the first key's, after it the new one's.
        keys = {
            int(n): json.loads(line)["key_id"]
            for n, line in rows(centre.engine, "SELECT n, line FROM site_checkpoint")
        }
        assert {k for n, k in keys.items() if n < st.from_n} == {first_key}
        assert {k for n, k in keys.items() if n >= st.from_n} == {st.key_id}
        # A replacement cannot re-sign what the centre holds.
        again = ck.make_statement(forger, "TILOK-01", st.from_n, "", st.key_id, "again")
        with pytest.raises(ck.CheckpointKeyError, match="may only sign from checkpoint"):
            ck.register(centre.engine, "TILOK-01", again, ck.fingerprint(again), "budi", "forged")
        # The centre's own checkpoint file keeps its own key: the site's key
        # registered in the centre's chain is not a switch of it (found in
        # review: `audit verify --checkpoints` at the centre expected the
        # site's key from the site's line number on).
        capsys.readouterr()
        centre_file = tmp / "centre.checkpoints.jsonl"
        await wait_for(lambda: cps.latest(centre_file) is not None, 30, "the centre's lines")
        verify = ["audit", "verify", "--db", centre.url, "--checkpoints", str(centre_file)]
        assert main([*verify, "--key", str(tmp / "centre.key.pub.pem")]) == 0, capsys.readouterr()
        said = capsys.readouterr().out
        assert "sites' copies: 1 site(s)" in said and "OK: every chain verifies" in said
    finally:
        site.stop()
        proxy.close()
        centre_server.stop()
