"""What a candidate holds, and how anyone checks it: the registration receipt
and the exam card's QR code, both Ed25519-signed with the agency's key (the
key of the announcements, ``recruitment.announcement``).

* A receipt is JSON ``{"receipt": {...}, "signature", "key_fingerprint"}``;
  the signature covers the canonical JSON of ``receipt`` (the frozen
  registration: number, name, formation, document hashes, time).
* A card code is ``SELEKSI-K1:<number>:<session>:<signature>``, the signature
  over the canonical JSON of ``{"number", "session"}``.

:func:`check_text` takes either, as pasted or scanned, and says whether the
signature holds; a malformed text is an answer (``kind`` "unknown"), never
an exception.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from exam_server.results.publication import canonical_json
from recruitment.announcement import sign, verify

CARD_PREFIX = "SELEKSI-K1:"


def make_receipt(frozen: dict[str, Any], key: Ed25519PrivateKey) -> tuple[bytes, dict[str, Any]]:
    """(the signed bytes, the receipt document)."""
    data, signature, fp = sign(frozen, key)
    return data, {"receipt": frozen, "signature": signature, "key_fingerprint": fp}


def card_code(number: str, session: str, key: Ed25519PrivateKey) -> str:
    _, signature, _ = sign({"number": number, "session": session}, key)
    return f"{CARD_PREFIX}{number}:{session}:{signature}"


@dataclass(frozen=True)
class Finding:
    """kind: receipt | card | unknown; valid: the signature holds under the key;
    number / session: what the document names (empty when unreadable);
    signed: the canonical bytes of a receipt (to compare with what is stored)."""

    kind: str
    valid: bool
    number: str = ""
    session: str = ""
    signed: bytes = b""


def check_text(text: str, public_key: Ed25519PublicKey) -> Finding:
    text = text.strip()
    if text.startswith(CARD_PREFIX):
        parts = text[len(CARD_PREFIX) :].split(":")
        if len(parts) != 3:
            return Finding("unknown", False)
        number, session, signature = parts
        data = canonical_json({"number": number, "session": session})
        return Finding("card", verify(data, signature, public_key), number, session)
    try:
        doc = json.loads(text)
        frozen, signature = doc["receipt"], doc["signature"]
        number = str(frozen["registration_number"])
        if not isinstance(frozen, dict) or not isinstance(signature, str):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        return Finding("unknown", False)
    data = canonical_json(frozen)
    return Finding("receipt", verify(data, signature, public_key), number, signed=data)
