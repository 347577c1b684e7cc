"""The recruitment period and the agency's staff accounts, and what every
operation shares: its errors, today's date (WIB), a row by id.

Part of the recruitment operations (:mod:`exam_server.recruitment.service`).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from exam_server import audit
from exam_server.auth import hash_password, verify_password
from exam_server.db import writer
from exam_server.recruitment.forms import CODE_RE
from recruitment import announcement as ann
from recruitment import eligibility as elig
from recruitment.models import (
    RecPeriod,
    RecStaff,
)

WIB = ZoneInfo("Asia/Jakarta")
STAFF_ROLES = ("operator", "approver", "verifier", "admin")


class NotFound(LookupError):
    pass


class Refused(ValueError):
    """An action refused, with the reason in Bahasa Indonesia and English."""

    def __init__(self, text_id: str, text_en: str) -> None:
        super().__init__(f"{text_id} / {text_en}")
        self.text_id = text_id
        self.text_en = text_en


def today(now: float) -> dt.date:
    return dt.datetime.fromtimestamp(now, WIB).date()


def _get(s: Session, model: Any, ident: int, *, lock: bool = False) -> Any:
    """The row, or :class:`NotFound`. lock: ``SELECT … FOR UPDATE`` (PostgreSQL;
    SQLite's writer transactions hold the database lock already), so two
    requests moving the same registration or need through its states queue up
    and the second sees the first's result."""
    row = s.get(model, ident, with_for_update=lock)
    if row is None:
        raise NotFound(f"no {model.__tablename__} {ident}")
    return row


# -- periods and staff --------------------------------------------------------------------


@dataclass(frozen=True)
class PeriodView:
    id: int
    code: str
    name: str
    agency: str
    rules: elig.EligibilityRules
    schedule: ann.Schedule
    exam_code: str


def _view(p: RecPeriod) -> PeriodView:
    assert p.id is not None
    return PeriodView(
        p.id,
        p.code,
        p.name,
        p.agency,
        elig.EligibilityRules.from_json(p.rules_json),
        ann.Schedule.model_validate_json(p.schedule_json),
        p.exam_code,
    )


def create_period(
    engine: Engine,
    code: str,
    name: str,
    agency: str,
    schedule: ann.Schedule,
    rules: elig.EligibilityRules | None = None,
    exam_code: str = "",
    actor: str = "admin",
) -> int:
    if not CODE_RE.match(code):
        raise ValueError(f"period code {code!r}: 1-30 letters, digits, '.', '_' or '-'")
    rules = rules or elig.EligibilityRules.default_2024()
    with Session(writer(engine)) as s:
        p = RecPeriod(
            code=code,
            name=name,
            agency=agency,
            rules_json=rules.to_json(),
            schedule_json=schedule.model_dump_json(),
            exam_code=exam_code,
        )
        s.add(p)
        s.flush()
        audit.append(
            s.connection(), "rec_period", actor, data={"period": code, "rules": rules.version}
        )
        s.commit()
        assert p.id is not None
        return p.id


def set_schedule(
    engine: Engine, period_id: int, schedule: ann.Schedule, actor: str, now: float
) -> None:
    """Change a period's dates (audited with the old and new schedule). The
    public sees it when the announcement is published again, with what changed."""
    with Session(writer(engine)) as s:
        period: RecPeriod = _get(s, RecPeriod, period_id, lock=True)
        old = json.loads(period.schedule_json)
        period.schedule_json = schedule.model_dump_json()
        s.add(period)
        s.flush()
        audit.append(
            s.connection(),
            "rec_schedule_change",
            actor,
            data={"period": period.code, "old": old, "new": schedule.model_dump(mode="json")},
            at=now,
        )
        s.commit()


def current_period(engine: Engine) -> PeriodView | None:
    """The newest period (the pages serve one period at a time)."""
    with Session(engine) as s:
        p = s.execute(select(RecPeriod).order_by(col(RecPeriod.id).desc())).scalars().first()
        return _view(p) if p is not None else None


def period_by_code(engine: Engine, code: str) -> PeriodView:
    with Session(engine) as s:
        p = s.execute(select(RecPeriod).where(col(RecPeriod.code) == code)).scalars().first()
        if p is None:
            raise NotFound(f"no period {code}")
        return _view(p)


def create_staff(
    engine: Engine, username: str, name: str, role: str, password: str, scrypt_n: int = 2**14
) -> int:
    if role not in STAFF_ROLES:
        raise ValueError(f"role must be one of {STAFF_ROLES}")
    if not CODE_RE.match(username):
        raise ValueError("username: 1-30 letters, digits, '.', '_' or '-'")
    if len(password) < 10:
        raise ValueError("password: at least 10 characters")
    digest = hash_password(password, n=scrypt_n)
    with Session(writer(engine)) as s:
        st = RecStaff(username=username, name=name, role=role, password_hash=digest)
        s.add(st)
        s.flush()
        audit.append(
            s.connection(), "rec_staff", "admin", data={"username": username, "role": role}
        )
        s.commit()
        assert st.id is not None
        return st.id


def staff_list(engine: Engine) -> list[dict[str, str]]:
    with Session(engine) as s:
        rows = s.execute(select(RecStaff).order_by(col(RecStaff.username))).scalars()
        return [{"username": r.username, "role": r.role, "name": r.name} for r in rows]


def set_staff_password(engine: Engine, username: str, password_hash: str) -> None:
    """Replace an agency account's password (audited; :class:`NotFound` if none)."""
    with Session(writer(engine)) as s:
        st = s.execute(select(RecStaff).where(col(RecStaff.username) == username)).scalars().first()
        if st is None:
            raise NotFound(f"no recruitment account {username}")
        st.password_hash = password_hash
        s.add(st)
        s.flush()
        audit.append(s.connection(), "rec_staff_password", "admin", data={"username": username})
        s.commit()


def staff_login(engine: Engine, username: str, password: str, dummy_hash: str) -> RecStaff | None:
    """The account if the password is right (a hash is computed either way:
    the time does not tell whether the username exists). Blocking (scrypt)."""
    with Session(engine) as s:
        st = s.execute(select(RecStaff).where(col(RecStaff.username) == username)).scalars().first()
        ok = verify_password(password, st.password_hash if st else dummy_hash)
        return st if st is not None and ok else None


def staff_by_id(engine: Engine, staff_id: int) -> RecStaff | None:
    with Session(engine) as s:
        return s.get(RecStaff, staff_id)


# -- needs → formations -------------------------------------------------------------------
