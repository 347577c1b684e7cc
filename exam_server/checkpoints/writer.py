"""Writing checkpoints: one line when something changed, under a PostgreSQL
advisory lock and a file lock, at a cadence, at a session's close and at
stop (:class:`Checkpointer`)."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import anyio
import anyio.to_thread
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select, text
from sqlalchemy.engine import Engine

from exam_server.audit.chain import HEAD, RESPONSE
from exam_server.background import cancelled
from exam_server.checkpoints.keys import default_paths, load_or_create_key
from exam_server.checkpoints.lines import (
    VERSION,
    Checkpoint,
    last_line,
    line_hash,
    parse_line,
    sign_line,
)
from exam_server.receipts import record_current_key
from exam_server.settings import Settings

log = logging.getLogger(__name__)

#: How long the board's copy of the latest checkpoint is kept before the
#: file is read again (seconds): a line is written at most every
#: ``checkpoint_seconds`` (60 s by default), and a board ticks every 5 s.
BRIEF_SECONDS = 5.0


#: Advisory lock key for checkpoint writers ("SLKC"), apart from the attempt locks.
_PG_LOCK = 0x534C4B43


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[IO[bytes]]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield f
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def write_checkpoint(
    engine: Engine,
    path: Path,
    key: Ed25519PrivateKey,
    reason: str,
    *,
    session_id: int | None = None,
    now: float | None = None,
    force: bool = False,
) -> Checkpoint | None:
    """Append a checkpoint if any head moved since the file's last line (or
    ``force``); returns it, or None when nothing changed. Blocking: run it
    in a thread."""
    with contextlib.ExitStack() as stack:
        conn = stack.enter_context(engine.connect())
        if engine.dialect.name == "postgresql":
            # One writer at a time across processes; the snapshot makes the
            # heads and the answers one moment.
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            stack.enter_context(conn.begin())
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
        else:
            stack.enter_context(conn.begin())
        f = stack.enter_context(_locked(path))
        previous_raw = last_line(f)
        previous = parse_line(previous_raw) if previous_raw else None
        head = conn.execute(select(HEAD.c.last_id, HEAD.c.last_hash).where(HEAD.c.id == 1)).first()
        audit_id, audit_hash = (int(head[0]), str(head[1])) if head else (0, "")
        upto0 = previous.responses_upto if previous else 0
        latest: dict[int, tuple[int, str]] = {}
        upto = upto0
        for r in conn.execute(
            select(RESPONSE.c.id, RESPONSE.c.attempt_id, RESPONSE.c.seq, RESPONSE.c.hash)
            .where(RESPONSE.c.id > upto0)
            .order_by(RESPONSE.c.id)
        ):
            upto = max(upto, int(r.id))
            seen = latest.get(int(r.attempt_id))
            if seen is None or int(r.seq) > seen[0]:
                latest[int(r.attempt_id)] = (int(r.seq), str(r.hash))
        unchanged = (
            previous is not None
            and not latest
            and (previous.audit_id, previous.audit_hash) == (audit_id, audit_hash)
        )
        if unchanged and not force:
            return None
        content = {
            "v": VERSION,
            "n": (previous.n if previous else 0) + 1,
            "at": round(time.time() if now is None else now, 3),
            "reason": reason,
            "session_id": session_id,
            "audit": {"id": audit_id, "hash": audit_hash},
            "responses_upto": upto,
            "attempts": [[aid, seq, h] for aid, (seq, h) in sorted(latest.items())],
            "prev": line_hash(previous_raw) if previous_raw else "",
        }
        line = sign_line(key, content)
        f.seek(0, os.SEEK_END)
        f.write(line + b"\n")
        f.flush()
        os.fsync(f.fileno())
        return parse_line(line)
    return None  # pragma: no cover  (the with block always returns)


def latest(path: Path) -> Checkpoint | None:
    """The file's last checkpoint (None if there is none yet)."""
    if not path.exists():
        return None
    with path.open("rb") as f:
        raw = last_line(f)
    return parse_line(raw) if raw else None


def latest_fingerprint(path: Path) -> str | None:
    """The fingerprint of the file's last checkpoint, for the session report."""
    cp = latest(path)
    return cp.fingerprint if cp else None


class Checkpointer:
    """Writes checkpoints for a running server: every ``checkpoint_seconds``,
    on :meth:`now` (session close) and at :meth:`stop`."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.engine = engine
        self.interval = settings.checkpoint_seconds
        self.path, self.key_path = default_paths(settings)
        self.key: Ed25519PrivateKey | None = None
        self._lock = anyio.Lock()  # one write at a time in this process
        self._task: asyncio.Task[None] | None = None
        # (monotonic seconds, brief): what public boards show, read again at
        # most every BRIEF_SECONDS however many boards ask.
        self._brief: tuple[float, dict[str, Any] | None] | None = None

    @property
    def public_key(self) -> Ed25519PublicKey:
        if self.key is None:
            raise RuntimeError("the checkpointer has not started")
        return self.key.public_key()

    async def start(self) -> None:
        self.key = await anyio.to_thread.run_sync(load_or_create_key, self.key_path)
        # The key also signs receipts: list it, so a receipt survives the key's replacement.
        pub = self.key.public_key()
        await anyio.to_thread.run_sync(record_current_key, self.key_path, pub)
        await self.now("start")
        if self.interval > 0:
            self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.now("interval")

    async def now(self, reason: str, session_id: int | None = None) -> Checkpoint | None:
        """Write a checkpoint now if anything changed (never raises: a failed
        checkpoint is logged, and the exam goes on)."""
        if self.key is None:
            return None
        key = self.key
        async with self._lock:
            try:
                return await anyio.to_thread.run_sync(
                    lambda: write_checkpoint(
                        self.engine, self.path, key, reason, session_id=session_id
                    )
                )
            except Exception:
                log.exception("checkpoint (%s) not written to %s", reason, self.path)
                return None

    async def close_session(self, session_id: int) -> str | None:
        """The checkpoint at a session's close; returns the fingerprint for the
        session report (the latest line's if nothing changed since it)."""
        cp = await self.now("session_close", session_id=session_id)
        if cp is None:
            cp = await anyio.to_thread.run_sync(self.latest)
        return cp.fingerprint if cp is not None else None

    def latest(self) -> Checkpoint | None:
        """The file's last checkpoint (blocking: a read of the file's end)."""
        return latest(self.path)

    async def brief(self) -> dict[str, Any] | None:
        """The latest checkpoint as the public board shows it, ``{"n", "at",
        "fingerprint"}`` (at: epoch seconds), or None (none yet, or
        checkpoints off). Anyone watching can copy the fingerprint, a witness
        outside the server of the chain heads at that moment: ``seleksi audit
        verify --expect`` later proves the file still holds that line. The
        file (another worker of this host may have written it) is read again
        at most every :data:`BRIEF_SECONDS`."""
        if self.key is None:
            return None
        now = time.monotonic()
        if self._brief is None or now - self._brief[0] >= BRIEF_SECONDS:
            try:
                cp = await anyio.to_thread.run_sync(self.latest)
            except (OSError, ValueError):
                log.exception("checkpoint file %s not readable for the board", self.path)
                cp = None
            shown = None if cp is None else {"n": cp.n, "at": cp.at, "fingerprint": cp.fingerprint}
            self._brief = (now, shown)
        return self._brief[1]

    async def stop(self) -> None:
        await cancelled(self._task)
        self._task = None
        await self.now("stop")
