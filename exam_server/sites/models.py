"""The tables of sites and the centre (issue 22);
revisions in ``exam_server/migrations/versions`` (``0012_sites``,
``0016_site_keys``).

Centre side (``site_*`` tables keyed by ``site_id``, the centre's
``exam_site.id``): each site's link (its sync token's hash, its checkpoint
key, how far its chains have arrived), the session keys, and copies of what
the site sent — its audit chain, its answer chains, its checkpoint lines and
its attempts' results — each row keyed by its chain position, so a record
sent twice is stored once. Site side: the package installed, the sealed item
content per session, and the sync state. Times are epoch seconds.
"""

from __future__ import annotations

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

# -- centre ------------------------------------------------------------------------


class SiteLink(SQLModel, table=True):
    """What the centre knows of one site's link and how far its sync got.

    token_hash: SHA-256 hex of the site's sync token (the token itself is
    handed to the site operator once). checkpoint_key: the PEM public key
    that signs the site's checkpoint lines, recorded at its first sync.
    audit_*: the last event of the site's audit chain stored here;
    checkpoint_*: its last checkpoint line stored here. site_pending: the
    records the site said were still to send at its last sync, oldest_pending_at
    when the oldest of them was written there (the sync lag)."""

    __tablename__ = "site_link"
    site_id: int = Field(primary_key=True, foreign_key="exam_site.id")
    token_hash: str = Field(max_length=64)
    checkpoint_key: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    last_contact_at: float | None = None
    last_sync_at: float | None = None
    audit_last_id: int = 0
    audit_last_hash: str = Field(default="", max_length=64)
    checkpoint_n: int = 0
    checkpoint_hash: str = Field(default="", max_length=64)
    received: int = 0
    duplicates: int = 0
    site_pending: int = 0
    oldest_pending_at: float | None = None
    sessions_running: int = 0


class SiteCheckpointKey(SQLModel, table=True):
    """A checkpoint key registered for a site after its first one (the first
    is ``SiteLink.checkpoint_key``, taken at the first sync): the site's
    lines numbered ``from_n`` and after verify with it, until a later
    registration's ``from_n``. statement: the site's statement as received
    (JSON signed by the new key, ``exam_server.sites.checkpoint_keys``);
    registered_by, reason: the centre administrator's act (also audited)."""

    __tablename__ = "site_checkpoint_key"
    site_id: int = Field(primary_key=True, foreign_key="exam_site.id")
    from_n: int = Field(primary_key=True)
    key_id: str = Field(max_length=32)
    public_pem: str = Field(sa_column=Column(Text, nullable=False))
    statement: str = Field(sa_column=Column(Text, nullable=False))
    registered_at: float
    registered_by: str = Field(max_length=120)
    reason: str = Field(sa_column=Column(Text, nullable=False))


class SiteSessionKey(SQLModel, table=True):
    """The AES-256-GCM key (base64) that opens one session's sealed box in the
    site package (its exam's item content and bank); made at random per
    session, so it opens no other session's box; released_at: when the site
    fetched it."""

    __tablename__ = "site_session_key"
    session_id: int = Field(primary_key=True, foreign_key="exam_session.id")
    site_id: int = Field(foreign_key="exam_site.id", index=True)
    key_b64: str = Field(max_length=64)
    released_at: float | None = None


class SiteAuditEvent(SQLModel, table=True):
    """One event of a site's audit chain as the site wrote it (id: its
    position in the site's chain)."""

    __tablename__ = "site_audit"
    site_id: int = Field(primary_key=True, foreign_key="exam_site.id")
    id: int = Field(primary_key=True)
    at: float
    kind: str = Field(max_length=40)
    actor: str = Field(max_length=120)
    session_id: int | None = None
    attempt_id: int | None = None
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    data_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class SiteResponse(SQLModel, table=True):
    """One answer of a site's attempt (attempt_id: the site's; seq: its
    position in the attempt's chain), the fields its hash covers."""

    __tablename__ = "site_response"
    site_id: int = Field(primary_key=True, foreign_key="exam_site.id")
    attempt_id: int = Field(primary_key=True)
    seq: int = Field(primary_key=True)
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


