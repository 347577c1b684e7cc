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

An appeal decided before these events existed has none: the upgrade that
first meets such appeals lists them once, with a digest of each decision
(``appeal_baseline``, :func:`record_baseline`); each is then a note, checked
against its digest. Any other decided appeal without its event is a problem,
whatever its id (ids told old rows apart before; a review showed a row
inserted with a low id passes that way).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from exam_server.audit.chain import AUDIT

BASELINE = "appeal_baseline"


def _digest(row: Any) -> str:
    """SHA-256 of what a decided appeal holds (its decision data and who gave it)."""
    import hashlib

    from exam_server.after_test.store import decision_data

    data = {**decision_data(dict(row)), "answered_by": row["answered_by"]}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _baseline(conn: Connection) -> dict[str, str] | None:
    """appeal id (as text) → decision digest, from the first baseline event."""
    row = conn.execute(
        select(AUDIT.c.data_json).where(AUDIT.c.kind == BASELINE).order_by(AUDIT.c.id).limit(1)
    ).first()
    if row is None:
        return None
    try:
        listed = json.loads(row[0] or "{}").get("appeals")
    except (ValueError, AttributeError):
        return {}
    return {str(k): str(v) for k, v in listed.items()} if isinstance(listed, dict) else {}


def record_baseline(conn: Connection) -> bool:
    """Write the ``appeal_baseline`` event once, when the chain has none and
    some decided appeals have no ``appeal_decided`` event (decided by code
    from before decisions were audited): their ids and decision digests. Run
    by the upgrade in its transaction; True when written."""
    from after_test import models as am
    from exam_server import audit
    from exam_server.after_test.store import DECIDED

    if _baseline(conn) is not None:
        return False
    decided = set()
    for (data_json,) in conn.execute(select(AUDIT.c.data_json).where(AUDIT.c.kind == DECIDED)):
        try:
            aid = json.loads(data_json or "{}").get("appeal_id")
        except (ValueError, AttributeError):
            continue
        if isinstance(aid, int):
            decided.add(aid)
    t = am.AfterAppeal.__table__  # type: ignore[attr-defined]
    # Old decisions came before the first audited one (ids grow with the
    # appeals filed); a later one without its event was written past the
    # code and is not listed. Written once even when it lists nothing, so
    # that no later upgrade lists a row inserted meanwhile.
    first = min(decided, default=None)
    old = {
        str(row["id"]): _digest(row)
        for row in conn.execute(select(t).where(t.c.status != "submitted")).mappings()
        if int(row["id"]) not in decided and (first is None or int(row["id"]) < first)
    }
    audit.append(conn, BASELINE, "upgrade", data={"appeals": dict(sorted(old.items()))})
    return True


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
    baseline = _baseline(conn)
    audited_here = baseline is not None or bool(events)
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
            listed = (baseline or {}).get(str(aid))
            if listed is not None and listed != _digest(row):
                problems.append(f"{name}: differs from the decision the appeal_baseline recorded")
            elif listed is None and audited_here:
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
