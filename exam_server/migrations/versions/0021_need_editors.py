"""Who changed a recruitment need: ``rec_need.editors_json``.

Revision ID: 0021_need_editors
Revises: 0020_survey_unlinked

The four-eyes rule kept a need's creator and submitter, not an account that
only changed it (``update_need``, e.g. the national admin editing a returned
need): that account could approve the need after the operator submitted it
again. ``editors_json`` lists every account that changed it, in order, and
the approval refuses each (``exam_server.recruitment.needs``). Existing
needs get their editors from their ``rec_need_update`` audit events, the
record of who changed them.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision: str = "0021_need_editors"
down_revision: str | None = "0020_survey_unlinked"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column(
        "rec_need", sa.Column("editors_json", sa.Text(), nullable=False, server_default="[]")
    )
    bind = op.get_bind()
    editors: dict[int, list[str]] = {}
    for actor, data_json in bind.execute(
        sa.text(
            "SELECT actor, data_json FROM exam_audit WHERE kind = 'rec_need_update' ORDER BY id"
        )
    ):
        try:
            need = json.loads(data_json or "{}").get("need")
        except (ValueError, AttributeError):
            continue
        if isinstance(need, int) and actor not in editors.setdefault(need, []):
            editors[need].append(str(actor))
    for need, names in editors.items():
        bind.execute(
            sa.text("UPDATE rec_need SET editors_json = :e WHERE id = :i"),
            {"e": json.dumps(names, ensure_ascii=False), "i": need},
        )


def downgrade() -> None:
    with op.batch_alter_table("rec_need") as batch:
        batch.drop_column("editors_json")
