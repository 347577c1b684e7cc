"""The detector interface: what a proctoring detector sees and what it raises.

A detector watches the live event stream of ONE attempt (one candidate's
test) and returns :class:`Alert` objects when it sees something a proctor
should look at. It never acts on the attempt: pausing or voiding stays a
human decision, taken with a reason in the proctor console.

The :class:`~exam_server.proctoring.service.ProctoringService` makes one
detector instance per attempt (through a :data:`DetectorFactory`), feeds it
the attempt's events in order, and publishes each alert back to the bus as a
``LiveEvent`` of kind ``"alert"`` whose ``data`` is :meth:`Alert.to_data`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

from cat_engine.bank import BankArrays

Severity = Literal["info", "warning", "critical"]
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "critical")


class EventLike(Protocol):
    """The fields of ``exam_server.events.LiveEvent`` a detector reads."""

    @property
    def kind(self) -> str: ...
    @property
    def session_id(self) -> int: ...
    @property
    def attempt_id(self) -> int | None: ...
    @property
    def registration_number(self) -> str | None: ...
    @property
    def at(self) -> float: ...
    @property
    def data(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class Alert:
    """Something a proctor should look at.

    detector: the detector's ``name``; code: a stable machine code
    (``"focus_lost"``, ``"rapid_guessing"`` …); severity: info / warning /
    critical; message_id / message_en: the text the proctor reads (Bahasa
    Indonesia first); at: epoch seconds of the event that raised it;
    evidence: JSON-safe numbers behind the alert (counts, statistics).
    """

    detector: str
    code: str
    severity: Severity
    message_id: str
    message_en: str
    at: float
    evidence: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"Alert.severity must be one of {SEVERITIES}, got {self.severity!r}")
        if not self.code:
            raise ValueError("Alert.code must not be empty")

    def to_data(self) -> dict[str, Any]:
        """The ``data`` of the ``alert`` LiveEvent (JSON-safe)."""
        return {
            "detector": self.detector,
            "code": self.code,
            "severity": self.severity,
            "message": {"id": self.message_id, "en": self.message_en},
            "evidence": dict(self.evidence),
        }


@dataclass(frozen=True)
class AttemptContext:
    """What a detector factory may know about the attempt it watches.

    bank: the exam's item bank as arrays (IRT parameters, option categories),
    or None when the service could not load it (detectors that need it then
    decline to watch the attempt).
    """

    session_id: int
    attempt_id: int
    registration_number: str | None
    bank: BankArrays | None = None


class Detector(ABC):
    """Watches the events of one attempt; returns alerts.

    Subclasses set ``name`` and implement :meth:`observe`. ``observe`` is
    called with every event of the attempt in order (including the alerts of
    other detectors, which most detectors ignore) and must be fast: it runs
    on the server's event loop, once per event.
    """

    name: ClassVar[str]

    @abstractmethod
    def observe(self, event: EventLike) -> list[Alert]:
        """Update the detector's state with ``event``; return new alerts (often none)."""


DetectorFactory = Callable[[AttemptContext], Detector | None]
"""Makes the detector for one attempt, or None to leave that attempt alone."""
