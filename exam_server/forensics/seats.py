"""Rooms' seating layouts: which terminal sits at which row and column.

The layout is part of the room record (:class:`~exam_server.forensics.models.RoomSeat`);
a candidate's seat is their attempt's terminal. :func:`parse_seats` reads the
CSV an operator writes (``room,terminal_id,row,col``; room is the room code,
or ``site/room`` where two sites share a room code) and refuses a bad row
naming its line; :func:`store_seats` replaces the layouts of the rooms given.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Engine

from exam_server.db import writer
from exam_server.forensics.models import RoomSeat
from exam_server.models import Room, Site

SEAT = RoomSeat.__table__  # type: ignore[attr-defined]
ROOM = Room.__table__  # type: ignore[attr-defined]
SITE = Site.__table__  # type: ignore[attr-defined]
COLUMNS = ("room", "terminal_id", "row", "col")
MAX_TERMINAL_ID = 80  # exam_attempt.terminal_id


class SeatError(ValueError):
    """A seating CSV that cannot be used (the message names the line)."""


@dataclass(frozen=True)
class Seat:
    room_id: int
    terminal_id: str
    row: int
    col: int


def room_ids(engine: Engine) -> dict[str, list[int]]:
    """Room code and ``site/room`` → the ids of the rooms so named."""
    out: dict[str, list[int]] = {}
    with engine.connect() as conn:
        for rid, rcode, scode in conn.execute(
            select(ROOM.c.id, ROOM.c.code, SITE.c.code).join(SITE, SITE.c.id == ROOM.c.site_id)
        ):
            out.setdefault(str(rcode), []).append(int(rid))
            out.setdefault(f"{scode}/{rcode}", []).append(int(rid))
    return out


def parse_seats(text: str, rooms: dict[str, list[int]]) -> list[Seat]:
    """The seats of a CSV text; :class:`SeatError` naming the line otherwise."""
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = reader.fieldnames or []
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            raise SeatError(f"line 1: the header lacks {', '.join(missing)}")
        rows = list(reader)
    except csv.Error as exc:
        raise SeatError(f"not a readable CSV: {exc}") from None
    seats: list[Seat] = []
    seen: set[tuple[int, str]] = set()
    for n, row in enumerate(rows, start=2):  # line 1 is the header
        cells = {k: (row.get(k) or "").strip() for k in COLUMNS}
        empty = [k for k, v in cells.items() if not v]
        if empty:
            raise SeatError(f"line {n}: missing {', '.join(empty)}")
        ids = rooms.get(cells["room"], [])
        if len(ids) != 1:
            what = "no room" if not ids else "more than one room (write site/room)"
            raise SeatError(f"line {n}: {what} {cells['room']!r}")
        if len(cells["terminal_id"]) > MAX_TERMINAL_ID:
            raise SeatError(f"line {n}: terminal_id longer than {MAX_TERMINAL_ID} characters")
        try:
            r, c = int(cells["row"]), int(cells["col"])
        except ValueError:
            raise SeatError(f"line {n}: row and col must be whole numbers") from None
        if not (0 <= r < 10_000 and 0 <= c < 10_000):
            raise SeatError(f"line {n}: row and col must be between 0 and 9999")
        key = (ids[0], cells["terminal_id"])
        if key in seen:
            raise SeatError(f"line {n}: terminal {key[1]} appears twice in the room")
        seen.add(key)
        seats.append(Seat(key[0], key[1], r, c))
    return seats


def store_seats(engine: Engine, seats: list[Seat]) -> int:
    """Replace the layouts of the rooms in ``seats``; returns the rooms changed."""
    rooms = sorted({s.room_id for s in seats})
    with writer(engine).begin() as conn:
        for room_id in rooms:
            conn.execute(delete(SEAT).where(SEAT.c.room_id == room_id))
        if seats:
            conn.execute(
                insert(SEAT),
                [
                    {"room_id": s.room_id, "terminal_id": s.terminal_id, "row": s.row, "col": s.col}
                    for s in seats
                ],
            )
    return len(rooms)
