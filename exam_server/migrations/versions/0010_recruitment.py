"""Recruitment: needs, formations, announcements, registrations, verification,
appeals, scheduling, outbox (issue 18).

Revision ID: 0010_recruitment
Revises: 0009_assessment

Reserved in the chain while the work lands; its tables are added here as
they are designed (no operations yet).
"""

from __future__ import annotations

revision: str = "0010_recruitment"
down_revision: str | None = "0009_assessment"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
