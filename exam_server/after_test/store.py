"""The after-the-test tables and the exam data the reports read: blocking
functions (SQLAlchemy Core), called from worker threads by the endpoints and
by ``seleksi after``. The rules themselves live in :mod:`after_test`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.engine import Connection, Engine

from after_test import appeals as appeal_rules
from after_test import models as am
from after_test.diagnostics import SubtestDiagnostics, answers_of, diagnose
from after_test.policy import AfterTestPolicy
from cat_engine.bank import BankArrays
from cat_engine.state import TestState
from exam_server import audit, state_codec
from exam_server import models as m
from exam_server.audit.chain import AUDIT, event_hash
from exam_server.audit.records import CORRECTIONS_PUBLISHED
from exam_server.db import writer
from exam_server.snapshot import bank_from_json


def _t(model: Any) -> Table:
    return model.__table__


class NotFound(LookupError):
    """No such exam, appeal or feedback item (the message names it)."""


def exam_exists(engine: Engine, exam_code: str) -> bool:
    """Whether the server holds an exam ``exam_code`` (the pages answer 404 otherwise)."""
    with engine.connect() as conn:
        exams = _t(m.Exam)
        return conn.execute(select(exams.c.id).where(exams.c.code == exam_code)).first() is not None


def policy_of(engine: Engine, exam_code: str) -> AfterTestPolicy:
    """The exam's after-the-test policy (the 2024 default when it has none stored)."""
    with engine.connect() as conn:
        row = conn.execute(
            select(_t(am.AfterPolicy).c.policy_json).where(
                _t(am.AfterPolicy).c.exam_code == exam_code
            )
        ).first()
    return AfterTestPolicy.default_2024() if row is None else AfterTestPolicy.from_json(row[0])


def set_policy(engine: Engine, exam_code: str, policy: AfterTestPolicy) -> None:
    t = _t(am.AfterPolicy)
    with writer(engine).begin() as conn:
        conn.execute(t.delete().where(t.c.exam_code == exam_code))
        conn.execute(insert(t).values(exam_code=exam_code, policy_json=policy.to_json()))


# -- the exam's finished attempts ---------------------------------------------------------


@dataclass(frozen=True)
class LeftOut:
    """A candidate scheduled into a site's session whose synced copies do not
    count yet (:func:`exam_server.sites.results.site_sessions`).

    arrived: False when the site's records have not all arrived; reason: the
    rule's words, naming the site and the session."""

    site: str
    session: str
    arrived: bool
    reason: str


@dataclass(frozen=True)
class Population:
    """The finished attempts of one exam: row ``i`` of every array is candidate ``i``.

    group: "agency / formation code" of each candidate. left_out: registration
    number → why a site candidate's attempt is not in it (their site's
    records not all arrived, or not verified at the centre)."""

    exam_code: str
    bank: BankArrays
    registration_numbers: list[str]
    names: list[str]
    group: list[str]
    diagnostics: list[SubtestDiagnostics]
    left_out: dict[str, LeftOut] = field(default_factory=dict)

    def row_of(self, registration_number: str) -> int | None:
        try:
            return self.registration_numbers.index(registration_number)
        except ValueError:
            return None


