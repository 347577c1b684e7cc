"""Presence by process: one row a server process, not one mark a terminal (issue 17).

Revision ID: 0019_presence_sets
Revises: 0018_rec_agencies

``exam_presence_process`` (process, seen_at, attempts): the terminals
connected to each server process at its last presence flush
(``exam_server.models.ProcessPresence``). ``exam_presence`` stays and is
still read (marks written before the upgrade count), but is no longer
written.
"""

from __future__ import annotations

import zlib

import numpy as np
import sqlalchemy as sa
from alembic import op

revision: str = "0019_presence_sets"
down_revision: str | None = "0018_rec_agencies"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "exam_presence_process",
        sa.Column("process", sa.String(length=64), nullable=False),
        sa.Column("seen_at", sa.Float(), nullable=False),
        sa.Column("attempts", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("process"),
    )


def downgrade() -> None:
    # Each process's set becomes per-terminal marks again (the latest time
    # wins), so the older rule still knows when each terminal was last alive.
    # The blob's format is spelled out here, not imported: a migration must
    # not change when the code does.
    conn = op.get_bind()
    marks: dict[int, float] = {}
    for seen_at, blob in conn.execute(
        sa.text("SELECT seen_at, attempts FROM exam_presence_process ORDER BY seen_at")
    ):
        ids = np.cumsum(np.frombuffer(zlib.decompress(blob), dtype="<u4").astype(np.int64))
        marks.update(dict.fromkeys((int(i) for i in ids), float(seen_at)))
    old: dict[int, float] = {
        int(a): float(t)
        for a, t in conn.execute(sa.text("SELECT attempt_id, last_seen_at FROM exam_presence"))
    }
    for aid, at in sorted(marks.items()):
        if aid not in old:
            conn.execute(
                sa.text("INSERT INTO exam_presence (attempt_id, last_seen_at) VALUES (:a, :t)"),
                {"a": aid, "t": at},
            )
        elif old[aid] < at:
            conn.execute(
                sa.text("UPDATE exam_presence SET last_seen_at = :t WHERE attempt_id = :a"),
                {"a": aid, "t": at},
            )
    op.drop_table("exam_presence_process")
