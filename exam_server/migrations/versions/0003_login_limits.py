"""Failed-login back-off shared by every worker: ``exam_login_limit`` (issue 14).

Revision ID: 0003_login_limits
Revises: 0002_exam_documents

One row per key (scope, account, source) of ``exam_server.limits``; written
only on PostgreSQL (SQLite keeps the counts in its one process's memory), but
created everywhere so one schema serves both.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003_login_limits"
down_revision: str | None = "0002_exam_documents"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # Code between commit 17407a2 and Alembic made this table with create_all:
    # such a database, adopted as the baseline, already has it.
    if "exam_login_limit" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "exam_login_limit",
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("account", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "account", "source"),
    )
    op.create_index("ix_exam_login_limit_last_failure_at", "exam_login_limit", ["last_failure_at"])


def downgrade() -> None:
    op.drop_index("ix_exam_login_limit_last_failure_at", table_name="exam_login_limit")
    op.drop_table("exam_login_limit")