def population(engine: Engine, exam_code: str) -> Population:
    """Every finished attempt of ``exam_code`` with its final engine state, diagnosed.

    The centre's own attempts (final state: the last snapshot) and, for
    sessions run at exam sites, the synced copies the results count (complete
    and verified: :func:`exam_server.sites.results.site_sessions`; final
    state: the copy's ``state_json``). A site session that does not count yet
    is left out, each of its candidates listed in ``left_out`` with why."""
    exams, sessions, attempts = _t(m.Exam), _t(m.ExamSession), _t(m.Attempt)
    cands, forms, snaps = _t(m.Candidate), _t(m.Formation), _t(m.AttemptSnapshot)
    with engine.connect() as conn, conn.begin():
        exam = conn.execute(
            select(exams.c.id, exams.c.bank_json).where(exams.c.code == exam_code)
        ).first()
        if exam is None:
            raise NotFound(f"no exam {exam_code!r}")
        last = (
            select(snaps.c.attempt_id, func.max(snaps.c.seq).label("seq"))
            .group_by(snaps.c.attempt_id)
            .subquery()
        )
        who = (cands.c.registration_number, cands.c.name, forms.c.agency, forms.c.code)
        rows = conn.execute(
            select(*who, snaps.c.state)
            .select_from(attempts)
            .join(sessions, sessions.c.id == attempts.c.session_id)
            .join(cands, cands.c.id == attempts.c.candidate_id)
            .outerjoin(forms, forms.c.id == cands.c.formation_id)
            .join(last, last.c.attempt_id == attempts.c.id)
            .join(snaps, (snaps.c.attempt_id == last.c.attempt_id) & (snaps.c.seq == last.c.seq))
            .where(sessions.c.exam_id == exam.id, attempts.c.status == "finished")
        ).all()
        found = [(r[:4], state_codec.unpack(r.state)) for r in rows]
        # Sessions run at exam sites: their verified synced copies (docs/sites.md).
        from exam_server.sites.results import site_sessions

        session_ids = list(
            conn.execute(select(sessions.c.id).where(sessions.c.exam_id == exam.id)).scalars()
        )
        left_out: dict[str, LeftOut] = {}
        for s in site_sessions(conn, session_ids):
            if s.problem is not None:
                scheduled = conn.execute(
                    select(cands.c.registration_number).where(cands.c.session_id == s.session_id)
                ).scalars()
                why = LeftOut(s.site_code, s.session_code, s.arrived, s.problem)
                left_out.update(dict.fromkeys(scheduled, why))
                continue
            finished = {int(a["candidate_id"]): a for a in s.attempts if a["status"] == "finished"}
            if not finished:
                continue
            people = conn.execute(
                select(cands.c.id, *who)
                .outerjoin(forms, forms.c.id == cands.c.formation_id)
                .where(cands.c.id.in_(list(finished)))
            ).all()
            for p in people:
                state_text = finished[p.id]["state_json"]
                if state_text:
                    found.append((p[1:], TestState.from_dict(json.loads(state_text))))
                else:  # not expected of a finished copy: said, not skipped silently
                    left_out[p.registration_number] = LeftOut(
                        s.site_code,
                        s.session_code,
                        True,
                        f"attempt {s.site_code}/{finished[p.id]['attempt_id']} (session"
                        f" {s.session_code}): its synced copy holds no final engine state",
                    )
    found.sort(key=lambda f: str(f[0][0]))
    bank = bank_from_json(exam.bank_json)
    states = [state for _, state in found]
    items, options = answers_of(states)
    return Population(
        exam_code,
        bank,
        [r[0] for r, _ in found],
        [r[1] for r, _ in found],
        [f"{r[2] or '-'} / {r[3] or '-'}" for r, _ in found],
        diagnose(bank, items, options) if found else [],
        left_out,
    )


def session_day(engine: Engine, attempt_id: int) -> tuple[str, str, str]:
    """(exam code, status of the attempt, the session's day YYYY-MM-DD) of an attempt."""
    import datetime as dt

    exams, sessions, attempts = _t(m.Exam), _t(m.ExamSession), _t(m.Attempt)
    with engine.connect() as conn:
        row = conn.execute(
            select(exams.c.code, attempts.c.status, sessions.c.starts_at)
            .select_from(attempts)
            .join(sessions, sessions.c.id == attempts.c.session_id)
            .join(exams, exams.c.id == sessions.c.exam_id)
            .where(attempts.c.id == attempt_id)
        ).first()
    if row is None:
        raise NotFound(f"no attempt {attempt_id}")
    day = dt.datetime.fromtimestamp(row.starts_at, dt.UTC).date().isoformat()
    return row.code, row.status, day


# -- survey -----------------------------------------------------------------------------


def survey_done(engine: Engine, attempt_id: int) -> bool:
    t = _t(am.AfterSurveyDone)
    with engine.connect() as conn:
        return (
            conn.execute(select(t.c.attempt_id).where(t.c.attempt_id == attempt_id)).first()
            is not None
        )


def mark_survey_done(engine: Engine, attempt_id: int) -> bool:
    """Record that the attempt has answered its survey (or declined it), in a
    transaction of its own: the answers are written later, in a batch of
    several candidates' (``exam_server.after_test.survey_pool``), so that no
    transaction, order or time in the database links them to the attempt.
    False when the attempt has answered already (nothing written)."""
    done = _t(am.AfterSurveyDone)
    with writer(engine).begin() as conn:
        if conn.execute(select(done.c.attempt_id).where(done.c.attempt_id == attempt_id)).first():
            return False
        conn.execute(insert(done).values(attempt_id=attempt_id))
    return True


def survey_rows(engine: Engine, exam_code: str) -> list[tuple[str, str, str, int]]:
    t = _t(am.AfterSurveyAnswer)
    with engine.connect() as conn:
        return [
            (r.submission, r.day, r.question, r.value)
            for r in conn.execute(
                select(t.c.submission, t.c.day, t.c.question, t.c.value).where(
                    t.c.exam_code == exam_code
                )
            )
        ]


