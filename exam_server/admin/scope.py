"""Proctor scope: a proctor acts only on the sessions held in the rooms they
supervise (``exam_staff_room``, carried in the signed staff token from login);
any other session or attempt gets 403 ``forbidden``. Admins are unrestricted."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from sqlalchemy import select
from sqlmodel import Session, col
from starlette.requests import Request

from exam_server import audit
from exam_server import scheduling as sch
from exam_server.admin.common import _staff
from exam_server.context import context
from exam_server.db import writer
from exam_server.http import ApiError
from exam_server.models import Attempt, ExamSession, Room, Staff, StaffRoom


def staff_rooms(engine: Any, staff_id: int) -> tuple[int, ...]:
    """Ids of the rooms a staff member supervises, ascending."""
    with Session(engine) as s:
        rows = s.execute(
            select(col(StaffRoom.room_id))
            .where(col(StaffRoom.staff_id) == staff_id)
            .order_by(col(StaffRoom.room_id))
        ).scalars()
        return tuple(int(r) for r in rows)


def assign_rooms(
    engine: Any, staff_id: int, room_ids: list[int], actor: str = "cli"
) -> tuple[int, ...]:
    """Make ``room_ids`` the rooms a staff member supervises (replacing any before),
    audited as ``staff_rooms`` by ``actor`` (the username and the sorted room
    ids) in the same transaction.

    Raises :class:`~exam_server.scheduling.SetupError` (404) for an unknown staff
    member and (422) for a room id that names no room."""
    wanted = sorted(set(room_ids))
    check_rooms(engine, room_ids)
    with Session(writer(engine)) as s:
        st = s.get(Staff, staff_id)
        if st is None:
            raise sch.SetupError("no such staff member", [], 404)
        for old in s.execute(
            select(StaffRoom).where(col(StaffRoom.staff_id) == staff_id)
        ).scalars():
            s.delete(old)
        s.flush()
        for rid in wanted:
            s.add(StaffRoom(staff_id=staff_id, room_id=rid))
        s.flush()
        audit.append(
            s.connection(),
            "staff_rooms",
            actor,
            data={"username": st.username, "room_ids": wanted},
        )
        s.commit()
    return tuple(wanted)


def check_rooms(engine: Any, room_ids: list[int]) -> None:
    """SetupError (422) naming the first id in ``room_ids`` that names no room."""
    with Session(engine) as s:
        for i, rid in enumerate(room_ids):
            if s.get(Room, rid) is None:
                raise sch.SetupError(
                    f"room_ids[{i}]: no room {rid}",
                    [{"field": f"room_ids[{i}]", "message": f"no room {rid}"}],
                )


def session_room(engine: Any, session_id: int) -> int | None:
    """The room a session is held in (None: no such session)."""
    with Session(engine) as s:
        sess = s.get(ExamSession, session_id)
        return None if sess is None else sess.room_id


def attempt_room(engine: Any, attempt_id: int) -> int | None:
    """The room of the session an attempt belongs to (None: no such attempt)."""
    with Session(engine) as s:
        row = s.execute(
            select(col(ExamSession.room_id))
            .join(Attempt, col(Attempt.session_id) == col(ExamSession.id))
            .where(col(Attempt.id) == attempt_id)
        ).first()
        return None if row is None else int(row[0])


async def _guard(request: Request, kind: str, ident: int) -> None:
    """403 ``forbidden`` unless the caller may act on session/attempt ``ident``.

    Admins pass without a lookup. For a proctor an unknown id is 404, as the
    endpoint itself would answer."""
    st = _staff(request)
    if st.role == "admin":
        return
    lookup = session_room if kind == "session" else attempt_room
    room = await anyio.to_thread.run_sync(lookup, context(request.app).engine, ident)
    if room is None:
        raise ApiError(404, "not_found", f"no such {kind}")
    if not st.may_supervise(room):
        raise ApiError(403, "forbidden", f"this {kind} is not in a room you supervise")
