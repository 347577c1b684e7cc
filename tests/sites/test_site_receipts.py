"""A candidate who sits the test at an exam site keeps a receipt that holds at
the centre: a real centre (``seleksi serve`` in a subprocess) and a real site
server, two SQLite databases.

The candidates finish at the site, whose server signs their receipts with
the site's checkpoint key; the site closes the session and syncs. At the
centre the receipt is accepted on the appeal and diagnostic pages, the
centre's key list and the publication's signed manifest list the site's key
(labelled with its site, checkpoint numbers and period), and ``seleksi
results prove`` finds it MATCHES with the publication alone. A forged
receipt (a key nobody registered) and a receipt signed by another site's
registered key for this site's candidate are refused, saying why.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text
from sqlalchemy.engine import Engine

from exam_server import checkpoints as cps
from exam_server import receipts
from exam_server import scheduling as sch
from exam_server.results import publication as pub
from exam_server.sites import link, package
from exam_server.sites.receipt_keys import receipt_keys_on
from exam_server.testing import (
    ProcessServer,
    Terminal,
    ThreadServer,
    candidate_login,
    staff_token,
)
from seleksi.cli import main
from tests.sites.conftest import make_centre
from tests.sites.helpers import installed_site, scalar, server_settings, wait_for

N = 2


def _second_site(centre_engine: Engine, exam: str) -> Ed25519PrivateKey:
    """Site TILOK-02 at the centre, holding session SESI-2 of the same exam
    (no candidates; its close synced), with the checkpoint key it gave at its
    first sync: a key the centre has registered, but for another site."""
    sch.create_site(centre_engine, "TILOK-02", "Tilok 2")
    sch.create_room(centre_engine, "TILOK-02", "R2", "Ruang 2")
    sid = sch.create_session(centre_engine, "SESI-2", exam, "TILOK-02", "R2", time.time())
    link.issue_token(centre_engine, "TILOK-02")
    package.build(centre_engine, "TILOK-02", Ed25519PrivateKey.generate())
    key = Ed25519PrivateKey.generate()
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    site2 = link.site_id_of(centre_engine, "TILOK-02")
    with centre_engine.begin() as c:
        c.execute(
            text("UPDATE site_link SET checkpoint_key = :pem WHERE site_id = :s"),
            {"pem": pem.decode(), "s": site2},
        )
        # Its (empty) session closed and synced, so the exam's results can be computed.
        c.execute(
            text(
                "INSERT INTO site_audit (site_id, id, at, kind, actor, session_id, reason,"
                " data_json, prev_hash, hash) VALUES (:s, 1, :at, 'close_session', 'admin',"
                " :sid, '', '{}', '', :h)"
            ),
            {"s": site2, "at": time.time(), "sid": sid, "h": "0" * 64},
        )
    return key


async def test_a_site_candidates_receipt_verifies_at_the_centre(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    tmp = tmp_path
    centre = make_centre(tmp / "centre.db", n_candidates=N, time_limit=600.0)
    exam = centre.seed.exam_code
    token = link.issue_token(centre.engine, "TILOK-01")
    data, _ = package.build(centre.engine, "TILOK-01", centre.key)
    results = tmp / "results"
    centre_settings = server_settings(
        tmp, "centre", centre.url, role="centre", results_dir=str(results)
    )
    centre_server = ProcessServer(centre_settings).start()
    site_url, _ = installed_site(tmp, data, centre.key.public_key())
    site_settings = server_settings(
        tmp, "site", site_url, role="site", centre_url=centre_server.url, site_token=token
    )
    site = ThreadServer(site_settings).start()
    try:
        # -- at the site: the key released, the session run, every candidate finishes
        admin = staff_token(site.url, "admin", "admin-password")
        proctor = staff_token(site.url, "pengawas", "proctor-password")
        r = httpx.post(
            f"{site.url}/api/site/keys",
            json={"session_code": "SESI-1"},
            headers={"Authorization": f"Bearer {admin}"},
        )
        assert r.status_code == 200, r.text
        sid = centre.seed.session_id
        r = httpx.post(
            f"{site.url}/api/sessions/{sid}/open", headers={"Authorization": f"Bearer {proctor}"}
        )
        session_token = r.json()["token"]
        codes: dict[str, str] = {}
        for i, c in enumerate(centre.seed.candidates):
            reg = str(c["registration_number"])
            r = httpx.post(
                f"{site.url}/api/proctor/sessions/{sid}/checkin",
                json={"registration_number": reg},
                headers={"Authorization": f"Bearer {proctor}"},
            )
            r = candidate_login(site.url, reg, r.json()["pin"], session_token, f"T-{i}")
            t = await Terminal.open(site.ws_url, r.json()["token"], f"T-{i}")
            for number in range(1, 8):
                (ack,) = await t.answer(number, (number + i) % 5)
                assert ack["type"] == "ack"
            final = await t.request({"type": "finish", "confirm": True})
            assert final["type"] == "final"
            codes[reg] = final["receipt"]["code"]
            await t.close()
        r = httpx.post(
            f"{site.url}/api/sessions/{sid}/close",
            json={"reason": "selesai"},
            headers={"Authorization": f"Bearer {admin}"},
            timeout=30,
        )
        assert r.status_code == 200, r.text
        # The receipts are signed with the site's checkpoint key.
        site_key = cps.load_or_create_key(Path(str(site_settings.checkpoint_key_path)))
        site_kid = receipts.key_id(site_key.public_key())
        assert {receipts.decode(c).key_id for c in codes.values()} == {site_kid}

        # -- the site syncs: every record at the centre, the results checked
        await wait_for(
            lambda: (
                scalar(
                    centre.engine,
                    "SELECT COUNT(*) FROM site_attempt WHERE centre_check='equal'",
                )
                == N
                and scalar(
                    centre.engine, "SELECT COUNT(*) FROM site_audit WHERE kind='close_session'"
                )
                == 1
                and scalar(centre.engine, "SELECT site_pending FROM site_link") == 0
            ),
            60,
            "the site's sync",
        )
    finally:
        site.stop()

    other_key = _second_site(centre.engine, exam)
    other_kid = receipts.key_id(other_key.public_key())
    regno, code = next(iter(codes.items()))
    good = receipts.decode(code)

    def signed_by(key: Ed25519PrivateKey, session: str | None = None) -> str:
        r = good if session is None else dataclasses.replace(good, session=session)
        return receipts.encode(
            receipts.sign_receipt(
                key,
                registration_number=r.registration_number,
                exam=r.exam,
                session=r.session,
                scores=dict(r.scores),
                total=r.total,
                chain_head=r.chain_head,
            )
        )

    forger = Ed25519PrivateKey.generate()
    forged = signed_by(forger)
    forged_kid = receipts.key_id(forger.public_key())
    # TILOK-02's registered key, for TILOK-01's candidate: in TILOK-01's
    # session, and claiming TILOK-02's own session.
    cross = signed_by(other_key)
    cross_own_session = signed_by(other_key, session="SESI-2")

    # -- the one choice of keys: the centre's own and each site's, scoped
    keys = receipt_keys_on(centre.engine, [], exam)
    by_site = {k.site: k for k in keys}
    assert set(by_site) == {"TILOK-01", "TILOK-02"}
    k1 = by_site["TILOK-01"]
    assert k1.key_id == site_kid and k1.from_checkpoint == 1 and k1.until_checkpoint is None
    assert k1.valid_from and not k1.valid_until  # from its first line held at the centre
    assert dict(k1.sessions) == {"SESI-1": tuple(sorted(codes))}

    try:
        # -- the centre's pages: the site receipt accepted, the others refused
        url = centre_server.url
        served = httpx.get(f"{url}/results/receipt-keys.json").json()
        # Site keys apart, in a version-2 list: a version-1 reader refuses it
        # rather than take them for keys of every receipt.
        assert served["v"] == 2 and all("site" not in k for k in served["keys"])
        assert served["keys"]  # the centre's own key
        listed = {k["sha256"][:16]: k for k in served["site_keys"]}
        assert listed[site_kid]["site"] == "TILOK-01"
        assert listed[site_kid]["sessions"] == {"SESI-1": sorted(codes)}
        assert listed[other_kid]["site"] == "TILOK-02"
        assert receipts.parse_key_list(served) == receipts.parse_key_list(
            receipts.key_list_document(receipts.parse_key_list(served))
        )

        diag = httpx.post(f"{url}/after/{exam}/diagnostik?lang=en", data={"receipt": code})
        # The receipt is accepted (not refused with a reason); the report's own
        # content for site candidates is tested in test_site_diagnostic.py.
        assert diag.status_code != 422 and "not valid" not in diag.text, diag.text
        # A lost receipt is given again at the centre, from the verified copy
        # (found in review: only the site's server could): the same facts,
        # signed with the centre's key, and accepted by the same page.
        centre_key = Path(str(centre_settings.checkpoint_key_path))
        monkeypatch.setenv("SELEKSI_CHECKPOINT_KEY_PATH", str(centre_key))
        again = ["after", "receipt", "--db", centre.url, "--exam", exam, "--number", regno]
        capsys.readouterr()
        assert main([*again, "--by", "admin", "--reason", "hilang"]) == 0
        given = receipts.decode(capsys.readouterr().out.splitlines()[-1])
        centre_kid = receipts.key_id(cps.load_or_create_key(centre_key).public_key())
        assert given.key_id == centre_kid != good.key_id
        facts = ("registration_number", "exam", "session", "scores", "total", "chain_head")
        assert [getattr(given, f) for f in facts] == [getattr(good, f) for f in facts]
        diag = httpx.post(
            f"{url}/after/{exam}/diagnostik?lang=en", data={"receipt": receipts.encode(given)}
        )
        assert diag.status_code == 200 and "not valid" not in diag.text, diag.text
        for bad, reason in [
            (forged, f"signed with key {forged_kid}, which is not one of this server"),
            (cross, f"signed with key {other_kid} of test site TILOK-02"),
            (cross_own_session, f"signed with key {other_kid} of test site TILOK-02"),
        ]:
            r = httpx.post(f"{url}/after/{exam}/diagnostik?lang=en", data={"receipt": bad})
            assert r.status_code == 422 and reason in r.text, r.text

        # -- the publication from the centre's database lists the site keys
        signing = tmp / "results-signing.key"
        signing.write_bytes(pub.private_key_pem(pub.generate_key()))
        signing.chmod(0o600)
        centre_list = receipts.key_list_path(Path(str(centre_settings.checkpoint_key_path)))
        assert centre_list.exists()
        today = dt.datetime.now(dt.UTC).date().isoformat()
        args = ["results", "publish", "--db", centre.url, "--exam", exam, "--key", str(signing)]
        args += ["--out", str(results), "--published-at", today, "--receipt-key", str(centre_list)]
        assert main(args) == 0, capsys.readouterr().err
        out = capsys.readouterr().out
        assert f"site TILOK-01, checkpoints 1–…, {N} candidates" in out
        manifest = json.loads((results / pub.MANIFEST).read_bytes())
        # Site keys are listed apart (schema 4): a verifier that knows only
        # receipt_keys must not take them for keys of every receipt.
        assert manifest["schema"] == pub.SITE_KEYS_SCHEMA
        assert all("site" not in k for k in manifest["receipt_keys"])
        entries = {k["sha256"][:16]: k for k in manifest["site_receipt_keys"]}
        assert entries[site_kid]["site"] == "TILOK-01"
        assert entries[site_kid]["from_checkpoint"] == 1
        assert entries[site_kid]["valid_from"] == k1.valid_from
        assert entries[site_kid]["sessions"] == {"SESI-1": sorted(codes)}
        assert entries[other_kid]["sessions"] == {"SESI-2": []}

        # The appeal page (needs the publication): accepted; the others refused.
        form = {"reason": "Nama saya salah tulis.", "evidence": "KTP", "field": "name"}
        ok = httpx.post(f"{url}/after/{exam}/sanggah", data={**form, "receipt": code})
        assert ok.status_code == 200, ok.text
        refused = httpx.post(f"{url}/after/{exam}/sanggah?lang=en", data={**form, "receipt": cross})
        assert refused.status_code == 422 and "of test site TILOK-02" in refused.text
        # The public receipt box, from the manifest.
        check = httpx.post(f"{url}/results/receipt", data={"receipt": code})
        assert "COCOK" in check.text, check.text
        check = httpx.post(f"{url}/results/receipt", data={"receipt": cross})
        assert "TIDAK SAH" in check.text and "of site TILOK-02" in check.text
    finally:
        centre_server.stop()

    # -- offline, with the publication alone
    prove = ["results", "prove", regno, "--publication", str(results), "--receipt"]
    assert main([*prove, code]) == 0
    out = capsys.readouterr().out
    assert "MATCHES" in out and f"site TILOK-01, checkpoints 1–…, {k1.valid_from}" in out
    assert main([*prove, forged]) == 1
    out = capsys.readouterr().out
    assert "INVALID" in out and forged_kid in out
    assert main([*prove, cross]) == 1
    out = capsys.readouterr().out
    assert "INVALID" in out
    assert (
        f"signed by key {other_kid} of site TILOK-02, which signs the receipts of its own"
        " candidates only: session SESI-1 is not held at site TILOK-02 (it is held at site"
        f" TILOK-01); candidate {regno} sits at site TILOK-01"
    ) in out
    assert main([*prove, cross_own_session]) == 1
    out = capsys.readouterr().out
    assert f"candidate {regno} is not scheduled into session SESI-2 there" in out


def test_receipts_of_a_replaced_site_key_verify_with_their_period(tmp_path: Path) -> None:
    """A site's first key signs lines 1–2 and receipts; its replacement,
    registered from line 3, signs later receipts. Both verify for the site's
    candidates, each listed with its checkpoint numbers and times; a
    replacement made but not registered is refused as unknown."""
    from exam_server.sites import checkpoint_keys as ck
    from exam_server.sites import intake
    from exam_server.sites.wire import Batch

    centre = make_centre(tmp_path / "centre.db", n_candidates=N)
    exam = centre.seed.exam_code
    link.issue_token(centre.engine, "TILOK-01")
    package.build(centre.engine, "TILOK-01", centre.key)
    site_id = link.site_id_of(centre.engine, "TILOK-01")
    first, second, unregistered = (Ed25519PrivateKey.generate() for _ in range(3))

    def line(n: int, prev: str, at: float) -> str:
        content = {"v": 1, "n": n, "at": at, "reason": "interval", "session_id": None}
        content |= {"audit": {"id": 0, "hash": ""}, "responses_upto": 0, "attempts": []}
        return cps.sign_line(first, {**content, "prev": prev}).decode()

    t0 = 1_736_150_400.0  # 2025-01-06T08:00:00Z
    one = line(1, "", t0)
    two = line(2, cps.parse_line(one.encode()).hash, t0 + 60)
    pem = first.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pos = intake.read_positions(centre.engine, site_id, time.time())
    result = intake.apply_batch(
        centre.engine,
        site_id,
        Batch(
            base_audit=pos.audit,
            checkpoints=[one, two],
            checkpoint_key=pem.decode(),
            audit_head=pos.audit,
        ),
        time.time(),
    )
    assert result.problems == [] and result.positions.checkpoint.position == 2
    statement = ck.make_statement(
        second,
        "TILOK-01",
        3,
        cps.parse_line(two.encode()).hash,
        receipts.key_id(first.public_key()),
        "disk replaced",
        now=t0 + 3600,
    )
    ck.register(centre.engine, "TILOK-01", statement, ck.fingerprint(statement), "budi", "phoned")

    keys = receipt_keys_on(centre.engine, [], exam)
    assert [(k.key_id, k.from_checkpoint, k.until_checkpoint) for k in keys] == [
        (receipts.key_id(first.public_key()), 1, 3),
        (receipts.key_id(second.public_key()), 3, None),
    ]
    assert [(k.valid_from, k.valid_until) for k in keys] == [
        ("2025-01-06T08:00:00Z", "2025-01-06T09:00:00Z"),
        ("2025-01-06T09:00:00Z", ""),
    ]
    assert keys[0].period() == (
        "site TILOK-01, checkpoints 1–2, 2025-01-06T08:00:00Z – 2025-01-06T09:00:00Z"
    )
    regno = str(centre.seed.candidates[0]["registration_number"])
    want = {receipts.key_id(first.public_key()): 1, receipts.key_id(second.public_key()): 3}
    for key in (first, second):
        r = receipts.sign_receipt(
            key,
            registration_number=regno,
            exam=exam,
            session="SESI-1",
            scores={"TWK": "100"},
            total="100",
            chain_head="",
        )
        assert receipts.verify(receipts.encode(r), keys).key.site == "TILOK-01"
        # Round trip through the manifest's form: the same scope.
        listed = receipts.parse_key_list([k.to_dict() for k in keys])
        assert receipts.verify(r, listed).key.from_checkpoint == want[r.key_id]
        with pytest.raises(receipts.ReceiptRefused) as refused:
            receipts.verify(dataclasses.replace(r, registration_number="NOT-HERE"), keys)
        assert refused.value.code == "bad_signature"  # changed after signing
    stray = receipts.sign_receipt(
        unregistered,
        registration_number=regno,
        exam=exam,
        session="SESI-1",
        scores={"TWK": "100"},
        total="100",
        chain_head="",
    )
    with pytest.raises(receipts.ReceiptRefused) as refused:
        receipts.verify(stray, keys)
    assert refused.value.code == "unknown_key"


def test_the_offline_verifier_holds_a_site_key_to_its_candidates(
    browser: Any, tmp_path: Path
) -> None:
    """The browser verifier (no server) reads a site key's scope from the signed
    manifest: A5's receipt verifies under a site key listing A5, and is refused
    under one that lists only A4 in the session."""
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from exam_server.results.pages import routes
    from exam_server.results.ranking import rank_skd
    from tests.results import results_cases as rc
    from tests.results.test_results_verifier_browser import _check, _open

    def publication(name: str, regnos: tuple[str, ...]) -> Path:
        key = receipts.ReceiptKey(
            rc.RECEIPT_KEY.public_key(),
            "2024-11-01T00:00:00Z",
            site="TILOK-01",
            from_checkpoint=1,
            sessions=(("S1", regnos),),
        )
        skd = rank_skd(rc.POLICY, rc.FORMATIONS, rc.outcomes())
        out = tmp_path / name
        files = pub.publish(rc.EXAM, rc.POLICY, skd, rc.KEY, receipt_keys=[key]).files
        pub.write_publication(out, files)
        return out

    mine, other = publication("mine", ("A4", "A5")), publication("other", ("A4",))
    c = TestClient(Starlette(routes=routes(mine)))
    (tmp_path / "verifier.html").write_text(c.get("/results/verifier.html").text, "utf-8")
    proof = c.get("/results/proof/A5").text
    ctx, page, requests = _open(browser, {"dir": tmp_path}, "")
    try:
        state, shown = _check(page, mine, proof=proof, receipt=rc.receipt_code())
        assert state == "valid" and "COCOK" in shown, shown
        state, shown = _check(page, other, receipt=rc.receipt_code())
        assert state == "invalid" and "kunci lokasi tes" in shown and "TILOK-01" in shown, shown
        assert "COCOK" not in shown
        assert requests == []
    finally:
        ctx.close()