# -- feedback -----------------------------------------------------------------------------


def recent_feedback(engine: Engine, source_mac: str, since: float) -> int:
    t = _t(am.AfterFeedback)
    with engine.connect() as conn:
        n = conn.execute(
            select(func.count()).where(t.c.source_mac == source_mac, t.c.created_at >= since)
        ).scalar_one()
    return int(n)


def add_feedback(
    engine: Engine, exam_code: str, category: str, text: str, digest: str, now: float, mac: str
) -> int:
    t = _t(am.AfterFeedback)
    with writer(engine).begin() as conn:
        res = conn.execute(
            insert(t).values(
                exam_code=exam_code,
                category=category,
                text=text,
                text_sha256=digest,
                status="pending",
                created_at=now,
                moderated_by="",
                moderation_note="",
                source_mac=mac,
            )
        )
        return int(res.inserted_primary_key[0])  # type: ignore[index]


def feedback_rows(
    engine: Engine, exam_code: str, statuses: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    t = _t(am.AfterFeedback)
    q = select(t).where(t.c.exam_code == exam_code).order_by(t.c.id)
    if statuses is not None:
        q = q.where(t.c.status.in_(list(statuses)))
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(q)]
    for r in rows:
        r.pop("source_mac", None)  # kept for the rate limit only
    return rows


def feedback_item(engine: Engine, item_id: int) -> dict[str, Any]:
    t = _t(am.AfterFeedback)
    with engine.connect() as conn:
        row = conn.execute(select(t).where(t.c.id == item_id)).first()
    if row is None:
        raise NotFound(f"no feedback item {item_id}")
    return dict(row._mapping)


def update_feedback(engine: Engine, item_id: int, expect_status: str, **values: Any) -> bool:
    """Update an item still in ``expect_status`` (False: someone moderated it meanwhile)."""
    t = _t(am.AfterFeedback)
    with writer(engine).begin() as conn:
        res = conn.execute(
            update(t).where(t.c.id == item_id, t.c.status == expect_status).values(**values)
        )
    return res.rowcount == 1


# -- appeals ------------------------------------------------------------------------------


def add_appeal(engine: Engine, **values: Any) -> int:
    t = _t(am.AfterAppeal)
    with writer(engine).begin() as conn:
        values.setdefault("evidence", "")
        res = conn.execute(insert(t).values(status="submitted", answered_by="", **values))
        return int(res.inserted_primary_key[0])  # type: ignore[index]


def appeal_rows(engine: Engine, exam_code: str) -> list[dict[str, Any]]:
    t = _t(am.AfterAppeal)
    with engine.connect() as conn:
        return [
            dict(r._mapping)
            for r in conn.execute(select(t).where(t.c.exam_code == exam_code).order_by(t.c.id))
        ]


def appeal(engine: Engine, appeal_id: int) -> dict[str, Any]:
    t = _t(am.AfterAppeal)
    with engine.connect() as conn:
        row = conn.execute(select(t).where(t.c.id == appeal_id)).first()
    if row is None:
        raise NotFound(f"no appeal {appeal_id}")
    return dict(row._mapping)


#: The audit events of appeals: a decision (accepted with its correction, or
#: rejected), and the accepted corrections a new publication version carries.
DECIDED = "appeal_decided"
PUBLISHED = CORRECTIONS_PUBLISHED  # audit verify reads it (exam_server.audit.records)


def decision_data(row: Mapping[str, Any]) -> dict[str, Any]:
    """What an ``appeal_decided`` event binds of a decided appeal row."""
    return {
        "appeal_id": int(row["id"]),
        "exam": row["exam_code"],
        "registration_number": row["registration_number"],
        "status": row["status"],
        "field": row["field"],
        "from": row["correction_from"],
        "to": row["correction_to"],
        "answer_sha256": hashlib.sha256(str(row["answer"] or "").encode()).hexdigest(),
    }


