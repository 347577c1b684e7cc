"""Exam sites and the centre: packages, key release, sync (issue 22).

Revision ID: 0012_sites
Revises: 0011_after_test

The centre's view of each site (``site_link``), the session keys
(``site_session_key``), the copies of what sites send keyed by chain
position (``site_audit``, ``site_response`` and its heads
``site_chain_head``, ``site_checkpoint``, ``site_attempt``) and the
verification failures (``site_problem``); at a site, the installed package
(``site_package``), the sealed item content (``site_sealed_items``) and the
sync state (``site_sync_state``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0012_sites"
down_revision: str | None = "0011_after_test"
branch_labels: str | None = None
depends_on: str | None = None


def _site_fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["site_id"], ["exam_site.id"])


def upgrade() -> None:
    op.create_table(
        "site_link",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("checkpoint_key", sa.Text(), nullable=True),
        sa.Column("last_contact_at", sa.Float(), nullable=True),
        sa.Column("last_sync_at", sa.Float(), nullable=True),
        sa.Column("audit_last_id", sa.Integer(), nullable=False),
        sa.Column("audit_last_hash", sa.String(length=64), nullable=False),
        sa.Column("checkpoint_n", sa.Integer(), nullable=False),
        sa.Column("checkpoint_hash", sa.String(length=64), nullable=False),
        sa.Column("received", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("site_pending", sa.Integer(), nullable=False),
        sa.Column("oldest_pending_at", sa.Float(), nullable=True),
        sa.Column("sessions_running", sa.Integer(), nullable=False),
        _site_fk(),
        sa.PrimaryKeyConstraint("site_id"),
    )
    op.create_table(
        "site_session_key",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("key_b64", sa.String(length=64), nullable=False),
        sa.Column("released_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["session_id"], ["exam_session.id"]),
        _site_fk(),
        sa.PrimaryKeyConstraint("session_id"),
    )
    op.create_index("ix_site_session_key_site_id", "site_session_key", ["site_id"])
    op.create_table(
        "site_audit",
        sa.Column("site_id", sa.Integer(), nullable=False),
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
        _site_fk(),
        sa.PrimaryKeyConstraint("site_id", "id"),
    )
    op.create_table(
        "site_response",
        sa.Column("site_id", sa.Integer(), nullable=False),
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
        sa.Column("server_elapsed", sa.Float(), nullable=True),
        sa.Column("chosen", sa.Text(), nullable=True),
        _site_fk(),
        sa.PrimaryKeyConstraint("site_id", "attempt_id", "seq"),
    )
    op.create_table(
        "site_chain_head",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        _site_fk(),
        sa.PrimaryKeyConstraint("site_id", "attempt_id"),
    )
    op.create_table(
        "site_checkpoint",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        _site_fk(),
        sa.PrimaryKeyConstraint("site_id", "n"),
    )
    op.create_table(
        "site_attempt",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("terminal_id", sa.String(length=80), nullable=True),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("response_head", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("finished_at", sa.Float(), nullable=True),
        sa.Column("finish_reason", sa.String(length=40), nullable=True),
        sa.Column("score_json", sa.Text(), nullable=True),
        sa.Column("total_points", sa.Float(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("pass_reason", sa.String(length=300), nullable=True),
        sa.Column("state_json", sa.Text(), nullable=True),
        sa.Column("centre_total", sa.Float(), nullable=True),
        sa.Column("centre_passed", sa.Boolean(), nullable=True),
        sa.Column("centre_check", sa.String(length=16), nullable=False),
        _site_fk(),
        sa.PrimaryKeyConstraint("site_id", "attempt_id"),
    )
    op.create_index("ix_site_attempt_session_id", "site_attempt", ["session_id"])
    op.create_table(
        "site_problem",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        _site_fk(),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_site_problem_site_id", "site_problem", ["site_id"])
    op.create_table(
        "site_package",
        sa.Column("package_id", sa.String(length=64), nullable=False),
        sa.Column("site_code", sa.String(length=40), nullable=False),
        sa.Column("centre_key_id", sa.String(length=32), nullable=False),
        sa.Column("built_at", sa.Float(), nullable=False),
        sa.Column("installed_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("package_id"),
    )
    op.create_table(
        "site_sealed_items",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("exam_id", sa.Integer(), nullable=False),
        sa.Column("package_id", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=32), nullable=False),
        sa.Column("ciphertext", sa.Text(), nullable=False),
        sa.Column("released_at", sa.Float(), nullable=True),
        sa.Column("released_how", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(["exam_id"], ["exam_exam.id"]),
        sa.ForeignKeyConstraint(["session_id"], ["exam_session.id"]),
        sa.PrimaryKeyConstraint("session_id"),
    )
    op.create_table(
        "site_sync_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_try_at", sa.Float(), nullable=True),
        sa.Column("last_ok_at", sa.Float(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    for index, table in (
        ("ix_site_problem_site_id", "site_problem"),
        ("ix_site_attempt_session_id", "site_attempt"),
        ("ix_site_session_key_site_id", "site_session_key"),
    ):
        op.drop_index(index, table_name=table)
    for table in (
        "site_sync_state",
        "site_sealed_items",
        "site_package",
        "site_problem",
        "site_attempt",
        "site_checkpoint",
        "site_chain_head",
        "site_response",
        "site_audit",
        "site_session_key",
        "site_link",
    ):
        op.drop_table(table)
