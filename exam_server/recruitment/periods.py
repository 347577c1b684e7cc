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
from recruitment import scope
from recruitment.models import (
    RecAgency,
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


def period_list(engine: Engine) -> list[tuple[str, str]]:
    """Every period's (code, name), newest first (several may run at once)."""
    with Session(engine) as s:
        rows = s.execute(
            select(col(RecPeriod.code), col(RecPeriod.name)).order_by(col(RecPeriod.id).desc())
        ).all()
        return [(str(c), str(n)) for c, n in rows]


def period_by_id(engine: Engine, period_id: int) -> PeriodView:
    with Session(engine) as s:
        return _view(_get(s, RecPeriod, period_id))


def period_by_code(engine: Engine, code: str) -> PeriodView:
    with Session(engine) as s:
        p = s.execute(select(RecPeriod).where(col(RecPeriod.code) == code)).scalars().first()
        if p is None:
            raise NotFound(f"no period {code}")
        return _view(p)


# -- agencies and the scope of staff accounts ---------------------------------------------


@dataclass(frozen=True)
class AgencyView:
    id: int
    code: str
    name: str


def create_agency(engine: Engine, code: str, name: str, actor: str = "admin") -> int:
    """An agency (instansi) that may enter needs in any period; audited."""
    if not CODE_RE.match(code):
        raise ValueError(f"agency code {code!r}: 1-30 letters, digits, '.', '_' or '-'")
    if not name.strip():
        raise ValueError("agency name: required")
    with Session(writer(engine)) as s:
        a = RecAgency(code=code, name=name.strip())
        s.add(a)
        s.flush()
        audit.append(s.connection(), "rec_agency", actor, data={"agency": code, "name": a.name})
        s.commit()
        assert a.id is not None
        return a.id


def agencies(engine: Engine) -> list[AgencyView]:
    """Every agency, by code."""
    with Session(engine) as s:
        rows = s.execute(select(RecAgency).order_by(col(RecAgency.code))).scalars()
        return [AgencyView(r.id or 0, r.code, r.name) for r in rows]


def agency_by_code(engine: Engine, code: str) -> AgencyView:
    with Session(engine) as s:
        a = s.execute(select(RecAgency).where(col(RecAgency.code) == code)).scalars().first()
        if a is None:
            raise NotFound(f"no agency {code}")
        return AgencyView(a.id or 0, a.code, a.name)


def agency_code(s: Session, agency_id: int | None) -> str:
    """What audit entries name: the agency's code, ``national`` for None."""
    if agency_id is None:
        return "national"
    a = s.get(RecAgency, agency_id)
    return a.code if a is not None else str(agency_id)


def staff_scope(s: Session, username: str) -> scope.StaffScope:
    """The account as the scope rules see it; :class:`Refused` if there is none."""
    st = s.execute(select(RecStaff).where(col(RecStaff.username) == username)).scalars().first()
    if st is None:
        raise Refused("akun staf tidak dikenal", "unknown staff account")
    return scope.StaffScope(st.username, st.role, st.agency_id)


def authorise(
    s: Session, username: str, action: str | None, agency_id: int | None
) -> scope.StaffScope:
    """The staff account ``username`` if it may do ``action`` (None: read) to
    an object of ``agency_id`` (None: the whole period's) — the one check
    (``recruitment.scope.check``) every staff operation runs, in its own
    transaction. Another agency's object: :class:`NotFound`, as if it did not
    exist; a role that may not: :class:`Refused`."""
    who = staff_scope(s, username)
    try:
        scope.check(who, action, agency_id)
    except scope.OutOfScope:
        raise NotFound(f"not in the scope of {username}") from None
    except scope.RoleRefused:
        raise Refused(
            "peran Anda tidak diizinkan melakukan ini", "your role may not do this"
        ) from None
    return who


def in_scope_where(s: Session, username: str, agency_column: Any) -> list[Any]:
    """:func:`recruitment.scope.in_scope` as a SQL condition on ``agency_column``,
    for the lists of the staff page (nothing for a national account)."""
    who = staff_scope(s, username)
    return [] if who.national else [agency_column == who.agency_id]


def create_staff(
    engine: Engine,
    username: str,
    name: str,
    role: str,
    password: str,
    scrypt_n: int = 2**14,
    agency: str | None = None,
) -> int:
    """A staff account; agency: the code of the agency it acts for (None: national)."""
    if role not in STAFF_ROLES:
        raise ValueError(f"role must be one of {STAFF_ROLES}")
    if not CODE_RE.match(username):
        raise ValueError("username: 1-30 letters, digits, '.', '_' or '-'")
    if len(password) < 10:
        raise ValueError("password: at least 10 characters")
    agency_id = agency_by_code(engine, agency).id if agency is not None else None
    digest = hash_password(password, n=scrypt_n)
    with Session(writer(engine)) as s:
        st = RecStaff(
            username=username, name=name, role=role, password_hash=digest, agency_id=agency_id
        )
        s.add(st)
        s.flush()
        audit.append(
            s.connection(),
            "rec_staff",
            "admin",
            data={"username": username, "role": role, "agency": agency_code(s, agency_id)},
        )
        s.commit()
        assert st.id is not None
        return st.id


def staff_list(engine: Engine) -> list[dict[str, str]]:
    with Session(engine) as s:
        rows = s.execute(
            select(RecStaff, RecAgency)
            .outerjoin(RecAgency, col(RecAgency.id) == col(RecStaff.agency_id))
            .order_by(col(RecStaff.username))
        ).all()
        return [
            {
                "username": r.username,
                "role": r.role,
                "name": r.name,
                "agency": a.code if a is not None else "national",
            }
            for r, a in rows
        ]


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
