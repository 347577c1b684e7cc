"""The candidate WebSocket protocol, version 1: every message, field and error code.

This module is the wire contract (``docs/protocol.md`` documents it). Frames
are JSON text objects with ``"type"``; client frames may carry ``"v"`` (the
protocol version, default 1) and the server tags every frame with ``"v"``.
:func:`parse_client` turns any text into a :class:`ClientMessage` or raises
:class:`ProtocolError` with a code; it never raises anything else.

Client → server:

==========  ==========================================================
hello       ``token`` (from ``POST /api/candidate/login``), ``terminal_id``
answer      ``seq`` (int ≥ 1), ``number`` (item position, 1-based),
            ``option`` (0-based, −1 clears), ``flagged`` (bool, optional),
            ``elapsed`` (seconds on the item, optional)
flag        ``seq``, ``number``, ``flagged`` (linear mode: "ragu-ragu")
navigate    ``number`` (linear mode); the server replies with ``item``
state       (no fields) ask for the full state again
finish      ``confirm`` must be ``true``
ping        optional ``id``; the server answers ``pong``
==========  ==========================================================

``seq`` numbers the candidate's durable actions (answer, flag), starting at
1 and increasing by one. A ``seq`` already acknowledged is acknowledged
again (``duplicate: true``) and changes nothing; a ``seq`` that skips ahead
is refused with ``out_of_order`` (the ``state`` frame tells the last
acknowledged ``seq`` after a reconnect).

Server → client: ``state``, ``item``, ``ack``, ``time``, ``final``,
``error``, ``pong``, ``notice`` (see the builders below).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import orjson

VERSION = 1
SUPPORTED_VERSIONS = frozenset({1})

#: Every error code the server sends, with its meaning (English; the terminal
#: shows its own translated text keyed by code).
ERROR_CODES: dict[str, str] = {
    "bad_json": "the frame is not valid JSON",
    "bad_frame": "the frame is not a JSON object with a string 'type' (or is binary)",
    "too_large": "the frame is larger than the server accepts",
    "unsupported_version": "the protocol version 'v' is not supported",
    "unknown_type": "no such message type",
    "missing_field": "a required field is missing",
    "bad_field": "a field has the wrong type or an out-of-range value",
    "rate_limited": "too many messages; this one was not processed",
    "not_authenticated": "send 'hello' with a token first",
    "already_authenticated": "'hello' was already accepted on this connection",
    "bad_token": "the token is invalid or was tampered with",
    "expired_token": "the token has expired; log in again",
    "wrong_terminal": "the token belongs to another terminal",
    "terminal_locked": "the attempt is open on another terminal; a proctor must release it",
    "replaced": "this connection was replaced by a newer one from the same terminal",
    "session_closed": "the session is not open",
    "attempt_paused": "a proctor has paused the attempt",
    "attempt_finished": "the attempt has ended",
    "attempt_void": "the attempt was voided by a proctor",
    "time_up": "the time is over",
    "out_of_order": "seq skips ahead of the next expected number",
    "not_presented": "that item was not given to this candidate",
    "already_answered": "adaptive mode: the item was already answered",
    "not_current": "adaptive mode: only the current item can be answered",
    "bad_option": "the option does not exist for this item",
    "not_allowed": "this action is not available in this test mode",
    "confirm_required": "finish needs confirm: true",
    "unavailable": "the server could not store the answer; retry the same seq",
    "internal": "unexpected server error; the connection stays usable",
}

#: WebSocket close codes the server uses.
CLOSE_NORMAL = 1000
CLOSE_POLICY = 1008  # bad origin, auth failure, flood, replaced or locked terminal
CLOSE_TOO_BIG = 1009  # frame above the transport limit (uvicorn's ws_max_size)

MAX_SEQ = 2**31 - 1
MAX_NUMBER = 10_000
MAX_ELAPSED = 86_400.0


class ProtocolError(Exception):
    """A refused frame; ``code`` is a key of :data:`ERROR_CODES`."""

    def __init__(self, code: str, message: str = "", ref: Any = None) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unknown protocol error code {code!r}")
        super().__init__(message or ERROR_CODES[code])
        self.code = code
        self.message = message or ERROR_CODES[code]
        self.ref = ref


@dataclass(frozen=True)
class Hello:
    token: str
    terminal_id: str


@dataclass(frozen=True)
class Answer:
    seq: int
    number: int
    option: int
    flagged: bool | None
    elapsed: float


@dataclass(frozen=True)
class Flag:
    seq: int
    number: int
    flagged: bool


@dataclass(frozen=True)
class Navigate:
    number: int


@dataclass(frozen=True)
class StateRequest:
    pass


@dataclass(frozen=True)
class Finish:
    pass


@dataclass(frozen=True)
class Ping:
    id: str | int | None


ClientMessage = Hello | Answer | Flag | Navigate | StateRequest | Finish | Ping


def _int(d: dict[str, Any], name: str, lo: int, hi: int, ref: Any) -> int:
    if name not in d:
        raise ProtocolError("missing_field", f"'{name}' is required", ref)
    v = d[name]
    if isinstance(v, bool) or not isinstance(v, int):
        raise ProtocolError("bad_field", f"'{name}' must be an integer", ref)
    if not lo <= v <= hi:
        raise ProtocolError("bad_field", f"'{name}' must be between {lo} and {hi}", ref)
    return v


def _bool(d: dict[str, Any], name: str, ref: Any, *, required: bool) -> bool | None:
    if name not in d or d[name] is None:
        if required:
            raise ProtocolError("missing_field", f"'{name}' is required", ref)
        return None
    v = d[name]
    if not isinstance(v, bool):
        raise ProtocolError("bad_field", f"'{name}' must be true or false", ref)
    return v


def _str(d: dict[str, Any], name: str, max_len: int, ref: Any) -> str:
    if name not in d:
        raise ProtocolError("missing_field", f"'{name}' is required", ref)
    v = d[name]
    if not isinstance(v, str) or not v or len(v) > max_len:
        raise ProtocolError(
            "bad_field", f"'{name}' must be a string of 1–{max_len} characters", ref
        )
    return v


def parse_client(text: str | bytes, max_bytes: int = 4096) -> ClientMessage:
    """Validate one client frame. Raises :class:`ProtocolError` and nothing else."""
    if isinstance(text, bytes | bytearray):
        raise ProtocolError("bad_frame", "binary frames are not accepted")
    if not isinstance(text, str):
        raise ProtocolError("bad_frame")
    if len(text) > max_bytes or len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise ProtocolError("too_large", f"frames are limited to {max_bytes} bytes")
    try:
        # orjson: several times faster than the stdlib, and stricter (no NaN
        # or Infinity literals, no lone surrogates), which suits a protocol.
        d = orjson.loads(text)
    except (ValueError, RecursionError):
        raise ProtocolError("bad_json") from None
    if not isinstance(d, dict):
        raise ProtocolError("bad_frame")
    seq = d.get("seq")
    ref = seq if isinstance(seq, int) and not isinstance(seq, bool) else None
    kind = d.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("bad_frame", "'type' must be a string", ref)
    v = d.get("v", VERSION)
    if not isinstance(v, int) or isinstance(v, bool) or v not in SUPPORTED_VERSIONS:
        raise ProtocolError(
            "unsupported_version", f"supported versions: {sorted(SUPPORTED_VERSIONS)}"
        )
    if kind == "hello":
        return Hello(_str(d, "token", 2000, ref), _terminal_id(d, ref))
    if kind == "answer":
        elapsed_raw = d.get("elapsed", 0.0)
        if (
            isinstance(elapsed_raw, bool)
            or not isinstance(elapsed_raw, int | float)
            or not math.isfinite(elapsed_raw)
            or not 0 <= elapsed_raw <= MAX_ELAPSED
        ):
            raise ProtocolError("bad_field", "'elapsed' must be seconds between 0 and 86400", ref)
        return Answer(
            seq=_int(d, "seq", 1, MAX_SEQ, ref),
            number=_int(d, "number", 1, MAX_NUMBER, ref),
            option=_int(d, "option", -1, 25, ref),
            flagged=_bool(d, "flagged", ref, required=False),
            elapsed=float(elapsed_raw),
        )
    if kind == "flag":
        flagged = bool(_bool(d, "flagged", ref, required=True))
        return Flag(_int(d, "seq", 1, MAX_SEQ, ref), _int(d, "number", 1, MAX_NUMBER, ref), flagged)
    if kind == "navigate":
        return Navigate(_int(d, "number", 1, MAX_NUMBER, ref))
    if kind == "state":
        return StateRequest()
    if kind == "finish":
        if d.get("confirm") is not True:
            raise ProtocolError("confirm_required", ref=ref)
        return Finish()
    if kind == "ping":
        pid = d.get("id")
        if pid is not None and (isinstance(pid, bool) or not isinstance(pid, str | int)):
            raise ProtocolError("bad_field", "'id' must be a string or an integer")
        if isinstance(pid, str) and len(pid) > 64:
            raise ProtocolError("bad_field", "'id' is at most 64 characters")
        return Ping(pid)
    raise ProtocolError("unknown_type", f"unknown message type {kind[:40]!r}", ref)


def _terminal_id(d: dict[str, Any], ref: Any) -> str:
    tid = _str(d, "terminal_id", 80, ref)
    if not valid_terminal_id(tid):
        raise ProtocolError(
            "bad_field", "'terminal_id' may use letters, digits, '.', '_', '-'", ref
        )
    return tid


def valid_terminal_id(tid: object) -> bool:
    return (
        isinstance(tid, str)
        and 0 < len(tid) <= 80
        and all(c.isascii() and (c.isalnum() or c in "._-") for c in tid)
    )


# --- server frames -----------------------------------------------------------


def frame(kind: str, **fields: Any) -> dict[str, Any]:
    return {"v": VERSION, "type": kind, **fields}


def error_frame(err: ProtocolError) -> dict[str, Any]:
    out = frame("error", code=err.code, message=err.message)
    if err.ref is not None:
        out["ref"] = err.ref
    return out


#: orjson options for everything the server sends as JSON (frames, live events).
JSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def encode(msg: dict[str, Any]) -> str:
    """A frame as compact JSON text (UTF-8 characters kept, non-finite floats
    as null, which browsers can parse where the stdlib's NaN they cannot)."""
    try:
        return orjson.dumps(msg, option=JSON_OPTIONS).decode()
    except TypeError:  # a type orjson does not know: the stdlib's rules
        return json.dumps(msg, separators=(",", ":"), ensure_ascii=False, default=str)
