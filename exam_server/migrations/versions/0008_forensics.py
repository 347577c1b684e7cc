"""Session forensics and item drift/leak watch (issue 21).

Revision ID: 0008_forensics
Revises: 0007_attempt_snapshots

Reserved in the chain while the work lands; its tables are added here as
they are designed (no operations yet).
"""

from __future__ import annotations

revision: str = "0008_forensics"
down_revision: str | None = "0007_attempt_snapshots"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
