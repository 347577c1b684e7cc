"""The running application's parts, built once in the lifespan.

One typed object instead of an untyped bag of ``app.state`` keys read back
with ``getattr`` defaults: a part that failed to build fails the start, and
every reader gets the same, typed part. Endpoints reach it with
:func:`context` (``context(request.app)`` or ``context(websocket.app)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import anyio
    from sqlalchemy.engine import Engine

    from exam_server.after_test.survey_pool import SurveyPool
    from exam_server.attempts import AttemptService
    from exam_server.auth import TokenSigner
    from exam_server.checkpoints import Checkpointer
    from exam_server.clock import Clock
    from exam_server.db import WalCheckpointer
    from exam_server.durability import GroupCommitter
    from exam_server.events import EventBus
    from exam_server.gcpolicy import GcFreezer
    from exam_server.health import LoopMonitor
    from exam_server.limits import LoginLimiter
    from exam_server.proctoring.service import ProctoringService
    from exam_server.revocation import DisabledStaff
    from exam_server.settings import Settings
    from exam_server.socket_gate import SocketGate
    from exam_server.terminal_passes import PassRegistry


@dataclass
class AppContext:
    """Everything the endpoints of one running app share (one per process)."""

    settings: Settings
    clock: Clock
    engine: Engine
    committer: GroupCommitter
    bus: EventBus
    signer: TokenSigner
    attempts: AttemptService
    # Failed-login back-off, candidates and staff (exam_server.limits).
    limits: LoginLimiter
    # At most a few scrypt hashes at once: staff logins never starve the
    # threads that serve terminals. The exam day's staff (proctors, admins,
    # assessors) have their own; the public recruitment pages' logins and
    # sign-ups queue on ``public_hash_limiter``, so that a flood of those
    # never keeps a proctor waiting.
    hash_limiter: anyio.CapacityLimiter
    public_hash_limiter: anyio.CapacityLimiter
    dummy_hash: str
    monitor: LoopMonitor
    proctoring: ProctoringService
    # Signed checkpoints of the chain heads (exam_server.checkpoints).
    checkpoints: Checkpointer
    # Survey answers waiting for their batch (exam_server.after_test.survey_pool).
    survey_pool: SurveyPool
    # The terminal passes this process knows, read from the audit chain
    # (exam_server.terminal_passes): a login's pass is checked against it.
    passes: PassRegistry
    # Disabled staff accounts and every account's rooms, read every few
    # seconds (exam_server.revocation); endpoints note their own changes.
    staff_access: DisabledStaff
    # Sockets open without a login, per address and in all (exam_server.socket_gate):
    # terminals before their hello is accepted, and the public board.
    preauth_gate: SocketGate
    board_gate: SocketGate
    # TCP connections per address and in all, before their request header is
    # whole (exam_server.connection_gate).
    connection_gate: SocketGate
    # Optional parts: the SQLite checkpointer and the GC freezer (settings).
    wal_checkpointer: WalCheckpointer | None = None
    gc_freezer: GcFreezer | None = None
    # Small per-app state of endpoints (e.g. the report rate limit), by name
    # rather than on ``app.state``.
    extras: dict[str, Any] = field(default_factory=dict)


class NotStarted(RuntimeError):
    """The app's lifespan has not built its context (the server is not running)."""


def context(app: Any) -> AppContext:
    """The context of a running app (``request.app`` / ``websocket.app``)."""
    ctx = getattr(app.state, "context", None)
    if not isinstance(ctx, AppContext):
        raise NotStarted("the application has not started (lifespan not run)")
    return ctx
