"""An attempt as this process holds it while a terminal works on it.

:class:`LiveAttempt` is the in-memory copy of one ``exam_attempt`` row and
its answers; every change to it is committed first (``storage``), then made
here. Its clock follows the one rule of :mod:`exam_server.clock`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Protocol

from cat_engine import engine as cat
from cat_engine.state import TestState
from exam_server import clock
from exam_server import protocol as p
from exam_server.exams import ExamData

#: Statuses in which the candidate may still work (the clock may run).
ACTIVE = ("running", "paused")


class LoginError(Exception):
    """A refused login; ``code`` is a protocol error code, ``status`` the HTTP status."""

    def __init__(self, code: str, status: int, message: str = "") -> None:
        super().__init__(message or p.ERROR_CODES.get(code, code))
        self.code = code
        self.status = status


class ActionError(Exception):
    """A refused proctor action (HTTP 409 with ``code``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Terminal(Protocol):
    """What the attempts need from a connected terminal (``exam_server.terminal``).

    last_heard: server time (epoch seconds) of the last frame received from
    the terminal — when it was last seen alive."""

    terminal_id: str
    last_heard: float

    async def send(self, msg: dict[str, Any]) -> None: ...

    async def close(self, code: int, reason: str = "") -> None: ...


@dataclass
class LiveAttempt:
    """One attempt in memory. Times are epoch seconds of the server's clock."""

    id: int
    session_id: int
    candidate_id: int
    registration_number: str
    name: str
    category: str
    exam: ExamData
    session_code: str
    state: TestState
    status: str
    last_seq: int
    response_head: str
    terminal_id: str | None
    terminal_released: bool
    remaining_at_start: float
    running_since: float | None
    answers: dict[int, int] = field(default_factory=dict)  # number → option
    flags: dict[int, bool] = field(default_factory=dict)
    finish: dict[str, Any] | None = None  # the final frame once finished
    conn: Terminal | None = None
    # When a terminal that dropped was last seen alive (None while connected
    # or never connected): the grace period counts from here.
    gone_since: float | None = None
    dirty: bool = False  # navigation not yet stored
    # The last recorded refused second login, and those refused since without
    # a record (exam_server.attempts.login.bind_terminal).
    second_login_at: float | None = None
    second_login_repeats: int = 0
    last_event_at: float = 0.0  # server time of the last answer or clock start
    started_at: float = 0.0  # when the clock first started (0: not yet)
    presented: list[int] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def refresh(self) -> None:
        """Re-read the presented items from the engine state (after a step)."""
        self.presented = list(cat.presented(self.state))

    def remaining(self, now: float) -> float:
        return clock.remaining_seconds(self.remaining_at_start, self.running_since, now)

    @property
    def deadline_at(self) -> float | None:
        return clock.deadline_at(self.remaining_at_start, self.running_since)

    def index_of(self, number: int) -> int:
        """The bank index of the item shown as ``number`` (1-based)."""
        if not 1 <= number <= len(self.presented):
            raise p.ProtocolError("not_presented", f"item {number} was not given to you")
        return self.presented[number - 1]

    def number_of(self, index: int | None) -> int | None:
        if index is None:
            return None
        try:
            return self.presented.index(index) + 1
        except ValueError:
            return None

    def clock_values(self) -> dict[str, Any]:
        """The clock as stored in ``exam_attempt``."""
        return {
            "remaining_at_start": self.remaining_at_start,
            "running_since": self.running_since,
            "deadline_at": self.deadline_at,
        }


def check_active(la: LiveAttempt, now: float) -> None:
    """Refuse a candidate action on an attempt that cannot take one."""
    if la.status == "finished":
        raise p.ProtocolError("attempt_finished")
    if la.status == "void":
        raise p.ProtocolError("attempt_void")
    if la.status == "paused":
        raise p.ProtocolError("attempt_paused")
    if la.running_since is not None and la.remaining(now) <= 0:
        raise p.ProtocolError("time_up")


def check_seq(la: LiveAttempt, seq: int) -> bool:
    """True if ``seq`` was already acknowledged (a duplicate); refuses a gap."""
    if seq <= la.last_seq:
        return True
    if seq != la.last_seq + 1:
        raise p.ProtocolError("out_of_order", f"expected seq {la.last_seq + 1}, got {seq}", ref=seq)
    return False
