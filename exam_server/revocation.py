"""Disabled staff accounts, known to every worker within seconds.

A staff token is signed and checked without the database (``exam_server.auth``),
so disabling an account (``seleksi staff disable``) used to refuse only its next
login: a token it already held stayed valid until it expired, up to 12 hours.
:class:`DisabledStaff` reads the disabled accounts' ids every few seconds
(every worker, on SQLite or PostgreSQL, whoever disabled them) and
:meth:`exam_server.auth.TokenSigner.read_staff`, the one place a staff token is
read for REST and WebSockets alike, refuses their tokens (``account_disabled``).
Enabling the account again lets a token it still holds work again.

The same read takes the rooms each account supervises now
(``exam_staff_room``): a proctor's token carries the rooms of its login, and
:meth:`~exam_server.auth.TokenSigner.read_staff` replaces them with these,
so a room taken from a proctor is out of their reach within seconds too
instead of when the token expires.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import anyio.to_thread
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from exam_server.background import cancelled

log = logging.getLogger(__name__)


class DisabledStaff:
    """The ids of disabled staff accounts (``staff_id in disabled``).

    interval: seconds between two reads of the table (the longest a disabled
    account's token keeps working on this worker). A read that fails keeps the
    last set known (the database may be restarting); it is logged once per
    failure spell.
    """

    def __init__(self, engine: Engine, interval: float = 2.0) -> None:
        if not 0 < interval <= 60:
            raise ValueError("DisabledStaff interval must be in (0, 60] seconds")
        self.engine = engine
        self.interval = interval
        self.ids: frozenset[int] = frozenset()
        # staff id -> the rooms they supervise now (every account read; () none)
        self.rooms: dict[int, tuple[int, ...]] = {}
        self._failing = False
        self._task: asyncio.Task[None] | None = None
        # Changes this process made itself (note_rooms, note_disabled), with
        # when (monotonic s): they count at once here, and a read that began
        # before them does not undo them.
        self._lock = threading.Lock()
        self._noted_rooms: dict[int, tuple[float, tuple[int, ...]]] = {}
        self._noted_disabled: dict[int, tuple[float, bool]] = {}

    def __contains__(self, staff_id: object) -> bool:
        return staff_id in self.ids

    def rooms_of(self, staff_id: int) -> tuple[int, ...] | None:
        """The rooms ``staff_id`` supervises as last read (None: not read yet,
        e.g. an account made since the last read)."""
        return self.rooms.get(staff_id)

    def note_rooms(self, staff_id: int, rooms: tuple[int, ...]) -> None:
        """The rooms an endpoint of this process has just stored for
        ``staff_id``: in force here at once (a proctor given a room uses it
        straight away), on the other workers at their next read."""
        with self._lock:
            self._noted_rooms[staff_id] = (time.monotonic(), tuple(rooms))
            self.rooms = {**self.rooms, staff_id: tuple(rooms)}

    def note_disabled(self, staff_id: int, disabled: bool) -> None:
        """An account this process has just disabled or enabled: in force here
        at once, on the other workers at their next read."""
        with self._lock:
            self._noted_disabled[staff_id] = (time.monotonic(), disabled)
            self.ids = self.ids | {staff_id} if disabled else self.ids - {staff_id}

    def refresh(self) -> None:
        """Read the disabled accounts and every account's rooms now (blocking:
        call it in a thread)."""
        began = time.monotonic()
        try:
            with self.engine.connect() as conn:
                staff = conn.execute(text("SELECT id, disabled FROM exam_staff")).all()
                assigned = conn.execute(
                    text("SELECT staff_id, room_id FROM exam_staff_room ORDER BY room_id")
                ).all()
        except SQLAlchemyError as exc:
            if not self._failing:
                log.warning("disabled staff accounts not read (keeping the last set): %s", exc)
            self._failing = True
            return
        self._failing = False
        rooms: dict[int, list[int]] = {int(r[0]): [] for r in staff}
        for sid, rid in assigned:
            rooms.setdefault(int(sid), []).append(int(rid))
        read_rooms = {sid: tuple(rs) for sid, rs in rooms.items()}
        ids = {int(r[0]) for r in staff if r[1]}
        with self._lock:
            # A change noted after this read began may be missing from it: the
            # note stands until a read that began after it.
            self._noted_rooms = {k: v for k, v in self._noted_rooms.items() if v[0] >= began}
            self._noted_disabled = {k: v for k, v in self._noted_disabled.items() if v[0] >= began}
            read_rooms.update({k: v[1] for k, v in self._noted_rooms.items()})
            for k, (_, disabled) in self._noted_disabled.items():
                (ids.add if disabled else ids.discard)(k)
            self.rooms = read_rooms
            self.ids = frozenset(ids)

    async def start(self) -> None:
        """Read once before the server answers, then every ``interval`` seconds."""
        await anyio.to_thread.run_sync(self.refresh)
        self._task = asyncio.create_task(self._run(), name="disabled-staff")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await anyio.to_thread.run_sync(self.refresh)

    async def stop(self) -> None:
        await cancelled(self._task)
        self._task = None
