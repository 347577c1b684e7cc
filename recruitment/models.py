"""The tables of recruitment (issue 18); revision ``0010_recruitment`` in
``exam_server/migrations/versions`` makes them.

Table names start with ``rec_``. Times are epoch seconds (floats), dates
``YYYY-MM-DD`` text, JSON documents text, as in ``exam_server.models``. The
flow ends in the exam server's own tables: an approved need becomes
``exam_formation`` rows (one per category allocated), a scheduled
registration an ``exam_candidate`` row in an ``exam_session``.

Privacy: no table holds a national ID number (NIK). A registration keeps
``nik_hash`` (HMAC-SHA256 under the recruitment key, ``recruitment.nik``),
unique per period among submitted registrations (revision
``0022_nik_at_submit``), and nothing from which the number can be read back.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel


class RecPeriod(SQLModel, table=True):
    """A selection period (e.g. CASN 2024); agency: who organises it (the
    agencies recruiting in it are those of its needs, ``RecNeed.agency_id``).

    rules_json: the eligibility rules (``recruitment.eligibility.EligibilityRules``);
    schedule_json: the public schedule (``recruitment.announcement.Schedule``);
    exam_code: the exam server's exam the candidates sit."""

    __tablename__ = "rec_period"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=40)
    name: str = Field(max_length=200)
    agency: str = Field(max_length=200)
    rules_json: str = Field(sa_column=Column(Text, nullable=False))
    schedule_json: str = Field(sa_column=Column(Text, nullable=False))
    exam_code: str = Field(default="", max_length=40)


class RecAgency(SQLModel, table=True):
    """An agency (instansi: a ministry, a province, a regency) with needs in the
    periods; revision ``0018_rec_agencies``. code: short, for URLs and commands."""

    __tablename__ = "rec_agency"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=40)
    name: str = Field(max_length=200)


class RecStaff(SQLModel, table=True):
    """A recruitment staff account. role: operator | approver | verifier | admin
    (``recruitment.scope``); agency_id: the agency it acts for, NULL for a
    national account (every agency). password_hash: ``exam_server.auth.hash_password``."""

    __tablename__ = "rec_staff"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, max_length=80)
    name: str = Field(default="", max_length=200)
    role: str = Field(max_length=16)
    password_hash: str = Field(max_length=300)
    agency_id: int | None = Field(default=None, foreign_key="rec_agency.id", index=True)


