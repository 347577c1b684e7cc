"""Recruitment: needs, formations, announcements, registrations, verification,
appeals, scheduling, outbox (issue 18).

Revision ID: 0010_recruitment
Revises: 0009_assessment

The ``rec_`` tables of ``recruitment.models``: a period and its staff, the
needs and the formations made from them (rows of ``exam_formation``), the
signed announcement versions, candidate accounts, registrations (the NIK only
as a keyed hash), documents (content addresses), verification decisions,
conflicts of interest, appeals, the sessions open to a period, the outbox.
New tables only; nothing existing is altered.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0010_recruitment"
down_revision: str | None = "0009_assessment"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "rec_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("email_verified_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
    )
    op.create_table(
        "rec_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("to_addr", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("sent_at", sa.Float(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_rec_outbox_sent_at"), "rec_outbox", ["sent_at"], unique=False)
    op.create_table(
        "rec_period",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("agency", sa.String(length=200), nullable=False),
        sa.Column("rules_json", sa.Text(), nullable=False),
        sa.Column("schedule_json", sa.Text(), nullable=False),
        sa.Column("exam_code", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_table(
        "rec_staff",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=300), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "rec_announcement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("published_at", sa.Float(), nullable=False),
        sa.Column("published_by", sa.String(length=80), nullable=False),
        sa.Column("document_json", sa.Text(), nullable=False),
        sa.Column("signature", sa.String(length=200), nullable=False),
        sa.Column("key_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("changes_json", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["period_id"],
            ["rec_period.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("period_id", "version"),
    )
    op.create_index(
        op.f("ix_rec_announcement_period_id"), "rec_announcement", ["period_id"], unique=False
    )
    op.create_table(
        "rec_need",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("unit", sa.String(length=200), nullable=False),
        sa.Column("position", sa.String(length=200), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=False),
        sa.Column("openings", sa.Integer(), nullable=False),
        sa.Column("education_level", sa.String(length=16), nullable=False),
        sa.Column("majors_json", sa.Text(), nullable=False),
        sa.Column("max_age", sa.Integer(), nullable=False),
        sa.Column("other_requirements", sa.Text(), nullable=False),
        sa.Column("allocation_json", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("submitted_by", sa.String(length=80), nullable=False),
        sa.Column("decided_by", sa.String(length=80), nullable=False),
        sa.Column("decision_reason", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["period_id"],
            ["rec_period.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("period_id", "code"),
    )
    op.create_index(op.f("ix_rec_need_period_id"), "rec_need", ["period_id"], unique=False)
    op.create_table(
        "rec_formation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("need_id", sa.Integer(), nullable=False),
        sa.Column("formation_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("openings", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["formation_id"],
            ["exam_formation.id"],
        ),
        sa.ForeignKeyConstraint(
            ["need_id"],
            ["rec_need.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("formation_id"),
    )
    op.create_index(op.f("ix_rec_formation_need_id"), "rec_formation", ["need_id"], unique=False)
    op.create_table(
        "rec_slot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=False),
        sa.Column("extended", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["period_id"],
            ["rec_period.id"],
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["exam_session.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id"),
    )
    op.create_index(op.f("ix_rec_slot_period_id"), "rec_slot", ["period_id"], unique=False)
    op.create_table(
        "rec_registration",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("nik_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("birth_date", sa.String(length=10), nullable=False),
        sa.Column("sex", sa.String(length=1), nullable=False),
        sa.Column("education_level", sa.String(length=16), nullable=False),
        sa.Column("major", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("rec_formation_id", sa.Integer(), nullable=False),
        sa.Column("test_location", sa.String(length=200), nullable=False),
        sa.Column("accommodation", sa.String(length=40), nullable=False),
        sa.Column("identity_json", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("registration_number", sa.String(length=40), nullable=True),
        sa.Column("submitted_at", sa.Float(), nullable=True),
        sa.Column("submitted_json", sa.Text(), nullable=True),
        sa.Column("receipt", sa.Text(), nullable=True),
        sa.Column("candidate_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["rec_account.id"],
        ),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["exam_candidate.id"],
        ),
        sa.ForeignKeyConstraint(
            ["period_id"],
            ["rec_period.id"],
        ),
        sa.ForeignKeyConstraint(
            ["rec_formation_id"],
            ["rec_formation.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("period_id", "account_id"),
        sa.UniqueConstraint("period_id", "nik_hash"),
        sa.UniqueConstraint("registration_number"),
    )
    op.create_index(
        op.f("ix_rec_registration_account_id"), "rec_registration", ["account_id"], unique=False
    )
    op.create_index(
        op.f("ix_rec_registration_period_id"), "rec_registration", ["period_id"], unique=False
    )
    op.create_index(
        op.f("ix_rec_registration_rec_formation_id"),
        "rec_registration",
        ["rec_formation_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_rec_registration_status"), "rec_registration", ["status"], unique=False
    )
    op.create_table(
        "rec_appeal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("filed_at", sa.Float(), nullable=False),
        sa.Column("answer_due_at", sa.Float(), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=True),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("answered_by", sa.String(length=80), nullable=False),
        sa.Column("answered_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["rec_registration.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("registration_id"),
    )
    op.create_table(
        "rec_conflict",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("staff", sa.String(length=80), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("declared_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["rec_registration.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("registration_id", "staff"),
    )
    op.create_index(
        op.f("ix_rec_conflict_registration_id"), "rec_conflict", ["registration_id"], unique=False
    )
    op.create_table(
        "rec_document",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("media_type", sa.String(length=40), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("uploaded_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["rec_registration.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("registration_id", "kind"),
    )
    op.create_index(
        op.f("ix_rec_document_registration_id"), "rec_document", ["registration_id"], unique=False
    )
    op.create_table(
        "rec_verification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("verifier", sa.String(length=80), nullable=False),
        sa.Column("decision", sa.String(length=4), nullable=False),
        sa.Column("reason_code", sa.String(length=40), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("decided_at", sa.Float(), nullable=False),
        sa.Column("approved_by", sa.String(length=80), nullable=False),
        sa.Column("approved", sa.Boolean(), nullable=True),
        sa.Column("approved_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["rec_registration.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_rec_verification_registration_id"),
        "rec_verification",
        ["registration_id"],
        unique=False,
    )


def downgrade() -> None:

    op.drop_index(op.f("ix_rec_verification_registration_id"), table_name="rec_verification")
    op.drop_table("rec_verification")
    op.drop_index(op.f("ix_rec_document_registration_id"), table_name="rec_document")
    op.drop_table("rec_document")
    op.drop_index(op.f("ix_rec_conflict_registration_id"), table_name="rec_conflict")
    op.drop_table("rec_conflict")
    op.drop_table("rec_appeal")
    op.drop_index(op.f("ix_rec_registration_status"), table_name="rec_registration")
    op.drop_index(op.f("ix_rec_registration_rec_formation_id"), table_name="rec_registration")
    op.drop_index(op.f("ix_rec_registration_period_id"), table_name="rec_registration")
    op.drop_index(op.f("ix_rec_registration_account_id"), table_name="rec_registration")
    op.drop_table("rec_registration")
    op.drop_index(op.f("ix_rec_slot_period_id"), table_name="rec_slot")
    op.drop_table("rec_slot")
    op.drop_index(op.f("ix_rec_formation_need_id"), table_name="rec_formation")
    op.drop_table("rec_formation")
    op.drop_index(op.f("ix_rec_need_period_id"), table_name="rec_need")
    op.drop_table("rec_need")
    op.drop_index(op.f("ix_rec_announcement_period_id"), table_name="rec_announcement")
    op.drop_table("rec_announcement")
    op.drop_table("rec_staff")
    op.drop_table("rec_period")
    op.drop_index(op.f("ix_rec_outbox_sent_at"), table_name="rec_outbox")
    op.drop_table("rec_outbox")
    op.drop_table("rec_account")
