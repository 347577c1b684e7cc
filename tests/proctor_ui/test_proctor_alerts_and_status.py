"""The proctor grid's server side: no connection alert for an attempt that has
ended, absent candidates shown as absent once the session is closed, the
alert history kept per candidate."""

from __future__ import annotations

import asyncio

from exam_server.events import EventBus, LiveEvent
from exam_server.live.queries import attempt_status
from exam_server.models import Attempt
from exam_server.proctoring.grid import TerminalGrid, TerminalRow
from exam_server.proctoring.service import ProctoringService


def ev(kind: str, at: float, attempt: int = 7, **data: object) -> LiveEvent:
    return LiveEvent(kind, 1, attempt, f"R-{attempt}", at, dict(data))


def codes(service: ProctoringService, events: list[LiveEvent]) -> list[str]:
    async def go() -> list[str]:
        out: list[str] = []
        for e in events:
            out += [a.code for a in await service.handle(e)]
        return out

    return asyncio.run(go())


def test_the_socket_closing_after_a_finish_or_void_raises_no_alert() -> None:
    # The service drops an attempt's detectors at its end; the disconnect that
    # follows (the server closes the socket after the final frame or the
    # void) must not start fresh ones that take it for a lost connection.
    service = ProctoringService(EventBus())
    finished = [ev("connect", 0), ev("answer", 5, number=1, option=2), ev("finish", 9)]
    assert codes(service, [*finished, ev("disconnect", 10)]) == []
    voided = [ev("connect", 0, attempt=8), ev("void", 9, attempt=8)]
    assert codes(service, [*voided, ev("disconnect", 10, attempt=8)]) == []
    # A running attempt's drop still alerts.
    assert codes(service, [ev("connect", 0, attempt=9), ev("disconnect", 4, attempt=9)]) == [
        "connection_lost"
    ]


def _attempt(**kw: object) -> Attempt:
    base: dict[str, object] = {
        "session_id": 1,
        "candidate_id": 1,
        "status": "running",
        "terminal_id": None,
        "last_seq": 0,
        "remaining_at_start": 6000.0,
        "running_since": None,
    }
    base.update(kw)
    return Attempt(**base)  # type: ignore[arg-type]


def test_never_taken_is_waiting_while_open_and_absent_once_closed() -> None:
    untaken = _attempt()
    assert attempt_status(untaken, 100.0, 5.0, 0.0) == "waiting"
    assert attempt_status(untaken, 100.0, 5.0, 0.0, closed=True) == "absent"
    # Closing the session finished it: absent, not "finished".
    closed_by_session = _attempt(status="finished", finish_reason="session_closed")
    assert attempt_status(closed_by_session, 100.0, 5.0, 0.0) == "absent"
    # A candidate who sat the test and finished stays finished; a void stays void.
    sat = _attempt(status="finished", terminal_id="T1", last_seq=40)
    assert attempt_status(sat, 100.0, 5.0, 0.0, closed=True) == "finished"
    assert attempt_status(_attempt(status="void"), 100.0, 5.0, 0.0, closed=True) == "void"


def test_each_row_keeps_its_alert_history_newest_last() -> None:
    grid = TerminalGrid(1)
    grid.add(TerminalRow("R-7", "Ani", attempt_id=7))
    for at, code in ((10.0, "focus_lost"), (20.0, "second_login"), (30.0, "focus_lost")):
        message = {"id": f"pesan {code}", "en": f"message {code}"}
        grid.apply(ev("alert", at, code=code, severity="warning", message=message))
    row = grid.rows["R-7"].to_dict()
    assert row["alerts"] == 3
    assert [a["code"] for a in row["alert_log"]] == ["focus_lost", "second_login", "focus_lost"]
    assert [a["at"] for a in row["alert_log"]] == [10.0, 20.0, 30.0]
    assert row["last_alert"]["at"] == 30.0