class SiteChainHead(SQLModel, table=True):
    """The last answer held here of each of a site's attempts (seq, hash):
    what the site is told to send after. Kept with every batch so that the
    positions are one small read, not a search of every answer for its
    maximum (a plan that PostgreSQL, before it has statistics of a new
    table, can make quadratic)."""

    __tablename__ = "site_chain_head"
    site_id: int = Field(primary_key=True, foreign_key="exam_site.id")
    attempt_id: int = Field(primary_key=True)
    seq: int
    hash: str = Field(max_length=64)


class SiteCheckpoint(SQLModel, table=True):
    """One signed line of a site's checkpoint file (n: its number there)."""

    __tablename__ = "site_checkpoint"
    site_id: int = Field(primary_key=True, foreign_key="exam_site.id")
    n: int = Field(primary_key=True)
    line: str = Field(sa_column=Column(Text, nullable=False))


class SiteAttempt(SQLModel, table=True):
    """A site's attempt and its result as the site stored it, and the
    centre's own result recomputed from the synced answers.

    centre_check: ``pending`` (answers or the finish event not all here yet),
    ``equal`` (the centre's result is the site's) or ``differs``."""

    __tablename__ = "site_attempt"
    site_id: int = Field(primary_key=True, foreign_key="exam_site.id")
    attempt_id: int = Field(primary_key=True)
    session_id: int = Field(index=True)
    candidate_id: int
    status: str = Field(max_length=16)
    # None: no terminal ever took it (a test prepared for a candidate who did not come).
    terminal_id: str | None = Field(default=None, max_length=80)
    seed: int = 0
    last_seq: int = 0
    response_head: str = Field(default="", max_length=64)
    started_at: float = 0.0
    finished_at: float | None = None
    finish_reason: str | None = Field(default=None, max_length=40)
    score_json: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    total_points: float | None = None
    passed: bool | None = None
    pass_reason: str | None = Field(default=None, max_length=300)
    state_json: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    centre_total: float | None = None
    centre_passed: bool | None = None
    centre_check: str = Field(default="pending", max_length=16)


class SiteProblem(SQLModel, table=True):
    """A verification failure found in what a site sent (shown on the centre
    page until resolved; each message once)."""

    __tablename__ = "site_problem"
    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="exam_site.id", index=True)
    at: float
    kind: str = Field(max_length=40)
    message: str = Field(sa_column=Column(Text, nullable=False))


# -- site --------------------------------------------------------------------------


class InstalledPackage(SQLModel, table=True):
    """A site package installed here (package_id: its body's SHA-256)."""

    __tablename__ = "site_package"
    package_id: str = Field(primary_key=True, max_length=64)
    site_code: str = Field(max_length=40)
    centre_key_id: str = Field(max_length=32)
    built_at: float
    installed_at: float


class SealedItems(SQLModel, table=True):
    """One session's sealed box as the package brought it (AES-256-GCM under
    the session's own key; nonce and ciphertext base64): its exam's item
    content and, from package version 2, its bank with the scoring keys
    (``exam_server.sites.package.open_box``); released_at/released_how:
    when and how this session's key opened it here."""

    __tablename__ = "site_sealed_items"
    session_id: int = Field(primary_key=True, foreign_key="exam_session.id")
    exam_id: int = Field(foreign_key="exam_exam.id")
    package_id: str = Field(max_length=64)
    nonce: str = Field(max_length=32)
    ciphertext: str = Field(sa_column=Column(Text, nullable=False))
    released_at: float | None = None
    released_how: str | None = Field(default=None, max_length=16)


class SyncState(SQLModel, table=True):
    """The site's last sync (one row, id=1): when it was tried, when it last
    succeeded, what failed, how many records the centre has taken.
    centre_positions: the centre's :class:`~exam_server.sites.wire.Positions`
    (JSON) after the last run that reached it, to count what is still to
    send while the line is down (never a cursor: each run asks the centre
    again); problems_json: the verification problems that run reported."""

    __tablename__ = "site_sync_state"
    id: int = Field(default=1, primary_key=True)
    last_try_at: float | None = None
    last_ok_at: float | None = None
    last_error: str = Field(default="", sa_column=Column(Text, nullable=False))
    sent: int = 0
    centre_positions: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    problems_json: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
