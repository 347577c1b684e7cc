"""After the test: surveys, public feedback, appeals of results (issue 20).

Revision ID: 0011_after_test
Revises: 0010_recruitment

The ``after_`` tables of ``after_test.models``: the after-the-test policy per
exam, the anonymous survey's answers and the attempts that answered it (two
tables with no link), public feedback with its moderation, and appeals of
results. New tables only; nothing existing is altered.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0011_after_test"
down_revision: str | None = "0010_recruitment"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "after_policy",
        sa.Column("exam_code", sa.String(length=40), nullable=False),
        sa.Column("policy_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("exam_code"),
    )
    op.create_table(
        "after_survey_answer",
        sa.Column("submission", sa.String(length=32), nullable=False),
        sa.Column("question", sa.String(length=40), nullable=False),
        sa.Column("exam_code", sa.String(length=40), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("submission", "question"),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_after_survey_answer_exam_code", "after_survey_answer", ["exam_code"], unique=False
    )
    op.create_table(
        "after_survey_done",
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("attempt_id"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "after_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("exam_code", sa.String(length=40), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("text_sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("moderated_at", sa.Float(), nullable=True),
        sa.Column("moderated_by", sa.String(length=80), nullable=False),
        sa.Column("moderation_note", sa.String(length=300), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_at", sa.Float(), nullable=True),
        sa.Column("source_mac", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_after_feedback_exam_code", "after_feedback", ["exam_code"], unique=False)
    op.create_index("ix_after_feedback_created_at", "after_feedback", ["created_at"], unique=False)
    op.create_index("ix_after_feedback_source_mac", "after_feedback", ["source_mac"], unique=False)
    op.create_table(
        "after_appeal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("exam_code", sa.String(length=40), nullable=False),
        sa.Column("registration_number", sa.String(length=40), nullable=False),
        sa.Column("receipt_sha256", sa.String(length=64), nullable=False),
        sa.Column("published_version", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("field", sa.String(length=20), nullable=True),
        sa.Column("requested", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("submitted_at", sa.Float(), nullable=False),
        sa.Column("answer_by", sa.Float(), nullable=False),
        sa.Column("answered_at", sa.Float(), nullable=True),
        sa.Column("answered_by", sa.String(length=80), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("correction_from", sa.String(length=200), nullable=True),
        sa.Column("correction_to", sa.String(length=200), nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_after_appeal_exam_code", "after_appeal", ["exam_code"], unique=False)
    op.create_index(
        "ix_after_appeal_registration_number", "after_appeal", ["registration_number"], unique=False
    )


def downgrade() -> None:
    op.drop_table("after_appeal")
    op.drop_table("after_feedback")
    op.drop_table("after_survey_done")
    op.drop_table("after_survey_answer")
    op.drop_table("after_policy")