def decide_appeal(engine: Engine, appeal_id: int, *, actor: str = "cli", **values: Any) -> bool:
    """Record the agency's answer if the appeal is still open, with an
    ``appeal_decided`` audit event (by ``actor``) in the same transaction.
    False when it was answered meanwhile (nothing written). Raises
    :class:`~after_test.errors.Refused` when accepting a correction of a field
    that another accepted appeal of the candidate corrects and no published
    version carries yet (:func:`after_test.appeals.check_no_waiting_correction`).

    The candidate's appeals are read locked (a second decision of one of them
    waits for this one), so two such acceptances cannot both be stored."""
    t = _t(am.AfterAppeal)
    with writer(engine).begin() as conn:
        who = conn.execute(
            select(t.c.exam_code, t.c.registration_number).where(t.c.id == appeal_id)
        ).first()
        if who is None:
            return False
        theirs = {
            r.id: r
            for r in conn.execute(
                select(t)
                .where(
                    t.c.exam_code == who.exam_code,
                    t.c.registration_number == who.registration_number,
                )
                .with_for_update()
            )
        }
        if theirs[appeal_id].status != "submitted":
            return False
        row = {**theirs[appeal_id]._mapping, **values}
        if row["status"] == "accepted":
            appeal_rules.check_no_waiting_correction(
                str(row["field"]),
                {
                    i: str(r.field)
                    for i, r in theirs.items()
                    if i != appeal_id and r.status == "accepted" and r.version is None
                },
            )
        conn.execute(update(t).where(t.c.id == appeal_id).values(**values))
        audit.append(conn, DECIDED, actor, data=decision_data(row), at=row.get("answered_at"))
    return True


def unpublished_corrections(engine: Engine, exam_code: str) -> list[dict[str, Any]]:
    t = _t(am.AfterAppeal)
    with engine.connect() as conn:
        return [
            dict(r._mapping)
            for r in conn.execute(
                select(t)
                .where(t.c.exam_code == exam_code, t.c.status == "accepted", t.c.version.is_(None))
                .order_by(t.c.id)
            )
        ]


def undecided_corrections(engine: Engine, rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The accepted appeals among ``rows`` whose correction is not the one their
    ``appeal_decided`` audit event recorded: no such event (a row written past
    :func:`decide_appeal`), another value, field, candidate or answer (a row
    changed since), or an event whose hash does not match its content. One
    line per appeal; empty when every row is as it was decided."""
    wanted = {int(r["id"]) for r in rows}
    events: dict[int, tuple[dict[str, Any], bool]] = {}
    with engine.connect() as conn:
        for e in conn.execute(select(AUDIT).where(AUDIT.c.kind == DECIDED).order_by(AUDIT.c.id)):
            data = json.loads(e.data_json or "{}")
            aid = data.get("appeal_id")
            if isinstance(aid, int) and aid in wanted:
                events[aid] = (data, event_hash(e.prev_hash, dict(e._mapping)) == e.hash)
    out = []
    for r in rows:
        aid = int(r["id"])
        if aid not in events:
            out.append(f"appeal {aid}: accepted, but the audit log has no decision of it")
            continue
        data, intact = events[aid]
        if not intact:
            out.append(f"appeal {aid}: its decision's audit event was changed")
        elif data != decision_data(r):
            differ = sorted(k for k, v in decision_data(r).items() if data.get(k) != v)
            out.append(f"appeal {aid}: {', '.join(differ)} stored differ from its audited decision")
    return out


def mark_published(
    engine: Engine,
    appeal_ids: Sequence[int],
    version: int,
    corrections: Sequence[tuple[str, str, str]],
    *,
    actor: str = "cli",
    exam_code: str = "",
    manifest_sha256: str = "",
) -> None:
    """Mark appeals as carried by ``version`` and bring the candidates' clerical
    data in the server's tables to the corrected values ((regno, field, value);
    SKB scores live in the agency's SKB file, not here), with an
    ``appeal_corrections_published`` audit event naming every change."""
    t, cands = _t(am.AfterAppeal), _t(m.Candidate)
    with writer(engine).begin() as conn:
        conn.execute(update(t).where(t.c.id.in_(list(appeal_ids))).values(version=version))
        changed = []
        for regno, field_, value in corrections:
            if field_ in ("name", "category"):
                old = _candidate_value(conn, regno, field_)
                conn.execute(
                    update(cands)
                    .where(cands.c.registration_number == regno)
                    .values({field_: value})
                )
                changed.append(
                    {"registration_number": regno, "field": field_, "from": old, "to": value}
                )
        audit.append(
            conn,
            PUBLISHED,
            actor,
            data={
                "exam": exam_code,
                "version": version,
                "manifest_sha256": manifest_sha256,
                "appeals": sorted(int(i) for i in appeal_ids),
                "corrections": [
                    {"registration_number": r, "field": f, "to": v} for r, f, v in corrections
                ],
                "candidates_changed": changed,
            },
        )


def _candidate_value(conn: Connection, regno: str, field_: str) -> Any:
    cands = _t(m.Candidate)
    return conn.execute(
        select(cands.c[field_]).where(cands.c.registration_number == regno)
    ).scalar_one_or_none()
