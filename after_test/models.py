"""The tables of after the test (issue 20); revision ``0011_after_test`` in
``exam_server/migrations/versions`` makes them.

Table names start with ``after_``. Times are epoch seconds (floats), as in
``exam_server.models``.

Anonymity of the terminal's survey: ``after_survey_answer`` holds no attempt,
candidate, terminal or time — only the exam, the test day (shared by every
candidate of the day) and a random submission id (no insertion order to line
up with finish times; both tables are kept in key order on SQLite, without
the rowid that would record insertion order). ``after_survey_done`` records
that an attempt has answered (one survey per attempt) and nothing else, in a
table the answers do not reference. On PostgreSQL a table's physical order
can follow insertion order; ``CLUSTER after_survey_answer USING
after_survey_answer_pkey`` after a test day reorders it by the random ids.
"""

from __future__ import annotations

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel


class AfterPolicy(SQLModel, table=True):
    """The after-the-test policy document of an exam (``after_test.policy``);
    an exam without a row uses ``AfterTestPolicy.default_2024()``."""

    __tablename__ = "after_policy"
    exam_code: str = Field(primary_key=True, max_length=40)
    policy_json: str = Field(sa_column=Column(Text, nullable=False))


class AfterSurveyAnswer(SQLModel, table=True):
    """One answer of one anonymous survey submission.

    submission: random hex id (``secrets.token_hex(16)``); day: the test day
    (YYYY-MM-DD); question: the policy's question code; value: on its scale."""

    __tablename__ = "after_survey_answer"
    # Stored in key order (random submission ids), not in the order answers
    # came: on SQLite a rowid would keep the sequence of submissions, which
    # lines up with the order candidates finished.
    __table_args__ = {"sqlite_with_rowid": False}
    submission: str = Field(primary_key=True, max_length=32)
    question: str = Field(primary_key=True, max_length=40)
    exam_code: str = Field(max_length=40, index=True)
    day: str = Field(max_length=10)
    value: int


class AfterSurveyDone(SQLModel, table=True):
    """An attempt whose candidate has answered the survey (or declined it)."""

    __tablename__ = "after_survey_done"
    __table_args__ = {"sqlite_with_rowid": False}  # attempt order, not answer order
    attempt_id: int = Field(primary_key=True)


class AfterFeedback(SQLModel, table=True):
    """A public feedback item (kotak saran) and its moderation.

    status: pending | published | rejected (``after_test.feedback``);
    text_sha256: the text as moderated (an edit after publication is refused);
    source_mac: HMAC of the sender's address under the server key, kept only
    to rate-limit senders (never shown)."""

    __tablename__ = "after_feedback"
    id: int | None = Field(default=None, primary_key=True)
    exam_code: str = Field(max_length=40, index=True)
    category: str = Field(max_length=40)
    text: str = Field(sa_column=Column(Text, nullable=False))
    text_sha256: str = Field(max_length=64)
    status: str = Field(default="pending", max_length=16)
    created_at: float = Field(index=True)
    moderated_at: float | None = None
    moderated_by: str = Field(default="", max_length=80)
    moderation_note: str = Field(default="", max_length=300)
    answer: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    answered_at: float | None = None
    source_mac: str = Field(max_length=64, index=True)


class AfterAppeal(SQLModel, table=True):
    """An appeal of results (sanggah hasil), identified by the candidate's receipt.

    status: submitted | accepted | rejected (``after_test.appeals.Status``);
    field / requested: the correction asked for; correction_from / _to: the
    one decided (accepted only); version: the publication version that
    carries it (NULL until ``seleksi after-test publish-version`` signs it)."""

    __tablename__ = "after_appeal"
    id: int | None = Field(default=None, primary_key=True)
    exam_code: str = Field(max_length=40, index=True)
    registration_number: str = Field(max_length=40, index=True)
    receipt_sha256: str = Field(max_length=64)
    published_version: int = 1
    reason: str = Field(sa_column=Column(Text, nullable=False))
    evidence: str = Field(default="", sa_column=Column(Text, nullable=False))
    field: str | None = Field(default=None, max_length=20)
    requested: str | None = Field(default=None, max_length=200)
    status: str = Field(default="submitted", max_length=16)
    submitted_at: float
    answer_by: float
    answered_at: float | None = None
    answered_by: str = Field(default="", max_length=80)
    answer: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    correction_from: str | None = Field(default=None, max_length=200)
    correction_to: str | None = Field(default=None, max_length=200)
    version: int | None = None
