"""Exam slots, scheduling eligible candidates into sessions, the exam card, and
the registrations the exam server reads.

Part of the recruitment operations (:mod:`exam_server.recruitment.service`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from exam_server import audit
from exam_server.db import writer
from exam_server.exams import ExamData, exam_policy
from exam_server.models import Candidate, Exam, ExamSession, Formation, Room, Site
from exam_server.recruitment.accounts import enqueue
from exam_server.recruitment.periods import WIB, NotFound, PeriodView, Refused, _get, authorise
from exam_server.scheduling import create_exam
from recruitment.models import (
    RecAccount,
    RecFormation,
    RecPeriod,
    RecRegistration,
    RecSlot,
)
from recruitment.receipts import Finding
from recruitment.scheduling import UNPLACED, assign
from recruitment.states import (
    Status,
    step,
)


def add_slot(
    engine: Engine,
    period_id: int,
    session_code: str,
    location: str,
    extended: bool = False,
    actor: str = "admin",
) -> int:
    """Open an exam session to the period's candidates choosing ``location``.

    extended: the session is for candidates with the ``extra_time``
    accommodation; its exam must then give more time than the period's exam
    (``extended_exam`` makes such a copy)."""
    with Session(writer(engine)) as s:
        row = s.execute(
            select(ExamSession, Exam)
            .join(Exam, col(Exam.id) == col(ExamSession.exam_id))
            .where(col(ExamSession.code) == session_code)
        ).first()
        if row is None:
            raise NotFound(f"no session {session_code}")
        sess, exam = row
        period: RecPeriod = _get(s, RecPeriod, period_id)
        base = s.execute(select(Exam).where(col(Exam.code) == period.exam_code)).scalars().first()
        if extended and base is not None:
            longer = ExamData.from_row(exam).time_limit_seconds
            if longer <= ExamData.from_row(base).time_limit_seconds:
                raise Refused(
                    f"ujian sesi {session_code} tidak memberi tambahan waktu",
                    f"session {session_code}'s exam gives no extra time",
                )
        slot = RecSlot(
            period_id=period_id, session_id=sess.id or 0, location=location, extended=extended
        )
        s.add(slot)
        s.flush()
        audit.append(
            s.connection(),
            "rec_slot",
            actor,
            session_id=sess.id,
            data={"period": period.code, "location": location, "extended": extended},
        )
        s.commit()
        assert slot.id is not None
        return slot.id


def extended_exam(engine: Engine, exam_code: str, new_code: str, factor: float = 1.3) -> int:
    """A copy of an exam whose time limit is ``factor`` times longer (the SKD's
    100 minutes become 130 for blind candidates): same items, design, ranking
    policy and options otherwise, made by ``exam_server.scheduling.create_exam``."""
    if not 1.0 < factor <= 3.0:
        raise ValueError("factor must be in (1, 3]")
    with Session(engine) as s:
        row = s.execute(select(Exam).where(col(Exam.code) == exam_code)).scalars().first()
        if row is None:
            raise NotFound(f"no exam {exam_code}")
        data = ExamData.from_row(row)
    design = dataclasses.replace(data.design, time_limit_seconds=data.time_limit_seconds * factor)
    return create_exam(
        engine,
        new_code,
        f"{data.name} (+{round((factor - 1) * 100)}%)",
        design,
        data.bank,
        list(data.items),
        data.policy,
        data.options,
    )


def test_locations(engine: Engine, period_id: int) -> list[str]:
    """The test locations a candidate may choose: those with a session open to the period."""
    with Session(engine) as s:
        rows = s.execute(
            select(col(RecSlot.location)).where(col(RecSlot.period_id) == period_id).distinct()
        ).scalars()
        return sorted(rows)


@dataclass(frozen=True)
class ScheduleResult:
    placed: int
    unplaced: list[str]


def schedule(engine: Engine, period: PeriodView, actor: str, now: float) -> ScheduleResult:
    """Place every MS registration in a session (``recruitment.scheduling.assign``,
    sessions of a location earliest first, capacity = the room's seats minus
    those already placed) and write its ``exam_candidate`` row with category and
    formation: the exam server's lists come from here, with no CSV. Every
    agency's candidates share the sessions: a national account's action."""
    with Session(writer(engine)) as s:
        authorise(s, actor, "schedule", None)
        regs = list(
            s.execute(
                select(RecRegistration)
                .where(
                    col(RecRegistration.period_id) == period.id,
                    col(RecRegistration.status) == Status.MS,
                )
                .order_by(col(RecRegistration.registration_number))
            ).scalars()
        )
        slots = s.execute(
            select(RecSlot, ExamSession, Room, Exam)
            .join(ExamSession, col(ExamSession.id) == col(RecSlot.session_id))
            .join(Room, col(Room.id) == col(ExamSession.room_id))
            .join(Exam, col(Exam.id) == col(ExamSession.exam_id))
            .where(col(RecSlot.period_id) == period.id)
            .order_by(col(ExamSession.starts_at), col(ExamSession.code))
        ).all()
        taken: dict[int | None, int] = dict(
            s.execute(
                select(col(Candidate.session_id), func.count())
                .where(col(Candidate.session_id).is_not(None))
                .group_by(col(Candidate.session_id))
            ).all()
        )
        locations = sorted({r.test_location for r in regs} | {sl.location for sl, *_ in slots})
        loc_id = {name: i for i, name in enumerate(locations)}
        extra = {k for k in period.rules.accommodations if k == "extra_time"}
        place = assign(
            np.array([loc_id[r.test_location] for r in regs], dtype=np.int64),
            np.array([r.accommodation in extra for r in regs], dtype=bool),
            np.array([loc_id[sl.location] for sl, *_ in slots], dtype=np.int64),
            np.array([sl.extended for sl, *_ in slots], dtype=bool),
            np.array(
                [max(0, room.capacity - taken.get(sess.id, 0)) for _, sess, room, _ in slots],
                dtype=np.int64,
            ),
        )
        rf_to_formation = dict(
            s.execute(select(col(RecFormation.id), col(RecFormation.formation_id))).all()
        )
        unplaced: list[str] = []
        placed = 0
        scheduled: list[int] = []
        for reg, k in zip(regs, place.tolist(), strict=True):
            if k == UNPLACED:
                unplaced.append(reg.registration_number or "")
                continue
            _slot, sess, _room, exam = slots[k]
            if reg.category not in exam_policy(exam).categories:
                raise Refused(
                    f"kategori {reg.category} tidak ada dalam aturan ujian {exam.code}",
                    f"category {reg.category} is not in exam {exam.code}'s policy",
                )
            cand = Candidate(
                registration_number=reg.registration_number or "",
                name=reg.name,
                category=reg.category,
                formation_id=rf_to_formation[reg.rec_formation_id],
                session_id=sess.id,
                birth_date=reg.birth_date,
            )
            s.add(cand)
            s.flush()
            reg.candidate_id = cand.id
            reg.status = step(reg.status, "schedule")
            reg.updated_at = now
            s.add(reg)
            acc: RecAccount = _get(s, RecAccount, reg.account_id)
            starts = dt.datetime.fromtimestamp(sess.starts_at, WIB).strftime("%Y-%m-%d %H:%M WIB")
            enqueue(
                s,
                acc.email,
                f"Jadwal ujian {reg.registration_number} / Exam schedule",
                f"{reg.registration_number}: sesi/session {sess.code}, {starts}.\n"
                "Cetak kartu ujian Anda di halaman pendaftaran. / "
                "Print your exam card from the registration page.\n",
                "schedule",
                now,
            )
            placed += 1
            scheduled.append(reg.id or 0)
        audit.append(
            s.connection(),
            "rec_schedule",
            actor,
            # The registrations it placed: audit verify checks each one's status.
            data={
                "period": period.code,
                "placed": placed,
                "unplaced": len(unplaced),
                "registrations": scheduled,
            },
            at=now,
        )
        s.commit()
        return ScheduleResult(placed, unplaced)


def card_of(engine: Engine, registration_id: int) -> dict[str, Any] | None:
    """What the exam card shows: the session, room, site and start (None until scheduled)."""
    with Session(engine) as s:
        reg: RecRegistration = _get(s, RecRegistration, registration_id)
        if reg.candidate_id is None:
            return None
        row = s.execute(
            select(Candidate, ExamSession, Room, Site, Formation)
            .join(ExamSession, col(ExamSession.id) == col(Candidate.session_id))
            .join(Room, col(Room.id) == col(ExamSession.room_id))
            .join(Site, col(Site.id) == col(Room.site_id))
            .join(Formation, col(Formation.id) == col(Candidate.formation_id))
            .where(col(Candidate.id) == reg.candidate_id)
        ).first()
        if row is None:
            return None
        cand, sess, room, site, form = row
        return {
            "number": cand.registration_number,
            "name": cand.name,
            "category": cand.category,
            "formation": form.code,
            "position": form.position,
            "session": sess.code,
            "starts": dt.datetime.fromtimestamp(sess.starts_at, WIB).strftime("%Y-%m-%d %H:%M WIB"),
            "room": room.name,
            "site": site.name,
        }


def on_record(engine: Engine, finding: Finding) -> bool:
    """Whether what a valid receipt or card says is what this server holds:
    the registration submitted with exactly those bytes, or the candidate
    scheduled in that session."""
    if not finding.valid:
        return False
    with Session(engine) as s:
        if finding.kind == "receipt":
            stored = s.execute(
                select(col(RecRegistration.submitted_json)).where(
                    col(RecRegistration.registration_number) == finding.number
                )
            ).scalar()
            return stored is not None and stored.encode("utf-8") == finding.signed
        row = s.execute(
            select(col(ExamSession.code))
            .join(Candidate, col(Candidate.session_id) == col(ExamSession.id))
            .where(col(Candidate.registration_number) == finding.number)
        ).scalar()
        return row == finding.session


def registrations_by_status(engine: Engine, period_id: int) -> dict[str, int]:
    with Session(engine) as s:
        return dict(
            s.execute(
                select(col(RecRegistration.status), func.count())
                .where(col(RecRegistration.period_id) == period_id)
                .group_by(RecRegistration.status)
            ).all()
        )
