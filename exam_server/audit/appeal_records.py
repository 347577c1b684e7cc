"""Decided appeals of results checked against their ``appeal_decided`` events.

An appeal's decision (accepted or rejected, the field and the correction's
from and to, the answer, who gave it) is written with an ``appeal_decided``
audit event in the same transaction (``exam_server.after_test.store.
decide_appeal``). Publishing a new version already refuses an accepted
appeal that differs from its event (``store.undecided_corrections``); this
check runs in ``seleksi audit verify`` over every decided appeal, published
or not, rejected ones too, and compares who answered: a decision turned
from accepted to rejected, its answer or answerer rewritten, or a decision
reverted to ``submitted`` is reported.

An appeal decided before these events existed has none: a note, unless its
id is above an audited appeal's (ids only grow: it was decided past the API
after the events began).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from exam_server.audit.chain import AUDIT


def check_appeals(conn: Connection) -> tuple[list[str], list[str]]:
    """(problems, notes) of the decided appeals against their events."""
    from after_test import models as am
    from exam_server.after_test.store import DECIDED, decision_data

    t = am.AfterAppeal.__table__  # type: ignore[attr-defined]
    events: dict[int, tuple[dict[str, Any], str]] = {}
    for actor, data_json in conn.execute(
        select(AUDIT.c.actor, AUDIT.c.data_json).where(AUDIT.c.kind == DECIDED).order_by(AUDIT.c.id)
    ):
        try:
            data = json.loads(data_json or "{}")
        except ValueError:
            continue
        if isinstance(data, dict) and isinstance(data.get("appeal_id"), int):
            events[int(data["appeal_id"])] = (data, str(actor))
    first_audited = min(events, default=None)
    problems: list[str] = []
    legacy: list[int] = []
    stored: set[int] = set()
    for row in conn.execute(select(t).order_by(t.c.id)).mappings():
        aid = int(row["id"])
        stored.add(aid)
        name = f"appeal {aid} ({row['exam_code']}, {row['registration_number']})"
        event = events.get(aid)
        if event is None:
            if row["status"] == "submitted":
                continue
            if first_audited is not None and aid > first_audited:
                problems.append(f"{name}: {row['status']}, but the audit log has no decision of it")
            else:
                legacy.append(aid)
            continue
        data, actor = event
        if row["status"] == "submitted":
            problems.append(
                f"{name}: decided ({data.get('status')}) by the audit log, stored as open"
            )
            continue
        want = decision_data(dict(row))
        differ = sorted(k for k, v in want.items() if data.get(k) != v)
        if row["answered_by"] != actor.split(":", 1)[-1]:
            differ.append("answered_by")
        if differ:
            problems.append(f"{name}: {', '.join(differ)} stored differ from its audited decision")
    problems += [
        f"appeal {aid}: decided by the audit log, but no longer stored (removed?)"
        for aid in sorted(set(events) - stored)
    ]
    notes = (
        [f"appeals decided before decisions were audited, not checked: {legacy}"] if legacy else []
    )
    return problems, notes
