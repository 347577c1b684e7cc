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
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal, Protocol

from cryptography.exceptions import InvalidSignature
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
KEY_LIST_KIND = "seleksi-receipt-keys"

log = logging.getLogger(__name__)


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


# -- receipt keys and the one check ------------------------------------------------


def utc_text(ts: float) -> str:
    """A POSIX time as UTC ISO 8601 to the second (``2025-01-06T09:00:00Z``)."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass(frozen=True)
class ReceiptKey:
    """A public key that signs, or signed, receipts, with when it was in use.

    valid_from / valid_until: UTC ISO 8601 to the second; ``""`` when not known
    (a key listed only by its public half) or, for valid_until, still in use.
    A receipt carries no time, so the period tells a reader which key signed
    which days' receipts; it does not limit what the key verifies.

    A **site key** (``site`` set: the code of an exam site, docs/sites.md) is
    a site's checkpoint key, which signs the receipts of the candidates who
    sit there. It verifies only receipts of its own site's candidates:
    ``sessions`` pairs each session held at the site with the registration
    numbers scheduled into it, and a receipt's (session, registration number)
    must be one of them (:func:`verify`). from_checkpoint / until_checkpoint:
    the site's checkpoint numbers the key signs (from, up to before until;
    ``None``: open). A key without ``site`` (the server's own) is not limited.
    """

    public_key: Ed25519PublicKey
    valid_from: str = ""
    valid_until: str = ""
    site: str = ""
    from_checkpoint: int | None = None
    until_checkpoint: int | None = None
    sessions: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def key_id(self) -> str:
        return key_id(self.public_key)

    @property
    def fingerprint(self) -> str:
        """SHA-256 hex of the raw 32-byte key (the fingerprint results use)."""
        return hashlib.sha256(_raw(self.public_key)).hexdigest()

    @property
    def retired(self) -> bool:
        return bool(self.valid_until)

    def period(self) -> str:
        """``2025-01-06T09:00:00Z – 2025-02-01T08:00:00Z`` (``…`` for an open end);
        a site key's also names its site and checkpoint numbers
        (``site TILOK-01, checkpoints 1–57, 2025-… – …``)."""
        times = f"{self.valid_from or '…'} – {self.valid_until or '…'}"
        if not self.site:
            return times
        last = "…" if self.until_checkpoint is None else str(self.until_checkpoint - 1)
        return f"site {self.site}, checkpoints {self.from_checkpoint or 1}–{last}, {times}"

    def admits(self, session: str, registration_number: str) -> bool:
        """Whether this key may sign the receipt of ``registration_number`` in
        ``session``: always for the server's own key; for a site key, only a
        candidate scheduled into one of the site's sessions."""
        if not self.site:
            return True
        return any(s == session and registration_number in regnos for s, regnos in self.sessions)

    def to_dict(self) -> dict[str, Any]:
        """As a manifest and the key list write it: the raw key (base64), its
        fingerprint, and the period's ends that are known; a site key also its
        site, checkpoint numbers and sessions (code → registration numbers)."""
        d: dict[str, Any] = {
            "public_key": base64.b64encode(_raw(self.public_key)).decode("ascii"),
            "sha256": self.fingerprint,
        }
        if self.valid_from:
            d["valid_from"] = self.valid_from
        if self.valid_until:
            d["valid_until"] = self.valid_until
        if self.site:
            d["site"] = self.site
            d["from_checkpoint"] = self.from_checkpoint or 1
            if self.until_checkpoint is not None:
                d["until_checkpoint"] = self.until_checkpoint
            d["sessions"] = {code: list(regnos) for code, regnos in self.sessions}
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ReceiptKey:
        """The key in a manifest's or key list's entry; ``ValueError`` saying what is wrong."""
        try:
            raw = base64.b64decode(str(d["public_key"]), validate=True)
            key = Ed25519PublicKey.from_public_bytes(raw)
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise ValueError(f"bad receipt key ({exc})") from None
        if "sha256" in d and str(d["sha256"]) != hashlib.sha256(raw).hexdigest():
            raise ValueError("bad receipt key (its sha256 is not the key's)")
        site = d.get("site") or ""
        scope: dict[str, Any] = {}
        if site:
            sessions = d.get("sessions")
            if not isinstance(site, str) or not isinstance(sessions, Mapping):
                raise ValueError("bad receipt key (a site key names its site and its sessions)")
            if not all(
                isinstance(regnos, list) and all(isinstance(r, str) for r in regnos)
                for regnos in sessions.values()
            ):
                raise ValueError("bad receipt key (a session lists registration numbers)")
            frm, until = d.get("from_checkpoint", 1), d.get("until_checkpoint")
            if not isinstance(frm, int) or not (until is None or isinstance(until, int)):
                raise ValueError("bad receipt key (checkpoint numbers are integers)")
            scope = {
                "site": site,
                "from_checkpoint": frm,
                "until_checkpoint": until,
                "sessions": tuple((str(c), tuple(r)) for c, r in sessions.items()),
            }
        out = cls(key, str(d.get("valid_from") or ""), str(d.get("valid_until") or ""), **scope)
        for end in (out.valid_from, out.valid_until):
            if end:
                try:
                    dt.datetime.strptime(end, "%Y-%m-%dT%H:%M:%SZ")
                except ValueError:
                    raise ValueError(f"bad receipt key period end {end!r}") from None
        return out


def as_receipt_key(key: ReceiptKey | Ed25519PublicKey) -> ReceiptKey:
    """A bare public key as a :class:`ReceiptKey` with no known period."""
    return key if isinstance(key, ReceiptKey) else ReceiptKey(key)


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


# -- the server's key list -------------------------------------------------------------


def key_list_path(private_key_path: Path) -> Path:
    """Where a server lists its receipt keys: beside its private key
    (``seleksi.db.checkpoint-key.pem`` → ``seleksi.db.checkpoint-key.receipt-keys.json``)."""
    return private_key_path.with_name(private_key_path.stem + ".receipt-keys.json")


def key_list_document(keys: Sequence[ReceiptKey], **extra: Any) -> dict[str, Any]:
    """The public form of a key list (what the file holds and the server serves)."""
    return {"kind": KEY_LIST_KIND, "v": 1, **extra, "keys": [k.to_dict() for k in keys]}


def parse_key_list(doc: Any) -> list[ReceiptKey]:
    """The keys of a key list document (or of a manifest's ``receipt_keys``
    list); ``ValueError`` saying what is wrong."""
    if isinstance(doc, Mapping):
        if doc.get("kind") != KEY_LIST_KIND or doc.get("v") != 1:
            raise ValueError(f"not a receipt key list ({KEY_LIST_KIND}, version 1)")
        doc = doc.get("keys")
    if not isinstance(doc, list):
        raise ValueError("a receipt key list holds a list of keys")
    return [ReceiptKey.from_dict(d) for d in doc]


def read_key_list(path: Path) -> list[ReceiptKey]:
    """The keys listed in ``path`` (``[]`` when there is no list yet)."""
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        return []
    try:
        return parse_key_list(json.loads(text))
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


@contextlib.contextmanager
def _list_lock(path: Path) -> Iterator[None]:
    """One writer of the list at a time (several workers start together)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.with_name(path.name + ".lock").open("a+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _write_list(path: Path, keys: Sequence[ReceiptKey]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(key_list_document(keys), indent=2) + "\n", "utf-8")
    os.replace(tmp, path)


def record_key(
    path: Path, public_key: Ed25519PublicKey, *, now: float, since: float | None = None
) -> list[ReceiptKey]:
    """List ``public_key`` as the key in use from now on: a key not yet listed
    is added (in use from ``since``, default ``now``) and the key in use
    before it is retired at ``now``. Idempotent for the key already in use.
    Returns the list as written."""
    kid = key_id(public_key)
    with _list_lock(path):
        keys = read_key_list(path)
        current = [k for k in keys if not k.retired]
        if [k.key_id for k in current] == [kid]:
            return keys
        out = []
        for k in keys:
            if k.key_id == kid:
                # A retired key in use again (a restored backup): listed as
                # current, the earlier end dropped; said in the log.
                log.warning("receipt key %s retired at %s is in use again", kid, k.valid_until)
                k = dataclasses.replace(k, valid_until="")
            elif not k.retired:
                k = dataclasses.replace(k, valid_until=utc_text(now))
            out.append(k)
        if all(k.key_id != kid for k in out):
            out.append(ReceiptKey(public_key, utc_text(now if since is None else min(since, now))))
        _write_list(path, out)
        log.info("receipt key %s listed in %s (%d keys)", kid, path, len(out))
        return out


def record_current_key(private_key_path: Path, public_key: Ed25519PublicKey) -> None:
    """At a server's start: list its key (in use from the key file's time when
    first listed) and retire the one before. Never raises: a list that cannot
    be written is logged, and the exam goes on."""
    try:
        since = private_key_path.stat().st_mtime if private_key_path.exists() else None
        record_key(key_list_path(private_key_path), public_key, now=time.time(), since=since)
    except (OSError, ValueError):
        log.exception("the receipt key list beside %s was not updated", private_key_path)


class KeyHolder(Protocol):
    """What :func:`server_keys` reads of a server's checkpointer
    (``exam_server.checkpoints.Checkpointer``)."""

    key_path: Path
    key: Ed25519PrivateKey | None


def server_keys(holder: KeyHolder) -> list[ReceiptKey]:
    """The receipt keys a running server has held (:func:`held_keys` of its key)."""
    current = holder.key.public_key() if holder.key is not None else None
    return held_keys(holder.key_path, current)


def held_keys(private_key_path: Path, current: Ed25519PublicKey | None = None) -> list[ReceiptKey]:
    """Every receipt key the server has held: its key list, plus ``current``
    if the list does not hold it yet (a list that cannot be read gives the
    current key alone, and a log line)."""
    try:
        keys = read_key_list(key_list_path(private_key_path))
    except (OSError, ValueError):
        log.exception("the receipt key list beside %s cannot be read", private_key_path)
        keys = []
    if current is not None and all(k.key_id != key_id(current) for k in keys):
        keys.append(ReceiptKey(current))
    return keys


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