class RecNeed(SQLModel, table=True):
    """A position's needs (analisis kebutuhan) of one agency and its approval.

    status: draft | submitted | approved | returned (``recruitment.needs``);
    majors_json: accepted majors (list of text); allocation_json: openings per
    category ({"general": 3, "cumlaude": 1}), summing to ``openings``;
    editors_json: the accounts that changed it (list of names)."""

    __tablename__ = "rec_need"
    __table_args__ = (UniqueConstraint("period_id", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    period_id: int = Field(foreign_key="rec_period.id", index=True)
    agency_id: int = Field(foreign_key="rec_agency.id", index=True)
    code: str = Field(max_length=40)
    unit: str = Field(max_length=200)
    position: str = Field(max_length=200)
    location: str = Field(max_length=200)
    openings: int = 1
    education_level: str = Field(max_length=16)
    majors_json: str = Field(sa_column=Column(Text, nullable=False))
    max_age: int = 35
    other_requirements: str = Field(default="", sa_column=Column(Text, nullable=False))
    allocation_json: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default="draft", max_length=16)
    created_by: str = Field(max_length=80)
    submitted_by: str = Field(default="", max_length=80)
    decided_by: str = Field(default="", max_length=80)
    decision_reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    # Every account that changed it after it was created (JSON list, in
    # order): none of them approves it (revision 0021).
    editors_json: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    updated_at: float = 0.0


class RecFormation(SQLModel, table=True):
    """One exam formation made from an approved need for one category."""

    __tablename__ = "rec_formation"
    id: int | None = Field(default=None, primary_key=True)
    need_id: int = Field(foreign_key="rec_need.id", index=True)
    formation_id: int = Field(foreign_key="exam_formation.id", unique=True)
    category: str = Field(max_length=40)
    openings: int = 1


class RecAnnouncement(SQLModel, table=True):
    """One published version of a period's announcement, never updated.

    document_json: the canonical JSON that was signed; signature: base64
    Ed25519 over it; changes_json: what changed from the version before."""

    __tablename__ = "rec_announcement"
    __table_args__ = (UniqueConstraint("period_id", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    period_id: int = Field(foreign_key="rec_period.id", index=True)
    version: int
    published_at: float
    published_by: str = Field(max_length=80)
    document_json: str = Field(sa_column=Column(Text, nullable=False))
    signature: str = Field(max_length=200)
    key_fingerprint: str = Field(max_length=64)
    changes_json: str = Field(sa_column=Column(Text, nullable=False))


class RecAccount(SQLModel, table=True):
    """A candidate's account (email and password; the person's data are on
    the registration)."""

    __tablename__ = "rec_account"
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True, max_length=254)
    name: str = Field(max_length=200)
    password_hash: str = Field(max_length=300)
    created_at: float = 0.0
    email_verified_at: float | None = None


#: The registrations that hold their NIK (``recruitment.states.FREE_STATES``
#: do not), as SQL: the condition of the partial unique index.
NIK_HELD = "status NOT IN ('draft', 'void')"


class RecRegistration(SQLModel, table=True):
    """One person's registration in one period.

    status: ``recruitment.states.Status``. nik_hash: keyed hash of the NIK,
    unique per period among the registrations that hold it (submitted, not
    void: ``recruitment.states.FREE_STATES``): one registration per person
    and period, while a draft reserves no NIK (revision ``0022_nik_at_submit``).
    Frozen at submit: the fields are not changed after, ``submitted_json``
    holds what was submitted and ``receipt`` the signed receipt."""

    __tablename__ = "rec_registration"
    __table_args__ = (
        UniqueConstraint("period_id", "account_id"),
        Index(
            "uq_rec_registration_nik_held",
            "period_id",
            "nik_hash",
            unique=True,
            sqlite_where=text(NIK_HELD),
            postgresql_where=text(NIK_HELD),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    period_id: int = Field(foreign_key="rec_period.id", index=True)
    account_id: int = Field(foreign_key="rec_account.id", index=True)
    nik_hash: str = Field(max_length=64)
    name: str = Field(max_length=200)
    birth_date: str = Field(max_length=10)
    sex: str = Field(max_length=1)
    education_level: str = Field(max_length=16)
    major: str = Field(max_length=200)
    category: str = Field(max_length=40)
    rec_formation_id: int = Field(foreign_key="rec_formation.id", index=True)
    test_location: str = Field(max_length=200)
    accommodation: str = Field(default="", max_length=40)
    identity_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    status: str = Field(default="draft", max_length=20, index=True)
    registration_number: str | None = Field(default=None, unique=True, max_length=40)
    submitted_at: float | None = None
    submitted_json: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    receipt: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    candidate_id: int | None = Field(default=None, foreign_key="exam_candidate.id")
    updated_at: float = 0.0


class RecDocument(SQLModel, table=True):
    """An uploaded document of a registration (or of its appeal).

    sha256: the content address in the document store
    (``recruitment.documents.DocumentStore``); kind: a document kind of the
    period's rules (``ktp``, ``ijazah``, ``photo``, ``appeal`` ...)."""

    __tablename__ = "rec_document"
    __table_args__ = (UniqueConstraint("registration_id", "kind"),)
    id: int | None = Field(default=None, primary_key=True)
    registration_id: int = Field(foreign_key="rec_registration.id", index=True)
    kind: str = Field(max_length=40)
    sha256: str = Field(max_length=64)
    media_type: str = Field(max_length=40)
    size: int = 0
    uploaded_at: float = 0.0


class RecVerification(SQLModel, table=True):
    """A verifier's decision on a registration: MS or TMS with a reason code.

    A TMS needs a second person: ``approved_by`` (``approved`` True, or
    False when the second person sent it back)."""

    __tablename__ = "rec_verification"
    id: int | None = Field(default=None, primary_key=True)
    registration_id: int = Field(foreign_key="rec_registration.id", index=True)
    verifier: str = Field(max_length=80)
    decision: str = Field(max_length=4)
    reason_code: str = Field(default="", max_length=40)
    note: str = Field(default="", sa_column=Column(Text, nullable=False))
    decided_at: float = 0.0
    approved_by: str = Field(default="", max_length=80)
    approved: bool | None = None
    approved_at: float | None = None


class RecConflict(SQLModel, table=True):
    """A verifier's declared conflict of interest with a registration: they
    are recused from it (never shown it, never allowed to decide on it)."""

    __tablename__ = "rec_conflict"
    __table_args__ = (UniqueConstraint("registration_id", "staff"),)
    id: int | None = Field(default=None, primary_key=True)
    registration_id: int = Field(foreign_key="rec_registration.id", index=True)
    staff: str = Field(max_length=80)
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    declared_at: float = 0.0


class RecAppeal(SQLModel, table=True):
    """A TMS candidate's appeal (sanggah) and the agency's final answer.

    outcome: accepted | rejected, NULL until answered; answer_due_at: the
    deadline the agency answers by (epoch s)."""

    __tablename__ = "rec_appeal"
    id: int | None = Field(default=None, primary_key=True)
    registration_id: int = Field(foreign_key="rec_registration.id", unique=True)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    filed_at: float
    answer_due_at: float
    outcome: str | None = Field(default=None, max_length=10)
    answer: str = Field(default="", sa_column=Column(Text, nullable=False))
    answered_by: str = Field(default="", max_length=80)
    answered_at: float | None = None


class RecSlot(SQLModel, table=True):
    """An exam session open to a period's candidates at a test location.

    extended: the session gives extra time (accommodation ``extra_time``)."""

    __tablename__ = "rec_slot"
    id: int | None = Field(default=None, primary_key=True)
    period_id: int = Field(foreign_key="rec_period.id", index=True)
    session_id: int = Field(foreign_key="exam_session.id", unique=True)
    location: str = Field(max_length=200)
    extended: bool = False


class RecOutbox(SQLModel, table=True):
    """A message to send (stored first, then sent by SMTP; ``sent_at`` NULL
    until the server accepted it; revision ``0015_outbox_retry`` adds delivery).

    status: pending (due at ``next_try_at``) | sending (claimed by the sender
    ``claimed_by`` until ``lease_until``) | sent | failed (a 5xx reply, or
    the retries ran out; ``last_error`` says why). dedupe_key: unique when set,
    so a message that must go once (a deadline reminder) is queued once."""

    __tablename__ = "rec_outbox"
    __table_args__ = (Index("ix_rec_outbox_due", "status", "next_try_at"),)
    id: int | None = Field(default=None, primary_key=True)
    to_addr: str = Field(max_length=254)
    subject: str = Field(max_length=300)
    body: str = Field(sa_column=Column(Text, nullable=False))
    kind: str = Field(max_length=40)
    created_at: float = 0.0
    sent_at: float | None = Field(default=None, index=True)
    attempts: int = 0
    last_error: str = Field(default="", sa_column=Column(Text, nullable=False))
    status: str = Field(default="pending", max_length=12)
    next_try_at: float = 0.0
    claimed_by: str = Field(default="", max_length=40)
    lease_until: float | None = None
    dedupe_key: str | None = Field(default=None, max_length=120, unique=True, index=True)


class RecNikGrant(SQLModel, table=True):
    """A late registration for one NIK in one period, given when a
    registration made with that NIK was voided (someone else's NIK: the
    owner was refused while it held it, usually until after the
    registration window closed). The accounts it is for (``accounts_json``)
    may save or submit with ``nik_hash`` in the period until ``until``
    (``YYYY-MM-DD``, inclusive), window or not
    (``exam_server.recruitment.registrations.may_register``). One per voided
    registration (revision ``0023_nik_grants``); audited in the ``rec_void``
    event.

    accounts_json: the account ids the grant is for (a JSON list, revision
    ``0024_grant_accounts``): those whose draft in the period held the NIK
    when the registration was voided (not the voided one's account), and
    the account the voiding staff named. Nobody else may use it; an empty
    list lets nobody register late. (A grant for the NIK alone let the
    squatter, told of the void first, submit again from another account.)"""

    __tablename__ = "rec_nik_grant"
    __table_args__ = (Index("ix_rec_nik_grant_period_nik", "period_id", "nik_hash"),)
    id: int | None = Field(default=None, primary_key=True)
    period_id: int = Field(foreign_key="rec_period.id")
    nik_hash: str = Field(max_length=64)
    registration_id: int = Field(foreign_key="rec_registration.id", unique=True)
    until: str = Field(max_length=10)
    granted_by: str = Field(max_length=80)
    granted_at: float = 0.0
    accounts_json: str = Field(default="[]", sa_column=Column(Text, nullable=False))
