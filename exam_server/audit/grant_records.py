"""Late registrations (``rec_nik_grant``) checked against their audit events.

A grant is written with the ``rec_void`` event of the void that gave it and
changed only with a ``rec_grant_change`` event
(``exam_server.recruitment.voids``), each naming the grant's accounts
(``grant_accounts``) and last day (``grant_until``) in the same transaction.
``seleksi audit verify`` compares every grant with the last of those events
of its registration: a grant whose accounts or last day were edited, or one
inserted with no event, would let someone register late unnoticed.

Grants exist since revision ``0023`` and were always written with their
event; a ``rec_void`` event from before revision ``0024`` names no accounts,
and that revision gave those grants none (``[]``), which is what is expected.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from exam_server.audit.chain import AUDIT


def check_grants(conn: Connection) -> list[str]:
    """Problems of the late registrations against their events."""
    from exam_server.recruitment.registrations import accounts_in
    from exam_server.recruitment.voids import GRANT_CHANGE
    from recruitment.models import RecNikGrant

    last: dict[int, dict[str, Any]] = {}
    for kind, data_json in conn.execute(
        select(AUDIT.c.kind, AUDIT.c.data_json)
        .where(AUDIT.c.kind.in_(("rec_void", GRANT_CHANGE)))
        .order_by(AUDIT.c.id)
    ):
        try:
            data = json.loads(data_json or "{}")
        except ValueError:
            continue
        if isinstance(data, dict) and isinstance(data.get("registration"), int):
            if kind == "rec_void" and "grant_until" not in data:
                continue  # a void from before grants (revision 0023)
            last[int(data["registration"])] = data
    problems: list[str] = []
    t = RecNikGrant.__table__  # type: ignore[attr-defined]
    for row in conn.execute(select(t).order_by(t.c.id)).mappings():
        reg = int(row["registration_id"])
        name = f"recruitment grant of registration {reg}"
        event = last.get(reg)
        if event is None:
            problems.append(f"{name}: a late registration with no rec_void event giving it")
            continue
        want_accounts = sorted(int(a) for a in event.get("grant_accounts") or [])
        have = sorted(accounts_in(row["accounts_json"]))
        differ = []
        if have != want_accounts:
            differ.append(f"accounts {have} (audited {want_accounts})")
        if str(row["until"]) != str(event.get("grant_until")):
            differ.append(f"last day {row['until']} (audited {event.get('grant_until')})")
        if event.get("nik_hash") is not None and row["nik_hash"] != event["nik_hash"]:
            differ.append("NIK")
        if differ:
            problems.append(f"{name}: {'; '.join(differ)} differ from its audit events")
    return problems
