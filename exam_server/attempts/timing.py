"""Starting and stopping an attempt's clock, durably.

The arithmetic is :mod:`exam_server.clock`; this module stores a start or a
stop (``exam_attempt``) and then applies it in memory. The caller holds the
attempt's lock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from exam_server.attempts import storage
from exam_server.attempts.state import LiveAttempt

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from exam_server.attempts.service import AttemptService


async def start_clock(svc: AttemptService, la: LiveAttempt, at: float) -> None:
    """Start the clock at ``at`` (a terminal said ``hello``, or a resume)."""
    remaining = la.remaining_at_start
    values: dict[str, Any] = {
        "remaining_at_start": remaining,
        "running_since": at,
        "deadline_at": at + remaining,
        "last_seen_at": at,
    }
    if not la.started_at:
        values["started_at"] = at
    await _store(svc, la, values)
    la.running_since = at
    la.last_event_at = at
    la.started_at = la.started_at or at


def stopped_clock(la: LiveAttempt, at: float) -> dict[str, Any]:
    """The attempt's clock columns once stopped as of ``at`` (epoch s): the
    time left then, and no running start or deadline."""
    return {"remaining_at_start": la.remaining(at), "running_since": None, "deadline_at": None}


async def stop_clock(svc: AttemptService, la: LiveAttempt, at: float) -> None:
    """Stop the clock as of ``at`` (a terminal gone past its grace)."""
    values = stopped_clock(la, at)
    await _store(svc, la, values)
    la.remaining_at_start = values["remaining_at_start"]
    la.running_since = None


async def _store(svc: AttemptService, la: LiveAttempt, values: dict[str, Any]) -> None:
    def write(conn: Connection) -> None:
        storage.update_attempt(conn, la.id, values)

    await svc.committer.submit(write)
