"""Images of items imported from QTI packages: ``bank_item_media`` (issue 23).

Revision ID: 0005_item_media
Revises: 0004_exam_usage

One row per picture, keyed by the SHA-256 of its bytes; HTML items refer to
it as ``media/<sha256>.<ext>``. Only added to by imports, never changed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005_item_media"
down_revision: str | None = "0004_exam_usage"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # A database made by the code between the model and this revision (create_all)
    # already has the table.
    if "bank_item_media" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "bank_item_media",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("mime_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256"),
    )


def downgrade() -> None:
    op.drop_table("bank_item_media")
