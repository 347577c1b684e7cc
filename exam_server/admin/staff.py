"""Staff accounts, for admins: a proctor or admin created, the rooms a proctor
supervises, an account disabled or enabled, a new password set."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from exam_server import scheduling as sch
from exam_server.admin.common import _actor, _int_param, _run, _staff
from exam_server.admin.scope import assign_rooms, check_rooms
from exam_server.context import context
from exam_server.http import INT, STR, ApiError, Endpoint, field_str, obj, read_json


async def create_staff(request: Request) -> Response:
    d = await read_json(request)
    settings = context(request.app).settings
    room_ids = _room_ids(d)  # checked before the account exists
    await _run(check_rooms, context(request.app).engine, room_ids)
    sid = await _run(
        sch.create_staff,
        context(request.app).engine,
        field_str(d, "username", max_len=80),
        field_str(d, "name", required=False),
        field_str(d, "role", max_len=16),
        field_str(d, "password", max_len=200),
        settings.scrypt_n,
        _actor(request),
    )
    rooms = await _run(assign_rooms, context(request.app).engine, sid, room_ids, _actor(request))
    context(request.app).staff_access.note_rooms(sid, tuple(rooms))
    return JSONResponse({"id": sid, "room_ids": list(rooms)}, status_code=201)


def _room_ids(d: dict[str, Any]) -> list[int]:
    raw = d.get("room_ids", [])
    if not isinstance(raw, list) or not all(
        isinstance(r, int) and not isinstance(r, bool) and 0 <= r < 2**63 for r in raw
    ):
        raise ApiError(
            422,
            "invalid",
            "room_ids must be a list of room ids",
            [{"field": "room_ids", "message": "a list of room ids"}],
        )
    return list(raw)


async def set_staff_rooms(request: Request) -> Response:
    sid = _int_param(request, "staff_id")
    d = await read_json(request)
    rooms = await _run(
        assign_rooms, context(request.app).engine, sid, _room_ids(d), _actor(request)
    )
    # In force at once on this worker (a proctor given a room uses it straight
    # away), on the others at their next read (exam_server.revocation).
    context(request.app).staff_access.note_rooms(sid, tuple(rooms))
    return JSONResponse({"id": sid, "room_ids": list(rooms)})


async def set_staff_access(request: Request) -> Response:
    """Disable or enable a staff account (``/disable``, ``/enable``): its logins
    and the tokens it holds (within ``staff_refresh_seconds``)."""
    sid = _int_param(request, "staff_id")
    d = await read_json(request)
    disabled = request.url.path.endswith("/disable")
    me = _staff(request)
    engine = context(request.app).engine
    username = await _run(sch.staff_username, engine, sid)
    await _run(
        sch.set_staff_disabled,
        engine,
        username,
        disabled,
        _actor(request),
        me.staff_id,
        field_str(d, "reason", max_len=500, required=False),
    )
    context(request.app).staff_access.note_disabled(sid, disabled)
    return JSONResponse({"id": sid, "username": username, "disabled": disabled})


async def set_staff_password(request: Request) -> Response:
    """A new password for a staff account, set by an administrator (the person
    is told it in person; it is never sent anywhere by the server)."""
    sid = _int_param(request, "staff_id")
    d = await read_json(request)
    ctx = context(request.app)
    username = await _run(sch.staff_username, ctx.engine, sid)
    password = field_str(d, "password", max_len=200)
    async with ctx.hash_limiter:  # scrypt: at most a few at once
        await _run(
            sch.set_staff_password,
            ctx.engine,
            username,
            password,
            ctx.settings.scrypt_n,
            _actor(request),
        )
    return JSONResponse({"id": sid, "username": username})


ENDPOINTS: list[Endpoint] = [
    Endpoint(
        "POST",
        "/api/admin/staff",
        create_staff,
        "create a proctor or admin account",
        ("admin",),
        obj(
            ["username", "role", "password"],
            username=STR,
            name=STR,
            role=STR,
            password=STR,
            room_ids={"type": "array", "items": INT},
        ),
        responses={"409": "exists", "422": "invalid"},
    ),
    Endpoint(
        "PUT",
        "/api/admin/staff/{staff_id:int}/rooms",
        set_staff_rooms,
        "set the rooms a proctor supervises (takes effect at their next login)",
        ("admin",),
        obj(["room_ids"], room_ids={"type": "array", "items": INT}),
        responses={"404": "no such staff member", "422": "unknown room"},
    ),
    Endpoint(
        "POST",
        "/api/admin/staff/{staff_id:int}/disable",
        set_staff_access,
        "disable a staff account: its logins and the tokens it holds are refused",
        ("admin",),
        obj([], reason=STR),
        responses={
            "404": "no such staff member",
            "409": "own_account (your own) or last_admin (the last enabled administrator)",
        },
    ),
    Endpoint(
        "POST",
        "/api/admin/staff/{staff_id:int}/enable",
        set_staff_access,
        "enable a disabled staff account again",
        ("admin",),
        obj([], reason=STR),
        responses={"404": "no such staff member"},
    ),
    Endpoint(
        "PUT",
        "/api/admin/staff/{staff_id:int}/password",
        set_staff_password,
        "set a new password for a staff account (at least 8 characters)",
        ("admin",),
        obj(["password"], password=STR),
        responses={"404": "no such staff member", "422": "password too short"},
    ),
]
