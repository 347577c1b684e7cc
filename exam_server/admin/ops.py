"""Operations: liveness with the commit counters, event-loop lag and GC pauses
(``/healthz``), and this API's OpenAPI schema."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from exam_server.context import context
from exam_server.http import ApiError, Endpoint, staff_of


async def openapi_schema(request: Request) -> Response:
    return JSONResponse(request.app.state.openapi)


def _is_admin(request: Request) -> bool:
    """Whether the request carries a valid administrator's token (no error
    otherwise: ``/healthz`` answers everyone)."""
    if not request.headers.get("authorization", "").lower().startswith("bearer "):
        return False
    try:
        staff_of(request, ("admin",))
    except ApiError:
        return False
    return True


async def healthz(request: Request) -> Response:
    """Liveness, the commit counters and, over the last minute (``?seconds=``
    up to 300), event-loop lag, GC pauses and group-commit batch times: the
    figures that tell why acknowledgements got slow (docs/operations.md)."""
    raw = request.query_params.get("seconds", "60")
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 1.0 <= seconds <= 300.0:
        raise ApiError(422, "bad_field", "'seconds' must be a number between 1 and 300")
    committer = context(request.app).committer
    body: dict[str, Any] = {
        "status": "ok",
        "commits": committer.transactions,
        "writes": committer.writes,
        "window_seconds": seconds,
        "commit_batches": committer.report(seconds),
        "live_attempts": len(context(request.app).attempts.live),
        # Sockets without a login (exam_server.socket_gate): open now, and
        # refused since the start because an address or everyone held too many.
        "sockets_without_login": {
            gate.name: {"open": gate.open, "refused": gate.refused, "evicted": gate.evicted}
            for gate in (context(request.app).preauth_gate, context(request.app).board_gate)
        },
        # TCP connections from untrusted addresses (exam_server.connection_gate).
        "connections": {
            "open": context(request.app).connection_gate.open,
            "total": context(request.app).connection_gate.total,
            "refused": context(request.app).connection_gate.refused,
            "evicted": context(request.app).connection_gate.evicted,
        },
    }
    # Survey answers held for their batch (what a crash now would lose): for
    # an administrator only. Public, its rise named who had just answered the
    # anonymous survey (the board shows who finished when).
    if _is_admin(request):
        body["survey_answers_waiting"] = context(request.app).survey_pool.pending
    body.update(context(request.app).monitor.report(seconds))
    checkpointer = context(request.app).wal_checkpointer
    if checkpointer is not None:
        body["wal_checkpoint"] = {"checkpoints": checkpointer.checkpoints, **checkpointer.last}
    freezer = context(request.app).gc_freezer
    if freezer is not None:
        body["gc_freezer"] = {
            "freezes": freezer.freezes,
            "maintenances": freezer.maintenances,
            "frozen_objects_last_counted": freezer.frozen,
        }
    return JSONResponse(body)


ENDPOINTS: list[Endpoint] = [
    Endpoint(
        "GET",
        "/healthz",
        healthz,
        "liveness, commit counters, event-loop lag and GC pauses",
        tag="ops",
        responses={"422": "seconds out of range"},
    ),
    Endpoint("GET", "/api/openapi.json", openapi_schema, "this schema", tag="ops"),
]
