"""The receipt itself: its fields, signing, and its forms — the binary receipt,
the text code (:func:`encode` / :func:`decode`), the short code and the QR
code (the formats are described in :mod:`exam_server.receipts`).

Pure: the standard library, ``cryptography`` and ``segno`` (QR).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from exam_server.results.rules import fmt

PREFIX = "SELEKSI-R1:"
VERSION = 1
#: Signed before the receipt's bytes: the same key signs checkpoints, and a
#: signature over one kind of document must never verify as the other.
DOMAIN = b"seleksi/receipt/1\x00"
_MAX_SCORES = 32
_HEAD_BYTES = 32
_KEY_ID_BYTES = 8
_SIG_BYTES = 64
#: Crockford's base32: no I, L, O, U, so a handwritten code is not misread.
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
#: The kind of a receipt key list document (:func:`key_list_document`).


@dataclass(frozen=True)
class Receipt:
    """One candidate's signed result.

    scores: subtest code → points as a decimal string (``"85"``, ``"72.5"``),
    in the policy's subtest order; total: the sum, same form; chain_head: the
    attempt's answer-chain head (64 hex, ``""`` if nothing was answered);
    key_id: the first 16 hex of the signing key's SHA-256 fingerprint
    (:func:`key_id`); signature: 64 bytes of Ed25519.
    """

    registration_number: str
    exam: str
    session: str
    scores: tuple[tuple[str, str], ...]
    total: str
    chain_head: str
    key_id: str
    signature: bytes

    def points(self) -> dict[str, Decimal]:
        """Points per subtest as Decimals."""
        return {code: Decimal(p) for code, p in self.scores}

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready form (signature base64) for APIs and pages."""
        return {
            "registration_number": self.registration_number,
            "exam": self.exam,
            "session": self.session,
            "scores": dict(self.scores),
            "total": self.total,
            "chain_head": self.chain_head,
            "key_id": self.key_id,
            "signature": base64.b64encode(self.signature).decode("ascii"),
            "code": encode(self),
            "short_code": short_code(self),
        }


# -- keys ---------------------------------------------------------------------------


