"""Receipts outlive a replaced key: the server lists every key it has held,
the appeal path and the public receipt check accept a receipt signed by a
retired key, and a forged or changed receipt is refused saying why.

A real server signs with key A (the candidates' receipts), is stopped, its
key file moved away as after a lost or suspect key, and started again: it
makes key B, lists A as retired and B as current, serves the list, and the
publication it signs lists both.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from exam_server import receipts
from exam_server.after_test.seed import seed_finished_exam
from exam_server.checkpoints import load_or_create_key, paths_for, public_key_path
from exam_server.clock import ManualClock
from exam_server.db import make_engine
from exam_server.results import publication as pub
from exam_server.testing import ThreadServer, small_design, staff_token
from seleksi.cli import main
from tests.after_test.conftest import EXAM, PUBLISHED, SIGNING_KEY, START, area_bank
from tests.conftest import ADMIN_PASSWORD, make_settings, seed_small


def test_a_receipt_signed_before_a_key_rotation_still_verifies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'rot.db'}"
    seed_small(url, n_candidates=2)
    engine = make_engine(url)
    _, key_path = paths_for(url)
    key_a = load_or_create_key(key_path)
    bank, items = area_bank()
    finished = seed_finished_exam(
        engine,
        design=small_design("linear", 6000.0, lengths=(30, 35, 45)),
        bank=bank,
        items=items,
        formations=["F-ANALIS-KEU", "F-AUDITOR"],
        site_code="TILOK-01",
        room_code="R1",
        receipt_key=key_a,
        exam_code=EXAM,
        n_candidates=12,
        starts_at=START - 86_400.0,
    )
    engine.dispose()
    results = tmp_path / "results"
    signing = tmp_path / "results-signing.key"
    signing.write_bytes(pub.private_key_pem(SIGNING_KEY))
    signing.chmod(0o600)
    settings = dict(results_dir=str(results), results_key_path=str(signing))
    clock = ManualClock(START)

    # Key A in use: the server lists it at start.
    server = ThreadServer(make_settings(url, **settings), clock=clock).start()
    server.stop()
    # The key is replaced (a lost disk, a suspect copy): moved away, as
    # `seleksi site replace-key` keeps the old one; the server makes key B.
    shutil.move(key_path, tmp_path / "old-key.pem")
    public_key_path(key_path).unlink()
    server = ThreadServer(make_settings(url, **settings), clock=clock).start()
    try:
        key_b = load_or_create_key(key_path)
        assert receipts.key_id(key_b.public_key()) != receipts.key_id(key_a.public_key())
        listed = receipts.read_key_list(receipts.key_list_path(key_path))
        assert [k.key_id for k in listed] == [
            receipts.key_id(key_a.public_key()),
            receipts.key_id(key_b.public_key()),
        ]
        assert listed[0].retired and not listed[1].retired
        assert listed[0].valid_from <= listed[0].valid_until and listed[1].valid_from
        # The server publishes its key list for anyone.
        served = httpx.get(f"{server.url}/results/receipt-keys.json").json()
        assert served["source"] == "server"
        assert [k["sha256"] for k in served["keys"]] == [k.fingerprint for k in listed]
        assert "valid_until" in served["keys"][0] and "valid_until" not in served["keys"][1]

        # The publication the server signs now lists both keys, A as retired.
        admin = {"Authorization": f"Bearer {staff_token(server.url, 'admin', ADMIN_PASSWORD)}"}
        r = httpx.post(
            f"{server.url}/api/admin/results/publish",
            headers=admin,
            json={"exam_code": EXAM, "published_at": PUBLISHED},
            timeout=60,
        )
        assert r.status_code == 201, r.text
        manifest = json.loads((results / pub.MANIFEST).read_bytes())
        assert [k["sha256"] for k in manifest["receipt_keys"]] == [k.fingerprint for k in listed]
        assert manifest["receipt_keys"][0]["valid_until"] == listed[0].valid_until

        regno = finished.registration_numbers[0]
        old = finished.receipts[regno]
        assert receipts.decode(old).key_id == receipts.key_id(key_a.public_key())
        forged = receipts.encode(
            receipts.sign_receipt(
                Ed25519PrivateKey.generate(),
                registration_number=regno,
                exam=EXAM,
                session=finished.session_code,
                scores={"TWK": "150", "TIU": "175", "TKP": "225"},
                total="550",
                chain_head="",
            )
        )
        forged_id = receipts.decode(forged).key_id
        changed = receipts.encode(
            dataclasses.replace(receipts.decode(old), total="550", scores=(("TWK", "550"),))
        )

        # The public receipt check: the old receipt matches its line, signed
        # by a key since replaced; the forged one is refused naming its key.
        check = httpx.post(f"{server.url}/results/receipt", data={"receipt": old})
        assert "COCOK" in check.text, check.text
        key_line = re.search(r'id="receipt-key">([^<]*)<', check.text)
        assert key_line is not None
        assert receipts.key_id(key_a.public_key()) in key_line.group(1)
        assert "kunci yang sudah diganti" in key_line.group(1)
        bad = httpx.post(f"{server.url}/results/receipt", data={"receipt": forged})
        assert "TIDAK SAH" in bad.text and forged_id in bad.text and "COCOK" not in bad.text
        bad = httpx.post(f"{server.url}/results/receipt", data={"receipt": changed})
        assert "TIDAK SAH" in bad.text and "was changed" in bad.text

        # The appeal path, identified by the receipt: the old receipt is
        # accepted, the forged and the changed ones are refused with the reason.
        form = {"reason": "Nama saya salah tulis.", "evidence": "KTP", "field": "name"}
        refused = httpx.post(f"{server.url}/after/{EXAM}/sanggah", data={**form, "receipt": forged})
        assert refused.status_code == 422
        assert forged_id in refused.text and "bukan kunci tanda terima server ini" in refused.text
        refused = httpx.post(
            f"{server.url}/after/{EXAM}/sanggah?lang=en", data={**form, "receipt": changed}
        )
        assert refused.status_code == 422 and "its content was changed" in refused.text
        ok = httpx.post(f"{server.url}/after/{EXAM}/sanggah", data={**form, "receipt": old})
        assert ok.status_code == 200, ok.text
        assert re.search(r"Sanggah nomor \d+", ok.text)
        # The diagnostic report takes it too.
        diag = httpx.post(f"{server.url}/after/{EXAM}/diagnostik", data={"receipt": old})
        assert diag.status_code == 200 and regno in diag.text
    finally:
        server.stop()

    # Offline, with the publication alone: the command line says the same.
    assert main(["results", "prove", regno, "--publication", str(results), "--receipt", old]) == 0
    out = capsys.readouterr().out
    assert "MATCHES" in out and "retired since" in out
    assert (
        main(["results", "prove", regno, "--publication", str(results), "--receipt", forged]) == 1
    )
    assert forged_id in capsys.readouterr().out
