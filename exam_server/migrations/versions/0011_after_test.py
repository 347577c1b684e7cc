"""After the test: surveys, public feedback, appeals of results (issue 20).

Revision ID: 0011_after_test
Revises: 0010_recruitment

Reserved in the chain while the work lands; its tables are added here as
they are designed (no operations yet).
"""

from __future__ import annotations

revision: str = "0011_after_test"
down_revision: str | None = "0010_recruitment"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
