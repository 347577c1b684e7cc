"""The one check of a receipt against a list of receipt keys (:func:`verify`),
and why a receipt is refused (:class:`ReceiptRefused`).

Pure: the standard library and ``cryptography``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from exam_server.receipts.keys import ReceiptKey, as_receipt_key
from exam_server.receipts.receipt import DOMAIN, Receipt, _body, decode

Refusal = Literal["unreadable", "unknown_key", "bad_signature", "no_keys", "other_site"]


class ReceiptRefused(ValueError):
    """A receipt that does not verify. ``code``: ``unreadable`` (not a receipt
    code, damaged), ``no_keys`` (nothing to check against), ``unknown_key``
    (signed by a key not in the list: ``key_id`` says which), ``bad_signature``
    (a listed key, but the receipt was changed), ``other_site`` (a site's key,
    but the receipt is of a candidate it does not sign for: ``site`` names the
    key's site); the message says it in English."""

    def __init__(self, code: Refusal, message: str, key_id: str = "", site: str = "") -> None:
        super().__init__(message)
        self.code: Refusal = code
        self.key_id = key_id
        self.site = site


@dataclass(frozen=True)
class Verified:
    """A receipt whose signature verified, and the listed key that signed it."""

    receipt: Receipt
    key: ReceiptKey


def verify(receipt: Receipt | str, keys: Iterable[ReceiptKey | Ed25519PublicKey]) -> Verified:
    """Check a receipt (or its text code) against a list of receipt keys: the
    current and retired keys a server has held (:func:`held_keys`) or the keys
    a publication's signed manifest lists, with the sites' keys
    (``exam_server.sites.receipt_keys.receipt_keys_for``). The one receipt
    check; raises :class:`ReceiptRefused` with the reason. A site's key
    verifies only its own candidates' receipts (:meth:`ReceiptKey.admits`)."""
    if isinstance(receipt, str):
        try:
            receipt = decode(receipt.strip())
        except ValueError as exc:
            raise ReceiptRefused("unreadable", f"cannot read the receipt ({exc})") from None
    listed = [as_receipt_key(k) for k in keys]
    if not listed:
        raise ReceiptRefused("no_keys", "no receipt key to check the receipt against")
    key = next((k for k in listed if k.key_id == receipt.key_id), None)
    if key is None:
        raise ReceiptRefused(
            "unknown_key",
            f"the receipt was signed by key {receipt.key_id}, which is not one of the"
            f" {len(listed)} receipt keys listed ({', '.join(k.key_id for k in listed)})",
            receipt.key_id,
        )
    try:
        key.public_key.verify(receipt.signature, DOMAIN + _body(receipt))
    except (InvalidSignature, ValueError):
        raise ReceiptRefused(
            "bad_signature",
            f"the signature does not match key {receipt.key_id}: the receipt was changed",
            receipt.key_id,
        ) from None
    if not key.admits(receipt.session, receipt.registration_number):
        raise ReceiptRefused("other_site", _other_site(key, receipt, listed), key.key_id, key.site)
    return Verified(receipt, key)


def _other_site(key: ReceiptKey, receipt: Receipt, listed: Sequence[ReceiptKey]) -> str:
    """Why a site key may not sign this receipt, naming the site that holds its
    session (or that schedules its candidate) when the list says so."""
    regno, session = receipt.registration_number, receipt.session
    held_by = next(
        (k.site for k in listed if k.site and any(s == session for s, _ in k.sessions)), ""
    )
    sat_at = next((k.site for k in listed if k.site and any(regno in r for _, r in k.sessions)), "")
    if any(s == session for s, _ in key.sessions):
        why = f"candidate {regno} is not scheduled into session {session} there"
    else:
        why = f"session {session} is not held at site {key.site}"
        if held_by:
            why += f" (it is held at site {held_by})"
    if sat_at and sat_at != key.site:
        why += f"; candidate {regno} sits at site {sat_at}"
    return (
        f"the receipt was signed by key {key.key_id} of site {key.site}, which signs the"
        f" receipts of its own candidates only: {why}"
    )


def verify_receipt(receipt: Receipt, public_key: Ed25519PublicKey) -> bool:
    """True if ``receipt`` was signed by ``public_key`` and is unchanged
    (:func:`verify` with a list of one key)."""
    try:
        verify(receipt, [public_key])
    except ReceiptRefused:
        return False
    return True
