"""Survey answers written before batching lose their link to the attempt (PostgreSQL).

Revision ID: 0020_survey_unlinked
Revises: 0019_presence_sets

Until this revision an attempt's ``after_survey_done`` marker and its
``after_survey_answer`` rows were inserted in one transaction; on PostgreSQL
every row keeps the id of the transaction that wrote it (``xmin``), so a
join on it named each anonymous answer's candidate. New answers are written
in shuffled batches apart from the markers
(``exam_server.after_test.survey_pool``); this rewrites the answers already
stored in one transaction, in a random order, into a new file
(``TRUNCATE``), so that they share one transaction id and no marker's.
SQLite rows carry no transaction id: nothing to do there. WAL archives or
backups taken before the upgrade still hold the link (docs/after-the-test.md).
"""

from __future__ import annotations

from alembic import op

revision: str = "0020_survey_unlinked"
down_revision: str | None = "0019_presence_sets"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE TEMPORARY TABLE survey_rewrite ON COMMIT DROP AS "
        "SELECT * FROM after_survey_answer ORDER BY random()"
    )
    # TRUNCATE, not DELETE: the old rows (and their transaction ids) go with
    # the old file at commit instead of lingering as dead tuples.
    op.execute("TRUNCATE after_survey_answer")
    op.execute("INSERT INTO after_survey_answer SELECT * FROM survey_rewrite")


def downgrade() -> None:
    # Nothing to undo: the rows are the same; only the link is gone.
    pass
