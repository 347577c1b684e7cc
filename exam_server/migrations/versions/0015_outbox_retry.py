"""The recruitment outbox delivers with retries, claims and once-only keys.

Revision ID: 0015_outbox_retry
Revises: 0014_snapshot_zstd

``rec_outbox`` gains ``status`` (pending | sending | sent | failed),
``next_try_at`` (when a pending message is due: retries back off),
``claimed_by`` and ``lease_until`` (the sender that claimed it, and until
when: two server processes never send one message twice, and a sender that
died lets go when its lease ends) and ``dedupe_key`` (unique when set: a
deadline reminder is queued once). Existing rows: sent ones are ``sent``,
unsent ones refused five times (the old limit) ``failed``, the rest
``pending`` and due now.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0015_outbox_retry"
down_revision: str | None = "0014_snapshot_zstd"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column(
        "rec_outbox",
        sa.Column("status", sa.String(length=12), nullable=False, server_default="pending"),
    )
    op.add_column(
        "rec_outbox", sa.Column("next_try_at", sa.Float(), nullable=False, server_default="0")
    )
    op.add_column(
        "rec_outbox",
        sa.Column("claimed_by", sa.String(length=40), nullable=False, server_default=""),
    )
    op.add_column("rec_outbox", sa.Column("lease_until", sa.Float(), nullable=True))
    op.add_column("rec_outbox", sa.Column("dedupe_key", sa.String(length=120), nullable=True))
    op.execute("UPDATE rec_outbox SET status = 'sent' WHERE sent_at IS NOT NULL")
    op.execute("UPDATE rec_outbox SET status = 'failed' WHERE sent_at IS NULL AND attempts >= 5")
    op.create_index("ix_rec_outbox_due", "rec_outbox", ["status", "next_try_at"], unique=False)
    op.create_index(op.f("ix_rec_outbox_dedupe_key"), "rec_outbox", ["dedupe_key"], unique=True)


def downgrade() -> None:
    op.drop_index(op.f("ix_rec_outbox_dedupe_key"), table_name="rec_outbox")
    op.drop_index("ix_rec_outbox_due", table_name="rec_outbox")
    with op.batch_alter_table("rec_outbox") as batch:
        for name in ("dedupe_key", "lease_until", "claimed_by", "next_try_at", "status"):
            batch.drop_column(name)
