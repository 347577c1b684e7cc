"""Build the ranking inputs of one exam from the server's tables.

The only module of :mod:`exam_server.results` that reads the database. For
each candidate scheduled into a session of the exam:

* a finished attempt gives ``finished`` with the points of each section of the
  stored score (``Attempt.score_json``, the engine's ``TestScore.to_dict()``);
* a voided attempt gives ``voided`` with no note: the publication prints the
  result code (DIS) and the policy's fixed public reason, never the proctor's
  free text, which may name a person or a suspicion and stays internal (in
  the audit log, kind ``void``, for the authorities who review the case);
* no attempt, or one the server prepared that no terminal ever took and
  that holds no answer (finished by closing the session), gives ``absent``;
* an attempt still running or paused is an error: results wait for the end.

The responses hash is :func:`~exam_server.results.outcomes.responses_digest`
of the attempt's stored response rows (sequence, kind, item position, item
id, option, flag), so changing one stored response changes the published hash.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, create_engine, event, select
from sqlalchemy.engine import Engine

from exam_server import models as m
from exam_server.results.outcomes import (
    ABSENT,
    FINISHED,
    VOIDED,
    CandidateOutcome,
    Formation,
    never_taken,
    responses_digest,
)
from exam_server.results.rules import RankingPolicy


class SourceError(ValueError):
    """The database does not hold what a ranking needs; the message names the record."""


def read_engine(database: str) -> Engine:
    """An engine for reading results: one consistent snapshot, and no write lock.

    ``database`` is a URL or a SQLite file path. The server's own engine starts
    every SQLite transaction with ``BEGIN IMMEDIATE`` (the write lock); reading
    a national exam under it would stall the server's writers, so this one
    begins deferred (a WAL read snapshot). PostgreSQL reads at REPEATABLE READ,
    so every table is read at the same moment.
    """
    url = database if "://" in database else f"sqlite:///{Path(database).resolve()}"
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"isolation_level": None, "timeout": 30})

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN")

        return engine
    return create_engine(url, isolation_level="REPEATABLE READ")


def _t(model: Any) -> Table:
    return cast(Table, model.__table__)


def exam_title(engine: Engine, exam_code: str) -> str:
    return exam_document(engine, exam_code)["title"]


def exam_document(engine: Engine, exam_code: str) -> dict[str, Any]:
    """The exam as the results commands see it: ``id`` (code), ``title`` and
    ``policy`` (the ranking policy document the exam stores, which its
    candidates were judged by on the terminal)."""
    exams = _t(m.Exam)
    with engine.connect() as conn:
        row = conn.execute(
            select(exams.c.name, exams.c.policy_json).where(exams.c.code == exam_code)
        ).first()
    if row is None:
        raise SourceError(f"no exam with code {exam_code!r}")
    policy = RankingPolicy.of_exam(row[1])
    return {"id": exam_code, "title": str(row[0]), "policy": policy.to_dict()}


def _section_points(score_json: str | None, regno: str) -> dict[str, float]:
    if not score_json:
        raise SourceError(f"candidate {regno}: finished attempt has no stored score")
    try:
        score: Any = json.loads(score_json)
        return {str(s["code"]): float(s["points"]) for s in score["sections"]}
    except (ValueError, KeyError, TypeError) as exc:
        raise SourceError(f"candidate {regno}: stored score is malformed ({exc!r})") from None


def _formation(row: Any) -> Formation:
    position, agency, location = row.position or "", row.agency or "", row.location or ""
    name = " — ".join(x for x in (position, ", ".join(y for y in (agency, location) if y)) if x)
    try:
        return Formation(
            id=row.code,
            openings=int(row.openings),
            name=name,
            # The same position of the same agency at other locations may fill
            # each other's vacant openings in the optimisation step.
            group=f"{agency}/{position}" if position else None,
        )
    except ValueError as exc:
        raise SourceError(f"formation {row.code!r}: {exc}") from None


def load_outcomes(engine: Engine, exam_code: str) -> tuple[list[Formation], list[CandidateOutcome]]:
    """Formations and candidates' outcomes of exam ``exam_code`` (see the module docstring)."""
    exams, sessions, candidates = _t(m.Exam), _t(m.ExamSession), _t(m.Candidate)
    attempts_t, responses_t = _t(m.Attempt), _t(m.Response)
    with engine.connect() as conn, conn.begin():
        exam = conn.execute(select(exams.c.id).where(exams.c.code == exam_code)).first()
        if exam is None:
            raise SourceError(f"no exam with code {exam_code!r}")
        session_status = {
            r[0]: (r[1], r[2])
            for r in conn.execute(
                select(sessions.c.id, sessions.c.status, sessions.c.code).where(
                    sessions.c.exam_id == exam[0]
                )
            )
        }
        session_ids = list(session_status)
        cands = conn.execute(
            select(candidates).where(candidates.c.session_id.in_(session_ids))
        ).all()
        formations_rows = conn.execute(select(_t(m.Formation))).all()
        attempts = conn.execute(
            select(attempts_t).where(attempts_t.c.session_id.in_(session_ids))
        ).all()
        attempt_ids = [a.id for a in attempts]
        r = responses_t.c
        responses = conn.execute(
            select(r.attempt_id, r.seq, r.kind, r.number, r.item_id, r.option, r.flagged).where(
                r.attempt_id.in_(attempt_ids)
            )
        ).all()
        # Sessions run at exam sites count by their verified copies (docs/sites.md).
        from exam_server.sites.results import site_rows

        site_attempts, site_responses = site_rows(conn, session_ids)

    formation_by_id = {r.id: r for r in formations_rows}
    by_candidate: dict[int, list[Any]] = {}
    for a in [*attempts, *site_attempts]:
        by_candidate.setdefault(a.candidate_id, []).append(a)
    responses_by_attempt: dict[int, list[dict[str, Any]]] = {}
    for row in [*responses, *site_responses]:
        responses_by_attempt.setdefault(row.attempt_id, []).append(
            {
                "seq": row.seq,
                "kind": row.kind,
                "number": row.number,
                "item": row.item_id,
                "option": row.option,
                "flagged": bool(row.flagged),
            }
        )
    used_formations: dict[int, Formation] = {}
    outcomes: list[CandidateOutcome] = []
    for c in cands:
        regno = c.registration_number
        if c.formation_id is None or c.formation_id not in formation_by_id:
            raise SourceError(f"candidate {regno}: has no formation")
        f = used_formations.get(c.formation_id) or _formation(formation_by_id[c.formation_id])
        used_formations[c.formation_id] = f
        try:
            birth = dt.date.fromisoformat(c.birth_date) if c.birth_date else None
        except ValueError:
            raise SourceError(
                f"candidate {regno}: birth_date {c.birth_date!r} is not a date"
            ) from None
        outcomes.append(
            _outcome(
                c,
                f,
                birth,
                by_candidate.get(c.id, []),
                responses_by_attempt,
                session_status,
            )
        )
    return sorted(used_formations.values(), key=lambda f: f.id), outcomes


