"""Needs per position, their approval into formations, and the signed vacancy
announcements.

Part of the recruitment operations (:mod:`exam_server.recruitment.service`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from exam_server import audit
from exam_server.db import writer
from exam_server.models import Formation
from exam_server.recruitment import forms as f
from exam_server.recruitment.forms import CODE_RE, FieldError, FormError
from exam_server.recruitment.periods import (
    Refused,
    _get,
    _view,
    agency_code,
    authorise,
    in_scope_where,
    staff_scope,
)
from exam_server.scheduling import SetupError, add_formations
from recruitment import announcement as ann
from recruitment import eligibility as elig
from recruitment.models import (
    RecAgency,
    RecAnnouncement,
    RecFormation,
    RecNeed,
    RecPeriod,
)
from recruitment.states import (
    NeedStatus,
    check_second_person,
    step_need,
)


def parse_need(form: dict[str, Any], rules: elig.EligibilityRules) -> dict[str, Any]:
    """A need's fields from a form; :class:`FormError` naming each bad field."""
    err = FormError()
    code = f.text(form, "code", err, max_len=30)
    if code and not CODE_RE.match(code):
        err.add(
            "code",
            "kode: huruf, angka, '.', '_' atau '-'",
            "code: letters, digits, '.', '_' or '-'",
        )
    out: dict[str, Any] = {
        "code": code,
        "unit": f.text(form, "unit", err),
        "position": f.text(form, "position", err),
        "location": f.text(form, "location", err),
        "education_level": f.choice(form, "education_level", err, rules.education_levels),
        "max_age": f.integer(form, "max_age", err, 18, 70),
        "other_requirements": f.text(form, "other_requirements", err, max_len=2000, required=False),
        # The agency's code; only a national account chooses (an agency's staff
        # enter their own agency's needs, whatever the form says).
        "agency": f.text(form, "agency", err, max_len=40, required=False),
    }
    majors_text = f.text(form, "majors", err, max_len=2000, required=False)
    out["majors"] = [m.strip() for m in majors_text.replace("\n", ";").split(";") if m.strip()]
    allocation: dict[str, int] = {}
    for cat in rules.categories:
        raw = str(form.get(f"alloc_{cat}", "") or "0").strip() or "0"
        try:
            n = int(raw)
        except ValueError:
            err.add(f"alloc_{cat}", "harus bilangan bulat", "must be a whole number")
            continue
        if n < 0 or n > 10_000:
            err.add(f"alloc_{cat}", "antara 0 dan 10000", "between 0 and 10000")
        elif n:
            allocation[cat] = n
    if not allocation and not any(e.field.startswith("alloc_") for e in err.errors):
        err.add("alloc_general", "paling sedikit satu formasi", "at least one opening")
    out["allocation"] = allocation
    out["openings"] = sum(allocation.values())
    err.raise_if_any()
    return out


def _need_agency(s: Session, actor: str, code: str) -> int:
    """The agency a new need belongs to: the actor's own, or (a national
    account) the one named by ``code``; :class:`FormError` on the field ``agency``."""
    who = staff_scope(s, actor)
    if who.agency_id is not None:
        return who.agency_id
    a = s.execute(select(RecAgency).where(col(RecAgency.code) == code)).scalars().first()
    if a is None or a.id is None:
        raise FormError([_fe("agency", "pilih instansi", "choose the agency")])
    return a.id


def create_need(
    engine: Engine, period_id: int, actor: str, fields: dict[str, Any], now: float
) -> int:
    """A draft need of the actor's agency (a national account names it in
    ``fields["agency"]``); audited with the agency's code."""
    with Session(writer(engine)) as s:
        agency_id = _need_agency(s, actor, fields.get("agency", ""))
        authorise(s, actor, "needs", agency_id)
        fields = {**fields, "agency": agency_code(s, agency_id)}
        need = RecNeed(
            period_id=period_id,
            agency_id=agency_id,
            code=fields["code"],
            unit=fields["unit"],
            position=fields["position"],
            location=fields["location"],
            openings=fields["openings"],
            education_level=fields["education_level"],
            majors_json=json.dumps(fields["majors"], ensure_ascii=False),
            max_age=fields["max_age"],
            other_requirements=fields["other_requirements"],
            allocation_json=json.dumps(fields["allocation"], sort_keys=True),
            status=NeedStatus.DRAFT,
            created_by=actor,
            updated_at=now,
        )
        s.add(need)
        try:
            s.flush()
        except IntegrityError:
            s.rollback()
            raise FormError(
                [_fe("code", "kode kebutuhan sudah dipakai", "this need code is taken")]
            ) from None
        audit.append(
            s.connection(), "rec_need_create", actor, data={"need": need.id, **fields}, at=now
        )
        s.commit()
        assert need.id is not None
        return need.id


