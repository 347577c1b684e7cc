"""What every endpoint of the REST API uses: the caller (staff claims, actor
name), ids from the path, the server's clock, and setup errors turned into
API errors."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from starlette.requests import Request

from exam_server import scheduling as sch
from exam_server.attempts import AttemptService
from exam_server.auth import StaffClaims
from exam_server.context import context
from exam_server.http import ApiError


def _svc(request: Request) -> AttemptService:
    return context(request.app).attempts


def _staff(request: Request) -> StaffClaims:
    return request.state.staff


def _actor(request: Request) -> str:
    st = _staff(request)
    return f"{st.role}:{st.username}"


def _int_param(request: Request, name: str) -> int:
    try:
        value = int(request.path_params[name])
    except (KeyError, ValueError):
        raise ApiError(404, "not_found", f"bad {name}") from None
    # Ids are 64-bit signed integers in both databases; a larger number names
    # nothing (and would overflow the driver).
    if not 0 <= value < 2**63:
        raise ApiError(404, "not_found", f"no such {name}")
    return value


async def _run(fn: Any, *args: Any) -> Any:
    try:
        return await anyio.to_thread.run_sync(fn, *args)
    except sch.SetupError as exc:
        raise ApiError(
            exc.status,
            "invalid" if exc.status == 422 else "conflict" if exc.status == 409 else "not_found",
            exc.message,
            exc.errors,
        ) from None


def _now(request: Request) -> float:
    return context(request.app).clock.now()
