"""The exam owns its documents: ``exam_exam.policy_json`` and ``options_json``.

Revision ID: 0002_exam_documents
Revises: 0001_baseline

Exams made before this revision ran under the 2024 rules, so their
``policy_json`` is filled with the 2024 policy; ``options_json`` stays NULL
(NULL reads as the default options, ``exam_server.exam_options``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from exam_server.results.rules import RankingPolicy

revision: str = "0002_exam_documents"
down_revision: str | None = "0001_baseline"
branch_labels: str | None = None
depends_on: str | None = None

_COLUMNS = ("policy_json", "options_json")


def upgrade() -> None:
    bind = op.get_bind()
    # The code between commit 35c819b and Alembic made these columns with
    # create_all: such a database, adopted as the baseline, already has them.
    present = {c["name"] for c in sa.inspect(bind).get_columns("exam_exam")}
    for name in _COLUMNS:
        if name not in present:
            op.add_column("exam_exam", sa.Column(name, sa.Text(), nullable=True))
    # The 2024 policy as the code states it (the one rule, exam_server.results.rules),
    # not a copy frozen here: a NULL policy_json is read as this same document.
    exam = sa.table("exam_exam", sa.column("policy_json", sa.Text()))
    op.execute(
        exam.update()
        .where(exam.c.policy_json.is_(None))
        .values(policy_json=RankingPolicy.default_2024().to_json())
    )


def downgrade() -> None:
    # SQLite drops a column in place since 3.35 (no batch copy of the table needed).
    for name in reversed(_COLUMNS):
        op.drop_column("exam_exam", name)
