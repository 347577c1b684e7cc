"""The receipt key list (``exam_server.receipts``): a rotation keeps the old
key as retired with its period, the list round-trips through a manifest, and
the one check says why a receipt is refused."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from exam_server import receipts
from exam_server.results import publication as pub

T0 = 1_735_700_400.0  # 2025-01-01T03:00:00Z


def _receipt(key: Ed25519PrivateKey) -> receipts.Receipt:
    return receipts.sign_receipt(
        key,
        registration_number="2024000000001",
        exam="SKD-2024",
        session="S1",
        scores={"TWK": "90", "TIU": "100", "TKP": "180"},
        total="370",
        chain_head="",
    )


def test_rotation_retires_the_old_key_and_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "k.receipt-keys.json"
    a, b = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    first = receipts.record_key(path, a.public_key(), now=T0 + 60, since=T0)
    assert [(k.valid_from, k.valid_until) for k in first] == [("2025-01-01T03:00:00Z", "")]
    assert receipts.record_key(path, a.public_key(), now=T0 + 3600) == first  # a restart
    keys = receipts.record_key(path, b.public_key(), now=T0 + 86_400)
    assert [(k.key_id, k.valid_from, k.valid_until) for k in keys] == [
        (receipts.key_id(a.public_key()), "2025-01-01T03:00:00Z", "2025-01-02T03:00:00Z"),
        (receipts.key_id(b.public_key()), "2025-01-02T03:00:00Z", ""),
    ]
    assert receipts.read_key_list(path) == keys
    # Both verify; the old one is reported with its period.
    assert receipts.verify(_receipt(a), keys).key == keys[0]
    assert receipts.verify(receipts.encode(_receipt(b)), keys).key == keys[1]
    # Through a manifest and back, periods included.
    m = {"receipt_keys": [pub.receipt_key_entry(k) for k in keys]}
    assert pub.receipt_keys_of(m) == keys
    assert receipts.parse_key_list(receipts.key_list_document(keys)) == keys


def test_the_one_check_names_the_reason() -> None:
    a, c = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    keys = [receipts.ReceiptKey(a.public_key(), "2025-01-01T03:00:00Z", "2025-01-02T03:00:00Z")]
    with pytest.raises(receipts.ReceiptRefused) as e:
        receipts.verify(_receipt(c), keys)
    assert e.value.code == "unknown_key" and e.value.key_id == receipts.key_id(c.public_key())
    assert receipts.key_id(a.public_key()) in str(e.value)
    changed = dataclasses.replace(_receipt(a), total="550")
    with pytest.raises(receipts.ReceiptRefused) as e:
        receipts.verify(changed, keys)
    assert e.value.code == "bad_signature"
    with pytest.raises(receipts.ReceiptRefused) as e:
        receipts.verify("SELEKSI-R1:AAAA", keys)
    assert e.value.code == "unreadable"
    with pytest.raises(receipts.ReceiptRefused) as e:
        receipts.verify(_receipt(a), [])
    assert e.value.code == "no_keys"
    assert receipts.verify_receipt(_receipt(a), a.public_key())
    assert not receipts.verify_receipt(_receipt(a), c.public_key())


def test_a_bad_entry_is_refused() -> None:
    a = Ed25519PrivateKey.generate()
    entry = receipts.ReceiptKey(a.public_key()).to_dict()
    with pytest.raises(ValueError, match="sha256"):
        receipts.ReceiptKey.from_dict({**entry, "sha256": "0" * 64})
    with pytest.raises(ValueError, match="period"):
        receipts.ReceiptKey.from_dict({**entry, "valid_from": "yesterday"})
    with pytest.raises(pub.PublicationError):
        pub.receipt_keys_of({"receipt_keys": [{"public_key": "!!"}]})


def test_a_manifest_lists_site_keys_apart_and_older_manifests_still_read() -> None:
    """A site key verifies its own site's candidates only; the manifest lists
    such keys in ``site_receipt_keys`` (schema 4), so that a verifier knowing
    only ``receipt_keys`` cannot take one for a key of every receipt. A
    manifest written before (site keys inside ``receipt_keys``) still reads
    with the scope; a site list entry without its site is refused."""
    a, s = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    server = receipts.ReceiptKey(a.public_key(), "2025-01-01T03:00:00Z")
    site = receipts.ReceiptKey(
        s.public_key(),
        "2025-01-01T03:00:00Z",
        site="TILOK-01",
        from_checkpoint=1,
        sessions=(("SESI-1", ("A1",)),),
    )
    entries = [pub.receipt_key_entry(server), pub.receipt_key_entry(site)]
    listed = pub.receipt_keys_of({"receipt_keys": entries[:1], "site_receipt_keys": entries[1:]})
    assert listed == [server, site]
    assert pub.receipt_keys_of({"receipt_keys": entries}) == [server, site]  # before schema 4
    with pytest.raises(pub.PublicationError, match="without its site"):
        pub.receipt_keys_of({"site_receipt_keys": entries[:1]})
    # The served key list the same way: version 2 with the site keys apart.
    doc = receipts.key_list_document([server, site])
    assert (doc["v"], len(doc["keys"]), len(doc["site_keys"])) == (2, 1, 1)
    assert receipts.parse_key_list(doc) == [server, site]
    assert receipts.key_list_document([server])["v"] == 1  # a server's own list
    with pytest.raises(ValueError, match="without its site"):
        receipts.parse_key_list({**doc, "site_keys": doc["keys"]})
