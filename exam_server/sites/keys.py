"""Session keys: the sealed offline form an operator types in, and releasing
a key at the site (its session's sealed box opened: the exam's item content
and its bank, with the scoring keys, written into the exam).

A sealed key is printed by ``seleksi site package`` on a sheet that goes to
the site in a sealed envelope, opened only when the centre cannot be
reached at session start. It is the 32-byte key and a 2-byte check in
Crockford base32 (55 characters in groups of five): a mistyped character is
caught by the check before any decryption is tried, and the letters O, I
and L read as 0, 1 and 1 as on the checkpoint fingerprints.
"""

from __future__ import annotations

import hashlib
import time

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from exam_server import audit
from exam_server.db import writer
from exam_server.models import Exam, ExamSession
from exam_server.receipts import CROCKFORD
from exam_server.sites.models import InstalledPackage, SealedItems
from exam_server.sites.package import KEY_BYTES, PackageError, bank_is_sealed, open_box
from exam_server.snapshot import bank_from_json, items_from_json

_CHECK_BYTES = 2
_CHARS = -(-(KEY_BYTES + _CHECK_BYTES) * 8 // 5)  # 55
_GROUP = 5

SEALED = SealedItems.__table__  # type: ignore[attr-defined]
SESSION = ExamSession.__table__  # type: ignore[attr-defined]
EXAM = Exam.__table__  # type: ignore[attr-defined]
PACKAGE = InstalledPackage.__table__  # type: ignore[attr-defined]


class SealedKeyError(ValueError):
    """A sealed key typed wrong. ``code`` names the mistake for a page to
    say in its language (``sealed_chars``: characters not in the alphabet,
    ``chars``; ``sealed_length``: ``typed`` of ``need`` characters;
    ``sealed_last``: the last character, ``char``; ``sealed_check``: the
    check failed, a typo or another session's sheet); the message says it
    in English."""

    def __init__(self, code: str, message: str, **params: object) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


def _check(session_code: str, key: bytes) -> bytes:
    return hashlib.sha256(b"seleksi/sealed-key/1|" + session_code.encode() + b"|" + key).digest()[
        :_CHECK_BYTES
    ]


def seal(session_code: str, key: bytes) -> str:
    """The typed form of ``key`` for ``session_code``: ``XXXXX-XXXXX-…`` (55 characters)."""
    if len(key) != KEY_BYTES:
        raise ValueError(f"a session key has {KEY_BYTES} bytes, not {len(key)}")
    raw = key + _check(session_code, key)
    n = int.from_bytes(raw, "big") << (5 * _CHARS - 8 * len(raw))
    chars = [CROCKFORD[(n >> (5 * (_CHARS - 1 - i))) & 31] for i in range(_CHARS)]
    return "-".join("".join(chars[i : i + _GROUP]) for i in range(0, _CHARS, _GROUP))


def unseal(session_code: str, text: str) -> bytes:
    """The key a person typed from the sheet; raises :class:`SealedKeyError`
    naming the mistake (a character not in the alphabet, too few or many, or
    a typo the check caught)."""
    s = "".join(text.split()).replace("-", "").upper().translate(str.maketrans("OIL", "011"))
    bad = sorted({c for c in s if c not in CROCKFORD})
    if bad:
        raise SealedKeyError(
            "sealed_chars",
            f"the sealed key has characters that are not in it: {''.join(bad)}",
            chars="".join(bad),
        )
    if len(s) != _CHARS:
        raise SealedKeyError(
            "sealed_length",
            f"the sealed key has {_CHARS} characters, {len(s)} were typed",
            need=_CHARS,
            typed=len(s),
        )
    n = 0
    for c in s:
        n = (n << 5) | CROCKFORD.index(c)
    pad = 5 * _CHARS - 8 * (KEY_BYTES + _CHECK_BYTES)
    if n & ((1 << pad) - 1):
        # The last character's spare bits are always zero on the sheet.
        raise SealedKeyError(
            "sealed_last", f"the sealed key's last character is mistyped ({s[-1]})", char=s[-1]
        )
    raw = (n >> pad).to_bytes(KEY_BYTES + _CHECK_BYTES, "big")
    key, check = raw[:KEY_BYTES], raw[KEY_BYTES:]
    if _check(session_code, key) != check:
        raise SealedKeyError(
            "sealed_check",
            f"the sealed key does not check out for session {session_code}: a character was"
            " mistyped, or it is another session's sheet",
            session=session_code,
        )
    return key


def release(engine: Engine, session_code: str, key: bytes, how: str) -> int:
    """Open ``session_code``'s sealed box with ``key`` and write its exam's
    item content and bank (the scoring keys) into the exam, so the session
    can be opened for logins; ``how``: ``centre`` or ``sealed``. Only this
    session is marked released: another session, even of the same exam,
    opens for logins only with its own key. Idempotent: releasing again
    changes nothing. Returns the number of items. Raises
    :class:`PackageError` for a session the package did not bring or a key
    that does not open it."""
    with writer(engine).begin() as conn:
        row = (
            conn.execute(
                select(
                    SEALED,
                    SESSION.c.code,
                    PACKAGE.c.site_code,
                    EXAM.c.code.label("exam_code"),
                    EXAM.c.bank_json,
                )
                .join(SESSION, SESSION.c.id == SEALED.c.session_id)
                .join(PACKAGE, PACKAGE.c.package_id == SEALED.c.package_id)
                .join(EXAM, EXAM.c.id == SEALED.c.exam_id)
                .where(SESSION.c.code == session_code)
            )
            .mappings()
            .first()
        )
        if row is None:
            raise PackageError(f"no session {session_code} in an installed site package")
        box = open_box(
            str(row["site_code"]),
            session_code,
            {"nonce": row["nonce"], "ciphertext": row["ciphertext"]},
            key,
        )
        held = str(row["bank_json"])
        if box.bank_json is None:  # a version-1 box: its bank came in the clear
            if bank_is_sealed(held):
                raise PackageError(
                    f"session {session_code}'s box holds no scoring and its exam's is sealed"
                )
            bank_json = held
        else:
            if box.exam_id != int(row["exam_id"]):
                raise PackageError(f"session {session_code}'s box is not its exam's")
            if not bank_is_sealed(held) and held != box.bank_json:
                raise PackageError(
                    f"session {session_code}'s scoring does not match its exam"
                    f" {row['exam_code']}'s, opened before"
                )
            bank_json = box.bank_json
        items = items_from_json(box.items_json)
        ids = [it.item_id for it in items]
        if ids != list(bank_from_json(bank_json).item_ids):
            raise PackageError(f"session {session_code}'s items do not match its exam's bank")
        if row["released_at"] is not None:
            return len(items)
        conn.execute(
            SEALED.update()
            .where(SEALED.c.session_id == row["session_id"])
            .values(released_at=time.time(), released_how=how)
        )
        conn.execute(
            EXAM.update()
            .where(EXAM.c.id == row["exam_id"])
            .values(items_json=box.items_json, bank_json=bank_json)
        )
        audit.append(
            conn,
            "site_key_release",
            f"site:{how}",
            session_id=int(row["session_id"]),
            data={"session": session_code, "how": how, "items": len(items)},
        )
        return len(items)


def items_sealed(conn: Connection, session_id: int) -> bool:
    """Whether ``session_id`` came in a site package whose key has not been
    released here yet: such a session cannot be opened (no test can start
    without its items)."""
    row = conn.execute(
        select(SEALED.c.released_at).where(SEALED.c.session_id == session_id)
    ).first()
    return row is not None and row.released_at is None
