"""Receipt keys: a public key that signs, or signed, receipts, with the
period it was in use and, for an exam site's key, the candidates it may sign
for (:class:`ReceiptKey`); its entry in a key list or manifest.

Pure: the standard library and ``cryptography``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from exam_server.receipts.receipt import key_id


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
