"""Attempts at run time: the clock, durable answers, terminals, proctor acts.

See :mod:`.service` for the layout; the names most callers need are here.
"""

from exam_server.attempts.service import AttemptService
from exam_server.attempts.state import (
    ACTIVE,
    ActionError,
    LiveAttempt,
    LoginError,
    Terminal,
)
from exam_server.attempts.storage import ATTEMPT, RESPONSE, check_attempt_guards

__all__ = [
    "ACTIVE",
    "ATTEMPT",
    "RESPONSE",
    "ActionError",
    "AttemptService",
    "LiveAttempt",
    "LoginError",
    "Terminal",
    "check_attempt_guards",
]
