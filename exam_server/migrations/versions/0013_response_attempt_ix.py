"""Drop the single-column index on ``exam_response.attempt_id`` (issue 17).

Revision ID: 0013_response_attempt_ix
Revises: 0012_sites

The unique ``(attempt_id, seq)`` index has ``attempt_id`` as its leading
column, so it serves every lookup of an attempt's responses (the replay, the
board, the audit, the results, a PostgreSQL foreign-key check); the second
index only cost writes: one more leaf page per answer in SQLite's log, about
4 kB of the 14 kB an answer wrote in groups of 50 (``benchmarks/server_wal.py``).
"""

from __future__ import annotations

from alembic import op

revision: str = "0013_response_attempt_ix"
down_revision: str | None = "0012_sites"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.drop_index("ix_exam_response_attempt_id", table_name="exam_response")


def downgrade() -> None:
    op.create_index("ix_exam_response_attempt_id", "exam_response", ["attempt_id"], unique=False)
