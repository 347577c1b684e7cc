"""The site package: what the centre sends a site before an exam day.

A package holds one site's rows (the site, its rooms, the sessions held
there, their exams' documents, the formations and the candidates scheduled
into those sessions) and, per session, a **sealed box**: the exam's item
content (stems and options) and its whole bank (the engine arrays: the
scoring keys and option points with the IRT parameters) encrypted with
AES-256-GCM under the session's own random key. Nothing in the clear tells
an item's text or its key; the box opens only with that session's key,
released at its start (``exam_server.sites.keys``). Sessions of one exam
each carry their own box of the same content under their own key.

Version 1 packages carried the bank (with the keys) in the clear and sealed
only the item texts; :func:`verify` refuses them (a new package is needed).

The file is plain text::

    SELEKSI-SITE-PACKAGE 1
    key_id <16 hex: the centre key's id, exam_server.receipts.key_id>
    sig <base64 Ed25519 signature over DOMAIN ‖ body>
    <empty line>
    <body: canonical JSON>

The centre signs with its checkpoint key (``exam_server.checkpoints``'
key handling; ``seleksi site package --key``). A site verifies the
signature with the centre's public key before reading the body, so one
changed byte anywhere — header, signature or body — refuses the package.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from exam_server.db import writer
from exam_server.models import Candidate, Exam, ExamSession, Formation, Room, Site
from exam_server.receipts import key_id
from exam_server.sites.models import SiteSessionKey
from exam_server.snapshot import SEALED_FIELD

MAGIC = b"SELEKSI-SITE-PACKAGE 1"  # the envelope (header, signature); the body has its own "v"
#: The body's format: 2 seals each exam's bank (its scoring keys) with its item
#: content; 1 (refused since) carried the bank in the clear.
VERSION = 2
#: Signed before the body: a package signature can never pass as another document's.
DOMAIN = b"seleksi/site-package/1\x00"
KEY_BYTES = 32

SITE = Site.__table__  # type: ignore[attr-defined]
ROOM = Room.__table__  # type: ignore[attr-defined]
EXAM = Exam.__table__  # type: ignore[attr-defined]
SESSION = ExamSession.__table__  # type: ignore[attr-defined]
FORMATION = Formation.__table__  # type: ignore[attr-defined]
CANDIDATE = Candidate.__table__  # type: ignore[attr-defined]
SESSION_KEY = SiteSessionKey.__table__  # type: ignore[attr-defined]

#: The columns each table contributes in the clear (the package's schema,
#: version 2): an exam's ``bank_json`` and ``items_json`` travel sealed only.
COLUMNS: dict[str, tuple[str, ...]] = {
    "rooms": ("id", "site_id", "code", "name", "capacity"),
    "exams": (
        "id",
        "code",
        "name",
        "design_json",
        "policy_json",
        "options_json",
        "n_items",
        "created_at",
    ),
    "sessions": ("id", "code", "exam_id", "room_id", "starts_at"),
    "formations": ("id", "code", "agency", "position", "location", "openings"),
    "candidates": (
        "id",
        "registration_number",
        "name",
        "category",
        "formation_id",
        "session_id",
        "birth_date",
    ),
}


class PackageError(ValueError):
    """A package that cannot be built, read or trusted; the message says why."""


def _canon(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def aad(site_code: str, session_code: str, version: int = VERSION) -> bytes:
    """What a session's sealed box is bound to besides its key: the format,
    the site and the session, so a box moved to another session (or read as
    the other format) does not open."""
    return f"seleksi/site-items/{version}|{site_code}|{session_code}".encode()


def sealed_bank_json(exam_code: str) -> str:
    """What a site stores as an exam's ``bank_json`` until one of its
    sessions' keys is released: no array, only why. Reading it as a bank
    (:func:`exam_server.snapshot.bank_from_json`) raises
    :class:`~exam_server.snapshot.SealedBankError` with this message."""
    return json.dumps(
        {
            SEALED_FIELD: f"exam {exam_code}'s scoring (its keys and option points) is sealed at"
            " this site until one of its sessions' keys is released (seleksi site key;"
            " docs/sites.md)"
        }
    )


def bank_is_sealed(bank_json: str) -> bool:
    """Whether ``bank_json`` is :func:`sealed_bank_json`'s placeholder."""
    try:
        d = json.loads(bank_json)
    except ValueError:
        return False
    return isinstance(d, dict) and SEALED_FIELD in d