def update_need(
    engine: Engine, need_id: int, actor: str, fields: dict[str, Any], now: float
) -> None:
    """Change a draft or returned need (its code stays); audited with the new fields."""
    with Session(writer(engine)) as s:
        need: RecNeed = _get(s, RecNeed, need_id, lock=True)
        authorise(s, actor, "needs", need.agency_id)
        fields = {**fields, "agency": agency_code(s, need.agency_id)}
        if need.status not in (NeedStatus.DRAFT, NeedStatus.RETURNED):
            raise Refused(
                "hanya kebutuhan draf atau yang dikembalikan dapat diubah",
                "only a draft or returned need can be changed",
            )
        if fields["code"] != need.code:
            raise FormError([_fe("code", "kode tidak dapat diubah", "the code cannot change")])
        need.unit, need.position, need.location = (
            fields["unit"],
            fields["position"],
            fields["location"],
        )
        need.openings, need.education_level = fields["openings"], fields["education_level"]
        need.majors_json = json.dumps(fields["majors"], ensure_ascii=False)
        need.max_age, need.other_requirements = fields["max_age"], fields["other_requirements"]
        need.allocation_json = json.dumps(fields["allocation"], sort_keys=True)
        editors = json.loads(need.editors_json)
        if actor not in editors:  # four eyes: whoever changed it does not approve it
            need.editors_json = json.dumps([*editors, actor], ensure_ascii=False)
        need.updated_at = now
        s.add(need)
        s.flush()
        audit.append(
            s.connection(), "rec_need_update", actor, data={"need": need_id, **fields}, at=now
        )
        s.commit()


def need_form_values(need: dict[str, Any], rules: elig.EligibilityRules) -> dict[str, str]:
    """A need (as :func:`needs` gives it) as the text of its form, to edit it."""
    values = {
        k: str(need[k])
        for k in ("code", "unit", "position", "location", "education_level", "max_age")
    }
    values["other_requirements"] = need["other_requirements"]
    values["majors"] = "; ".join(need["majors"])
    for cat in rules.categories:
        values[f"alloc_{cat}"] = str(need["allocation"].get(cat, 0))
    values["need_id"] = str(need["id"])
    return values


def _fe(field: str, text_id: str, text_en: str) -> FieldError:
    return FieldError(field, text_id, text_en)


def submit_need(engine: Engine, need_id: int, actor: str, now: float) -> None:
    with Session(writer(engine)) as s:
        need: RecNeed = _get(s, RecNeed, need_id, lock=True)
        authorise(s, actor, "needs", need.agency_id)
        need.status = step_need(need.status, "submit")
        need.submitted_by, need.updated_at = actor, now
        s.add(need)
        s.flush()
        audit.append(
            s.connection(),
            "rec_need_submit",
            actor,
            data={"need": need_id, "agency": agency_code(s, need.agency_id)},
            at=now,
        )
        s.commit()


def formation_code(need_code: str, category: str) -> str:
    return f"{need_code}-{category.upper()}"


def _check_decidable(need: RecNeed, actor: str, approve: bool) -> None:
    """The need's state allows the decision, and ``actor`` neither made,
    changed nor submitted it (four eyes: an account that wrote a need does
    not approve it because another account pressed submit)."""
    step_need(need.status, "approve" if approve else "return")
    for account in (need.submitted_by, need.created_by, *json.loads(need.editors_json)):
        check_second_person(account, actor)


