"""A site's checkpoint key replaced; the site's sync backlog (issue 22).

Revision ID: 0016_site_keys
Revises: 0015_outbox_retry

At the centre, ``site_checkpoint_key``: the checkpoint keys registered for a
site after its first one, each from a checkpoint number on, with the site's
signed statement and the administrator's act. At a site, two columns of
``site_sync_state``: the centre's positions after the last sync that
reached it (to count what still waits while the line is down) and the
problems that sync reported.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0016_site_keys"
down_revision: str | None = "0015_outbox_retry"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "site_checkpoint_key",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("from_n", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("public_pem", sa.Text(), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("registered_at", sa.Float(), nullable=False),
        sa.Column("registered_by", sa.String(length=120), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["exam_site.id"]),
        sa.PrimaryKeyConstraint("site_id", "from_n"),
    )
    op.add_column("site_sync_state", sa.Column("centre_positions", sa.Text(), nullable=True))
    op.add_column("site_sync_state", sa.Column("problems_json", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("site_sync_state", "problems_json")
    op.drop_column("site_sync_state", "centre_positions")
    op.drop_table("site_checkpoint_key")
