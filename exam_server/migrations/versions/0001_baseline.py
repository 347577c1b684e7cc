"""Baseline: the schema as the code made it before Alembic (issue 13).

Revision ID: 0001_baseline
Revises: (none)

Frozen: this file states the tables as they were, and must not change when the
models change (a change to the models is a new revision). It is
``SQLModel.metadata`` at commit 35c819b without ``exam_exam.policy_json`` and
``exam_exam.options_json`` (revision 0002), with sqlmodel's column types
spelled as the DDL they emit (``AutoString`` is ``VARCHAR``, ``UTCDateTime`` is
``TIMESTAMP WITH TIME ZONE``).

A database made before Alembic (``create_all``: tables, no ``alembic_version``)
may hold some or all of these tables, so each is created only when missing,
as ``create_all`` did; on an empty database every table is created.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001_baseline"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "bank_calibration_run" not in existing:
        op.create_table(
            "bank_calibration_run",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("label", sa.String(length=128), nullable=False),
            sa.Column("scale", sa.String(length=64), nullable=False),
            sa.Column("calibrated_at", sa.Date(), nullable=True),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index(
            op.f("ix_bank_calibration_run_scale"), "bank_calibration_run", ["scale"], unique=False
        )
    if "bank_item_usage" not in existing:
        op.create_table(
            "bank_item_usage",
            sa.Column("item_id", sa.String(length=64), nullable=False),
            sa.Column("administered", sa.Integer(), nullable=False),
            sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
            sa.PrimaryKeyConstraint("item_id"),
        )
    if "bank_subtest" not in existing:
        op.create_table(
            "bank_subtest",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("code", sa.String(length=32), nullable=False),
            sa.Column("name", sa.String(), nullable=False),
            sa.Column("scoring", sa.String(), nullable=False),
            sa.Column("points_correct", sa.Float(), nullable=False),
            sa.Column("min_points", sa.Integer(), nullable=False),
            sa.Column("max_points", sa.Integer(), nullable=False),
            sa.Column("position", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index(op.f("ix_bank_subtest_code"), "bank_subtest", ["code"], unique=True)
    if "exam_audit" not in existing:
        op.create_table(
            "exam_audit",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("at", sa.Float(), nullable=False),
            sa.Column("kind", sa.String(length=40), nullable=False),
            sa.Column("actor", sa.String(length=120), nullable=False),
            sa.Column("session_id", sa.Integer(), nullable=True),
            sa.Column("attempt_id", sa.Integer(), nullable=True),
            sa.Column("reason", sa.Text(), nullable=False),
            sa.Column("data_json", sa.Text(), nullable=False),
            sa.Column("prev_hash", sa.String(length=64), nullable=False),
            sa.Column("hash", sa.String(length=64), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index(
            op.f("ix_exam_audit_attempt_id"), "exam_audit", ["attempt_id"], unique=False
        )
        op.create_index(
            op.f("ix_exam_audit_session_id"), "exam_audit", ["session_id"], unique=False
        )
    if "exam_audit_head" not in existing:
        op.create_table(
            "exam_audit_head",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("last_id", sa.Integer(), nullable=False),
            sa.Column("last_hash", sa.String(length=64), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
    if "exam_exam" not in existing:
        op.create_table(
            "exam_exam",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("code", sa.String(length=40), nullable=False),
            sa.Column("name", sa.String(length=200), nullable=False),
            sa.Column("design_json", sa.Text(), nullable=False),
            sa.Column("bank_json", sa.Text(), nullable=False),
            sa.Column("items_json", sa.Text(), nullable=False),
            sa.Column("n_items", sa.Integer(), nullable=False),
            sa.Column("created_at", sa.Float(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("code"),
        )
    if "exam_formation" not in existing:
        op.create_table(
            "exam_formation",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("code", sa.String(length=60), nullable=False),
            sa.Column("agency", sa.String(length=200), nullable=False),
            sa.Column("position", sa.String(length=200), nullable=False),
            sa.Column("location", sa.String(length=200), nullable=False),
            sa.Column("openings", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("code"),
        )
    if "exam_presence" not in existing:
        op.create_table(
            "exam_presence",
            sa.Column("attempt_id", sa.Integer(), nullable=False),
            sa.Column("last_seen_at", sa.Float(), nullable=False),
            sa.PrimaryKeyConstraint("attempt_id"),
        )
    if "exam_site" not in existing:
        op.create_table(
            "exam_site",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("code", sa.String(length=40), nullable=False),
            sa.Column("name", sa.String(length=200), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("code"),
        )
    if "exam_staff" not in existing:
        op.create_table(
            "exam_staff",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("username", sa.String(length=80), nullable=False),
            sa.Column("name", sa.String(length=200), nullable=False),
            sa.Column("role", sa.String(length=16), nullable=False),
            sa.Column("password_hash", sa.String(length=300), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("username"),
        )
    if "bank_content_area" not in existing:
        op.create_table(
            "bank_content_area",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("subtest_id", sa.Integer(), nullable=False),
            sa.Column("code", sa.String(length=64), nullable=False),
            sa.Column("name", sa.String(), nullable=False),
            sa.Column("position", sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(
                ["subtest_id"],
                ["bank_subtest.id"],
            ),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index(
            op.f("ix_bank_content_area_code"), "bank_content_area", ["code"], unique=True
        )
        op.create_index(
            op.f("ix_bank_content_area_subtest_id"),
            "bank_content_area",
            ["subtest_id"],
            unique=False,
        )
    if "exam_room" not in existing:
        op.create_table(
            "exam_room",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("site_id", sa.Integer(), nullable=False),
            sa.Column("code", sa.String(length=40), nullable=False),
            sa.Column("name", sa.String(length=200), nullable=False),
            sa.Column("capacity", sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(
                ["site_id"],
                ["exam_site.id"],
            ),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("site_id", "code"),
        )
        op.create_index(op.f("ix_exam_room_site_id"), "exam_room", ["site_id"], unique=False)
    if "bank_item" not in existing:
        op.create_table(
            "bank_item",
            sa.Column("item_id", sa.String(length=64), nullable=False),
            sa.Column("stem", sa.String(), nullable=False),
            sa.Column("stem_format", sa.String(), nullable=False),
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("version", sa.Integer(), nullable=False),
            sa.Column("is_current", sa.Boolean(), nullable=False),
            sa.Column("subtest_id", sa.Integer(), nullable=False),
            sa.Column("content_area_id", sa.Integer(), nullable=False),
            sa.Column("status", sa.String(), nullable=False),
            sa.Column("n_options", sa.Integer(), nullable=False),
            sa.Column("key", sa.Integer(), nullable=True),
            sa.Column("points", sa.String(length=64), nullable=True),
            sa.Column("enemy_group", sa.String(length=64), nullable=True),
            sa.Column("source", sa.String(), nullable=True),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.ForeignKeyConstraint(
                ["content_area_id"],
                ["bank_content_area.id"],
            ),
            sa.ForeignKeyConstraint(
                ["subtest_id"],
                ["bank_subtest.id"],
            ),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("item_id", "version", name="uq_bank_item_version"),
        )
        op.create_index(op.f("ix_bank_item_item_id"), "bank_item", ["item_id"], unique=False)
        op.create_index(op.f("ix_bank_item_subtest_id"), "bank_item", ["subtest_id"], unique=False)
    if "exam_session" not in existing:
        op.create_table(
            "exam_session",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("code", sa.String(length=60), nullable=False),
            sa.Column("exam_id", sa.Integer(), nullable=False),
            sa.Column("room_id", sa.Integer(), nullable=False),
            sa.Column("starts_at", sa.Float(), nullable=False),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.Column("token", sa.String(length=16), nullable=True),
            sa.Column("opened_at", sa.Float(), nullable=True),
            sa.Column("closed_at", sa.Float(), nullable=True),
            sa.ForeignKeyConstraint(
                ["exam_id"],
                ["exam_exam.id"],
            ),
            sa.ForeignKeyConstraint(
                ["room_id"],
                ["exam_room.id"],
            ),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("code"),
        )
        op.create_index(op.f("ix_exam_session_exam_id"), "exam_session", ["exam_id"], unique=False)
        op.create_index(op.f("ix_exam_session_room_id"), "exam_session", ["room_id"], unique=False)
    if "exam_staff_room" not in existing:
        op.create_table(
            "exam_staff_room",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("staff_id", sa.Integer(), nullable=False),
            sa.Column("room_id", sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(
                ["room_id"],
                ["exam_room.id"],
            ),
            sa.ForeignKeyConstraint(
                ["staff_id"],
                ["exam_staff.id"],
            ),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("staff_id", "room_id"),
        )
        op.create_index(
            op.f("ix_exam_staff_room_room_id"), "exam_staff_room", ["room_id"], unique=False
        )
        op.create_index(
            op.f("ix_exam_staff_room_staff_id"), "exam_staff_room", ["staff_id"], unique=False
        )
    if "bank_item_calibration" not in existing:
        op.create_table(
            "bank_item_calibration",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("item_pk", sa.Integer(), nullable=False),
            sa.Column("run_id", sa.Integer(), nullable=False),
            sa.Column("model", sa.String(length=8), nullable=False),
            sa.Column("a", sa.Float(), nullable=True),
            sa.Column("b", sa.Float(), nullable=True),
            sa.Column("c", sa.Float(), nullable=True),
            sa.Column("d", sa.Float(), nullable=True),
            sa.Column("t1", sa.Float(), nullable=True),
            sa.Column("t2", sa.Float(), nullable=True),
            sa.Column("t3", sa.Float(), nullable=True),
            sa.Column("t4", sa.Float(), nullable=True),
            sa.Column("t5", sa.Float(), nullable=True),
            sa.Column("se_a", sa.Float(), nullable=True),
            sa.Column("se_b", sa.Float(), nullable=True),
            sa.Column("se_c", sa.Float(), nullable=True),
            sa.Column("se_d", sa.Float(), nullable=True),
            sa.Column("se_t1", sa.Float(), nullable=True),
            sa.Column("se_t2", sa.Float(), nullable=True),
            sa.Column("se_t3", sa.Float(), nullable=True),
            sa.Column("se_t4", sa.Float(), nullable=True),
            sa.Column("se_t5", sa.Float(), nullable=True),
            sa.Column("sample_size", sa.Integer(), nullable=True),
            sa.ForeignKeyConstraint(
                ["item_pk"],
                ["bank_item.id"],
            ),
            sa.ForeignKeyConstraint(
                ["run_id"],
                ["bank_calibration_run.id"],
            ),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index(
            op.f("ix_bank_item_calibration_item_pk"),
            "bank_item_calibration",
            ["item_pk"],
            unique=False,
        )
        op.create_index(
            op.f("ix_bank_item_calibration_run_id"),
            "bank_item_calibration",
            ["run_id"],
            unique=False,
        )
    if "bank_item_option" not in existing:
        op.create_table(
            "bank_item_option",
            sa.Column("position", sa.Integer(), nullable=False),
            sa.Column("text", sa.String(), nullable=False),
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("item_pk", sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(
                ["item_pk"],
                ["bank_item.id"],
            ),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("item_pk", "position", name="uq_bank_option_position"),
        )
        op.create_index(
            op.f("ix_bank_item_option_item_pk"), "bank_item_option", ["item_pk"], unique=False
        )
    if "exam_candidate" not in existing:
        op.create_table(
            "exam_candidate",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("registration_number", sa.String(length=40), nullable=False),
            sa.Column("name", sa.String(length=200), nullable=False),
            sa.Column("category", sa.String(length=40), nullable=False),
            sa.Column("formation_id", sa.Integer(), nullable=True),
            sa.Column("session_id", sa.Integer(), nullable=True),
            sa.Column("birth_date", sa.String(length=10), nullable=True),
            sa.ForeignKeyConstraint(
                ["formation_id"],
                ["exam_formation.id"],
            ),
            sa.ForeignKeyConstraint(
                ["session_id"],
                ["exam_session.id"],
            ),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("registration_number"),
        )
        op.create_index(
            op.f("ix_exam_candidate_formation_id"), "exam_candidate", ["formation_id"], unique=False
        )
        op.create_index(
            op.f("ix_exam_candidate_session_id"), "exam_candidate", ["session_id"], unique=False
        )
    if "exam_attempt" not in existing:
        op.create_table(
            "exam_attempt",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("session_id", sa.Integer(), nullable=False),
            sa.Column("candidate_id", sa.Integer(), nullable=False),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.Column("seed", sa.Integer(), nullable=False),
            sa.Column("state_json", sa.Text(), nullable=False),
            sa.Column("last_seq", sa.Integer(), nullable=False),
            sa.Column("response_head", sa.String(length=64), nullable=False),
            sa.Column("terminal_id", sa.String(length=80), nullable=True),
            sa.Column("terminal_released", sa.Boolean(), nullable=False),
            sa.Column("remaining_at_start", sa.Float(), nullable=False),
            sa.Column("running_since", sa.Float(), nullable=True),
            sa.Column("deadline_at", sa.Float(), nullable=True),
            sa.Column("last_seen_at", sa.Float(), nullable=False),
            sa.Column("started_at", sa.Float(), nullable=False),
            sa.Column("finished_at", sa.Float(), nullable=True),
            sa.Column("finish_reason", sa.String(length=40), nullable=True),
            sa.Column("score_json", sa.Text(), nullable=True),
            sa.Column("total_points", sa.Float(), nullable=True),
            sa.Column("passed", sa.Boolean(), nullable=True),
            sa.Column("pass_reason", sa.String(length=300), nullable=True),
            sa.ForeignKeyConstraint(
                ["candidate_id"],
                ["exam_candidate.id"],
            ),
            sa.ForeignKeyConstraint(
                ["session_id"],
                ["exam_session.id"],
            ),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("session_id", "candidate_id"),
        )
        op.create_index(
            op.f("ix_exam_attempt_candidate_id"), "exam_attempt", ["candidate_id"], unique=False
        )
        op.create_index(
            op.f("ix_exam_attempt_session_id"), "exam_attempt", ["session_id"], unique=False
        )
        op.create_index(
            "ix_exam_attempt_status_deadline",
            "exam_attempt",
            ["status", "deadline_at"],
            unique=False,
        )
    if "exam_checkin" not in existing:
        op.create_table(
            "exam_checkin",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("session_id", sa.Integer(), nullable=False),
            sa.Column("candidate_id", sa.Integer(), nullable=False),
            sa.Column("pin_mac", sa.String(length=64), nullable=False),
            sa.Column("issued_at", sa.Float(), nullable=False),
            sa.Column("issued_by", sa.String(length=80), nullable=False),
            sa.ForeignKeyConstraint(
                ["candidate_id"],
                ["exam_candidate.id"],
            ),
            sa.ForeignKeyConstraint(
                ["session_id"],
                ["exam_session.id"],
            ),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("session_id", "candidate_id"),
        )
        op.create_index(
            op.f("ix_exam_checkin_candidate_id"), "exam_checkin", ["candidate_id"], unique=False
        )
        op.create_index(
            op.f("ix_exam_checkin_session_id"), "exam_checkin", ["session_id"], unique=False
        )
    if "exam_response" not in existing:
        op.create_table(
            "exam_response",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("attempt_id", sa.Integer(), nullable=False),
            sa.Column("seq", sa.Integer(), nullable=False),
            sa.Column("kind", sa.String(length=8), nullable=False),
            sa.Column("number", sa.Integer(), nullable=False),
            sa.Column("item_id", sa.String(length=80), nullable=False),
            sa.Column("option", sa.Integer(), nullable=False),
            sa.Column("flagged", sa.Boolean(), nullable=False),
            sa.Column("elapsed", sa.Float(), nullable=False),
            sa.Column("at", sa.Float(), nullable=False),
            sa.Column("prev_hash", sa.String(length=64), nullable=False),
            sa.Column("hash", sa.String(length=64), nullable=False),
            sa.ForeignKeyConstraint(
                ["attempt_id"],
                ["exam_attempt.id"],
            ),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("attempt_id", "seq"),
        )
        op.create_index(
            op.f("ix_exam_response_attempt_id"), "exam_response", ["attempt_id"], unique=False
        )


def downgrade() -> None:
    # Dependents first (foreign keys); a table's indexes go with it.
    op.drop_table("exam_response")
    op.drop_table("exam_checkin")
    op.drop_table("exam_attempt")
    op.drop_table("exam_candidate")
    op.drop_table("bank_item_option")
    op.drop_table("bank_item_calibration")
    op.drop_table("exam_staff_room")
    op.drop_table("exam_session")
    op.drop_table("bank_item")
    op.drop_table("exam_room")
    op.drop_table("bank_content_area")
    op.drop_table("exam_staff")
    op.drop_table("exam_site")
    op.drop_table("exam_presence")
    op.drop_table("exam_formation")
    op.drop_table("exam_exam")
    op.drop_table("exam_audit_head")
    op.drop_table("exam_audit")
    op.drop_table("bank_subtest")
    op.drop_table("bank_item_usage")
    op.drop_table("bank_calibration_run")