def key_id(public_key: Ed25519PublicKey) -> str:
    """The first 16 hex characters of the key's SHA-256 fingerprint (the same
    fingerprint as ``exam_server.results.publication.public_key_fingerprint``)."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[: 2 * _KEY_ID_BYTES]


def human_code(digest: bytes, chars: int = 12, group: int = 4) -> str:
    """The first ``chars`` Crockford base32 characters of ``digest`` in groups
    of ``group`` joined by ``-`` (12 chars = 60 bits)."""
    if chars > len(digest) * 8 // 5:
        raise ValueError(f"{chars} characters need more than {len(digest)} bytes")
    n = int.from_bytes(digest, "big")
    bits = len(digest) * 8
    out = [CROCKFORD[(n >> (bits - 5 * (i + 1))) & 31] for i in range(chars)]
    return "-".join("".join(out[i : i + group]) for i in range(0, chars, group))


# -- signing ------------------------------------------------------------------------


def _points_text(value: Decimal | str, what: str) -> str:
    if isinstance(value, str):
        try:
            d = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"{what}: {value!r} is not a number") from None
        if not d.is_finite() or fmt(d) != value:
            raise ValueError(f"{what}: {value!r} is not written as the results print it")
        return value
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValueError(f"{what}: must be a finite Decimal or its printed text")
    return fmt(value)


def sign_receipt(
    private_key: Ed25519PrivateKey,
    *,
    registration_number: str,
    exam: str,
    session: str,
    scores: Mapping[str, Decimal | str],
    total: Decimal | str,
    chain_head: str,
) -> Receipt:
    """Sign a receipt. scores/total: points as the publication rounds them
    (``RankingPolicy.points``), Decimals or their :func:`~exam_server.results.rules.fmt`
    text; chain_head: 64 hex or ``""``. Raises ``ValueError`` on a field that
    cannot be carried (too long, not a number, not hex)."""
    unsigned = Receipt(
        registration_number=registration_number,
        exam=exam,
        session=session,
        scores=tuple((code, _points_text(p, f"score {code}")) for code, p in scores.items()),
        total=_points_text(total, "total"),
        chain_head=chain_head,
        key_id=key_id(private_key.public_key()),
        signature=b"",
    )
    return dataclasses.replace(unsigned, signature=private_key.sign(DOMAIN + _body(unsigned)))


# -- the binary and text forms ------------------------------------------------------


def _check_text(value: str, what: str) -> None:
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError(f"{what}: contains control characters")


def _put_str(out: bytearray, value: str, what: str) -> None:
    if not isinstance(value, str):
        raise ValueError(f"{what}: must be text")
    _check_text(value, what)
    raw = value.encode("utf-8")
    if len(raw) > 255:
        raise ValueError(f"{what}: longer than 255 bytes")
    out.append(len(raw))
    out += raw


def _hex_bytes(value: str, n: int, what: str, *, empty_ok: bool) -> bytes:
    if value == "" and empty_ok:
        return bytes(n)
    if empty_ok and value == "0" * (2 * n):
        raise ValueError(f"{what}: all zeros stands for no answers; write it as empty")
    if len(value) != 2 * n or value != value.lower():
        raise ValueError(f"{what}: must be {2 * n} lowercase hex characters")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise ValueError(f"{what}: must be {2 * n} lowercase hex characters") from None


def _body(r: Receipt) -> bytes:
    """The signed bytes (everything but the signature)."""
    out = bytearray([VERSION])
    _put_str(out, r.registration_number, "registration_number")
    _put_str(out, r.exam, "exam")
    _put_str(out, r.session, "session")
    if len(r.scores) > _MAX_SCORES:
        raise ValueError(f"scores: more than {_MAX_SCORES} subtests")
    codes = [c for c, _ in r.scores]
    if len(set(codes)) != len(codes):
        raise ValueError("scores: a subtest appears twice")
    out.append(len(r.scores))
    for code, points in r.scores:
        if not code:
            raise ValueError("scores: empty subtest code")
        _put_str(out, code, "subtest")
        _put_str(out, _points_text(points, f"score {code}"), f"score {code}")
    _put_str(out, _points_text(r.total, "total"), "total")
    out += _hex_bytes(r.chain_head, _HEAD_BYTES, "chain_head", empty_ok=True)
    out += _hex_bytes(r.key_id, _KEY_ID_BYTES, "key_id", empty_ok=False)
    return bytes(out)


def to_bytes(receipt: Receipt) -> bytes:
    """The binary receipt (body ‖ signature)."""
    if len(receipt.signature) != _SIG_BYTES:
        raise ValueError(f"signature: must be {_SIG_BYTES} bytes")
    return _body(receipt) + receipt.signature


def encode(receipt: Receipt) -> str:
    """The text code: ``SELEKSI-R1:`` + base32 (capitals and digits, no padding)."""
    return PREFIX + base64.b32encode(to_bytes(receipt)).decode("ascii").rstrip("=")


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError(f"receipt code is cut short (in {what})")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def byte(self, what: str) -> int:
        return self.take(1, what)[0]

    def text(self, what: str) -> str:
        raw = self.take(self.byte(what), what)
        try:
            value = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"receipt code: {what} is not valid text") from None
        _check_text(value, f"receipt code: {what}")
        return value


def decode(text: str) -> Receipt:
    """The receipt in a text code (spaces, line breaks and case are forgiven).

    Raises ``ValueError`` saying what is wrong: not a receipt code, a version
    this program does not know, damaged or cut short. Decoding does not check
    the signature: call :func:`verify`."""
    if not isinstance(text, str):
        raise ValueError("a receipt code is text")
    compact = "".join(text.split()).upper()
    if not compact.startswith(PREFIX):
        if compact.startswith("SELEKSI-R"):
            raise ValueError("receipt code of a version this program does not know")
        raise ValueError(f"not a receipt code (it must start with {PREFIX})")
    payload = compact[len(PREFIX) :]
    if not payload:
        raise ValueError("receipt code is empty after its prefix")
    try:
        data = base64.b32decode(payload + "=" * (-len(payload) % 8))
    except (binascii.Error, ValueError):
        raise ValueError(
            "receipt code is damaged (only the letters A–Z and digits 2–7 may follow the prefix)"
        ) from None
    rd = _Reader(data)
    version = rd.byte("version")
    if version != VERSION:
        raise ValueError(f"receipt of version {version}; this program reads version {VERSION}")
    registration_number = rd.text("registration number")
    exam = rd.text("exam")
    session = rd.text("session")
    count = rd.byte("number of subtests")
    scores = tuple((rd.text("subtest"), rd.text("points")) for _ in range(count))
    total = rd.text("total")
    head = rd.take(_HEAD_BYTES, "chain head")
    kid = rd.take(_KEY_ID_BYTES, "key id").hex()
    signature = rd.take(_SIG_BYTES, "signature")
    if rd.pos != len(data):
        raise ValueError("receipt code has extra characters at its end")
    receipt = Receipt(
        registration_number=registration_number,
        exam=exam,
        session=session,
        scores=scores,
        total=total,
        chain_head="" if head == bytes(_HEAD_BYTES) else head.hex(),
        key_id=kid,
        signature=signature,
    )
    # The same checks as signing (points written as printed, subtests once):
    # a code that decodes is one that could have been signed.
    try:
        canonical = to_bytes(receipt)
    except ValueError as exc:
        raise ValueError(f"receipt code is damaged: {exc}") from None
    if canonical != data:
        raise ValueError("receipt code is damaged (not in its canonical form)")
    return receipt


def receipt_hash(receipt: Receipt) -> str:
    """SHA-256 hex of the binary receipt: what a publication lists."""
    return hashlib.sha256(to_bytes(receipt)).hexdigest()


def short_code(receipt: Receipt) -> str:
    """12 characters in three groups, from :func:`receipt_hash` (for writing down)."""
    return human_code(hashlib.sha256(to_bytes(receipt)).digest())


def qr_svg(receipt: Receipt, scale: int = 4) -> str:
    """The text code as a QR code: a standalone SVG document (with its
    namespace, no XML declaration; ``scale`` px per module), usable inline or
    as an image."""
    import io

    import segno

    qr = segno.make_qr(encode(receipt), error="m")
    out = io.BytesIO()
    qr.save(out, kind="svg", scale=scale, xmldecl=False, title="Tanda terima / Receipt")
    return out.getvalue().decode("utf-8")
