"""A site's checkpoint key replaced, piece by piece: the statement the site
makes (a new key, a key the server already made, a lost checkpoint file),
what the centre refuses to register, and which key each line must carry."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text
from sqlalchemy.engine import Engine

from exam_server import audit
from exam_server import checkpoints as cps
from exam_server.db import writer
from exam_server.receipts import key_id
from exam_server.sites import checkpoint_keys as ck
from exam_server.sites import intake, link, package
from exam_server.sites.install import install
from exam_server.sites.wire import Batch, ChainHead
from tests.sites.conftest import Centre


def _line(key: Ed25519PrivateKey, n: int, prev: str) -> str:
    return cps.sign_line(
        key,
        {
            "v": 1,
            "n": n,
            "at": time.time(),
            "reason": "interval",
            "session_id": None,
            "audit": {"id": 0, "hash": ""},
            "responses_upto": 0,
            "attempts": [],
            "prev": prev,
        },
    ).decode()


def _pem(key: Ed25519PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _send(centre: Centre, site_id: int, lines: list[str], key: Ed25519PrivateKey) -> Any:
    pos = intake.read_positions(centre.engine, site_id, time.time())
    return intake.apply_batch(
        centre.engine,
        site_id,
        Batch(
            base_audit=pos.audit, checkpoints=lines, checkpoint_key=_pem(key), audit_head=pos.audit
        ),
        time.time(),
    )


def _installed(centre: Centre, site_engine: Engine) -> None:
    data, _ = package.build(centre.engine, "TILOK-01", centre.key)
    install(site_engine, data, centre.key.public_key())


def test_the_server_made_a_new_key_itself(
    centre: Centre, site_engine: Engine, tmp_path: Path
) -> None:
    _installed(centre, site_engine)
    key_path, file = tmp_path / "k.pem", tmp_path / "cp.jsonl"
    first = cps.load_or_create_key(key_path)
    cps.write_checkpoint(site_engine, file, first, "start")
    with writer(site_engine).begin() as conn:
        audit.append(conn, "x", "test")
    cps.write_checkpoint(site_engine, file, first, "interval")
    # The key file is lost; the server, started again, makes one and signs on.
    key_path.unlink()
    made = cps.load_or_create_key(key_path)
    with writer(site_engine).begin() as conn:
        audit.append(conn, "y", "test")
    cps.write_checkpoint(site_engine, file, made, "start")
    st = ck.replace_site_key(site_engine, "TILOK-01", key_path, file, "disk lost")
    assert (st.key_id, st.from_n, st.previous_key_id) == (
        key_id(made.public_key()),
        3,
        key_id(first.public_key()),
    )
    assert not list(tmp_path.glob("*.replaced-*"))  # nothing to keep aside
    with site_engine.connect() as c:
        kind, data = c.execute(
            text("SELECT kind, data_json FROM exam_audit ORDER BY id DESC LIMIT 1")
        ).one()
    assert kind == "site_checkpoint_key" and json.loads(data)["fingerprint"] == st.fingerprint


def test_a_lost_checkpoint_file_continues_the_centres_chain(
    centre: Centre, site_engine: Engine, tmp_path: Path
) -> None:
    _installed(centre, site_engine)
    key_path, file = tmp_path / "k.pem", tmp_path / "cp.jsonl"
    with pytest.raises(ck.CheckpointKeyError, match="centre's last checkpoint"):
        ck.replace_site_key(site_engine, "TILOK-01", key_path, file, "disk lost")
    st = ck.replace_site_key(
        site_engine, "TILOK-01", key_path, file, "disk lost", centre_head=(7, "ab" * 32)
    )
    assert (st.from_n, st.after_hash, st.previous_key_id) == (8, "ab" * 32, None)
    anchor = cps.latest(file)
    assert anchor is not None and (anchor.n, anchor.prev, anchor.key_id) == (
        8,
        "ab" * 32,
        st.key_id,
    )
    # The server's next line follows the anchor, signed by the new key.
    new = cps.write_checkpoint(site_engine, file, cps.load_or_create_key(key_path), "start")
    assert new is not None and (new.n, new.prev) == (9, anchor.hash)


def test_registration_refuses_what_it_must(centre: Centre) -> None:
    sid = link.site_id_of(centre.engine, "TILOK-01")
    link.issue_token(centre.engine, "TILOK-01")
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    l1 = _line(old, 1, "")
    l2 = _line(old, 2, cps.line_hash(l1.encode()))
    assert _send(centre, sid, [l1, l2], old).stored == 2
    h2 = cps.line_hash(l2.encode())
    st = ck.make_statement(new, "TILOK-01", 3, h2, key_id(old.public_key()), "stolen")
    fp = ck.fingerprint(st)

    def register(statement: str = st, fingerprint: str = fp, site: str = "TILOK-01") -> Any:
        return ck.register(centre.engine, site, statement, fingerprint, "budi", "phoned")

    with pytest.raises(ck.CheckpointKeyError, match="signature does not match"):
        register(st.replace("stolen", "stolem"))
    with pytest.raises(ck.CheckpointKeyError, match="for site TILOK-01, not TILOK-02"):
        register(site="TILOK-02")
    with pytest.raises(ck.CheckpointKeyError, match="not this statement's"):
        register(fingerprint="00000-00000")
    early = ck.make_statement(new, "TILOK-01", 2, cps.line_hash(l1.encode()), None, "x")
    with pytest.raises(ck.CheckpointKeyError, match="only sign from checkpoint 3 on, not from 2"):
        register(early, ck.fingerprint(early))
    elsewhere = ck.make_statement(new, "TILOK-01", 3, "cd" * 32, None, "x")
    with pytest.raises(ck.CheckpointKeyError, match="not the one the centre has"):
        register(elsewhere, ck.fingerprint(elsewhere))

    # Before registration the new key's line is refused, naming it.
    l3 = _line(new, 3, h2)
    res = _send(centre, sid, [l3], new)
    assert res.stored == 0 and res.positions.checkpoint == ChainHead(position=2, hash=h2)
    assert "not registered for site TILOK-01" in res.problems[0]
    # Read out with O for zero and in lower case: the same fingerprint.
    assert register(fingerprint=fp.lower().replace("0", "o"))[1] is True
    assert register()[1] is False  # again: nothing changes
    with centre.engine.connect() as c:
        assert c.execute(text("SELECT COUNT(*) FROM site_problem")).scalar() == 0
    # The old key cannot sign after the switch; the new one can.
    assert "not registered" in _send(centre, sid, [_line(old, 3, h2)], old).problems[0]
    assert _send(centre, sid, [l3], new).stored == 1
    assert intake.verify_copies(centre.engine, sid) == []


def test_the_sites_own_verify_checks_each_line_with_its_key(
    centre: Centre, site_engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """After ``replace-key`` the site's ``seleksi audit verify --checkpoints``
    checks the lines before the switch with the replaced key (kept beside the
    new one) and the lines after it with the new key; without the replaced
    public key, or with a line signed by a third key, it names the line."""
    from seleksi.cli import main

    _installed(centre, site_engine)
    db = tmp_path / "site.db"
    key_path, file = cps.paths_for(f"sqlite:///{db}")[1], cps.paths_for(f"sqlite:///{db}")[0]
    old = cps.load_or_create_key(key_path)
    cps.write_checkpoint(site_engine, file, old, "start")
    with writer(site_engine).begin() as conn:
        audit.append(conn, "x", "test")
    cps.write_checkpoint(site_engine, file, old, "interval")
    st = ck.replace_site_key(site_engine, "TILOK-01", key_path, file, "disk replaced")
    new = cps.load_or_create_key(key_path)
    assert key_id(new.public_key()) == st.key_id and st.from_n == 3
    with writer(site_engine).begin() as conn:
        audit.append(conn, "y", "test")
    cps.write_checkpoint(site_engine, file, new, "interval")
    args = ["audit", "verify", "--db", str(db), "--no-scores"]
    assert main(args) == 0, capsys.readouterr()
    assert "checkpoints: 3" in capsys.readouterr().out
    # The replaced public key moved away: its lines cannot be checked, and it says so.
    (kept,) = tmp_path.glob("*.replaced-*.pub.pem")
    moved = tmp_path / "elsewhere.pem"
    kept.rename(moved)
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "signed by the replaced key" in out and "line 1" in out and "line 3" not in out
    assert main([*args, "--replaced-key", str(moved)]) == 0
    capsys.readouterr()
    # A line after the switch signed by a key the chain never named is refused.
    stranger = Ed25519PrivateKey.generate()
    last = cps.latest(file)
    assert last is not None
    with file.open("a") as f:
        f.write(_line(stranger, last.n + 1, last.hash) + "\n")
    assert main([*args, "--replaced-key", str(moved)]) == 1
    out = capsys.readouterr().out
    assert f"line 4: signed by key {key_id(stranger.public_key())}, not {st.key_id}" in out
