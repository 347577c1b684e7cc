"""The site package: built and signed at the centre, refused at a site when
one byte changed, installed with the centre's ids, useless until a key opens
its items and their scoring (sealed offline key typed by the operator); a
version-1 package (scoring keys in the clear) refused, a version-1 box
installed before the upgrade still opened."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlmodel import Session

from exam_server import scheduling as sch
from exam_server.exams import ExamData
from exam_server.models import Exam
from exam_server.sites import keys, package
from exam_server.sites.install import install, installed_site
from exam_server.sites.package import PackageError
from tests.sites.conftest import Centre
from tests.sites.helpers import rows


def test_package_installs_with_the_centres_rows_and_sealed_items(
    centre: Centre, site_engine: Engine
) -> None:
    data, session_keys = package.build(centre.engine, "TILOK-01", centre.key)
    assert set(session_keys) == {"SESI-1"}
    # Neither the item texts nor their scoring are in the package in the clear.
    assert b"Butir TWK-0000" not in data and b"Pilihan A" not in data
    assert b"option_points" not in data and b"option_category" not in data
    _, added = install(site_engine, data, centre.key.public_key())
    assert added > 0 and installed_site(site_engine) == "TILOK-01"
    candidates = (
        "SELECT id, registration_number, category, session_id FROM exam_candidate ORDER BY id"
    )
    assert rows(site_engine, candidates) == rows(centre.engine, candidates)
    assert rows(site_engine, "SELECT code, status FROM exam_session") == [("SESI-1", "scheduled")]
    with Session(site_engine) as s:
        exam = s.get(Exam, centre.seed.exam_id)
        assert exam is not None and exam.items_json == "[]"
        with pytest.raises(ValueError, match=r"scoring .* is sealed at this site"):
            ExamData.from_row(exam)  # no test can start before the key is released
    # Installing the same package again adds nothing.
    assert install(site_engine, data, centre.key.public_key())[1] == 0
    # The typed sealed key opens the items; the exam is then whole.
    typed = keys.seal("SESI-1", session_keys["SESI-1"]).lower().replace("0", "o")
    assert keys.release(site_engine, "SESI-1", keys.unseal("SESI-1", typed), "sealed") == 36
    with Session(site_engine) as s:
        exam = s.get(Exam, centre.seed.exam_id)
        assert exam is not None and len(ExamData.from_row(exam).items) == 36
    assert rows(site_engine, "SELECT bank_json FROM exam_exam") == rows(
        centre.engine, "SELECT bank_json FROM exam_exam"
    )
    kinds = [k for (k,) in rows(site_engine, "SELECT kind FROM exam_audit ORDER BY id")]
    assert kinds == ["site_install", "site_key_release"]


def test_a_wrong_or_mistyped_key_opens_nothing(centre: Centre, site_engine: Engine) -> None:
    data, session_keys = package.build(centre.engine, "TILOK-01", centre.key)
    install(site_engine, data, centre.key.public_key())
    sheet = keys.seal("SESI-1", session_keys["SESI-1"])
    typo = ("1" if sheet[0] != "1" else "2") + sheet[1:]
    with pytest.raises(ValueError, match="mistyped"):
        keys.unseal("SESI-1", typo)
    with pytest.raises(ValueError, match="characters"):
        keys.unseal("SESI-1", sheet[:-3])
    with pytest.raises(ValueError, match="another session"):
        keys.unseal("SESI-2", sheet)
    with pytest.raises(PackageError, match="does not open"):
        keys.release(site_engine, "SESI-1", bytes(32), "sealed")
    assert rows(site_engine, "SELECT released_at FROM site_sealed_items") == [(None,)]


def test_package_from_another_key_or_for_another_site_is_refused(
    centre: Centre, site_engine: Engine
) -> None:
    data, _ = package.build(centre.engine, "TILOK-01", centre.key)
    with pytest.raises(PackageError, match="signed by key"):
        install(site_engine, data, Ed25519PrivateKey.generate().public_key())
    with pytest.raises(PackageError, match="no site"):
        package.build(centre.engine, "NOWHERE", centre.key)
    with pytest.raises(PackageError, match="no session SESI-9"):
        package.build(centre.engine, "TILOK-01", centre.key, ["SESI-9"])
    # A package re-signed by the centre with one field changed is a different
    # package; a site already holding TILOK-01 refuses one for another site.
    install(site_engine, data, centre.key.public_key())
    body = json.loads(data.partition(b"\n\n")[2])
    body["site"]["code"] = "TILOK-02"
    other = package.sign(centre.key, json.dumps(body).encode())
    with pytest.raises(PackageError, match="this server is site TILOK-01"):
        install(site_engine, other, centre.key.public_key())


@pytest.fixture(scope="module")
def signed() -> tuple[bytes, Ed25519PrivateKey]:
    key = Ed25519PrivateKey.generate()
    body = json.dumps({"v": package.VERSION, "site": {"code": "X"}, "padding": "x" * 300}).encode()
    return package.sign(key, body), key


@settings(max_examples=120, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_one_changed_byte_anywhere_is_refused(
    signed: tuple[bytes, Ed25519PrivateKey], data: st.DataObject
) -> None:
    raw, key = signed
    assert package.verify(raw, key.public_key()).content["site"]["code"] == "X"
    pos = data.draw(st.integers(0, len(raw) - 1), label="position")
    new = data.draw(st.integers(0, 255).filter(lambda b: b != raw[pos]), label="byte")
    tampered = raw[:pos] + bytes([new]) + raw[pos + 1 :]
    with pytest.raises(PackageError):
        package.verify(tampered, key.public_key())


def test_a_signature_spelled_otherwise_in_base64_is_refused(
    signed: tuple[bytes, Ed25519PrivateKey],
) -> None:
    # The last character before "==" carries 4 bits base64 ignores: the same
    # signature bytes, a different file.
    raw, key = signed
    sig_line = raw.split(b"\n")[2]
    last = sig_line.rstrip(b"=")[-1:]
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    twin = alphabet[alphabet.index(last) ^ 1 : (alphabet.index(last) ^ 1) + 1]
    tampered = raw.replace(sig_line, sig_line.rstrip(b"=")[:-1] + twin + b"==")
    with pytest.raises(PackageError):
        package.verify(tampered, key.public_key())


def test_the_centre_releases_a_key_only_to_its_site_and_not_too_early(centre: Centre) -> None:
    from sqlalchemy import text as sql

    from exam_server.sites import link

    package.build(centre.engine, "TILOK-01", centre.key)
    sch.create_site(centre.engine, "TILOK-02", "Tilok lain")
    site1 = link.authenticate(centre.engine, link.issue_token(centre.engine, "TILOK-01"))
    site2 = link.authenticate(centre.engine, link.issue_token(centre.engine, "TILOK-02"))
    with centre.engine.connect() as c:
        starts = float(c.execute(sql("SELECT starts_at FROM exam_session")).scalar_one())
    with pytest.raises(link.LinkError, match="not held at this site"):
        link.release_key(centre.engine, site2, "SESI-1", starts, 1800)
    with pytest.raises(link.LinkError, match="released from 1800 s before its start"):
        link.release_key(centre.engine, site1, "SESI-1", starts - 3600, 1800)
    key = link.release_key(centre.engine, site1, "SESI-1", starts - 600, 1800)
    assert len(key) == 32
    with pytest.raises(link.LinkError, match="not valid"):
        link.authenticate(centre.engine, "TILOK-01.not-the-token")


def test_a_session_with_sealed_items_does_not_open(centre: Centre, site_engine: Engine) -> None:
    data, session_keys = package.build(centre.engine, "TILOK-01", centre.key)
    install(site_engine, data, centre.key.public_key())
    sid = centre.seed.session_id
    with pytest.raises(sch.SetupError, match="still sealed: release its key first"):
        sch.open_session(site_engine, sid, "proctor:p")
    keys.release(site_engine, "SESI-1", session_keys["SESI-1"], "sealed")
    assert sch.open_session(site_engine, sid, "proctor:p")


def test_a_version_1_package_is_refused_saying_why(centre: Centre, site_engine: Engine) -> None:
    data, _ = package.build(centre.engine, "TILOK-01", centre.key)
    body = json.loads(data.partition(b"\n\n")[2])
    old = package.sign(centre.key, json.dumps({**body, "v": 1}).encode())
    with pytest.raises(PackageError, match=r"version 1 .* scoring keys in the clear.* new package"):
        install(site_engine, old, centre.key.public_key())
    assert rows(site_engine, "SELECT COUNT(*) FROM exam_exam") == [(0,)]


def test_a_version_1_box_installed_before_the_upgrade_still_opens(
    centre: Centre, site_engine: Engine
) -> None:
    """A site installed from a version-1 package holds its exams' banks in the
    clear and boxes of item texts only; after the upgrade its keys still open
    them (the box's format is bound in it: only one reading opens it)."""
    import base64
    import os

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from sqlalchemy import text

    data, session_keys = package.build(centre.engine, "TILOK-01", centre.key)
    install(site_engine, data, centre.key.public_key())
    ((bank_json, items_json),) = rows(centre.engine, "SELECT bank_json, items_json FROM exam_exam")
    key, nonce = session_keys["SESI-1"], os.urandom(12)
    ct = AESGCM(key).encrypt(nonce, items_json.encode(), package.aad("TILOK-01", "SESI-1", 1))
    with site_engine.begin() as c:  # as a version-1 install left it
        c.execute(text("UPDATE exam_exam SET bank_json = :b"), {"b": bank_json})
        c.execute(
            text("UPDATE site_sealed_items SET nonce = :n, ciphertext = :c"),
            {"n": base64.b64encode(nonce).decode(), "c": base64.b64encode(ct).decode()},
        )
    with pytest.raises(PackageError, match="does not open"):
        keys.release(site_engine, "SESI-1", bytes(32), "sealed")
    assert keys.release(site_engine, "SESI-1", key, "sealed") == 36
    assert rows(site_engine, "SELECT bank_json, items_json FROM exam_exam") == [
        (bank_json, items_json)
    ]
