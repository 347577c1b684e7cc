"""Setting the SKB up: a formation's plan against the policy's caps, assessor
names, panels. Every change is audited in its own transaction."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assessment.components import (
    ComponentError,
    SkbPlan,
    parse_plan,
)
from assessment.models import (
    SkbComponentScore,
    SkbPanel,
    SkbPanelMember,
    SkbPlanRow,
)
from exam_server import audit
from exam_server.assessment.common import (
    ASSESSOR,
    Refused,
    caps_of_formation,
    component_of,
    one,
    plan_of,
)
from exam_server.audit.staff_records import record_created
from exam_server.auth import hash_password
from exam_server.db import writer
from exam_server.models import Candidate, Formation, Staff


def save_plan(engine: Engine, doc: Any, actor: str) -> SkbPlan:
    """Store a formation's SKB plan, refused unless it obeys the policy's caps."""
    if not isinstance(doc, dict) or not isinstance(doc.get("formation"), str):
        raise Refused(422, "bad_plan", "skb.formation: the formation's code is required")
    with Session(writer(engine)) as s:
        f = one(s, Formation, "formation", code=doc["formation"])
        try:
            caps = caps_of_formation(s, f.id)
            plan = parse_plan(doc, caps)
        except ComponentError as exc:
            raise Refused(422, "bad_plan", str(exc)) from None
        row = s.exec(select(SkbPlanRow).where(SkbPlanRow.formation_id == f.id)).first()
        if (
            row is not None
            and s.exec(
                select(SkbComponentScore.id)
                .join(Candidate, col(Candidate.id) == col(SkbComponentScore.candidate_id))
                .where(Candidate.formation_id == f.id)
            ).first()
        ):
            raise Refused(409, "plan_in_use", f"formation {f.code} already has final scores")
        text = plan.model_dump_json()
        if row is None:
            s.add(SkbPlanRow(formation_id=f.id, plan_json=text, caps_version=caps.version))
        else:
            row.plan_json, row.caps_version = text, caps.version
        audit.append(
            s.connection(),
            "skb_plan",
            actor,
            # plan_sha256: the stored plan_json byte for byte (``seleksi audit
            # verify``, exam_server.audit.skb_setup, compares it).
            data={"formation": f.code, "plan": json.loads(text), "caps": caps.version,
                  "plan_sha256": hashlib.sha256(text.encode()).hexdigest()},
        )  # fmt: skip
        s.commit()
    return plan


def add_assessor(
    engine: Engine, username: str, name: str, password: str, actor: str, scrypt_n: int = 2**14
) -> int:
    """An assessor's staff account (role ``assessor``; logs in like other staff),
    audited as ``skb_assessor`` and, as every staff account, ``staff_created``
    (what :func:`exam_server.audit.staff_records.check_staff` compares it with)."""
    if len(password) < 10:
        raise Refused(422, "bad_field", "password: at least 10 characters")
    digest = hash_password(password, n=scrypt_n)
    with Session(writer(engine)) as s:
        if s.exec(select(Staff).where(Staff.username == username)).first() is not None:
            raise Refused(409, "exists", f"user {username} exists")
        st = Staff(username=username, name=name, role=ASSESSOR, password_hash=digest)
        s.add(st)
        s.flush()
        audit.append(s.connection(), "skb_assessor", actor, data={"username": username})
        record_created(s.connection(), actor, st)
        s.commit()
        assert st.id is not None
        return st.id


def create_panel(
    engine: Engine,
    code: str,
    formation: str,
    component: str,
    members: Sequence[str],
    chair: str,
    actor: str,
) -> int:
    """A panel of assessors (usernames) for one assessed component; ``chair`` among them."""
    if chair not in members:
        raise Refused(422, "bad_field", f"chair {chair} must be one of the members")
    if len(set(members)) != len(members):
        raise Refused(422, "bad_field", "an assessor is listed twice")
    with Session(writer(engine)) as s:
        f = one(s, Formation, "formation", code=formation)
        comp = component_of(plan_of(s, f.id), component)
        if not comp.assessed:
            raise Refused(422, "bad_field", f"component {component} is not scored by assessors")
        if len(members) < comp.assessors:
            raise Refused(
                422,
                "bad_field",
                f"component {component} needs {comp.assessors} assessors, got {len(members)}",
            )
        if s.exec(select(SkbPanel).where(SkbPanel.code == code)).first() is not None:
            raise Refused(409, "exists", f"panel {code} exists")
        staff = []
        for u in members:
            st = one(s, Staff, "assessor", username=u)
            if st.role != ASSESSOR:
                raise Refused(422, "bad_field", f"{u} is not an assessor")
            staff.append(st)
        panel = SkbPanel(code=code, formation_id=f.id, component=component)
        s.add(panel)
        s.flush()
        assert panel.id is not None
        for st in staff:
            s.add(SkbPanelMember(panel_id=panel.id, staff_id=st.id, chair=st.username == chair))
        audit.append(
            s.connection(),
            "skb_panel",
            actor,
            data={"panel": code, "formation": formation, "component": component,
                  "members": list(members), "chair": chair},
        )  # fmt: skip
        s.commit()
        return panel.id
