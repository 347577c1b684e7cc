"""Admin scheduling: sessions created, listed (candidates and prepared
attempts counted) and prepared in the background."""

from __future__ import annotations

import time
from typing import Any

import anyio.to_thread
from sqlalchemy import func, select
from sqlmodel import Session, col
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from exam_server import scheduling as sch
from exam_server.admin.common import _int_param, _run, _svc
from exam_server.context import context
from exam_server.http import NUM, STR, ApiError, Endpoint, field_num, field_str, obj, read_json
from exam_server.models import Attempt, Candidate, ExamSession


async def create_session(request: Request) -> Response:
    d = await read_json(request)
    sid = await _run(
        sch.create_session,
        context(request.app).engine,
        field_str(d, "code", max_len=60),
        field_str(d, "exam_code", max_len=40),
        field_str(d, "site_code", max_len=40),
        field_str(d, "room_code", max_len=40),
        field_num(d, "starts_at", 0, 1e11, time.time()),
    )
    return JSONResponse({"id": sid}, status_code=201)


async def prepare_session(request: Request) -> Response:
    sid = _int_param(request, "session_id")

    def exists() -> bool:
        with Session(context(request.app).engine) as s:
            return s.get(ExamSession, sid) is not None

    if not await anyio.to_thread.run_sync(exists):
        raise ApiError(404, "not_found", "no such session")
    _svc(request).spawn_prepare(sid)
    return JSONResponse({"session_id": sid, "preparing": True}, status_code=202)


async def list_sessions(request: Request) -> Response:
    def q() -> list[dict[str, Any]]:
        with Session(context(request.app).engine) as s:
            counts: dict[int | None, int] = {
                sid: int(n)
                for sid, n in s.execute(
                    select(col(Candidate.session_id), func.count()).group_by(
                        col(Candidate.session_id)
                    )
                ).all()
            }
            prepared: dict[int, int] = {
                int(sid): int(n)
                for sid, n in s.execute(
                    select(col(Attempt.session_id), func.count()).group_by(col(Attempt.session_id))
                ).all()
            }
            return [
                {
                    "id": x.id,
                    "code": x.code,
                    "exam_id": x.exam_id,
                    "room_id": x.room_id,
                    "starts_at": x.starts_at,
                    "status": x.status,
                    "candidates": counts.get(x.id, 0),
                    "prepared": prepared.get(x.id or 0, 0),
                }
                for x in s.execute(select(ExamSession).order_by(ExamSession.id)).scalars()  # type: ignore[arg-type]
            ]

    return JSONResponse(await anyio.to_thread.run_sync(q))


ENDPOINTS: list[Endpoint] = [
    Endpoint(
        "POST",
        "/api/admin/sessions",
        create_session,
        "schedule a session",
        ("admin",),
        obj(
            ["code", "exam_code", "site_code", "room_code"],
            code=STR,
            exam_code=STR,
            site_code=STR,
            room_code=STR,
            starts_at=NUM,
        ),
        responses={"409": "exists", "422": "invalid"},
    ),
    Endpoint(
        "GET",
        "/api/admin/sessions",
        list_sessions,
        "list sessions (with candidates and prepared attempts counted)",
        ("admin",),
    ),
    Endpoint(
        "POST",
        "/api/admin/sessions/{session_id:int}/prepare",
        prepare_session,
        "assemble every candidate's test now, in the background (opening a session does it too)",
        ("admin",),
        responses={"202": "started", "404": "no such session"},
    ),
]
