"""Terminal passes: a credential staff give a terminal, so that the login
back-off of a shared address does not hold up a whole room.

The problem (docs/reliability.md, "Terminal passes"): failed logins count per
(account, source address) and per source address over every account. The
terminals of a room behind one NAT address share that second count, so one
candidate typing wrong PINs for many registration numbers made every login
of the room wait. The ``terminal_id`` a client sends cannot replace the
address (the client chooses it). A pass can: staff issue it (``POST
/api/terminal-passes``, ``seleksi terminal issue``), a technician enters it
once into each terminal, and the terminal sends it with every login. With
a valid, unexpired, unrevoked pass, the every-account count of a login is
kept under the pass at that address (:meth:`TerminalPass.source`,
``pass:<id>@<address>``) instead of under the address alone; the count per
(account, address) is unchanged, so a pass never buys a guesser more tries
at one account.

A pass is a short code a person can type::

    TP-ABCDE-FGHJK-LMNPQRS-TUVWXYZ2-3456789A

``TP``, then 33 characters of :data:`ALPHABET` (no 0/O, no 1/I): the pass's
random id (10), its expiry (7, epoch seconds), and 16 characters (80 bits) of
``HMAC-SHA256(server key, "terminal-pass|v1|<id>|<expiry>")``. Hyphens,
spaces and case do not matter. Forging one means guessing 80 bits online;
the server's key (``SELEKSI_SECRET_KEY``) signs it like the PINs, so a new key
voids every pass.

Issuing and revoking are audit events (``terminal_pass_issued`` with the ids,
never the codes; ``terminal_pass_revoked``): the audit chain, shared by
every worker and append-only, is the record of passes, so no table is
needed. :class:`PassRegistry` reads those events (only the rows appended
since its last read, at most every ``interval`` seconds, and only when a
login brings a pass), so a revocation counts on every worker within seconds.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeGuard

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from exam_server import audit
from exam_server.limits import pass_source

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
PREFIX = "TP"
ID_CHARS, EXPIRY_CHARS, MAC_CHARS = 10, 7, 16
BODY_CHARS = ID_CHARS + EXPIRY_CHARS + MAC_CHARS
# Longer input is no pass, unread (a code with generous spacing is ~45).
MAX_CODE_CHARS = 120
MAX_DAYS = 366
MAX_COUNT = 500
ISSUED = "terminal_pass_issued"
REVOKED = "terminal_pass_revoked"


def _encode(n: int, width: int) -> str:
    out = []
    for _ in range(width):
        n, r = divmod(n, 32)
        out.append(ALPHABET[r])
    if n:
        raise ValueError("number too large for its field")
    return "".join(reversed(out))


def _decode(s: str) -> int:
    n = 0
    for c in s:
        n = n * 32 + _VALUE[c]
    return n


def pass_mac(secret_key: str, pass_id: str, expires_at: int) -> str:
    """The 16 signature characters of a pass (80 bits of an HMAC-SHA256)."""
    msg = f"terminal-pass|v1|{pass_id}|{expires_at}".encode()
    digest = hmac.new(secret_key.encode(), msg, hashlib.sha256).digest()
    return _encode(int.from_bytes(digest[:10], "big"), MAC_CHARS)


def valid_id(value: object) -> TypeGuard[str]:
    """True for a pass id as written in codes, lists and limit keys."""
    return isinstance(value, str) and len(value) == ID_CHARS and all(c in _VALUE for c in value)


@dataclass(frozen=True)
class TerminalPass:
    """A verified pass: its id and its expiry (epoch seconds)."""

    id: str
    expires_at: int

    def source(self, address: str) -> str:
        """The every-account limit key of a login with this pass from ``address``."""
        return pass_source(self.id, address)


def format_code(body: str) -> str:
    """``TP-`` and the body in groups (id 5+5, expiry 7, signature 8+8)."""
    cuts = (0, 5, 10, 17, 25, 33)
    return "-".join([PREFIX, *(body[a:b] for a, b in itertools.pairwise(cuts))])


def make_code(secret_key: str, p: TerminalPass) -> str:
    """The code of pass ``p`` under ``secret_key``."""
    body = p.id + _encode(p.expires_at, EXPIRY_CHARS) + pass_mac(secret_key, p.id, p.expires_at)
    return format_code(body)


def new_pass(secret_key: str, expires_at: int) -> tuple[TerminalPass, str]:
    """A new pass with a random id, and its code."""
    p = TerminalPass("".join(secrets.choice(ALPHABET) for _ in range(ID_CHARS)), int(expires_at))
    return p, make_code(secret_key, p)


def parse(code: object) -> tuple[TerminalPass, str] | None:
    """The pass a code names and the signature it carries, not yet checked;
    None for anything that is not shaped like a code (never raises)."""
    if not isinstance(code, str) or len(code) > MAX_CODE_CHARS:
        return None
    text = "".join(code.split()).replace("-", "").upper()
    if len(text) != len(PREFIX) + BODY_CHARS or not text.startswith(PREFIX):
        return None
    body = text[len(PREFIX) :]
    if any(c not in _VALUE for c in body):
        return None
    pass_id = body[:ID_CHARS]
    expires_at = _decode(body[ID_CHARS : ID_CHARS + EXPIRY_CHARS])
    return TerminalPass(pass_id, expires_at), body[ID_CHARS + EXPIRY_CHARS :]


def verify(secret_key: str, code: object, now: float) -> TerminalPass | None:
    """The pass of ``code`` if the server's key signed it and it has not
    expired at ``now``; None otherwise (whatever ``code`` is: never raises).
    Revocation is :class:`PassRegistry`'s."""
    parsed = parse(code)
    if parsed is None:
        return None
    p, mac = parsed
    if not hmac.compare_digest(mac, pass_mac(secret_key, p.id, p.expires_at)):
        return None
    return p if now < p.expires_at else None


