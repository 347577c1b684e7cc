"""Who decided each recruitment row, why, and what was frozen, checked
against the audit chain.

:mod:`exam_server.audit.recruitment_records` replays the events to the status
each registration and need must be in. A status can be right while the row
around it was changed: a TMS's verifier or reason code, an appeal's answer or
who gave it, a submitted registration's category or formation (which decide
whom it competes with), a need's openings or allocation after its approval.
Every such value is written in the same transaction as an audit event that
holds it (``exam_server.recruitment``); this module compares the stored rows
with those events and reports each difference, each decision stored without
its event and each event whose row is gone.

Times are compared to the microsecond: the chain stores them rounded to six
decimals (:func:`exam_server.audit.chain.append`).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from exam_server.audit.chain import AUDIT

_KINDS = (
    "rec_submit",
    "rec_verify",
    "rec_tms_review",
    "rec_appeal",
    "rec_appeal_answer",
    "rec_need_create",
    "rec_need_update",
    "rec_need_submit",
    "rec_need_approve",
    "rec_need_return",
)

# A submitted registration's columns and the receipt's names for them: what
# the candidate signed for, frozen at submit (exam_server.recruitment.registrations).
_FROZEN = (
    ("registration_number", "registration_number"),
    ("name", "name"),
    ("birth_date", "birth_date"),
    ("education_level", "education_level"),
    ("major", "major"),
    ("category", "category"),
    ("rec_formation_id", "formation_id"),
    ("test_location", "test_location"),
    ("accommodation", "accommodation"),
)

# A need's columns as its create/update events hold them (JSON columns decoded).
_NEED_FIELDS = (
    "code",
    "unit",
    "position",
    "location",
    "openings",
    "education_level",
    "majors",
    "max_age",
    "other_requirements",
    "allocation",
)


@dataclass(frozen=True)
class _Event:
    kind: str
    actor: str
    reason: str
    data: dict[str, Any]
    at: float


def _same_time(stored: float | None, event: float) -> bool:
    return stored is not None and abs(round(float(stored), 6) - event) <= 1e-6


def _events(conn: Connection) -> list[_Event]:
    """The recruitment events in chain order (unreadable data skipped: the
    chain's own check reports a damaged event)."""
    out: list[_Event] = []
    for kind, actor, reason, data_json, at in conn.execute(
        select(AUDIT.c.kind, AUDIT.c.actor, AUDIT.c.reason, AUDIT.c.data_json, AUDIT.c.at)
        .where(AUDIT.c.kind.in_(_KINDS))
        .order_by(AUDIT.c.id)
    ):
        try:
            data = json.loads(data_json or "{}")
        except ValueError:
            continue
        if isinstance(data, dict):
            out.append(_Event(str(kind), str(actor), str(reason or ""), data, float(at)))
    return out


def _by(events: Iterable[_Event], key: str, *kinds: str) -> dict[int, list[_Event]]:
    """The events of ``kinds`` grouped by the integer id ``data[key]``, each
    group in chain order (events without such an id left out)."""
    out: dict[int, list[_Event]] = defaultdict(list)
    for e in events:
        if e.kind not in kinds:
            continue
        v = e.data.get(key)
        if isinstance(v, int) and not isinstance(v, bool):
            out[v].append(e)
    return out


def check_recruitment_decisions(conn: Connection) -> list[str]:
    """One problem line per recruitment value that differs from the audit
    event that recorded it (read in the caller's snapshot)."""
    ev = _events(conn)
    return _submissions(conn, ev) + _verifications(conn, ev) + _appeals(conn, ev) + _needs(conn, ev)


def _submissions(conn: Connection, ev: list[_Event]) -> list[str]:
    from recruitment.models import RecRegistration

    t = RecRegistration.__table__  # type: ignore[attr-defined]
    submits = _by(ev, "registration", "rec_submit")
    out = []
    cols = [t.c.id, t.c.submitted_json, *(getattr(t.c, c) for c, _ in _FROZEN)]
    for row in conn.execute(select(*cols).where(t.c.submitted_json.is_not(None)).order_by(t.c.id)):
        rid, frozen_json = int(row[0]), str(row[1])
        name = f"recruitment registration {rid} ({row[2]})"
        event = submits.get(rid, [None])[-1]
        if event is None:
            out.append(f"{name}: submitted, but no rec_submit event")
            continue
        digest = hashlib.sha256(frozen_json.encode("utf-8")).hexdigest()
        if digest != event.data.get("sha256"):
            out.append(
                f"{name}: what it stores as submitted is not what its rec_submit event sealed"
            )
            continue
        frozen = json.loads(frozen_json)
        changed = [
            column
            for (column, key), value in zip(_FROZEN, row[2:], strict=True)
            if frozen.get(key) != value
        ]
        if changed:
            out.append(
                f"{name}: {', '.join(changed)} changed after it was submitted "
                "(the signed receipt and its rec_submit event say otherwise)"
            )
    return out


def _verifications(conn: Connection, ev: list[_Event]) -> list[str]:
    from recruitment.models import RecVerification

    t = RecVerification.__table__  # type: ignore[attr-defined]
    decided = _by(ev, "registration", "rec_verify")
    reviews = _by(ev, "verification", "rec_tms_review")
    stored: dict[int, list[Any]] = defaultdict(list)
    ids: set[int] = set()
    for v in conn.execute(select(t).order_by(t.c.id)).mappings():
        stored[int(v["registration_id"])].append(v)
        ids.add(int(v["id"]))
    out = []
    for rid in sorted(set(stored) | set(decided)):
        rows, events = stored.get(rid, []), decided.get(rid, [])
        if len(rows) != len(events):
            out.append(
                f"recruitment registration {rid}: {len(rows)} verification decision(s) "
                f"stored, {len(events)} by the audit log"
            )
            continue
        for v, e in zip(rows, events, strict=True):
            tms = e.data.get("decision") == "TMS"
            want_code = str(e.data.get("reason_code", "")) if tms else ""
            differs = [
                what
                for what, ok in (
                    ("verifier", v["verifier"] == e.actor),
                    ("decision", v["decision"] == e.data.get("decision")),
                    ("reason code", v["reason_code"] == want_code),
                    ("note", v["note"] == e.reason),
                    ("time", _same_time(v["decided_at"], e.at)),
                )
                if not ok
            ]
            if differs:
                out.append(
                    f"recruitment verification {v['id']} of registration {rid}: "
                    f"{', '.join(differs)} not as its rec_verify event records"
                )
            review = reviews.get(int(v["id"]), [None])[-1]
            out += _review_problems(v, review)
    out += [
        f"recruitment verification {vid}: reviewed by the audit log, but no longer stored"
        for vid in sorted(set(reviews) - ids)
    ]
    return out


def _review_problems(v: Any, review: _Event | None) -> list[str]:
    """The second person's review of a TMS (``approved``, ``approved_by``,
    ``approved_at``) against its ``rec_tms_review`` event."""
    name = f"recruitment verification {v['id']}"
    if review is None:
        if v["approved"] is not None or v["approved_by"]:
            return [f"{name}: a second person's review stored, but no rec_tms_review event"]
        return []
    if (
        v["approved"] is None
        or bool(v["approved"]) != bool(review.data.get("agree"))
        or v["approved_by"] != review.actor
        or not _same_time(v["approved_at"], review.at)
    ):
        return [f"{name}: its review is not as its rec_tms_review event records"]
    return []


def _appeals(conn: Connection, ev: list[_Event]) -> list[str]:
    from recruitment.models import RecAppeal

    t = RecAppeal.__table__  # type: ignore[attr-defined]
    filed = _by(ev, "appeal", "rec_appeal")
    answered = _by(ev, "appeal", "rec_appeal_answer")
    out, ids = [], set()
    for a in conn.execute(select(t).order_by(t.c.id)).mappings():
        aid = int(a["id"])
        ids.add(aid)
        name = f"recruitment appeal {aid} of registration {a['registration_id']}"
        f = filed.get(aid, [None])[-1]
        if f is None:
            out.append(f"{name}: stored, but no rec_appeal event")
        elif (
            f.data.get("registration") != a["registration_id"]
            or f.reason != a["reason"]
            or not _same_time(a["filed_at"], f.at)
        ):
            out.append(f"{name}: its reason, registration or time is not as filed (rec_appeal)")
        ans = answered.get(aid, [None])[-1]
        if ans is None:
            if a["outcome"] is not None or a["answered_by"]:
                out.append(f"{name}: an answer stored, but no rec_appeal_answer event")
        elif (
            a["outcome"] != ans.data.get("outcome")
            or a["answer"] != ans.reason
            or a["answered_by"] != ans.actor
            or not _same_time(a["answered_at"], ans.at)
        ):
            out.append(
                f"{name}: its outcome, answer or who answered is not as its "
                "rec_appeal_answer event records"
            )
    out += [
        f"recruitment appeal {aid}: named by the audit log, but no longer stored"
        for aid in sorted((set(filed) | set(answered)) - ids)
    ]
    return out


def _needs(conn: Connection, ev: list[_Event]) -> list[str]:
    from recruitment.models import RecFormation, RecNeed

    t = RecNeed.__table__  # type: ignore[attr-defined]
    ft = RecFormation.__table__  # type: ignore[attr-defined]
    written = _by(ev, "need", "rec_need_create", "rec_need_update")
    created = _by(ev, "need", "rec_need_create")
    submitted = _by(ev, "need", "rec_need_submit")
    decided = _by(ev, "need", "rec_need_approve", "rec_need_return")
    made: dict[int, dict[str, int]] = defaultdict(dict)
    formations = select(ft.c.need_id, ft.c.category, ft.c.openings)
    for need_id, category, openings in conn.execute(formations):
        made[int(need_id)][str(category)] = int(openings)
    out = []
    for n in conn.execute(select(t).order_by(t.c.id)).mappings():
        nid = int(n["id"])
        name = f"recruitment need {nid} ({n['code']})"
        last = written.get(nid, [None])[-1]
        if last is None:
            continue  # no event at all: recruitment_records reports it
        row = {
            **{k: n[k] for k in _NEED_FIELDS if k not in ("majors", "allocation")},
            "majors": json.loads(n["majors_json"]),
            "allocation": json.loads(n["allocation_json"]),
        }
        changed = [k for k in _NEED_FIELDS if k in last.data and last.data[k] != row[k]]
        if changed:
            out.append(f"{name}: {', '.join(changed)} not as its last audited version")
        who = (
            ("created by", n["created_by"], created.get(nid, [None])[0], False),
            ("submitted by", n["submitted_by"], submitted.get(nid, [None])[-1], False),
            ("decided by", n["decided_by"], decided.get(nid, [None])[-1], True),
        )
        editors = list(
            dict.fromkeys(e.actor for e in written.get(nid, []) if e.kind == "rec_need_update")
        )
        if json.loads(n["editors_json"]) != editors:
            out.append(f"{name}: the accounts that changed it are not as the audit log records")
        for label, stored, event, with_reason in who:
            want = "" if event is None else event.actor
            if stored != want:
                out.append(f"{name}: {label} {stored!r} stored, {want!r} by the audit log")
            elif with_reason and n["decision_reason"] != ("" if event is None else event.reason):
                out.append(f"{name}: its decision's reason is not as the audit log records")
        # By the approval's event, not the stored status (a status changed in
        # the table is recruitment_records' finding).
        approval = decided.get(nid, [None])[-1]
        approved = approval is not None and approval.kind == "rec_need_approve"
        if approved and made.get(nid, {}) != row["allocation"]:
            out.append(
                f"{name}: the formations made from it ({made.get(nid, {})}) are not "
                f"its approved allocation ({row['allocation']})"
            )
    return out