def decide_need(
    engine: Engine, need_id: int, actor: str, approve: bool, reason: str, now: float
) -> list[str]:
    """Approve (making one exam formation per allocated category; returns their
    codes) or return a submitted need with a reason. The approver must not be
    the account that created or submitted it (checked again under the lock
    that writes the decision)."""
    with Session(engine) as s:
        need: RecNeed = _get(s, RecNeed, need_id)
        authorise(s, actor, "decide_need", need.agency_id)
        agency: RecAgency = _get(s, RecAgency, need.agency_id)
        _check_decidable(need, actor, approve)
        allocation_json = need.allocation_json
        allocation: dict[str, int] = json.loads(allocation_json)
    if not approve and not reason.strip():
        raise Refused("alasan pengembalian wajib diisi", "a reason for returning is required")
    codes = [formation_code(need.code, c) for c in sorted(allocation)]
    with Session(writer(engine)) as s:
        need = _get(s, RecNeed, need_id, lock=True)
        # Checked again under the lock: the need may have been returned,
        # changed and submitted again (by this account) since it was read.
        _check_decidable(need, actor, approve)
        if need.allocation_json != allocation_json:
            raise Refused(
                "kebutuhan ini baru saja diubah; muat ulang lalu putuskan lagi",
                "this need was just changed; reload and decide again",
            )
        need.status = step_need(need.status, "approve" if approve else "return")
        need.decided_by, need.decision_reason, need.updated_at = actor, reason.strip(), now
        s.add(need)
        if approve:
            # The exam server's own rules make the formations (codes, openings),
            # in this transaction: a decision refused here leaves none behind.
            # (Made before it, a refused approval left formations with the old
            # allocation, which a later approval of the changed need kept,
            # found by a review: the ranking counted the old openings.)
            _make_formations(s, need, agency, allocation, codes, actor)
            ids = dict(
                s.execute(
                    select(col(Formation.code), col(Formation.id)).where(
                        col(Formation.code).in_(codes)
                    )
                ).all()
            )
            for c, n in sorted(allocation.items()):
                s.add(
                    RecFormation(
                        need_id=need_id,
                        formation_id=ids[formation_code(need.code, c)],
                        category=c,
                        openings=n,
                    )
                )
        s.flush()
        audit.append(
            s.connection(),
            "rec_need_approve" if approve else "rec_need_return",
            actor,
            reason=reason.strip(),
            data={
                "need": need_id,
                "agency": agency.code,
                "formations": codes if approve else [],
            },
            at=now,
        )
        s.commit()
    return codes if approve else []


def _make_formations(
    s: Session,
    need: RecNeed,
    agency: RecAgency,
    allocation: dict[str, int],
    codes: list[str],
    actor: str,
) -> None:
    """The exam formations of an approved need's allocation, in the caller's
    transaction; one already made (by an approval from before they were made
    in the decision's transaction) must have the allocation's openings, or
    the approval is refused, naming it."""
    existing = {
        f.code: f
        for f in s.execute(select(Formation).where(col(Formation.code).in_(codes))).scalars()
    }
    for c, n in sorted(allocation.items()):
        made = existing.get(formation_code(need.code, c))
        if made is not None and made.openings != n:
            raise Refused(
                f"formasi {made.code} sudah ada dengan {made.openings} formasi, bukan {n}",
                f"formation {made.code} exists with {made.openings} openings, not {n}",
            )
    rows = [
        {
            "code": formation_code(need.code, c),
            "agency": agency.name,
            "position": need.position,
            "location": need.location,
            "openings": n,
        }
        for c, n in sorted(allocation.items())
        if formation_code(need.code, c) not in existing
    ]
    if rows:
        try:
            add_formations(s, rows, actor)
        except SetupError as exc:
            raise Refused(
                f"formasi tidak dapat dibuat: {exc}", f"formations cannot be made: {exc}"
            ) from None


def needs(engine: Engine, period_id: int, staff: str | None = None) -> list[dict[str, Any]]:
    """The period's needs (staff: only those the account's scope reaches)."""
    with Session(engine) as s:
        q = (
            select(RecNeed, col(RecAgency.code))
            .join(RecAgency, col(RecAgency.id) == col(RecNeed.agency_id))
            .where(col(RecNeed.period_id) == period_id)
        )
        if staff is not None:
            q = q.where(*in_scope_where(s, staff, col(RecNeed.agency_id)))
        rows = s.execute(q.order_by(col(RecNeed.code))).all()
        return [
            {
                **r.model_dump(),
                "agency": code,
                "majors": json.loads(r.majors_json),
                "allocation": json.loads(r.allocation_json),
            }
            for r, code in rows
        ]


def formations(engine: Engine, period_id: int) -> list[dict[str, Any]]:
    """The period's formations as announced (approved needs × categories)."""
    with Session(engine) as s:
        rows = s.execute(
            select(RecFormation, RecNeed, Formation, RecAgency)
            .join(RecNeed, col(RecNeed.id) == col(RecFormation.need_id))
            .join(Formation, col(Formation.id) == col(RecFormation.formation_id))
            .join(RecAgency, col(RecAgency.id) == col(RecNeed.agency_id))
            .where(col(RecNeed.period_id) == period_id)
            .order_by(col(Formation.code))
        ).all()
        return [
            {
                "id": rf.id,
                "code": f.code,
                "agency": a.code,
                "agency_name": a.name,
                "unit": n.unit,
                "position": n.position,
                "location": n.location,
                "category": rf.category,
                "openings": rf.openings,
                "education_level": n.education_level,
                "majors": json.loads(n.majors_json),
                "max_age": n.max_age,
                "other_requirements": n.other_requirements,
            }
            for rf, n, f, a in rows
        ]


def requirement_of(formation: dict[str, Any]) -> elig.Requirement:
    return elig.Requirement(
        education_level=formation["education_level"],
        majors=tuple(formation["majors"]),
        max_age=formation["max_age"],
        category=formation["category"],
    )