# --- the record: audit events ------------------------------------------------------


@dataclass(frozen=True)
class PassRecord:
    """What the audit chain says of one pass."""

    id: str
    expires_at: int | None = None
    issued_at: float | None = None
    issued_by: str | None = None
    room_id: int | None = None
    room_code: str | None = None
    site_code: str | None = None
    label: str = ""
    revoked_at: float | None = None
    revoked_by: str | None = None
    revoke_reason: str | None = None

    def status(self, now: float) -> str:
        """``revoked``, ``expired``, ``active`` (or ``unknown``: revoked by id,
        never issued in this database)."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is None:
            return "unknown"
        return "active" if now < self.expires_at else "expired"

    def as_json(self, now: float) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status(now),
            "expires_at": self.expires_at,
            "issued_at": self.issued_at,
            "issued_by": self.issued_by,
            "room_id": self.room_id,
            "room_code": self.room_code,
            "site_code": self.site_code,
            "label": self.label,
            "revoked_at": self.revoked_at,
            "revoked_by": self.revoked_by,
            "revoke_reason": self.revoke_reason,
        }


def issue(
    conn: Connection,
    secret_key: str,
    *,
    count: int,
    expires_at: int,
    actor: str,
    at: float,
    room_id: int | None = None,
    room_code: str | None = None,
    site_code: str | None = None,
    label: str = "",
    reason: str = "",
) -> list[tuple[TerminalPass, str]]:
    """Make ``count`` passes and append their ``terminal_pass_issued`` event
    (the ids, where and until when; never the codes) inside the caller's
    transaction; the passes and their codes."""
    if not 1 <= count <= MAX_COUNT:
        raise ValueError(f"count must be between 1 and {MAX_COUNT}")
    if expires_at <= at:
        raise ValueError("a pass must expire after it is issued")
    made = [new_pass(secret_key, expires_at) for _ in range(count)]
    data = {
        "pass_ids": [p.id for p, _ in made],
        "expires_at": int(expires_at),
        "room_id": room_id,
        "room_code": room_code,
        "site_code": site_code,
        "label": label,
    }
    audit.append(conn, ISSUED, actor, reason=reason, data=data, at=at)
    return made


def revoke(conn: Connection, pass_id: str, *, actor: str, reason: str, at: float) -> None:
    """Append a ``terminal_pass_revoked`` event inside the caller's transaction."""
    audit.append(conn, REVOKED, actor, reason=reason, data={"pass_id": pass_id}, at=at)


