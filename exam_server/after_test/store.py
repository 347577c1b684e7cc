"""The after-the-test tables and the exam data the reports read: blocking
functions (SQLAlchemy Core), called from worker threads by the endpoints and
by ``seleksi after``. The rules themselves live in :mod:`after_test`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.engine import Engine

from after_test import models as am
from after_test.diagnostics import SubtestDiagnostics, answers_of, diagnose
from after_test.policy import AfterTestPolicy
from cat_engine.bank import BankArrays
from cat_engine.state import TestState
from exam_server import models as m
from exam_server import state_codec
from exam_server.snapshot import bank_from_json


def _t(model: Any) -> Table:
    return model.__table__


class NotFound(LookupError):
    """No such exam, appeal or feedback item (the message names it)."""


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
    with engine.begin() as conn:
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
    with engine.begin() as conn:
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
    with engine.begin() as conn:
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
    with engine.begin() as conn:
        res = conn.execute(
            update(t).where(t.c.id == item_id, t.c.status == expect_status).values(**values)
        )
    return res.rowcount == 1


# -- appeals ------------------------------------------------------------------------------


def add_appeal(engine: Engine, **values: Any) -> int:
    t = _t(am.AfterAppeal)
    with engine.begin() as conn:
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


def decide_appeal(engine: Engine, appeal_id: int, **values: Any) -> bool:
    """Record the agency's answer if the appeal is still open (False: answered meanwhile)."""
    t = _t(am.AfterAppeal)
    with engine.begin() as conn:
        res = conn.execute(
            update(t).where(t.c.id == appeal_id, t.c.status == "submitted").values(**values)
        )
    return res.rowcount == 1


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


def mark_published(
    engine: Engine,
    appeal_ids: Sequence[int],
    version: int,
    corrections: Sequence[tuple[str, str, str]],
) -> None:
    """Mark appeals as carried by ``version`` and bring the candidates' clerical
    data in the server's tables to the corrected values ((regno, field, value);
    SKB scores live in the agency's SKB file, not here)."""
    t, cands = _t(am.AfterAppeal), _t(m.Candidate)
    with engine.begin() as conn:
        conn.execute(update(t).where(t.c.id.in_(list(appeal_ids))).values(version=version))
        for regno, field, value in corrections:
            if field in ("name", "category"):
                conn.execute(
                    update(cands).where(cands.c.registration_number == regno).values({field: value})
                )