@dataclass(frozen=True)
class Opened:
    """A session's box opened: the exam's ``items_json`` and ``bank_json``
    exactly as the centre holds them (``bank_json`` None for a version-1 box,
    whose bank the site got in the clear), and the box's ``exam_id``."""

    items_json: str
    bank_json: str | None
    exam_id: int | None


@dataclass(frozen=True)
class Package:
    """A verified package: its body (``content``) and its id (SHA-256 hex of the body)."""

    package_id: str
    key_id: str
    content: dict[str, Any]

    @property
    def site_code(self) -> str:
        return str(self.content["site"]["code"])

    def sealed(self, session_code: str) -> dict[str, str]:
        """``{"nonce", "ciphertext"}`` (base64) of one session's sealed box."""
        try:
            return dict(self.content["sealed"][session_code])
        except KeyError:
            raise PackageError(f"the package has no session {session_code}") from None


# -- building (centre) -------------------------------------------------------------


def session_keys(conn: Connection, site_id: int, session_ids: list[int]) -> dict[int, bytes]:
    """Each session's item key, made on first use and kept (so a package built
    again for the same sessions opens with the same sealed keys)."""
    have = {
        int(r.session_id): base64.b64decode(r.key_b64)
        for r in conn.execute(
            select(SESSION_KEY.c.session_id, SESSION_KEY.c.key_b64).where(
                SESSION_KEY.c.session_id.in_(session_ids)
            )
        )
    }
    for sid in session_ids:
        if sid not in have:
            have[sid] = AESGCM.generate_key(bit_length=8 * KEY_BYTES)
            conn.execute(
                SESSION_KEY.insert().values(
                    session_id=sid, site_id=site_id, key_b64=base64.b64encode(have[sid]).decode()
                )
            )
    return have


def _rows(conn: Connection, table: Any, name: str, where: Any) -> list[dict[str, Any]]:
    cols = [table.c[c] for c in COLUMNS[name]]
    return [
        dict(r) for r in conn.execute(select(*cols).where(where).order_by(table.c.id)).mappings()
    ]


def build(
    engine: Engine,
    site_code: str,
    key: Ed25519PrivateKey,
    session_codes: list[str] | None = None,
    *,
    now: float | None = None,
) -> tuple[bytes, dict[str, bytes]]:
    """The signed package for ``site_code`` (its sessions that are not closed,
    or those named) and each session's key (session code → 32 bytes). Raises
    :class:`PackageError` for an unknown site or session."""
    with writer(engine).begin() as conn:
        site = conn.execute(select(SITE).where(SITE.c.code == site_code)).mappings().first()
        if site is None:
            raise PackageError(f"no site {site_code} at the centre")
        site_id = int(site["id"])
        rooms = _rows(conn, ROOM, "rooms", ROOM.c.site_id == site_id)
        room_ids = [r["id"] for r in rooms]
        where = SESSION.c.room_id.in_(room_ids)
        if session_codes:
            where = where & SESSION.c.code.in_(session_codes)
        else:
            where = where & (SESSION.c.status != "closed")
        sessions = _rows(conn, SESSION, "sessions", where)
        if session_codes:
            missing = sorted(set(session_codes) - {s["code"] for s in sessions})
            if missing:
                raise PackageError(f"no session {', '.join(missing)} at site {site_code}")
        if not sessions:
            raise PackageError(f"site {site_code} has no session to package")
        exam_ids = sorted({s["exam_id"] for s in sessions})
        session_ids = [int(s["id"]) for s in sessions]
        exams = _rows(conn, EXAM, "exams", EXAM.c.id.in_(exam_ids))
        secret = {
            int(r.id): (str(r.items_json), str(r.bank_json))
            for r in conn.execute(
                select(EXAM.c.id, EXAM.c.items_json, EXAM.c.bank_json).where(
                    EXAM.c.id.in_(exam_ids)
                )
            )
        }
        candidates = _rows(conn, CANDIDATE, "candidates", CANDIDATE.c.session_id.in_(session_ids))
        formation_ids = sorted(
            {c["formation_id"] for c in candidates if c["formation_id"] is not None}
        )
        formations = _rows(conn, FORMATION, "formations", FORMATION.c.id.in_(formation_ids))
        keys = session_keys(conn, site_id, session_ids)
    sealed: dict[str, dict[str, str]] = {}
    for s in sessions:
        # One box per session, under that session's own key: the same exam's
        # content sealed again for each of its sessions (a fresh nonce each).
        items_json, bank_json = secret[int(s["exam_id"])]
        plain = _canon({"exam_id": int(s["exam_id"]), "items": items_json, "bank": bank_json})
        nonce = os.urandom(12)
        ct = AESGCM(keys[int(s["id"])]).encrypt(nonce, plain, aad(site_code, str(s["code"])))
        sealed[str(s["code"])] = {
            "nonce": base64.b64encode(nonce).decode(),
            "ciphertext": base64.b64encode(ct).decode(),
        }
    body = {
        "v": VERSION,
        "built_at": round(time.time() if now is None else now, 3),
        "site": {"id": site_id, "code": site_code, "name": site["name"]},
        "rooms": rooms,
        "exams": exams,
        "sessions": sessions,
        "formations": formations,
        "candidates": candidates,
        "sealed": sealed,
    }
    return sign(key, _canon(body)), {str(s["code"]): keys[int(s["id"])] for s in sessions}


