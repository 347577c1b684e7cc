"""SKB with several assessors: components, panels, slots, rubric scores (issue 19).

Revision ID: 0009_assessment
Revises: 0008_forensics

Reserved in the chain while the work lands; its tables are added here as
they are designed (no operations yet).
"""

from __future__ import annotations

revision: str = "0009_assessment"
down_revision: str | None = "0008_forensics"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
