"""Proctoring: detectors that watch each attempt's live events and raise alerts.

See ``docs/proctoring.md`` for how to write and register a detector.
"""

from exam_server.proctoring.base import Alert, AttemptContext, Detector, DetectorFactory
from exam_server.proctoring.detectors import (
    ConnectionDetector,
    FocusDetector,
    PersonFitDetector,
    RapidGuessingDetector,
    SecondLoginDetector,
    default_factories,
)

__all__ = [
    "Alert",
    "AttemptContext",
    "ConnectionDetector",
    "Detector",
    "DetectorFactory",
    "FocusDetector",
    "PersonFitDetector",
    "RapidGuessingDetector",
    "SecondLoginDetector",
    "default_factories",
]
