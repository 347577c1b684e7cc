"""Store engine-state snapshots compressed (issue 17).

Revision ID: 0014_snapshot_zstd
Revises: 0013_response_attempt_ix

``exam_attempt_snapshot.state_json`` (text) becomes ``state``: the same JSON
compressed with zstd level 1 (``exam_server.state_codec``), about 4.5 times
smaller for a 110-item SKD form (6.3 → 1.4 kB). A snapshot is written every
``snapshot_every`` answers, so its size is most of what SQLite's log carries
per answer after the response row, and what a site syncs to the centre.
Existing snapshots are converted in place, in chunks; downgrade restores the
text column from the same bytes.
"""

from __future__ import annotations

import sqlalchemy as sa
import zstandard
from alembic import op

revision: str = "0014_snapshot_zstd"
down_revision: str | None = "0013_response_attempt_ix"
branch_labels: str | None = None
depends_on: str | None = None

_CHUNK = 2000


def _convert(source: str, target: str, fn: object) -> None:
    """Copy every row's ``source`` column through ``fn`` into ``target``, in
    chunks of the primary key so memory stays flat on a large database."""
    conn = op.get_bind()
    snap = sa.table(
        "exam_attempt_snapshot",
        sa.column("attempt_id", sa.Integer()),
        sa.column("seq", sa.Integer()),
        sa.column(source),
        sa.column(target),
    )
    after = (-1, -1)
    while True:
        rows = conn.execute(
            sa.select(snap.c.attempt_id, snap.c.seq, snap.c[source])
            .where(sa.tuple_(snap.c.attempt_id, snap.c.seq) > sa.tuple_(*after))
            .order_by(snap.c.attempt_id, snap.c.seq)
            .limit(_CHUNK)
        ).all()
        if not rows:
            return
        conn.execute(
            snap.update()
            .where(snap.c.attempt_id == sa.bindparam("aid"), snap.c.seq == sa.bindparam("sq"))
            .values({target: sa.bindparam("val")}),
            [{"aid": a, "sq": q, "val": fn(v)} for a, q, v in rows],  # type: ignore[operator]
        )
        after = (rows[-1][0], rows[-1][1])


def upgrade() -> None:
    with op.batch_alter_table("exam_attempt_snapshot") as batch:
        batch.add_column(sa.Column("state", sa.LargeBinary(), nullable=True))
    c = zstandard.ZstdCompressor(level=1)
    _convert("state_json", "state", lambda text: c.compress(text.encode()))
    with op.batch_alter_table("exam_attempt_snapshot") as batch:
        batch.alter_column("state", existing_type=sa.LargeBinary(), nullable=False)
        batch.drop_column("state_json")


def downgrade() -> None:
    with op.batch_alter_table("exam_attempt_snapshot") as batch:
        batch.add_column(sa.Column("state_json", sa.Text(), nullable=True))
    d = zstandard.ZstdDecompressor()
    _convert("state", "state_json", lambda blob: d.decompress(bytes(blob)).decode())
    with op.batch_alter_table("exam_attempt_snapshot") as batch:
        batch.alter_column("state_json", existing_type=sa.Text(), nullable=False)
        batch.drop_column("state")
