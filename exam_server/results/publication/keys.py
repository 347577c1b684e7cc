"""The publication's signing keys: Ed25519 generation, PEM forms, fingerprints,
and the receipt signing keys a manifest lists."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from exam_server.receipts import ReceiptKey, as_receipt_key, parse_key_list
from exam_server.results.publication.documents import MANIFEST, PublicationError, sha256_hex


def public_key_fingerprint(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return sha256_hex(raw)


def public_key_pem(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def generate_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise PublicationError(f"not a PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise PublicationError("the private key is not an Ed25519 key")
    return key


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise PublicationError(f"not a PEM public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise PublicationError("the public key is not an Ed25519 key")
    return key


def receipt_key_entry(public_key: Ed25519PublicKey | ReceiptKey) -> dict[str, str]:
    """How the manifest lists a receipt signing key: raw key (base64), its
    fingerprint, and when it was in use where known (``valid_from``,
    ``valid_until``: a retired key stays listed, so its receipts still verify)."""
    return as_receipt_key(public_key).to_dict()


def receipt_keys_of(manifest: Mapping[str, Any]) -> list[ReceiptKey]:
    """The receipt signing keys a manifest lists, current and retired (none in
    a schema-1 manifest): ``receipt_keys``, then the exam sites' keys
    (``site_receipt_keys``, schema 4), each of which must name its site."""
    try:
        keys = parse_key_list(list(manifest.get("receipt_keys") or []))
        sites = parse_key_list(list(manifest.get("site_receipt_keys") or []))
        if any(not k.site for k in sites):
            raise ValueError("a site receipt key without its site and sessions")
    except ValueError as exc:
        raise PublicationError(f"{MANIFEST}: {exc}") from None
    return keys + sites
