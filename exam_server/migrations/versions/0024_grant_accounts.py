"""The accounts a late registration is for: ``rec_nik_grant.accounts_json``.

Revision ID: 0024_grant_accounts
Revises: 0023_nik_grants

A grant recorded with a void (revision ``0023_nik_grants``) let any account
save or submit with its NIK until its last day. The void's e-mail goes to
the voided account only, so the squatter learnt of the grant first and
submitted again from a second account after the window, locking the owner
out again (and each void gave a new grant). ``accounts_json`` lists the
account ids a grant is for (the accounts whose draft held the NIK when the
registration was voided, and the account the voiding staff named); only
those may use it (``exam_server.recruitment.registrations.may_register``).
Existing grants get ``[]``: they let nobody register late (for whom they
were meant was not recorded); staff void again or give a new grant by hand.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0024_grant_accounts"
down_revision: str | None = "0023_nik_grants"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column(
        "rec_nik_grant",
        sa.Column("accounts_json", sa.Text(), nullable=False, server_default="[]"),
    )


def downgrade() -> None:
    with op.batch_alter_table("rec_nik_grant") as batch:
        batch.drop_column("accounts_json")
