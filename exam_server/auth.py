"""Tokens, PINs, passwords and the per-connection message rate.

* Tokens are signed with itsdangerous, one salt per purpose (a candidate
  token can never pass as a staff token), with a maximum age. A candidate
  token binds candidate, attempt and terminal id.
* Check-in PINs are short-lived and single-session: the server keeps only
  ``HMAC-SHA256(secret, session|candidate|pin)`` and checks it in
  microseconds, so the login rush at the start of a session costs almost no
  CPU.
* Staff passwords (long-lived) are hashed with scrypt (n=2**14 by default,
  ~25 ms of CPU); callers run :func:`verify_password` off the event loop.
* Failed logins back off in :mod:`exam_server.limits`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Container
from dataclasses import dataclass, replace
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from itsdangerous.timed import TimestampSigner

from exam_server.clock import Clock, SystemClock

CANDIDATE_SALT = "seleksi.candidate.v1"
STAFF_SALT = "seleksi.staff.v1"
# assessor: scores SKB candidates on their panels (issue 19, exam_server/assessment).
ROLES = ("admin", "proctor", "assessor")


class TokenError(Exception):
    """A refused token; ``code`` is ``expired_token`` or ``bad_token``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class CandidateClaims:
    candidate_id: int
    attempt_id: int
    session_id: int
    terminal_id: str
    registration_number: str


@dataclass(frozen=True)
class StaffClaims:
    """A signed staff identity. ``rooms``: ids of the rooms a proctor supervises
    (read from ``exam_staff_room`` at login, and replaced by the current ones
    when the token is read: ``TokenSigner.rooms_now``); ignored for admins."""

    staff_id: int
    username: str
    role: str
    rooms: tuple[int, ...] = ()

    def may_supervise(self, room_id: int) -> bool:
        """True if this staff member may act on a session held in ``room_id``."""
        return self.role == "admin" or room_id in self.rooms


def _clock_signer(clock: Clock) -> type[TimestampSigner]:
    """itsdangerous' timestamp signer dated by the server's clock (it reads
    the wall clock of its own otherwise): tokens age with the same time the
    exam runs on, and tests move it like the rest."""

    class ClockTimestampSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(clock.now())

    return ClockTimestampSigner


class TokenSigner:
    """Issues and checks the signed tokens of one server key; ``clock``: the
    server's time (default the system clock)."""

    def __init__(
        self,
        secret_key: str,
        candidate_max_age: float,
        staff_max_age: float,
        clock: Clock | None = None,
    ) -> None:
        signer = _clock_signer(clock or SystemClock())
        self._candidate = URLSafeTimedSerializer(secret_key, salt=CANDIDATE_SALT, signer=signer)
        self._staff = URLSafeTimedSerializer(secret_key, salt=STAFF_SALT, signer=signer)
        self.candidate_max_age = candidate_max_age
        self.staff_max_age = staff_max_age
        # Staff ids whose tokens are refused although validly signed: the
        # disabled accounts (exam_server.revocation.DisabledStaff, set by the app).
        self.disabled: Container[int] = frozenset()
        # The rooms a staff account supervises now (None: as the token says):
        # DisabledStaff.rooms_of, set by the app.
        self.rooms_now: Callable[[int], tuple[int, ...] | None] | None = None

    def candidate_token(self, claims: CandidateClaims) -> str:
        return str(
            self._candidate.dumps(
                {
                    "c": claims.candidate_id,
                    "a": claims.attempt_id,
                    "s": claims.session_id,
                    "t": claims.terminal_id,
                    "r": claims.registration_number,
                }
            )
        )

    def read_candidate(self, token: str) -> CandidateClaims:
        d = self._load(self._candidate, token, self.candidate_max_age)
        try:
            return CandidateClaims(int(d["c"]), int(d["a"]), int(d["s"]), str(d["t"]), str(d["r"]))
        except (KeyError, TypeError, ValueError):
            raise TokenError("bad_token", "token payload is malformed") from None

    def staff_token(self, claims: StaffClaims) -> str:
        return str(
            self._staff.dumps(
                {
                    "i": claims.staff_id,
                    "u": claims.username,
                    "r": claims.role,
                    "rm": list(claims.rooms),
                }
            )
        )

    def read_staff(self, token: str) -> StaffClaims:
        d = self._load(self._staff, token, self.staff_max_age)
        try:
            rooms = d.get("rm", [])  # tokens signed before room scopes: no rooms
            if not isinstance(rooms, list):
                raise TypeError("rooms")
            claims = StaffClaims(
                int(d["i"]), str(d["u"]), str(d["r"]), tuple(int(r) for r in rooms)
            )
        except (KeyError, TypeError, ValueError):
            raise TokenError("bad_token", "token payload is malformed") from None
        if claims.role not in ROLES:
            raise TokenError("bad_token", "unknown role")
        if claims.staff_id in self.disabled:
            raise TokenError("account_disabled", "this account is disabled")
        now = None if self.rooms_now is None else self.rooms_now(claims.staff_id)
        if now is not None and now != claims.rooms:
            # A room given or taken since the login counts now, not at expiry.
            claims = replace(claims, rooms=now)
        return claims

    @staticmethod
    def _load(ser: URLSafeTimedSerializer, token: str, max_age: float) -> dict[str, Any]:
        if not isinstance(token, str) or not token or len(token) > 2000:
            raise TokenError("bad_token", "no token")
        try:
            data = ser.loads(token, max_age=int(max_age))
        except SignatureExpired:
            raise TokenError("expired_token", "token expired") from None
        except BadSignature:
            raise TokenError("bad_token", "token signature is invalid") from None
        if not isinstance(data, dict):
            raise TokenError("bad_token", "token payload is malformed")
        return data


# --- check-in PINs -----------------------------------------------------------


def new_pin(digits: int = 6) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(digits))


def pin_mac(secret_key: str, session_id: int, candidate_id: int, pin: str) -> str:
    msg = f"pin|{session_id}|{candidate_id}|{pin}".encode()
    return hmac.new(secret_key.encode(), msg, hashlib.sha256).hexdigest()


def check_pin(secret_key: str, session_id: int, candidate_id: int, pin: str, stored: str) -> bool:
    return hmac.compare_digest(pin_mac(secret_key, session_id, candidate_id, pin), stored)


def new_session_token() -> str:
    """The token a proctor shows in the room: 6 characters without look-alikes."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(6))


# --- staff passwords ---------------------------------------------------------


def hash_password(password: str, n: int = 2**14, r: int = 8, p: int = 1) -> str:
    """``scrypt$n$r$p$salt$hash`` (base64). Slow on purpose: run off the loop."""
    salt = secrets.token_bytes(16)
    dk = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=2**26, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${n}${r}${p}${b64(salt).decode()}${b64(dk).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        algo, n, r, p, salt, digest = stored.split("$")
        if algo != "scrypt":
            return False
        dk = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=2**26,
            dklen=32,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(dk, base64.b64decode(digest))


# --- message rate --------------------------------------------------------------


class TokenBucket:
    """A per-connection message rate limit: ``rate`` per second, ``burst`` at once."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False
