"""The server's records (SQLModel tables on the shared ``SQLModel.metadata``).

Times are epoch seconds (floats) so that SQLite and PostgreSQL agree without
time-zone conversions; JSON documents are stored as text. Table names start
with ``exam_``/no prefix clashes with ``item_bank``'s tables.

``Response`` and ``AuditEvent`` are append-only: the server never updates
or deletes their rows. ``Attempt`` holds the attempt's narrow current
fields (clock, terminal, last sequence number and chain head) and is updated
in the same transaction as the response rows that led to it; the engine
state is not rewritten with every answer but kept as ``AttemptSnapshot``
rows every few answers, from which the state is rebuilt by replaying the
responses after the last one (``exam_server.attempts.storage``).
"""

from __future__ import annotations

from sqlalchemy import Column, Index, LargeBinary, Text, UniqueConstraint, false
from sqlmodel import Field, SQLModel


class Site(SQLModel, table=True):
    __tablename__ = "exam_site"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=40)
    name: str = Field(max_length=200)


class Room(SQLModel, table=True):
    __tablename__ = "exam_room"
    __table_args__ = (UniqueConstraint("site_id", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="exam_site.id", index=True)
    code: str = Field(max_length=40)
    name: str = Field(max_length=200)
    capacity: int = 0


class Exam(SQLModel, table=True):
    """A test: its design and a frozen snapshot of the bank items it may use.

    bank_json: the engine arrays (``exam_server.snapshot``); items_json: the
    public content of each item (stem, options) in the same order, no keys.
    The exam owns its documents: design_json (``cat_engine.design``),
    policy_json (the ranking policy, ``exam_server.results.rules``; every
    verdict about this exam's candidates comes from it) and options_json
    (``exam_server.exam_options``), immutable once a session has opened.
    policy_json is NULL only in exams made before it existed, which ran
    under the 2024 rules (``RankingPolicy.default_2024``).
    """

    __tablename__ = "exam_exam"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=40)
    name: str = Field(max_length=200)
    design_json: str = Field(sa_column=Column(Text, nullable=False))
    bank_json: str = Field(sa_column=Column(Text, nullable=False))
    items_json: str = Field(sa_column=Column(Text, nullable=False))
    policy_json: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    options_json: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    n_items: int = 0
    created_at: float = 0.0


class ExamUsage(SQLModel, table=True):
    """How many tests of an exam have started (the denominator of exposure rates)."""

    __tablename__ = "exam_usage"
    exam_id: int = Field(primary_key=True, foreign_key="exam_exam.id")
    tests: int = 0


class ExamItemUsage(SQLModel, table=True):
    """How often each item of an exam's frozen bank was given (its exposure).

    item_index: the item's position in the exam's bank snapshot. Counted in
    the transaction that administers the item (``exam_server.usage``)."""

    __tablename__ = "exam_item_usage"
    exam_id: int = Field(primary_key=True, foreign_key="exam_exam.id")
    item_index: int = Field(primary_key=True)
    administered: int = 0


class ExamSession(SQLModel, table=True):
    """A scheduled sitting of an exam in a room. status: scheduled|open|closed."""

    __tablename__ = "exam_session"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=60)
    exam_id: int = Field(foreign_key="exam_exam.id", index=True)
    room_id: int = Field(foreign_key="exam_room.id", index=True)
    starts_at: float = 0.0
    status: str = Field(default="scheduled", max_length=16)
    token: str | None = Field(default=None, max_length=16)
    opened_at: float | None = None
    closed_at: float | None = None


class Formation(SQLModel, table=True):
    """A position opening (formasi)."""

    __tablename__ = "exam_formation"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=60)
    agency: str = Field(default="", max_length=200)
    position: str = Field(default="", max_length=200)
    location: str = Field(default="", max_length=200)
    openings: int = 1


class Candidate(SQLModel, table=True):
    """A registered candidate, scheduled into one session.

    category: the passing-grade category (``general``, ``cumlaude``,
    ``diaspora``, ``disability``, ``papua`` ...), a key of the ranking policy.
    """

    __tablename__ = "exam_candidate"
    id: int | None = Field(default=None, primary_key=True)
    registration_number: str = Field(unique=True, max_length=40)
    name: str = Field(max_length=200)
    category: str = Field(default="general", max_length=40)
    formation_id: int | None = Field(default=None, foreign_key="exam_formation.id", index=True)
    session_id: int | None = Field(default=None, foreign_key="exam_session.id", index=True)
    birth_date: str | None = Field(default=None, max_length=10)


