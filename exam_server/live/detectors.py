"""The proctoring detectors of one app, wired to its bus and its audit log."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from cat_engine.bank import BankArrays
from exam_server import audit
from exam_server.durability import GroupCommitter
from exam_server.events import EventBus, LiveEvent
from exam_server.live.queries import load_bank
from exam_server.proctoring.service import AlertRecorder, ProctoringService


def make_proctoring(engine: Engine, bus: EventBus, committer: GroupCommitter) -> ProctoringService:
    """The proctoring detectors of one app (built in the lifespan)."""

    async def bank_for(session_id: int) -> BankArrays | None:
        return await load_bank(engine, session_id)

    # With a bus shared by several processes each process watches only its
    # own terminals, so an alert is raised once (and still seen everywhere).
    view = bus.local_view() if hasattr(bus, "local_view") else bus
    return ProctoringService(view, bank_for=bank_for, record=alert_recorder(committer))


def alert_recorder(committer: GroupCommitter) -> AlertRecorder:
    """Alerts go to the audit log (kind ``alert``, actor ``detector:<name>``)."""

    async def record(event: LiveEvent) -> None:
        data = dict(event.data)
        message = data.get("message") or {}
        reason = str(message.get("id", "")) if isinstance(message, dict) else ""
        await committer.submit(
            lambda conn: audit.append(
                conn,
                "alert",
                f"detector:{data.get('detector', '?')}",
                session_id=event.session_id,
                attempt_id=event.attempt_id,
                reason=reason,
                data=data,
                at=event.at,
            )
        )

    return record