def _outcome(
    c: Any,
    f: Formation,
    birth: dt.date | None,
    attempts: Sequence[Any],
    responses: dict[int, list[dict[str, Any]]],
    session_status: dict[int, tuple[str, str]],
) -> CandidateOutcome:
    regno = c.registration_number
    common: dict[str, Any] = {
        "registration_number": regno,
        "formation": f.id,
        "category": c.category,
        "name": c.name,
        "birth_date": birth,
    }
    # The server assembles every scheduled candidate's test when the session
    # opens, and closing the session finishes what is left. An attempt that no
    # terminal ever took and that holds no answer is a candidate who did not
    # come — once the session is closed (before that, they may still come).
    untouched = [a for a in attempts if never_taken(a.status, a.terminal_id, a.last_seq)]
    for a in untouched:
        status, code = session_status.get(a.session_id, ("?", "?"))
        if a.status in ("running", "paused") and status != "closed":
            raise SourceError(
                f"candidate {regno}: has not come yet and session {code} is still {status}; "
                "close the session before computing results"
            )
    attempts = [a for a in attempts if a not in untouched]
    finished = [a for a in attempts if a.status == "finished"]
    voided = [a for a in attempts if a.status == "void"]
    active = [a for a in attempts if a.status not in ("finished", "void")]
    if active:
        raise SourceError(
            f"candidate {regno}: attempt {active[0].id} is still {active[0].status}; "
            "results are computed after every attempt has ended"
        )
    if voided:
        a = voided[-1]
        return CandidateOutcome(
            **common,
            status=VOIDED,
            responses_hash=responses_digest(responses.get(a.id, [])),
        )
    if len(finished) > 1:
        raise SourceError(f"candidate {regno}: {len(finished)} finished attempts in one exam")
    if not finished:
        return CandidateOutcome(**common, status=ABSENT)
    a = finished[0]
    return CandidateOutcome(
        **common,
        status=FINISHED,
        scores=_section_points(a.score_json, regno),
        responses_hash=responses_digest(responses.get(a.id, [])),
    )
