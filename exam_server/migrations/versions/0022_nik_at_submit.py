"""A NIK is held by a submitted registration, not by a draft.

Revision ID: 0022_nik_at_submit
Revises: 0021_need_editors

``rec_registration`` had ``UNIQUE (period_id, nik_hash)`` on every row: a
draft saved by anyone with a verified account and someone else's NIK locked
that person out of the period. The constraint becomes a partial unique index,
``uq_rec_registration_nik_held``, on the registrations that hold their NIK:
submitted and later, not ``draft`` and not ``void`` (a registration the
committee voided as fraudulent; ``recruitment.states``). Several drafts may
carry one NIK; the first submitted wins.

Downgrade puts the constraint back, and fails (changing nothing) when two
registrations of one period now share a NIK.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0022_nik_at_submit"
down_revision: str | None = "0021_need_editors"
branch_labels: str | None = None
depends_on: str | None = None

_HELD = "status NOT IN ('draft', 'void')"
_INDEX = "uq_rec_registration_nik_held"
_COLUMNS = ["period_id", "nik_hash"]
#: Names the constraint where it has no name (SQLite, or a database made at
#: head by ``create_schema``), so the batch can drop it.
_CONVENTION = {"uq": "uq_%(table_name)s_%(column_0_N_name)s"}
_UNNAMED = "uq_rec_registration_period_id_nik_hash"


def upgrade() -> None:
    names = [
        uq["name"] or _UNNAMED
        for uq in sa.inspect(op.get_bind()).get_unique_constraints("rec_registration")
        if list(uq["column_names"]) == _COLUMNS
    ]
    with op.batch_alter_table("rec_registration", naming_convention=_CONVENTION) as batch:
        for name in names:
            batch.drop_constraint(name, type_="unique")
    op.create_index(
        _INDEX,
        "rec_registration",
        _COLUMNS,
        unique=True,
        sqlite_where=sa.text(_HELD),
        postgresql_where=sa.text(_HELD),
    )


def downgrade() -> None:
    op.drop_index(_INDEX, table_name="rec_registration")
    with op.batch_alter_table("rec_registration") as batch:
        batch.create_unique_constraint(_UNNAMED, _COLUMNS)