def sign(key: Ed25519PrivateKey, body: bytes) -> bytes:
    """The package file for ``body`` signed with ``key``."""
    sig = base64.b64encode(key.sign(DOMAIN + body)).decode()
    header = b"\n".join(
        [MAGIC, f"key_id {key_id(key.public_key())}".encode(), f"sig {sig}".encode()]
    )
    return header + b"\n\n" + body


# -- reading (site) ----------------------------------------------------------------


def verify(data: bytes, public_key: Ed25519PublicKey) -> Package:
    """The package in ``data`` if the centre's ``public_key`` signed exactly
    these bytes; raises :class:`PackageError` saying what is wrong otherwise."""
    head, sep, body = data.partition(b"\n\n")
    lines = head.split(b"\n")
    if not sep or len(lines) != 3 or lines[0] != MAGIC:
        raise PackageError("not a Seleksi site package")
    if not lines[1].startswith(b"key_id ") or not lines[2].startswith(b"sig "):
        raise PackageError("the package header is damaged")
    kid = key_id(public_key)
    if lines[1][7:].decode("ascii", "replace") != kid:
        raise PackageError(
            f"the package was signed by key {lines[1][7:].decode('ascii', 'replace')},"
            f" not by the centre key {kid}"
        )
    try:
        sig = base64.b64decode(lines[2][4:], validate=True)
        # Base64 ignores the low bits of its last character: only the
        # canonical text of the signature is the signature.
        if base64.b64encode(sig) != lines[2][4:]:
            raise ValueError("not canonical base64")
        public_key.verify(sig, DOMAIN + body)
    except (InvalidSignature, ValueError):
        raise PackageError(
            "the package's signature does not match its content: it was changed after"
            " the centre signed it; do not install it, ask the centre for a new copy"
        ) from None
    try:
        content = json.loads(body)
    except ValueError:  # a signed body is the centre's JSON; only a centre bug gets here
        raise PackageError("the package body is not JSON") from None
    v = content.get("v") if isinstance(content, dict) else None
    if v == 1:
        raise PackageError(
            "this is a version 1 site package, which carries the exams' scoring keys in the"
            " clear; it is no longer installed: ask the centre for a new package (version 2,"
            " seleksi site package)"
        )
    if not isinstance(content, dict) or v != VERSION:
        raise PackageError(f"the package body is not version {VERSION} (it says {v!r})")
    return Package(hashlib.sha256(body).hexdigest(), kid, content)


def open_box(site_code: str, session_code: str, sealed: dict[str, str], key: bytes) -> Opened:
    """One session's sealed box opened with its key: the exam's item content
    and bank. A box installed from a version-1 package (before the upgrade)
    opens too, giving the item content only. Raises :class:`PackageError` if
    the key is not that session's."""
    wrong = PackageError(
        f"the key does not open session {session_code}'s items (a wrong or mistyped key)"
    )
    try:
        nonce = base64.b64decode(sealed["nonce"], validate=True)
        ct = base64.b64decode(sealed["ciphertext"], validate=True)
        aes = AESGCM(key)
    except Exception:  # damaged base64, a key of the wrong length
        raise wrong from None
    for version in (VERSION, 1):  # the format is bound in the box: one of them opens it
        try:
            plain = aes.decrypt(nonce, ct, aad(site_code, session_code, version))
        except InvalidTag:
            continue
        if version == 1:
            return Opened(plain.decode(), None, None)
        d = json.loads(plain)
        return Opened(str(d["items"]), str(d["bank"]), int(d["exam_id"]))
    raise wrong
