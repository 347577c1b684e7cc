"""Formations checked against the audit events that created them.

A formation's ``openings`` decide how many of its candidates pass (the 3×
cut, the final selection), and its code is what a candidate is published
under. ``exam_server.scheduling.create_formations`` records every row it
stores in a ``create_formations`` event (id, code, agency, position,
location, openings); :func:`check_formations` compares each ``exam_formation``
row with it, so openings raised in the table, or two formations' codes
swapped, are reported by formation.

A formation created before these events (or copied into an exam site's
database from the centre's package, whose chain holds the event) has none:
it is a note, not a problem, unless its id is above an audited formation's
(ids only grow: it was inserted after the events began). Formations are
never changed after they are created (no code path updates them).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from exam_server.audit.chain import AUDIT

_FIELDS = ("code", "agency", "position", "location", "openings")


def formation_events(conn: Connection) -> dict[int, dict[str, Any]]:
    """Formation id → what its ``create_formations`` event recorded (the last
    event naming the id wins; damaged data is the chain check's finding)."""
    out: dict[int, dict[str, Any]] = {}
    for (data_json,) in conn.execute(
        select(AUDIT.c.data_json).where(AUDIT.c.kind == "create_formations").order_by(AUDIT.c.id)
    ):
        try:
            rows = json.loads(data_json or "{}").get("formations")
        except (ValueError, AttributeError):
            continue
        for r in rows if isinstance(rows, list) else ():
            if isinstance(r, dict) and isinstance(r.get("id"), int):
                out[int(r["id"])] = r
    return out


def check_formations(conn: Connection) -> tuple[list[str], list[str]]:
    """(problems, notes): one problem per formation row that differs from its
    event, was inserted without one after the events began, or whose event's
    formation is gone; one note for the formations older than the events."""
    from exam_server.models import Formation

    t = Formation.__table__  # type: ignore[attr-defined]
    recorded = formation_events(conn)
    first_audited = min(recorded, default=None)
    problems: list[str] = []
    unaudited: list[str] = []
    present: set[int] = set()
    for row in conn.execute(select(t).order_by(t.c.id)).mappings():
        fid = int(row["id"])
        present.add(fid)
        name = f"formation {fid} ({row['code']})"
        want = recorded.get(fid)
        if want is None:
            if first_audited is not None and fid > first_audited:
                problems.append(f"{name}: stored, but no create_formations event recorded it")
            else:
                unaudited.append(str(row["code"]))
            continue
        changed = [f for f in _FIELDS if f in want and want[f] != row[f]]
        if changed:
            problems.append(
                f"{name}: "
                + ", ".join(f"{f} {row[f]!r} stored, {want[f]!r} recorded" for f in changed)
            )
    problems += [
        f"formation {fid} ({recorded[fid].get('code')}): recorded by the audit log, "
        "but no longer stored (removed?)"
        for fid in sorted(set(recorded) - present)
    ]
    notes = (
        [
            f"{len(unaudited)} formation(s) created before formations were audited "
            f"(or copied from the centre's package), not checked: {', '.join(unaudited[:10])}"
            + (" …" if len(unaudited) > 10 else "")
        ]
        if unaudited
        else []
    )
    return problems, notes
