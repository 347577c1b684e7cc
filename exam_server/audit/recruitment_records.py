"""Recruitment rows checked against what the audit chain says of them.

Every move of a registration (``rec_submit``, ``rec_verify``,
``rec_tms_review``, ``rec_appeal``, ``rec_appeal_answer``, ``rec_schedule``)
and of a need (``rec_need_create``, ``rec_need_submit``, ``rec_need_approve``,
``rec_need_return``) is an audit event written in the transaction that made
it (``exam_server.recruitment``). Replaying them gives the state each row must
be in; :func:`check_recruitment` reports every row whose stored ``status``
differs (a TMS turned into MS in the table, a need marked approved without its
approval), has no event at all, or was removed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from exam_server.audit.chain import AUDIT
from recruitment.states import TransitionError, step, step_need

# The status an event leaves is the state machine's (recruitment.states), the
# one the server stepped with: each event kind names the action it took.
_NEED_ACTIONS = {
    "rec_need_submit": "submit",
    "rec_need_approve": "approve",
    "rec_need_return": "return",
}
_REG_KINDS = frozenset(
    {
        "rec_registration_save",
        "rec_submit",
        "rec_verify",
        "rec_tms_review",
        "rec_appeal",
        "rec_appeal_answer",
        "rec_schedule",
        "rec_void",
    }
)


def _registration_action(kind: str, data: dict[str, Any]) -> str | None:
    """The state machine's action of a registration event (None: saving a
    draft, which moves nothing)."""
    if kind == "rec_verify":
        return "ms" if data.get("decision") == "MS" else "tms"
    if kind == "rec_tms_review":
        return "approve_tms" if data.get("agree") else "reject_tms"
    if kind == "rec_appeal_answer":
        return "accept_appeal" if data.get("outcome") == "accepted" else "reject_appeal"
    return {
        "rec_submit": "submit",
        "rec_appeal": "appeal",
        "rec_schedule": "schedule",
        "rec_void": "void",
    }.get(kind)


def _after(moves: Any, state: str, action: str) -> str:
    """The state ``action`` leaves ``state`` in, or ``!`` when the machine
    allows no such move (a chain that says so was not written by the server)."""
    try:
        return str(moves(state, action))
    except TransitionError:
        return "!"


def check_recruitment(conn: Connection) -> list[str]:
    """One problem line per registration or need whose stored status is not
    the one its audit events lead to (read in the caller's snapshot)."""
    from recruitment.models import RecNeed, RecPeriod, RecRegistration

    reg_t = RecRegistration.__table__  # type: ignore[attr-defined]
    need_t = RecNeed.__table__  # type: ignore[attr-defined]
    period_t = RecPeriod.__table__  # type: ignore[attr-defined]
    kinds = sorted(_REG_KINDS | _NEED_ACTIONS.keys() | {"rec_need_create"})
    regs: dict[int, tuple[str, str]] = {}  # id → (status, its last event's kind)
    needs: dict[int, tuple[str, str]] = {}
    # Scheduled before the event listed its registrations: period codes.
    unlisted_schedules: set[str] = set()
    for kind, data_json in conn.execute(
        select(AUDIT.c.kind, AUDIT.c.data_json).where(AUDIT.c.kind.in_(kinds)).order_by(AUDIT.c.id)
    ):
        data = json.loads(data_json or "{}")
        if not isinstance(data, dict):
            continue
        if kind == "rec_need_create" or kind in _NEED_ACTIONS:
            if isinstance(data.get("need"), int):
                nid = int(data["need"])
                was = needs.get(nid, ("draft", kind))[0]
                now = (
                    "draft"
                    if kind == "rec_need_create"
                    else _after(step_need, was, _NEED_ACTIONS[kind])
                )
                needs[nid] = (now, kind)
            continue
        if kind == "rec_schedule":
            listed = data.get("registrations")
            if not isinstance(listed, list):
                unlisted_schedules.add(str(data.get("period")))
                continue
            rids = [int(r) for r in listed if isinstance(r, int)]
        elif isinstance(data.get("registration"), int):
            rids = [int(data["registration"])]
        else:
            continue
        action = _registration_action(kind, data)
        for rid in rids:
            was = regs.get(rid, ("draft", kind))[0]
            regs[rid] = (was if action is None else _after(step, was, action), kind)
    registrations = [
        (
            int(rid),
            f"registration {rid}" + (f" ({number})" if number else ""),
            status,
            # Scheduled by an event from before schedules listed their rows.
            "scheduled" if period in unlisted_schedules else None,
        )
        for rid, number, status, period in conn.execute(
            select(reg_t.c.id, reg_t.c.registration_number, reg_t.c.status, period_t.c.code)
            .join(period_t, period_t.c.id == reg_t.c.period_id)
            .order_by(reg_t.c.id)
        )
    ]
    need_rows = [
        (int(nid), f"need {nid} ({code})", status, None)
        for nid, code, status in conn.execute(
            select(need_t.c.id, need_t.c.code, need_t.c.status).order_by(need_t.c.id)
        )
    ]
    return _differences("registration", registrations, regs) + _differences(
        "need", need_rows, needs
    )


def _differences(
    what: str,
    stored: Sequence[tuple[int, str, Any, str | None]],
    replayed: dict[int, tuple[str, str]],
) -> list[str]:
    """One line per stored row (id, name, status, a status also accepted for an
    ``ms`` replay) that its replayed events do not give, and per replayed id no
    longer stored. replayed: id → (status, the last event's kind)."""
    out = []
    for rid, name, status, also in stored:
        want = replayed.get(rid)
        if want is None:
            out.append(f"recruitment {name}: status {status!r} stored, but no audit event")
        elif want[0] == "!":
            out.append(
                f"recruitment {name}: its audit events make a move the state machine "
                f"does not allow ({want[1]})"
            )
        elif status != want[0] and not (want[0] == "ms" and status == also):
            out.append(
                f"recruitment {name}: status is {status!r} stored, {want[0]!r} "
                f"by its last audit event ({want[1]})"
            )
    gone = sorted(set(replayed) - {row[0] for row in stored})
    out += [
        f"recruitment {what} {rid}: named by the audit log, but no longer stored (removed?)"
        for rid in gone
    ]
    return out
