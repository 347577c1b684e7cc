"""Signed receipts: what a candidate takes home to prove their score later.

At finish the server signs, with its checkpoint key (``exam_server.checkpoints``),
the candidate's registration number, the exam and session codes, the points
per subtest and the total exactly as the results publication prints them
(:func:`exam_server.results.rules.fmt`), and the head of the attempt's answer
chain. A candidate whose line was later deleted from, or changed in, the
published results shows the receipt; anyone holding the server's public key
checks it without trusting the server (:func:`verify`).

Forms of one receipt:

* :func:`encode` — the text code, ``SELEKSI-R1:`` followed by RFC 4648
  base32 (no padding) of the binary receipt below. Base32 capitals and
  digits are QR "alphanumeric" characters, so the QR code stays small
  (about 280 characters for an SKD receipt: QR version 10–11).
* :func:`qr_svg` — that text as a QR code (SVG), for the terminal's screen.
* :func:`short_code` — 12 characters in three groups (``K7QF-2M9X-PA3D``),
  Crockford base32 of the receipt's hash: easy to write down and to find in
  the receipt hashes a publication lists; it proves nothing alone.

The binary receipt (all lengths one byte, strings UTF-8)::

    0x01 (version) ‖ str registration_number ‖ str exam ‖ str session
    ‖ count ‖ (str subtest ‖ str points) × count ‖ str total
    ‖ chain_head (32 bytes; all zero = no answers) ‖ key_id (8 bytes)
    ‖ signature (64 bytes, Ed25519 over DOMAIN ‖ everything before it)

**Keys across rotation.** A server keeps the public half of every key that
has signed its receipts in a key list beside its private key
(:func:`key_list_path`: ``….receipt-keys.json``), each with the time it came
into use and the time it was retired (:class:`ReceiptKey`); the server adds
its key at every start (:func:`record_current_key`), so a replaced key stays
listed as retired. The list is public: the server serves it at
``/results/receipt-keys.json`` and a results publication lists it in its signed
manifest (``receipt_keys``). :func:`verify` is the one check of a receipt
against such a list: every path (appeals, diagnostic report, the results
pages and command line) calls it.

**Sites' keys.** At an exam site (docs/sites.md) the site's server signs its
candidates' receipts with the site's checkpoint key, which the centre's key
list does not hold. The centre adds the keys it has registered for each site
(``exam_server.sites.receipt_keys.receipt_keys_for``, the one place that
decides which keys a receipt is checked against), each a site key
(:attr:`ReceiptKey.site`) that verifies only the receipts of that site's
candidates.

Pure: the standard library, ``cryptography`` and ``segno`` (QR); no web, no
database (the key list is a small JSON file).

The code lives in four modules, whose public names this package gives:
:mod:`.receipt` (the receipt, signing, its binary/text/short/QR forms, key
ids), :mod:`.keys` (:class:`ReceiptKey`), :mod:`.verification`
(:func:`verify`) and :mod:`.key_list` (the server's key list file).
"""

from exam_server.receipts.key_list import (
    KEY_LIST_KIND,
    KeyHolder,
    held_keys,
    key_list_document,
    key_list_path,
    parse_key_list,
    read_key_list,
    record_current_key,
    record_key,
    server_keys,
)
from exam_server.receipts.keys import ReceiptKey, as_receipt_key, utc_text
from exam_server.receipts.receipt import (
    CROCKFORD,
    DOMAIN,
    PREFIX,
    VERSION,
    Receipt,
    decode,
    encode,
    human_code,
    key_id,
    qr_svg,
    receipt_hash,
    short_code,
    sign_receipt,
    to_bytes,
)
from exam_server.receipts.verification import (
    ReceiptRefused,
    Refusal,
    Verified,
    verify,
    verify_receipt,
)

__all__ = [
    "CROCKFORD",
    "DOMAIN",
    "KEY_LIST_KIND",
    "PREFIX",
    "VERSION",
    "KeyHolder",
    "Receipt",
    "ReceiptKey",
    "ReceiptRefused",
    "Refusal",
    "Verified",
    "as_receipt_key",
    "decode",
    "encode",
    "held_keys",
    "human_code",
    "key_id",
    "key_list_document",
    "key_list_path",
    "parse_key_list",
    "qr_svg",
    "read_key_list",
    "receipt_hash",
    "record_current_key",
    "record_key",
    "server_keys",
    "short_code",
    "sign_receipt",
    "to_bytes",
    "utc_text",
    "verify",
    "verify_receipt",
]