class CheckIn(SQLModel, table=True):
    """The PIN issued at the site desk for one candidate and one session.

    pin_mac: hex HMAC-SHA256 of the PIN under the server key (see ``auth``);
    re-issuing a PIN replaces it.
    """

    __tablename__ = "exam_checkin"
    __table_args__ = (UniqueConstraint("session_id", "candidate_id"),)
    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="exam_session.id", index=True)
    candidate_id: int = Field(foreign_key="exam_candidate.id", index=True)
    pin_mac: str = Field(max_length=64)
    issued_at: float = 0.0
    issued_by: str = Field(default="", max_length=80)


class Staff(SQLModel, table=True):
    """A proctor or an administrator. password_hash: ``scrypt$n$r$p$salt$hash``."""

    __tablename__ = "exam_staff"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, max_length=80)
    name: str = Field(default="", max_length=200)
    role: str = Field(max_length=16)
    password_hash: str = Field(max_length=300)
    # A disabled account cannot log in (``seleksi staff disable``); its rows stay.
    disabled: bool = Field(default=False, sa_column_kwargs={"server_default": false()})


class StaffRoom(SQLModel, table=True):
    """A room a proctor supervises. A proctor acts only on the sessions held in
    their rooms (admins are unrestricted). A table of its own, not a column on
    ``exam_staff``, so ``create_all`` adds it to databases made before it."""

    __tablename__ = "exam_staff_room"
    __table_args__ = (UniqueConstraint("staff_id", "room_id"),)
    id: int | None = Field(default=None, primary_key=True)
    staff_id: int = Field(foreign_key="exam_staff.id", index=True)
    room_id: int = Field(foreign_key="exam_room.id", index=True)


