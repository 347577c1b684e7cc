"""Exam sites and the centre: packages, key release, sync (issue 22).

Revision ID: 0012_sites
Revises: 0011_after_test

Reserved in the chain while the work lands; its tables are added here as
they are designed (no operations yet).
"""

from __future__ import annotations

revision: str = "0012_sites"
down_revision: str | None = "0011_after_test"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
