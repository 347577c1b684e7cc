"""A late registration for the owner of a NIK a voided registration held.

Revision ID: 0023_nik_grants
Revises: 0022_nik_at_submit

Someone who knew a person's NIK submitted first; the owner was refused while
that registration held the NIK. The committee finds the fraud at
verification, usually after the registration window closed, and voids it:
the NIK was free, but the window shut, so the owner was out for the period.
``rec_nik_grant`` records, with each void, a late registration for that NIK
in that period until a date the voiding staff set: whoever saves or submits
with that NIK hash may do so until then, window or not
(``exam_server.recruitment.registrations.may_register``). A new table, one
row per voided registration; nothing existing changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0023_nik_grants"
down_revision: str | None = "0022_nik_at_submit"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "rec_nik_grant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("nik_hash", sa.String(length=64), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("until", sa.String(length=10), nullable=False),
        sa.Column("granted_by", sa.String(length=80), nullable=False),
        sa.Column("granted_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["period_id"], ["rec_period.id"]),
        sa.ForeignKeyConstraint(["registration_id"], ["rec_registration.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("registration_id"),
    )
    op.create_index(
        "ix_rec_nik_grant_period_nik", "rec_nik_grant", ["period_id", "nik_hash"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_rec_nik_grant_period_nik", table_name="rec_nik_grant")
    op.drop_table("rec_nik_grant")
