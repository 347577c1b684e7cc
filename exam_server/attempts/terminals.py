"""A terminal connecting to its attempt, and dropping off it.

``hello`` binds the socket to the attempt its token names (one socket per
attempt: a second one replaces the first) and starts the clock; a drop
remembers when the terminal was last seen alive, from which the grace
period runs (:mod:`exam_server.presence`, :func:`exam_server.clock.silent_stop_at`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from exam_server import presence
from exam_server import protocol as p
from exam_server.attempts import actions, sweeps, timing
from exam_server.attempts.state import LiveAttempt, Terminal
from exam_server.durability import StorageUnavailable
from exam_server.events import LiveEvent
from exam_server.health import outage_cause

if TYPE_CHECKING:
    from exam_server.attempts.service import AttemptService

log = logging.getLogger(__name__)

#: What a database outage looks like from here: the terminal gets
#: ``unavailable`` (try again), as a login gets 503 ``unavailable``.
OUTAGE = (SQLAlchemyError, StorageUnavailable, OSError)


async def hello(svc: AttemptService, conn: Terminal, msg: p.Hello) -> LiveAttempt:
    """Authenticate a terminal's socket and bind it to its attempt."""
    try:
        claims = svc.signer.read_candidate(msg.token)
    except Exception as exc:
        code = getattr(exc, "code", "bad_token")
        raise p.ProtocolError(code if code in p.ERROR_CODES else "bad_token") from None
    if claims.terminal_id != msg.terminal_id:
        raise p.ProtocolError("wrong_terminal")
    try:
        la = await svc.get(claims.attempt_id)
    except KeyError:
        raise p.ProtocolError("bad_token", "no such attempt") from None
    except OUTAGE as exc:
        log.warning(
            "hello of attempt %s: database unavailable: %s", claims.attempt_id, outage_cause(exc)
        )
        raise p.ProtocolError("unavailable") from None
    if la.terminal_id == claims.terminal_id and not la.terminal_released:
        try:
            # Back after a gap: the clock stops as of the grace's end first,
            # then starts again below (exam_server.attempts.sweeps.catch_up).
            await sweeps.catch_up(svc, la, svc.clock.now())
        except OUTAGE:
            raise p.ProtocolError("unavailable") from None
    async with la.lock:
        if la.terminal_id != claims.terminal_id:
            raise p.ProtocolError(
                "wrong_terminal" if not la.terminal_released else "terminal_locked"
            )
        if la.terminal_released:
            raise p.ProtocolError("terminal_locked", "released: log in again with your PIN")
        now = svc.clock.now()
        if la.status == "running" and la.running_since is None:
            try:
                await timing.start_clock(svc, la, now)
            except OUTAGE:
                raise p.ProtocolError("unavailable") from None
        old = la.conn
        la.conn = conn
        la.gone_since = None
        if old is not None and old is not conn:
            await old.send(p.error_frame(p.ProtocolError("replaced")))
            await old.close(p.CLOSE_POLICY, "replaced")
    svc.bus.publish(
        LiveEvent(
            "connect",
            la.session_id,
            la.id,
            la.registration_number,
            at=now,
            data={
                "terminal_id": conn.terminal_id,
                "deadline_at": la.deadline_at,
                "remaining": la.remaining(now),
                "n_items": la.exam.n_items,
                "answered": len(la.answers),
            },
        )
    )
    return la


async def disconnected(
    svc: AttemptService, la: LiveAttempt, conn: Terminal, close_code: int | None = None
) -> None:
    """The terminal's socket ended (``close_code``: the WebSocket close code)."""
    if la.conn is not conn:
        return
    now = svc.clock.now()
    la.conn = None
    la.gone_since = presence.alive_until_drop(
        conn.last_heard, now, close_code, svc.settings.keepalive_seconds
    )
    if la.dirty:
        await actions.store_navigation(svc, la)
    svc.bus.publish(
        LiveEvent(
            "disconnect",
            la.session_id,
            la.id,
            la.registration_number,
            at=now,
            data={
                "terminal_id": conn.terminal_id,
                "grace_seconds": svc.settings.grace_seconds,
                "seen_alive": la.gone_since,
            },
        )
    )