# -- announcements ------------------------------------------------------------------------


def publish_announcement(
    engine: Engine, period_id: int, key: Ed25519PrivateKey, actor: str, now: float
) -> int:
    """Sign and keep a new version of the period's announcement if anything
    changed since the last one; returns the version (the last one when nothing changed)."""
    with Session(engine) as s:
        authorise(s, actor, "publish", None)
        period: RecPeriod = _get(s, RecPeriod, period_id)
        pv = _view(period)
    forms = [{k: v for k, v in f.items() if k != "id"} for f in formations(engine, period_id)]
    doc = ann.build_document(
        {"code": pv.code, "name": pv.name, "agency": pv.agency, "rules_version": pv.rules.version},
        pv.schedule,
        forms,
    )
    with Session(writer(engine)) as s:
        last = (
            s.execute(
                select(RecAnnouncement)
                .where(col(RecAnnouncement.period_id) == period_id)
                .order_by(col(RecAnnouncement.version).desc())
            )
            .scalars()
            .first()
        )
        old = json.loads(last.document_json) if last is not None else None
        if old == json.loads(json.dumps(doc)):
            assert last is not None
            return last.version
        data, signature, fp = ann.sign(doc, key)
        version = (last.version if last else 0) + 1
        s.add(
            RecAnnouncement(
                period_id=period_id,
                version=version,
                published_at=now,
                published_by=actor,
                document_json=data.decode("utf-8"),
                signature=signature,
                key_fingerprint=fp,
                changes_json=json.dumps(ann.changes(old, doc), ensure_ascii=False),
            )
        )
        s.flush()
        audit.append(
            s.connection(),
            "rec_announce",
            actor,
            data={
                "period": pv.code,
                "version": version,
                "sha256": hashlib.sha256(data).hexdigest(),
            },
            at=now,
        )
        s.commit()
        return version


@dataclass(frozen=True)
class VersionInfo:
    version: int
    published_at: float


def announcement_versions(engine: Engine, period_id: int) -> list[VersionInfo]:
    """Every published version's number and time, newest first (no documents)."""
    with Session(engine) as s:
        rows = s.execute(
            select(col(RecAnnouncement.version), col(RecAnnouncement.published_at))
            .where(col(RecAnnouncement.period_id) == period_id)
            .order_by(col(RecAnnouncement.version).desc())
        ).all()
        return [VersionInfo(int(v), float(t)) for v, t in rows]


def announcement(
    engine: Engine, period_id: int, version: int | None = None
) -> RecAnnouncement | None:
    """One published version (None: the newest), or None if there is none."""
    with Session(engine) as s:
        q = select(RecAnnouncement).where(col(RecAnnouncement.period_id) == period_id)
        if version is not None:
            q = q.where(col(RecAnnouncement.version) == version)
        return s.execute(q.order_by(col(RecAnnouncement.version).desc()).limit(1)).scalars().first()


# -- outbox -------------------------------------------------------------------------------


# -- the public listing across periods and agencies ----------------------------------------


def open_vacancies(engine: Engine, today: dt.date) -> list[dict[str, Any]]:
    """Every formation announced in a period whose registration has not closed
    by ``today`` (WIB), as its newest signed announcement states it, with the
    period's code and name and the agency's code and name. Announcements
    published before agencies were recorded name no agency code: their
    period's agency stands for it. Ordered by period (newest first), then code."""
    with Session(engine) as s:
        newest = (
            select(
                col(RecAnnouncement.period_id),
                func.max(col(RecAnnouncement.version)).label("version"),
            )
            .group_by(col(RecAnnouncement.period_id))
            .subquery()
        )
        rows = s.execute(
            select(RecPeriod, col(RecAnnouncement.document_json))
            .join(RecAnnouncement, col(RecAnnouncement.period_id) == col(RecPeriod.id))
            .join(
                newest,
                (newest.c.period_id == col(RecAnnouncement.period_id))
                & (newest.c.version == col(RecAnnouncement.version)),
            )
            .order_by(col(RecPeriod.id).desc())
        ).all()
    out: list[dict[str, Any]] = []
    for period, document in rows:
        pv = _view(period)
        if today > pv.schedule.registration_closes:
            continue
        doc = json.loads(document)
        for x in doc["formations"]:
            out.append(
                {
                    **x,
                    "period": pv.code,
                    "period_name": pv.name,
                    "agency": x.get("agency", ""),
                    "agency_name": x.get("agency_name", pv.agency),
                    "registration_open": pv.schedule.registration_open(today),
                    "registration_closes": pv.schedule.registration_closes.isoformat(),
                }
            )
    return out
