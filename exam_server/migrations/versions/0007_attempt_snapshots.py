"""engine state as snapshots every N answers, narrow attempt row

Revision ID: 0007_attempt_snapshots
Revises: 0006_staff_disabled
Create Date: 2026-12-06 07:38:07.175750

The engine state leaves ``exam_attempt`` (a row updated with every answer,
rewritten whole by the database) for ``exam_attempt_snapshot``: each
attempt's stored state becomes its snapshot at its ``last_seq``, so it is
rebuilt exactly as before (no responses after it to replay). The responses
gain what a replay needs that it cannot recompute (``server_elapsed``,
``chosen``: NULL in the rows written before, which no replay reads) and the
attempt the item on a linear test's screen (``on_screen``).

Downgrade puts each attempt's last snapshot back into ``state_json``; it
refuses while an attempt has responses after its last snapshot (their state
exists only by replay, which a frozen revision does not do): finish or
snapshot those attempts first.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision: str = "0007_attempt_snapshots"
down_revision: str | None = "0006_staff_disabled"
branch_labels: str | None = None
depends_on: str | None = None

_attempt = sa.table(
    "exam_attempt",
    sa.column("id", sa.Integer()),
    sa.column("last_seq", sa.Integer()),
    sa.column("state_json", sa.Text()),
    sa.column("on_screen", sa.Integer()),
)
_snapshot = sa.table(
    "exam_attempt_snapshot",
    sa.column("attempt_id", sa.Integer()),
    sa.column("seq", sa.Integer()),
    sa.column("state_json", sa.Text()),
)


def _on_screen(state_json: str) -> int | None:
    """The item on a linear test's screen (the state's ``current``); None otherwise."""
    try:
        state = json.loads(state_json)
        if state["design"]["mode"] != "linear" or state["current"] is None:
            return None
        return int(state["current"])
    except (ValueError, KeyError, TypeError):
        return None


def upgrade() -> None:
    op.create_table(
        "exam_attempt_snapshot",
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("state_json", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["attempt_id"], ["exam_attempt.id"]),
        sa.PrimaryKeyConstraint("attempt_id", "seq"),
    )
    # In place on SQLite too (ADD/DROP COLUMN): a batch copy of exam_attempt
    # would fail on the foreign keys of the tables that reference it.
    op.add_column("exam_attempt", sa.Column("on_screen", sa.Integer(), nullable=True))
    op.add_column("exam_response", sa.Column("server_elapsed", sa.Float(), nullable=True))
    op.add_column("exam_response", sa.Column("chosen", sa.Text(), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(sa.select(_attempt.c.id, _attempt.c.last_seq, _attempt.c.state_json))
    for aid, last_seq, state_json in rows.all():
        conn.execute(
            sa.insert(_snapshot).values(attempt_id=aid, seq=last_seq, state_json=state_json)
        )
        conn.execute(
            sa.update(_attempt).where(_attempt.c.id == aid).values(on_screen=_on_screen(state_json))
        )
    op.drop_column("exam_attempt", "state_json")


def downgrade() -> None:
    conn = op.get_bind()
    last = (
        sa.select(_snapshot.c.attempt_id, sa.func.max(_snapshot.c.seq).label("seq"))
        .group_by(_snapshot.c.attempt_id)
        .subquery()
    )
    behind = conn.execute(
        sa.select(_attempt.c.id)
        .select_from(_attempt.outerjoin(last, last.c.attempt_id == _attempt.c.id))
        .where(sa.or_(last.c.seq.is_(None), last.c.seq < _attempt.c.last_seq))
    ).all()
    if behind:
        raise RuntimeError(
            f"{len(behind)} attempt(s) have responses after their last snapshot "
            f"(first: {behind[0][0]}); finish them before downgrading below 0007"
        )
    op.add_column("exam_attempt", sa.Column("state_json", sa.Text(), nullable=True))
    states = conn.execute(
        sa.select(_snapshot.c.attempt_id, _snapshot.c.state_json).join(
            last, (last.c.attempt_id == _snapshot.c.attempt_id) & (last.c.seq == _snapshot.c.seq)
        )
    ).all()
    for aid, state_json in states:
        conn.execute(sa.update(_attempt).where(_attempt.c.id == aid).values(state_json=state_json))
    op.drop_column("exam_response", "chosen")
    op.drop_column("exam_response", "server_elapsed")
    op.drop_column("exam_attempt", "on_screen")
    op.drop_table("exam_attempt_snapshot")
