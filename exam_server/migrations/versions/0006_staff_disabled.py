"""Staff accounts can be disabled: ``exam_staff.disabled`` (issue 16).

Revision ID: 0006_staff_disabled
Revises: 0005_item_media

``seleksi staff disable`` sets it; staff login refuses a disabled account.
Every existing account stays enabled (server default false).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006_staff_disabled"
down_revision: str | None = "0005_item_media"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # In place on SQLite too (ADD COLUMN): a batch copy of exam_staff would fail on
    # the foreign keys of exam_staff_room. sa.false() is `false` on PostgreSQL, 0 on SQLite.
    op.add_column(
        "exam_staff",
        sa.Column("disabled", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade() -> None:
    with op.batch_alter_table("exam_staff", schema=None) as batch_op:
        batch_op.drop_column("disabled")
