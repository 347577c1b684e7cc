"""The session lists the pages open a channel from."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from exam_server.auth import StaffClaims
from exam_server.context import context
from exam_server.live.queries import session_rows


async def live_sessions(request: Request) -> Response:
    """``GET /api/live/sessions``: sessions a proctor can open a console on
    (a proctor: those of the rooms they supervise; an admin: all)."""
    rows = await asyncio.to_thread(session_rows, context(request.app).engine)
    staff: StaffClaims = request.state.staff
    return JSONResponse([r for r in rows if staff.may_supervise(int(r["room_id"]))])


async def public_sessions(request: Request) -> Response:
    """``GET /api/live/board-sessions``: sessions with a public board (open or closed)."""
    rows = await asyncio.to_thread(session_rows, context(request.app).engine)
    return JSONResponse([{k: r[k] for k in ("id", "code", "status", "exam", "room")} for r in rows])