class Attempt(SQLModel, table=True):
    """One candidate's sitting of one session.

    status: running | paused | finished | void. The clock: while running,
    ``remaining = remaining_at_start − (now − running_since)`` and
    ``deadline_at = running_since + remaining_at_start``; when the clock is
    stopped (paused, terminal gone past the grace period) ``running_since``
    and ``deadline_at`` are NULL and ``remaining_at_start`` is what is left.
    """

    __tablename__ = "exam_attempt"
    __table_args__ = (
        UniqueConstraint("session_id", "candidate_id"),
        Index("ix_exam_attempt_status_deadline", "status", "deadline_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="exam_session.id", index=True)
    candidate_id: int = Field(foreign_key="exam_candidate.id", index=True)
    status: str = Field(default="running", max_length=16)
    seed: int = 0
    last_seq: int = 0
    response_head: str = Field(default="", max_length=64)
    terminal_id: str | None = Field(default=None, max_length=80)
    terminal_released: bool = False
    remaining_at_start: float = 0.0
    running_since: float | None = None
    deadline_at: float | None = None
    last_seen_at: float = 0.0
    started_at: float = 0.0
    finished_at: float | None = None
    finish_reason: str | None = Field(default=None, max_length=40)
    score_json: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    total_points: float | None = None
    passed: bool | None = None
    pass_reason: str | None = Field(default=None, max_length=300)
    # The bank index of the item on the terminal's screen (linear tests) as
    # of the last answer or navigation stored: navigation is not an answer,
    # so replaying the responses does not give it back.
    on_screen: int | None = None


class AttemptSnapshot(SQLModel, table=True):
    """The engine state (``TestState`` JSON) of an attempt after response ``seq``
    (0: as the attempt started).

    Written when the attempt starts, every ``Settings.snapshot_every``
    responses, when an adaptive section ends, and at the finish (the final
    state); the current state is the last snapshot with the responses after
    it replayed through the engine. A table of its own so that the attempt
    row, updated with every answer, stays narrow. ``state`` is the state's
    JSON compressed with zstd (:mod:`exam_server.state_codec`): about 1.4 kB
    for a 110-item SKD form instead of 6.3 kB."""

    __tablename__ = "exam_attempt_snapshot"
    attempt_id: int = Field(primary_key=True, foreign_key="exam_attempt.id")
    seq: int = Field(primary_key=True)
    state: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class Presence(SQLModel, table=True):
    """When a terminal was last known to be connected to an attempt.

    Written for every connected terminal each presence interval up to
    revision 0019, read still (marks a crash left behind); the processes now
    write :class:`ProcessPresence` instead. Kept out
    of ``exam_attempt`` on purpose: a database rewrites a whole row on
    update, and the attempt row carries the engine's state (kilobytes), so
    marking 5,000 terminals alive there rewrote megabytes every few seconds
    and held up the answers queued behind it (docs/benchmarks.md). An
    attempt was seen alive at the latest of this, ``exam_attempt.last_seen_at``
    (set by answers and the clock) and its last stored answer.
    """

    __tablename__ = "exam_presence"
    attempt_id: int = Field(primary_key=True)
    last_seen_at: float = 0.0


class ProcessPresence(SQLModel, table=True):
    """The terminals connected to one server process at its last presence flush.

    One row per process start (``process``: a random key), rewritten every
    presence interval: ``attempts`` holds the attempt ids of its connected
    terminals (``exam_server.presence.pack_attempts``: sorted, delta-coded,
    compressed; a few hundred bytes for 5,000 terminals), ``seen_at`` the
    flush's time. One row a process instead of one mark a terminal
    (:class:`Presence`, no longer written): 5,000 upserted marks every 5 s
    were most of PostgreSQL's log at exam pace (docs/benchmarks.md). A
    process that dies leaves its row as it stopped, as the marks did, which
    is what the crash rule reads.
    """

    __tablename__ = "exam_presence_process"
    process: str = Field(primary_key=True, max_length=64)
    seen_at: float = 0.0
    attempts: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class Response(SQLModel, table=True):
    """One answer event (answer or flag), never updated.

    number: the item's 1-based position in the candidate's test; item_id: the
    bank item id; option: −1 = cleared. hash chains the attempt's responses:
    ``sha256(prev_hash | canonical fields)``. What the engine was given that a
    replay cannot recompute: server_elapsed, the seconds of the server's
    clock counted to the answer; chosen, an adaptive answer's next-item
    choices as JSON (``cat_engine.engine.Choices.made``). Both NULL in rows
    written before they existed (and chosen in linear tests).
    """

    __tablename__ = "exam_response"
    __table_args__ = (UniqueConstraint("attempt_id", "seq"),)
    id: int | None = Field(default=None, primary_key=True)
    # No index of its own: the unique (attempt_id, seq) index serves every lookup
    # by attempt, and a second index cost about 4 kB of log an answer (issue 17).
    attempt_id: int = Field(foreign_key="exam_attempt.id")
    seq: int
    kind: str = Field(max_length=8)
    number: int
    item_id: str = Field(max_length=80)
    option: int = -1
    flagged: bool = False
    elapsed: float = 0.0
    at: float = 0.0
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)
    server_elapsed: float | None = None
    chosen: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class AuditEvent(SQLModel, table=True):
    """The append-only audit log; each row's hash covers the previous row's hash."""

    __tablename__ = "exam_audit"
    id: int | None = Field(default=None, primary_key=True)
    at: float
    kind: str = Field(max_length=40)
    actor: str = Field(max_length=120)
    session_id: int | None = Field(default=None, index=True)
    attempt_id: int | None = Field(default=None, index=True)
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    data_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditHead(SQLModel, table=True):
    """The chain's head (one row, id=1): locked while appending so chains never fork."""

    __tablename__ = "exam_audit_head"
    id: int = Field(default=1, primary_key=True)
    last_id: int = 0
    last_hash: str = Field(default="", max_length=64)


class LoginLimit(SQLModel, table=True):
    """Failed logins of one key (exam_server.limits), shared by every worker.

    account "" counts every account from the source. Written only on
    PostgreSQL (SQLite keeps the counts in the one process's memory)."""

    __tablename__ = "exam_login_limit"
    scope: str = Field(primary_key=True, max_length=10)
    account: str = Field(primary_key=True, max_length=200)
    source: str = Field(primary_key=True, max_length=64)
    failures: int = 0
    last_failure_at: float = Field(default=0.0, index=True)
