"""Presence by process heartbeat (issue 17).

Revision ID: 0019_process_beats
Revises: 0018_rec_agencies

``exam_process_beat`` (process_id, beat_at): each server process's
heartbeat, written once a presence interval. ``exam_presence.process_id``:
the process a terminal is connected to (NULL: gone, ``last_seen_at`` is
when it was last known alive); ``connected_at``: when that connection
began (the later connection's process holds the mark). Existing rows keep
NULL, which reads as before: their ``last_seen_at`` is the mark.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0019_process_beats"
down_revision: str | None = "0018_rec_agencies"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "exam_process_beat",
        sa.Column("process_id", sa.String(length=64), nullable=False),
        sa.Column("beat_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("process_id"),
    )
    op.add_column("exam_presence", sa.Column("process_id", sa.String(length=64), nullable=True))
    op.add_column("exam_presence", sa.Column("connected_at", sa.Float(), nullable=True))


def downgrade() -> None:
    # Fold each connected terminal's heartbeat into its mark first, so that
    # the older rule (the mark alone) still knows when it was last alive.
    op.execute(
        "UPDATE exam_presence SET last_seen_at = (SELECT b.beat_at FROM exam_process_beat b"
        " WHERE b.process_id = exam_presence.process_id)"
        " WHERE process_id IS NOT NULL AND last_seen_at < (SELECT b.beat_at"
        " FROM exam_process_beat b WHERE b.process_id = exam_presence.process_id)"
    )
    with op.batch_alter_table("exam_presence") as batch:
        batch.drop_column("connected_at")
        batch.drop_column("process_id")
    op.drop_table("exam_process_beat")
