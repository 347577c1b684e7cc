"""``POST /api/candidate/report``: the terminal page reports lost focus or
full screen; the focus detector turns the report into a proctor alert."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from exam_server.context import context
from exam_server.events import LiveEvent
from exam_server.http import ApiError, candidate_of, read_json

REPORT_KINDS = frozenset({"focus_lost", "fullscreen_exit"})
REPORT_MIN_INTERVAL = 1.0
"""Seconds between two accepted reports of one attempt (a flood is dropped)."""


async def candidate_report(request: Request) -> Response:
    """``POST /api/candidate/report`` ``{"kind": "focus_lost" | "fullscreen_exit"}``.

    The report becomes a ``LiveEvent`` that the focus detector turns into an
    alert on the proctor console. Needs the candidate's bearer token.
    """
    ctx = context(request.app)
    claims = candidate_of(request)
    body = await read_json(request, 1024)
    kind = body.get("kind")
    if kind not in REPORT_KINDS:
        raise ApiError(
            422,
            "bad_field",
            f"'kind' must be one of {sorted(REPORT_KINDS)}",
            [{"field": "kind", "message": "unknown kind"}],
        )
    last: dict[int, float] = ctx.extras.setdefault("report_times", {})
    now = ctx.clock.now()
    if now - last.get(claims.attempt_id, float("-inf")) < REPORT_MIN_INTERVAL:
        return JSONResponse({"accepted": False, "reason": "rate_limited"}, status_code=429)
    last[claims.attempt_id] = now
    ctx.bus.publish(
        LiveEvent(
            kind,
            claims.session_id,
            claims.attempt_id,
            claims.registration_number,
            at=now,
            data={"terminal_id": claims.terminal_id},
        )
    )
    return JSONResponse({"accepted": True})
