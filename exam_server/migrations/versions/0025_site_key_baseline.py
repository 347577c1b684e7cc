"""The sites' first checkpoint keys taken before the centre recorded them.

Revision ID: 0025_site_key_baseline
Revises: 0024_grant_accounts

No change of schema. Since this version the centre records, in its own
audit chain, the checkpoint key it takes at a site's first sync, and
``seleksi audit verify`` holds each site's stored key to that event
(``exam_server.sites.reverify``): an insider who put their own key in and
signed every line again went unnoticed. A key taken before has no event;
this upgrade lists those keys once (``site_keys_baseline``), so each is a
note, and a key that is neither listed nor recorded is a problem.
"""

from __future__ import annotations

from alembic import op

revision: str = "0025_site_key_baseline"
down_revision: str | None = "0024_grant_accounts"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    from exam_server.sites.reverify import record_keys_baseline

    record_keys_baseline(op.get_bind())


def downgrade() -> None:
    # The audit chain is append-only: the listing stays, and an upgrade
    # again does not write a second one.
    pass
