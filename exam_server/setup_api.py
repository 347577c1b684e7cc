"""What the admin page lists to set up an exam day: sites with their rooms,
staff accounts with the rooms they supervise, formations.

Read only; creating them is in :mod:`exam_server.admin` (``POST
/api/admin/sites``, ``/rooms``, ``/staff``, ``/formations``; ``PUT
/api/admin/staff/{id}/rooms``). No password hash ever leaves the server.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from sqlmodel import Session, col, select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from exam_server.context import context
from exam_server.http import Endpoint
from exam_server.models import Formation, Room, Site, Staff, StaffRoom


def sites_with_rooms(engine: Any) -> list[dict[str, Any]]:
    """Every site, by code, with its rooms (id, code, name, capacity)."""
    with Session(engine) as s:
        rooms: dict[int, list[dict[str, Any]]] = {}
        for r in s.exec(select(Room).order_by(col(Room.code))).all():
            rooms.setdefault(r.site_id, []).append(
                {"id": r.id, "code": r.code, "name": r.name, "capacity": r.capacity}
            )
        return [
            {"id": site.id, "code": site.code, "name": site.name, "rooms": rooms.get(site.id, [])}
            for site in s.exec(select(Site).order_by(col(Site.code))).all()
            if site.id is not None
        ]


def staff_accounts(engine: Any) -> list[dict[str, Any]]:
    """Every staff account (no password hash) with the ids of its rooms."""
    with Session(engine) as s:
        rooms: dict[int, list[int]] = {}
        for link in s.exec(select(StaffRoom).order_by(col(StaffRoom.room_id))).all():
            rooms.setdefault(link.staff_id, []).append(link.room_id)
        return [
            {
                "id": st.id,
                "username": st.username,
                "name": st.name,
                "role": st.role,
                "disabled": st.disabled,
                "room_ids": rooms.get(st.id or 0, []),
            }
            for st in s.exec(select(Staff).order_by(col(Staff.username))).all()
        ]


def formations(engine: Any) -> list[dict[str, Any]]:
    with Session(engine) as s:
        return [
            {
                "id": f.id,
                "code": f.code,
                "agency": f.agency,
                "position": f.position,
                "location": f.location,
                "openings": f.openings,
            }
            for f in s.exec(select(Formation).order_by(col(Formation.code))).all()
        ]


def _lister(fn: Any) -> Any:
    async def handler(request: Request) -> Response:
        return JSONResponse(await anyio.to_thread.run_sync(fn, context(request.app).engine))

    return handler


ENDPOINTS: list[Endpoint] = [
    Endpoint(
        "GET", "/api/admin/sites", _lister(sites_with_rooms), "sites with their rooms", ("admin",)
    ),
    Endpoint(
        "GET",
        "/api/admin/staff",
        _lister(staff_accounts),
        "staff accounts with the rooms each supervises (no password hashes)",
        ("admin",),
    ),
    Endpoint("GET", "/api/admin/formations", _lister(formations), "formations", ("admin",)),
]
