"""Recruitment agencies: staff accounts and needs belong to an agency.

Revision ID: 0018_rec_agencies
Revises: 0016_site_keys

``rec_agency`` (code, name) holds the agencies (instansi) recruiting in the
periods. ``rec_need.agency_id`` (required) says whose need it is: the
formations and registrations made from it follow. ``rec_staff.agency_id``
(NULL: a national account, every agency) scopes what an account sees and
does (``recruitment.scope``).

Existing rows: every period's ``agency`` text becomes an agency (code made
from the name), its needs belong to it, and existing staff accounts become
national, so they keep seeing everything they saw.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision: str = "0018_rec_agencies"
down_revision: str | None = "0016_site_keys"
branch_labels: str | None = None
depends_on: str | None = None

_NEED_FK = "fk_rec_need_agency_id_rec_agency"
_STAFF_FK = "fk_rec_staff_agency_id_rec_agency"


def _code(name: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").upper()[:26] or "AGENCY"
    code, n = base, 1
    while code in taken:
        n += 1
        code = f"{base}-{n}"
    taken.add(code)
    return code


def upgrade() -> None:
    op.create_table(
        "rec_agency",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    conn = op.get_bind()
    names = [
        r[0]
        for r in conn.execute(
            sa.text("SELECT agency FROM rec_period GROUP BY agency ORDER BY MIN(id)")
        )
    ]
    taken: set[str] = set()
    agency = sa.table("rec_agency", sa.column("code"), sa.column("name"))
    for name in names:
        conn.execute(agency.insert().values(code=_code(name, taken), name=name))
    with op.batch_alter_table("rec_need") as batch:
        batch.add_column(sa.Column("agency_id", sa.Integer(), nullable=True))
    conn.execute(
        sa.text(
            "UPDATE rec_need SET agency_id = (SELECT a.id FROM rec_agency a"
            " JOIN rec_period p ON p.agency = a.name WHERE p.id = rec_need.period_id)"
        )
    )
    with op.batch_alter_table("rec_need") as batch:
        batch.alter_column("agency_id", existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key(_NEED_FK, "rec_agency", ["agency_id"], ["id"])
        batch.create_index(op.f("ix_rec_need_agency_id"), ["agency_id"], unique=False)
    with op.batch_alter_table("rec_staff") as batch:
        batch.add_column(sa.Column("agency_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(_STAFF_FK, "rec_agency", ["agency_id"], ["id"])
        batch.create_index(op.f("ix_rec_staff_agency_id"), ["agency_id"], unique=False)


#: Names an unnamed foreign key found on SQLite (a database made at head by
#: ``create_schema``, whose tables come from the models, has its keys unnamed)
#: the way this revision names its own, so the batch can drop it.
_CONVENTION = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}


def _drop_agency_column(table: str, made_here: str) -> None:
    """Drop ``table.agency_id`` with its index and foreign key, whatever the key
    is called: ``made_here`` when this revision made it, PostgreSQL's own name
    or none at all when the table was made from the models."""
    keys = [
        fk["name"] or made_here
        for fk in sa.inspect(op.get_bind()).get_foreign_keys(table)
        if fk["constrained_columns"] == ["agency_id"]
    ]
    with op.batch_alter_table(table, naming_convention=_CONVENTION) as batch:
        batch.drop_index(op.f(f"ix_{table}_agency_id"))
        for name in keys:
            batch.drop_constraint(name, type_="foreignkey")
        batch.drop_column("agency_id")


def downgrade() -> None:
    _drop_agency_column("rec_staff", _STAFF_FK)
    _drop_agency_column("rec_need", _NEED_FK)
    op.drop_table("rec_agency")