class PassRegistry:
    """The passes issued and revoked, as the audit chain says, kept up to date.

    Each read takes only the audit rows appended since the previous one (the
    chain's ids grow in commit order: appends queue on the chain head), at
    most every ``interval`` seconds of real time when a login asks
    (:meth:`usable_on`); the worker that revokes a pass notes it at once
    (:meth:`note`). Thread-safe."""

    def __init__(self, interval: float = 2.0, monotonic: Callable[[], float] = time.monotonic):
        if not 0 < interval <= 60:
            raise ValueError("PassRegistry interval must be in (0, 60] seconds")
        self.interval = interval
        self._monotonic = monotonic
        self._records: dict[str, PassRecord] = {}
        self._last_id = 0
        self._read_at = -float("inf")
        self._lock = threading.Lock()

    def refresh_on(self, conn: Connection) -> None:
        """Read the pass events appended since the last read (blocking)."""
        with self._lock:
            top = conn.execute(select(func.max(audit.AUDIT.c.id))).scalar()
            top = int(top or 0)
            if top > self._last_id:
                a = audit.AUDIT.c
                rows = conn.execute(
                    select(a.id, a.at, a.kind, a.actor, a.reason, a.data_json)
                    .where(a.id > self._last_id, a.id <= top, a.kind.in_((ISSUED, REVOKED)))
                    .order_by(a.id)
                ).all()
                for row in rows:
                    self._take(row.kind, row.actor, float(row.at), row.reason, row.data_json)
                self._last_id = top
            self._read_at = self._monotonic()

    def _take(self, kind: str, actor: str, at: float, reason: str, data_json: str) -> None:
        try:
            data = json.loads(data_json or "{}")
        except ValueError:
            return
        if not isinstance(data, dict):
            return
        if kind == ISSUED:
            ids = data.get("pass_ids")
            expires = data.get("expires_at")
            if not isinstance(ids, list) or not isinstance(expires, int):
                return
            room = data.get("room_id")
            for pass_id in ids:
                if not valid_id(pass_id):
                    continue
                old = self._records.get(pass_id, PassRecord(pass_id))
                self._records[pass_id] = replace(
                    old,
                    expires_at=expires,
                    issued_at=at,
                    issued_by=actor,
                    room_id=room if isinstance(room, int) else None,
                    room_code=_text(data.get("room_code")),
                    site_code=_text(data.get("site_code")),
                    label=_text(data.get("label")) or "",
                )
        elif kind == REVOKED:
            pass_id = data.get("pass_id")
            if not valid_id(pass_id):
                return
            old = self._records.get(pass_id, PassRecord(pass_id))
            if old.revoked_at is None:
                self._records[pass_id] = replace(
                    old, revoked_at=at, revoked_by=actor, revoke_reason=reason
                )

    def note(self, kind: str, actor: str, at: float, reason: str, data: dict[str, Any]) -> None:
        """An event this process has just committed, known before the next read."""
        with self._lock:
            self._take(kind, actor, at, reason, json.dumps(data))

    def usable_on(self, conn: Connection, p: TerminalPass | None) -> TerminalPass | None:
        """``p`` unless it is revoked (reading the chain first if the last
        read is older than ``interval``); None for None."""
        if p is None:
            return None
        if self._monotonic() - self._read_at >= self.interval:
            self.refresh_on(conn)
        with self._lock:
            record = self._records.get(p.id)
        return None if record is not None and record.revoked_at is not None else p

    def record(self, pass_id: str) -> PassRecord | None:
        with self._lock:
            return self._records.get(pass_id)

    def records(self) -> list[PassRecord]:
        """Every pass known, the most recently issued first."""
        with self._lock:
            out = list(self._records.values())
        return sorted(out, key=lambda r: (r.issued_at or 0.0, r.id), reverse=True)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
