"""The SKB's set-up checked against the audit chain: what decides every
candidate's SKB result before any sheet is scored.

* each formation's stored SKB plan (``skb_plan.plan_json``: the components,
  their weights, minimums, rubrics and finalisation rules; and the caps
  version it was checked against) against the formation's last ``skb_plan``
  event: the SHA-256 of ``plan_json`` where the event records it
  (``plan_sha256``, since 2026-12), and the plan itself, which every
  ``skb_plan`` event carries (the canonical plan as stored);
* each panel's formation, component and members (every assessor and who
  chairs: the chair resolves disagreements) against its ``skb_panel`` event;
* each conflict-of-interest declaration (the assessor, the candidate, the
  conflict flag, which recuses the assessor, and its note) against its
  ``skb_declaration`` event.

A stored row without its event, an event whose row is gone and a difference
are each one problem line naming the formation, panel, assessor or
candidate. :func:`check_skb_setup` reads the chain's events itself; that
the chain is intact is :func:`exam_server.audit.verify.verify`'s part.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from exam_server.audit.chain import AUDIT, CANDIDATE

#: The event kinds read here.
PLAN, PANEL, DECLARATION = "skb_plan", "skb_panel", "skb_declaration"


def check_skb_setup(conn: Connection) -> list[str]:
    """One problem line per SKB plan, panel member or declaration whose stored
    row differs from its audit event, has none, or was removed."""
    plans: dict[str, dict[str, Any]] = {}
    panels: dict[str, dict[str, Any]] = {}
    declarations: dict[tuple[str, str, str], tuple[bool, str]] = {}
    for kind, actor, reason, data_json in conn.execute(
        select(AUDIT.c.kind, AUDIT.c.actor, AUDIT.c.reason, AUDIT.c.data_json)
        .where(AUDIT.c.kind.in_((PLAN, PANEL, DECLARATION)))
        .order_by(AUDIT.c.id)
    ):
        data = _json(data_json)
        if not isinstance(data, dict):
            continue
        if kind == PLAN:  # the last one of a formation is its plan
            plans[str(data.get("formation"))] = data
        elif kind == PANEL:
            panels[str(data.get("panel"))] = data
        else:
            username = str(actor).split(":", 1)[-1]
            key = (str(data.get("panel")), str(data.get("registration_number")), username)
            declarations[key] = (data.get("conflict") is True, str(reason or ""))
    return (
        _check_plans(conn, plans)
        + _check_panels(conn, panels)
        + _check_declarations(conn, declarations)
    )


def _json(text: str | None) -> Any:
    try:
        return json.loads(text or "{}")
    except ValueError:
        return None


def _tables() -> dict[str, Any]:
    from assessment.models import SkbDeclaration, SkbPanel, SkbPanelMember, SkbPlanRow
    from exam_server.models import Formation, Staff

    return {
        "plan": SkbPlanRow.__table__,  # type: ignore[attr-defined]
        "panel": SkbPanel.__table__,  # type: ignore[attr-defined]
        "member": SkbPanelMember.__table__,  # type: ignore[attr-defined]
        "declaration": SkbDeclaration.__table__,  # type: ignore[attr-defined]
        "formation": Formation.__table__,  # type: ignore[attr-defined]
        "staff": Staff.__table__,  # type: ignore[attr-defined]
    }


def _check_plans(conn: Connection, events: Mapping[str, dict[str, Any]]) -> list[str]:
    t = _tables()
    plan, formation = t["plan"], t["formation"]
    out: list[str] = []
    stored: dict[str, tuple[str, str]] = {}
    for fid, code, plan_json, caps in conn.execute(
        select(plan.c.formation_id, formation.c.code, plan.c.plan_json, plan.c.caps_version)
        .outerjoin(formation, formation.c.id == plan.c.formation_id)
        .order_by(plan.c.formation_id)
    ):
        name = str(code) if code is not None else f"(formation id {fid}, not in exam_formation)"
        stored[name] = (str(plan_json or ""), str(caps or ""))
    for name in sorted(stored.keys() | events.keys()):
        got, want = stored.get(name), events.get(name)
        if want is None:
            out.append(f"SKB plan of formation {name}: stored, but no skb_plan event")
            continue
        if got is None:
            out.append(
                f"SKB plan of formation {name}: in the audit log (skb_plan), "
                "but no longer stored (removed?)"
            )
            continue
        plan_json, caps = got
        digest = want.get("plan_sha256")
        differs = isinstance(digest, str) and (
            hashlib.sha256(plan_json.encode()).hexdigest() != digest
        )
        if "plan" in want and _json(plan_json) != want["plan"]:
            differs = True
        if differs:
            out.append(
                f"SKB plan of formation {name}: plan_json (components, weights, rubrics) "
                "differs from its last skb_plan event"
            )
        if "caps" in want and caps != str(want["caps"]):
            out.append(
                f"SKB plan of formation {name}: caps version {caps!r} stored, "
                f"{want['caps']!r} in its last skb_plan event"
            )
    return out


def _check_panels(conn: Connection, events: Mapping[str, dict[str, Any]]) -> list[str]:
    t = _tables()
    panel, member, formation, staff = t["panel"], t["member"], t["formation"], t["staff"]
    stored: dict[str, tuple[str, str]] = {}
    names: dict[int, str] = {}
    for pid, code, fcode, fid, component in conn.execute(
        select(panel.c.id, panel.c.code, formation.c.code, panel.c.formation_id,
               panel.c.component)
        .outerjoin(formation, formation.c.id == panel.c.formation_id)
    ):  # fmt: skip
        names[int(pid)] = str(code)
        stored[str(code)] = (
            str(fcode) if fcode is not None else f"(formation id {fid})",
            str(component),
        )
    # panel code → assessor → the number of member rows and whether any chairs
    members: dict[str, dict[str, list[Any]]] = {}
    for panel_id, staff_id, username, chair in conn.execute(
        select(member.c.panel_id, member.c.staff_id, staff.c.username, member.c.chair)
        .outerjoin(staff, staff.c.id == member.c.staff_id)
        .order_by(member.c.id)
    ):
        code = names.get(int(panel_id), f"(panel id {panel_id}, not in skb_panel)")
        who = str(username) if username is not None else f"(staff id {staff_id})"
        seen = members.setdefault(code, {}).setdefault(who, [0, False])
        seen[0] += 1
        seen[1] = seen[1] or bool(chair)
    out: list[str] = []
    for code in sorted(stored.keys() | events.keys() | members.keys()):
        want = events.get(code)
        if want is None:
            what = "stored" if code in stored else "has member rows"
            out.append(f"SKB panel {code}: {what}, but no skb_panel event")
            continue
        if code not in stored:
            out.append(
                f"SKB panel {code}: in the audit log (skb_panel), but no longer stored (removed?)"
            )
        else:
            got_formation, got_component = stored[code]
            for field, got in (("formation", got_formation), ("component", got_component)):
                if got != str(want.get(field)):
                    out.append(
                        f"SKB panel {code}: {field} {got} stored, "
                        f"{want.get(field)} in its skb_panel event"
                    )
        listed = [str(u) for u in want.get("members") or ()]
        chair = str(want.get("chair"))
        have = members.get(code, {})
        for who in sorted(set(listed) | have.keys()):
            if who not in have:
                out.append(
                    f"SKB panel {code}: assessor {who} is a member in its skb_panel event, "
                    "but no longer stored (removed?)"
                )
                continue
            rows, chairs = have[who]
            if who not in listed:
                out.append(
                    f"SKB panel {code}: assessor {who} is a member stored, "
                    "but not in its skb_panel event"
                )
            if rows > 1:
                out.append(f"SKB panel {code}: assessor {who} is stored as a member {rows} times")
            if chairs != (who == chair):
                out.append(
                    f"SKB panel {code}: assessor {who} "
                    + ("chairs" if chairs else "does not chair")
                    + f" stored; its skb_panel event's chair is {chair}"
                )
    return out


def _check_declarations(
    conn: Connection, events: Mapping[tuple[str, str, str], tuple[bool, str]]
) -> list[str]:
    t = _tables()
    decl, panel, staff = t["declaration"], t["panel"], t["staff"]
    stored: dict[tuple[str, str, str], tuple[bool, str]] = {}
    rows: dict[tuple[str, str, str], int] = {}
    for pid, code, cid, regno, sid, username, conflict, note in conn.execute(
        select(decl.c.panel_id, panel.c.code, decl.c.candidate_id,
               CANDIDATE.c.registration_number, decl.c.staff_id, staff.c.username,
               decl.c.conflict, decl.c.note)
        .outerjoin(panel, panel.c.id == decl.c.panel_id)
        .outerjoin(CANDIDATE, CANDIDATE.c.id == decl.c.candidate_id)
        .outerjoin(staff, staff.c.id == decl.c.staff_id)
        .order_by(decl.c.id)
    ):  # fmt: skip
        key = (
            str(code) if code is not None else f"(panel id {pid})",
            str(regno) if regno is not None else f"(candidate id {cid})",
            str(username) if username is not None else f"(staff id {sid})",
        )
        stored[key] = (bool(conflict), str(note or ""))
        rows[key] = rows.get(key, 0) + 1
    out: list[str] = []
    for key in sorted(stored.keys() | events.keys()):
        code, regno, who = key
        name = f"SKB declaration of {who} for {regno} on panel {code}"
        got, want = stored.get(key), events.get(key)
        if want is None:
            out.append(f"{name}: stored, but no skb_declaration event")
        elif got is None:
            out.append(f"{name}: in the audit log (skb_declaration), but no longer stored")
        else:
            if got[0] != want[0]:
                out.append(
                    f"{name}: {_conflict(got[0])} stored, {_conflict(want[0])} "
                    "in its skb_declaration event"
                )
            if got[1] != want[1]:
                out.append(f"{name}: its note differs from its skb_declaration event")
        if rows.get(key, 0) > 1:
            out.append(f"{name}: stored {rows[key]} times")
    return out


def _conflict(flag: bool) -> str:
    return "conflict (recused)" if flag else "no conflict"
