"""Session forensics and item drift/leak watch (issue 21).

Revision ID: 0008_forensics
Revises: 0007_attempt_snapshots

New tables only: a room's seating layout (terminal → row, column), each
item's lognormal response-time parameters, the item watch's CUSUM per item
and the attempts it has taken in, the review steps of flagged items, and a
retired item's index in each exam that holds it (left out of selection).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008_forensics"
down_revision: str | None = "0007_attempt_snapshots"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "forensics_room_seat",
        sa.Column("room_id", sa.Integer(), nullable=False),
        sa.Column("terminal_id", sa.String(length=80), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("col", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["room_id"], ["exam_room.id"]),
        sa.PrimaryKeyConstraint("room_id", "terminal_id"),
    )
    op.create_table(
        "forensics_item_time",
        sa.Column("item_id", sa.String(length=80), nullable=False),
        sa.Column("alpha", sa.Float(), nullable=False),
        sa.Column("beta", sa.Float(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("fitted_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("item_id"),
    )
    op.create_table(
        "forensics_item_watch",
        sa.Column("item_id", sa.String(length=80), nullable=False),
        sa.Column("cusum", sa.Float(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("flagged_count", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("n_scored", sa.Integer(), nullable=False),
        sa.Column("sum_right", sa.Float(), nullable=False),
        sa.Column("sum_expected", sa.Float(), nullable=False),
        sa.Column("n_timed", sa.Integer(), nullable=False),
        sa.Column("sum_time_z", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("item_id"),
    )
    op.create_table(
        "forensics_watched_attempt",
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["attempt_id"], ["exam_attempt.id"]),
        sa.PrimaryKeyConstraint("attempt_id"),
    )
    op.create_table(
        "forensics_item_review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("evidence_json", sa.Text(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_forensics_item_review_item_id", "forensics_item_review", ["item_id"], unique=False
    )
    op.create_table(
        "forensics_withdrawn_item",
        sa.Column("exam_id", sa.Integer(), nullable=False),
        sa.Column("item_index", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(length=80), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["exam_id"], ["exam_exam.id"]),
        sa.PrimaryKeyConstraint("exam_id", "item_index"),
    )


def downgrade() -> None:
    op.drop_table("forensics_withdrawn_item")
    op.drop_index("ix_forensics_item_review_item_id", table_name="forensics_item_review")
    op.drop_table("forensics_item_review")
    op.drop_table("forensics_watched_attempt")
    op.drop_table("forensics_item_watch")
    op.drop_table("forensics_item_time")
    op.drop_table("forensics_room_seat")
