"""SKB with several assessors: plans, panels, slots, declarations, sheets, scores (issue 19).

Revision ID: 0009_assessment
Revises: 0008_forensics

New tables only (``assessment.models``): ``skb_plan`` (a formation's SKB
components), ``skb_panel`` and ``skb_panel_member`` (assessors, one chair),
``skb_slot`` (interview slots with a meeting link), ``skb_declaration``
(conflict of interest, recusal), ``skb_sheet`` (one assessor's rubric sheet)
and ``skb_component_score`` (a candidate's final score per component).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009_assessment"
down_revision: str | None = "0008_forensics"
branch_labels: str | None = None
depends_on: str | None = None

TABLES = (
    "skb_component_score",
    "skb_sheet",
    "skb_declaration",
    "skb_slot",
    "skb_panel_member",
    "skb_panel",
    "skb_plan",
)


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "skb_plan" in existing:  # made by create_all before this revision held them
        return
    op.create_table(
        "skb_plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("formation_id", sa.Integer(), nullable=False),
        sa.Column("plan_json", sa.Text(), nullable=False),
        sa.Column("caps_version", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["formation_id"], ["exam_formation.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("formation_id"),
    )
    op.create_table(
        "skb_panel",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("formation_id", sa.Integer(), nullable=False),
        sa.Column("component", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["formation_id"], ["exam_formation.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_index("ix_skb_panel_formation_id", "skb_panel", ["formation_id"])
    op.create_table(
        "skb_panel_member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("panel_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("chair", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["panel_id"], ["skb_panel.id"]),
        sa.ForeignKeyConstraint(["staff_id"], ["exam_staff.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("panel_id", "staff_id"),
    )
    op.create_index("ix_skb_panel_member_panel_id", "skb_panel_member", ["panel_id"])
    op.create_index("ix_skb_panel_member_staff_id", "skb_panel_member", ["staff_id"])
    op.create_table(
        "skb_slot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("panel_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.Float(), nullable=False),
        sa.Column("ends_at", sa.Float(), nullable=False),
        sa.Column("meeting_url", sa.String(length=500), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=True),
        sa.Column("zone", sa.String(length=8), nullable=False),
        sa.Column("reminded_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["candidate_id"], ["exam_candidate.id"]),
        sa.ForeignKeyConstraint(["panel_id"], ["skb_panel.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_skb_slot_panel_id", "skb_slot", ["panel_id"])
    op.create_index("ix_skb_slot_candidate_id", "skb_slot", ["candidate_id"])
    op.create_table(
        "skb_declaration",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("panel_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=False),
        sa.Column("conflict", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["candidate_id"], ["exam_candidate.id"]),
        sa.ForeignKeyConstraint(["panel_id"], ["skb_panel.id"]),
        sa.ForeignKeyConstraint(["staff_id"], ["exam_staff.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("panel_id", "staff_id", "candidate_id"),
    )
    op.create_index("ix_skb_declaration_panel_id", "skb_declaration", ["panel_id"])
    op.create_table(
        "skb_sheet",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("panel_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=False),
        sa.Column("points_json", sa.Text(), nullable=False),
        sa.Column("score", sa.String(length=16), nullable=False),
        sa.Column("submitted_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["candidate_id"], ["exam_candidate.id"]),
        sa.ForeignKeyConstraint(["panel_id"], ["skb_panel.id"]),
        sa.ForeignKeyConstraint(["staff_id"], ["exam_staff.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("panel_id", "staff_id", "candidate_id"),
    )
    op.create_index("ix_skb_sheet_panel_id", "skb_sheet", ["panel_id"])
    op.create_index("ix_skb_sheet_candidate_id", "skb_sheet", ["candidate_id"])
    op.create_table(
        "skb_component_score",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=False),
        sa.Column("component", sa.String(length=40), nullable=False),
        sa.Column("score", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("by", sa.String(length=120), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["candidate_id"], ["exam_candidate.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("candidate_id", "component"),
    )
    op.create_index("ix_skb_component_score_candidate_id", "skb_component_score", ["candidate_id"])


def downgrade() -> None:
    for table in TABLES:
        op.drop_table(table)
