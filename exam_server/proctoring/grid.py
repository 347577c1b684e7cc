"""The proctor console's live grid: one row per candidate of a session.

Pure state (no I/O): :class:`TerminalGrid` is built from the database
snapshot and then kept current by :meth:`TerminalGrid.apply` with each
``LiveEvent`` of the session. ``exam_server.live.proctor_channel`` sends the changed rows to
the proctor consoles.

Status of a row (what the proctor needs to see at a glance):

* ``waiting``: checked in / scheduled, no terminal connected yet;
* ``working``: a terminal is connected and the clock runs;
* ``disconnected``: the attempt runs but no terminal is connected;
* ``paused``: a proctor paused the attempt;
* ``finished``: the attempt ended (finish button or time up);
* ``void``: a proctor voided the attempt;
* ``absent``: the candidate never came — no terminal ever took the attempt and
  it holds no answer — once the session is closed (the one rule,
  :func:`exam_server.results.outcomes.never_taken`, that the board and the
  published results use too: TH).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from exam_server.proctoring.base import EventLike

STATUSES = ("waiting", "working", "disconnected", "paused", "finished", "void", "absent")
#: Statuses after which nothing about the attempt changes any more.
ENDED = frozenset({"finished", "void", "absent"})
#: How many of a candidate's alerts each row carries (newest kept); the count
#: in ``alerts`` covers all of them.
ALERT_LOG_LENGTH = 30

#: Event kinds that go to the session's incident log.
INCIDENT_KINDS = frozenset(
    {"pause", "resume", "extend", "release", "void", "note", "alert", "second_login"}
)


@dataclass
class TerminalRow:
    """One candidate on the proctor's grid. Times are epoch seconds (server clock).

    answered: item numbers with an answer; doubtful: numbers
    flagged "ragu-ragu"; deadline_at: when the clock runs out (None while it
    is stopped; then ``remaining`` holds the seconds left); clock_stops_at:
    for a dropped terminal, when its grace period ends and the server stops
    its clock (the console's countdown freezes there). alert_log: the
    candidate's latest alerts, oldest first (at most ALERT_LOG_LENGTH; each
    ``{code, severity, message: {id, en}, at}``).
    """

    registration_number: str
    name: str
    candidate_id: int | None = None
    attempt_id: int | None = None
    status: str = "waiting"
    n_items: int = 0
    answered: set[int] = field(default_factory=set)
    doubtful: set[int] = field(default_factory=set)
    deadline_at: float | None = None
    remaining: float | None = None
    last_seen: float | None = None
    terminal_id: str | None = None
    clock_stops_at: float | None = None
    alerts: int = 0
    last_alert: dict[str, Any] | None = None
    total_points: float | None = None
    alert_log: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=ALERT_LOG_LENGTH))

    def add_alert(self, alert: dict[str, Any]) -> None:
        """Count one alert (``{code, severity, message, at}``) and keep it in the log."""
        self.alerts += 1
        self.last_alert = alert
        self.alert_log.append(alert)

    def to_dict(self) -> dict[str, Any]:
        return {
            "registration_number": self.registration_number,
            "name": self.name,
            "attempt_id": self.attempt_id,
            "status": self.status,
            "answered": len(self.answered),
            "doubtful": len(self.doubtful),
            "n_items": self.n_items,
            "deadline_at": self.deadline_at,
            "remaining": self.remaining,
            "last_seen": self.last_seen,
            "terminal_id": self.terminal_id,
            "clock_stops_at": self.clock_stops_at,
            "alerts": self.alerts,
            "last_alert": self.last_alert,
            "alert_log": list(self.alert_log),
        }


def incident_of(event: EventLike) -> dict[str, Any]:
    """The incident-log entry of an event (actor, reason and details as the server sent them)."""
    data = dict(event.data)
    actor = data.pop("actor", None)
    if actor is None and event.kind == "alert" and data.get("detector"):
        actor = f"detector:{data['detector']}"  # as the audit log records it
    return {
        "at": event.at,
        "kind": event.kind,
        "attempt_id": event.attempt_id,
        "registration_number": event.registration_number,
        "actor": actor,
        "reason": data.pop("reason", None),
        "data": data,
    }


class TerminalGrid:
    """The rows of one session, keyed by registration number."""

    def __init__(self, session_id: int, max_incidents: int = 500) -> None:
        self.session_id = session_id
        self.rows: dict[str, TerminalRow] = {}
        self.incidents: deque[dict[str, Any]] = deque(maxlen=max_incidents)

    def add(self, row: TerminalRow) -> None:
        self.rows[row.registration_number] = row

    def by_attempt(self, attempt_id: int | None) -> TerminalRow | None:
        if attempt_id is None:
            return None
        for row in self.rows.values():
            if row.attempt_id == attempt_id:
                return row
        return None

    def apply(self, event: EventLike) -> TerminalRow | None:
        """Update the grid with ``event``; return the changed row, if any.

        Incidents are appended to :attr:`incidents`. Fields an event carries
        (``deadline_at``, ``remaining``, ``status``, ``terminal_id``) override
        what was known; everything else is inferred from the kind.
        """
        if event.kind in INCIDENT_KINDS:
            self.incidents.append(incident_of(event))
        row = self.by_attempt(event.attempt_id)
        if row is None and event.registration_number is not None:
            row = self.rows.get(event.registration_number)
            if row is None:
                row = TerminalRow(event.registration_number, event.registration_number)
                self.rows[row.registration_number] = row
        if row is None:
            return None
        if event.attempt_id is not None:
            row.attempt_id = event.attempt_id
        data = event.data
        kind = event.kind
        ended = row.status in ENDED
        if kind not in ("alert", "note", "second_login", "disconnect", "release"):
            row.last_seen = max(row.last_seen or 0.0, event.at)
        if kind in ("connect", "pause", "resume", "finish", "void", "clock"):
            row.clock_stops_at = None
        if kind == "connect" and not ended:
            row.status = "paused" if row.status == "paused" else "working"
            row.terminal_id = _str(data.get("terminal_id", data.get("terminal"))) or row.terminal_id
        elif kind in ("disconnect", "release") and row.status == "working":
            row.status = "disconnected"
            grace = data.get("grace_seconds")
            # The grace counts from when the terminal was last seen alive
            # (exam_server.presence.alive_until_drop), not from the event.
            seen = data.get("seen_alive")
            seen_at = float(seen) if isinstance(seen, int | float) else event.at
            if isinstance(grace, int | float) and row.deadline_at is not None:
                row.clock_stops_at = seen_at + float(grace)
        elif kind == "pause" and not ended:
            row.status = "paused"
        elif kind == "resume" and not ended:
            row.status = "working" if data.get("connected", True) else "disconnected"
        elif kind == "clock" and not ended and data.get("running") and row.status != "paused":
            # The worker holding the terminal started its clock after an act
            # taken on another worker: the terminal is there and working.
            row.status = "working"
        elif kind == "finish":
            # The clock stops; what was left stays (``exam_server.clock``):
            # the channel reloads it from the stored attempt.
            row.status = "finished"
            row.deadline_at = None
        elif kind == "void":
            row.status = "void"
            row.deadline_at = None
        elif kind == "answer":
            self._answer(row, data)
            if row.status in ("waiting", "disconnected"):
                row.status = "working"
        elif kind == "flag":
            number = data.get("number")
            if isinstance(number, int):
                (row.doubtful.add if data.get("flagged") else row.doubtful.discard)(number)
        elif kind == "alert":
            row.add_alert(alert_of(data, event.at))
        if "deadline_at" in data:
            value = data["deadline_at"]
            row.deadline_at = float(value) if isinstance(value, int | float) else None
        if "remaining" in data and isinstance(data["remaining"], int | float):
            row.remaining = float(data["remaining"])
        if isinstance(data.get("n_items"), int):
            row.n_items = int(data["n_items"])
        return row

    @staticmethod
    def _answer(row: TerminalRow, data: Any) -> None:
        number, option = data.get("number"), data.get("option")
        if not isinstance(number, int) or isinstance(number, bool):
            return
        if isinstance(option, int) and option >= 0:
            row.answered.add(number)
        elif isinstance(option, int):
            row.answered.discard(number)
        flagged = data.get("flagged")
        if flagged is True:
            row.doubtful.add(number)
        elif flagged is False:
            row.doubtful.discard(number)


def alert_of(data: Any, at: float) -> dict[str, Any]:
    """A row's record of one alert, from the alert event's (or audit entry's) data."""
    return {
        "code": data.get("code"),
        "severity": data.get("severity"),
        "message": data.get("message"),
        "at": at,
    }


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
