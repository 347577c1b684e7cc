"""One checkpoint line: its canonical JSON, signature, hash and the short
fingerprint a proctor copies into the session report."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import time
from dataclasses import dataclass
from typing import IO, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from exam_server.receipts import human_code, key_id

VERSION = 1


#: Signed before each line's content: the same key signs receipts.
DOMAIN = b"seleksi/checkpoint/1\x00"


def _canon(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def line_hash(line: bytes) -> str:
    """SHA-256 hex of one line's bytes (without its newline)."""
    return hashlib.sha256(line.rstrip(b"\n")).hexdigest()


def fingerprint(line: bytes) -> str:
    """The short, hand-copyable form of a line's hash: ten Crockford base32
    characters in two groups of five (50 bits), such as ``5FYH9-X1X2Z``."""
    return human_code(hashlib.sha256(line.rstrip(b"\n")).digest(), chars=10, group=5)


def last_line(f: IO[bytes]) -> bytes | None:
    """The file's last complete line (without newline), reading backwards from its end."""
    f.seek(0, os.SEEK_END)
    end = f.tell()
    if end == 0:
        return None
    pos, block, tail = end, 65536, b""
    while pos > 0:
        step = min(block, pos)
        pos -= step
        f.seek(pos)
        tail = f.read(step) + tail
        body = tail.rstrip(b"\n")
        nl = body.rfind(b"\n")
        if nl >= 0:
            return body[nl + 1 :] or None
    return tail.rstrip(b"\n") or None


def sign_line(key: Ed25519PrivateKey, content: dict[str, Any]) -> bytes:
    """One signed line (no newline): ``content`` plus ``key_id`` and ``sig``."""
    body = {**content, "key_id": key_id(key.public_key())}
    sig = key.sign(DOMAIN + _canon(body))
    return _canon({**body, "sig": base64.b64encode(sig).decode("ascii")})


@dataclass(frozen=True)
class Checkpoint:
    """One line of the file, parsed. attempts: ``(attempt_id, last_seq, head)``."""

    n: int
    at: float
    reason: str
    session_id: int | None
    audit_id: int
    audit_hash: str
    responses_upto: int
    attempts: tuple[tuple[int, int, str], ...]
    prev: str
    key_id: str
    line: bytes

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.line)

    @property
    def hash(self) -> str:
        return line_hash(self.line)

    def where(self) -> str:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.at))
        return f"checkpoint {self.n} ({stamp}, {self.fingerprint})"


def parse_line(line: bytes) -> Checkpoint:
    """A line's content (no signature check). Raises ``ValueError``."""
    try:
        d = json.loads(line)
        if not isinstance(d, dict) or d.get("v") != VERSION:
            raise ValueError("not a version-1 checkpoint")
        attempts = tuple((int(a), int(s), str(h)) for a, s, h in d["attempts"])
        sid = d.get("session_id")
        at = float(d["at"])
        if not math.isfinite(at):
            raise ValueError(f"at is {at}")
        return Checkpoint(
            n=int(d["n"]),
            at=at,
            reason=str(d["reason"]),
            session_id=None if sid is None else int(sid),
            audit_id=int(d["audit"]["id"]),
            audit_hash=str(d["audit"]["hash"]),
            responses_upto=int(d["responses_upto"]),
            attempts=attempts,
            prev=str(d["prev"]),
            key_id=str(d["key_id"]),
            line=line,
        )
    except (KeyError, TypeError, ValueError, OverflowError, RecursionError) as exc:
        # OverflowError: "n": 1e400; RecursionError: JSON nested too deep.
        # Whoever can write the file must not be able to crash its readers
        # (the board, a centre parsing a site's line before its signature).
        raise ValueError(f"not a checkpoint line ({exc.__class__.__name__}: {exc})") from None


def signature_ok(line: bytes, public_key: Ed25519PublicKey) -> bool:
    try:
        d = json.loads(line)
        sig = base64.b64decode(d.pop("sig"), validate=True)
        public_key.verify(sig, DOMAIN + _canon(d))
    except (InvalidSignature, ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return False
    return True
