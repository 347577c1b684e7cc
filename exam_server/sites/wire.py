"""What a site and the centre say to each other over HTTP (version 1).

``GET /api/centre/v1/positions`` answers :class:`Positions`: how far each
of the site's chains has arrived. ``POST /api/centre/v1/batches`` takes a
:class:`Batch`: records after those positions, each keyed by its chain
position (an audit event by its id in the site's chain, an answer by
(attempt, seq), a checkpoint line by its number), so a batch sent twice
stores nothing twice, and a record that does not follow the stored one is
a gap (the batch is refused whole, HTTP 409, with the positions to resend
from). The site's current heads ride along so the centre can tell when a
record it already holds was rewritten at the site.

Validated with pydantic: a malformed batch is refused naming the field.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

_STRICT = ConfigDict(extra="forbid")
Hash = str  # 64 hex characters, or "" before a chain's first record


class AuditRecord(BaseModel):
    """One event of the site's audit chain (``exam_audit`` as stored there)."""

    model_config = _STRICT
    id: int = Field(ge=1)
    at: float
    kind: str = Field(max_length=40)
    actor: str = Field(max_length=120)
    session_id: int | None = None
    attempt_id: int | None = None
    reason: str = ""
    data_json: str = "{}"
    prev_hash: Hash = Field(max_length=64)
    hash: Hash = Field(min_length=64, max_length=64)


class ResponseRecord(BaseModel):
    """One answer of an attempt's chain (``exam_response`` as stored there)."""

    model_config = _STRICT
    attempt_id: int = Field(ge=1)
    seq: int = Field(ge=1)
    kind: str = Field(max_length=8)
    number: int
    item_id: str = Field(max_length=80)
    option: int = -1
    flagged: bool = False
    elapsed: float = 0.0
    at: float = 0.0
    prev_hash: Hash = Field(max_length=64)
    hash: Hash = Field(min_length=64, max_length=64)
    server_elapsed: float | None = None
    chosen: str | None = None


class AttemptRecord(BaseModel):
    """An attempt and its result as the site holds it now (sent again when
    its status or length changes). state_json: the final engine state, for a
    finished attempt whose design makes a replay diverge."""

    model_config = _STRICT
    attempt_id: int = Field(ge=1)
    session_id: int
    candidate_id: int
    status: str = Field(max_length=16)
    terminal_id: str | None = Field(default=None, max_length=80)
    seed: int
    last_seq: int = Field(ge=0)
    response_head: Hash = Field(max_length=64)
    started_at: float = 0.0
    finished_at: float | None = None
    finish_reason: str | None = Field(default=None, max_length=40)
    score_json: str | None = None
    total_points: float | None = None
    passed: bool | None = None
    pass_reason: str | None = Field(default=None, max_length=300)
    state_json: str | None = None


class ChainHead(BaseModel):
    model_config = _STRICT
    position: int = Field(ge=0)  # audit event id, answer seq or checkpoint number
    hash: Hash = Field(max_length=64)


class SiteStatus(BaseModel):
    """What the site reports of itself: records still to send after this
    batch, when the oldest of them was written (the sync lag), sessions open."""

    model_config = _STRICT
    pending: int = Field(default=0, ge=0)
    oldest_pending_at: float | None = None
    sessions_running: int = Field(default=0, ge=0)


class Batch(BaseModel):
    """Records from the site, after ``base`` (the positions they were read
    against). heads: the site's audit head and every attempt's answer head
    now; checkpoint_key: the PEM public key its checkpoint lines are signed
    with now (the centre takes it at the first sync; a replacement counts only
    once registered there: ``exam_server.sites.checkpoint_keys``)."""

    model_config = _STRICT
    base_audit: ChainHead
    audit: list[AuditRecord] = Field(default_factory=list, max_length=20000)
    responses: list[ResponseRecord] = Field(default_factory=list, max_length=20000)
    attempts: list[AttemptRecord] = Field(default_factory=list, max_length=20000)
    checkpoints: list[str] = Field(default_factory=list, max_length=1000)
    checkpoint_key: str | None = Field(default=None, max_length=2000)
    audit_head: ChainHead
    attempt_heads: dict[int, ChainHead] = Field(default_factory=dict)
    status: SiteStatus = Field(default_factory=SiteStatus)

    @property
    def size(self) -> int:
        return len(self.audit) + len(self.responses) + len(self.attempts) + len(self.checkpoints)


class AttemptPosition(BaseModel):
    model_config = _STRICT
    seq: int  # the last answer stored at the centre (0: none)
    hash: Hash
    status: str | None = None  # of the attempt record stored (None: none yet)
    last_seq: int | None = None


class Positions(BaseModel):
    """How far each of a site's chains has arrived at the centre."""

    model_config = _STRICT
    audit: ChainHead
    checkpoint: ChainHead
    attempts: dict[int, AttemptPosition] = Field(default_factory=dict)


class BatchResult(BaseModel):
    """The centre's answer to a batch: what was stored, what was already
    there, what it refused as a verification failure, and the positions now."""

    model_config = _STRICT
    stored: int
    duplicates: int
    problems: list[str]
    positions: Positions
