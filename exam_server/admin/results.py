"""What an admin reads of the attempts: a session's attempts with scores and
pass/fail, one attempt with its score. The proctor's grid shows the same rows
without scores."""

from __future__ import annotations

import json
from typing import Any

import anyio.to_thread
from sqlalchemy import func, select
from sqlmodel import Session, col
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from exam_server.admin.common import _int_param, _now
from exam_server.clock import remaining_seconds
from exam_server.context import context
from exam_server.http import ApiError, Endpoint
from exam_server.models import Attempt, Candidate, ExamSession
from exam_server.presence import seen_alive
from exam_server.results.outcomes import absent_now


def _attempt_rows(
    engine: Any, session_id: int, with_scores: bool, now: float
) -> list[dict[str, Any]]:
    """The session's attempts as the API shows them (``now``: the server's time).

    ``status`` is the stored one, except ``absent`` for a candidate who never
    came (:func:`exam_server.results.outcomes.never_taken`) once the session
    is closed or closing it finished the attempt: TH on the board, in the
    proctor grid and in the published results too."""
    with Session(engine) as s:
        sess = s.get(ExamSession, session_id)
        closed = sess is not None and sess.status == "closed"
        rows = s.execute(
            select(Attempt, Candidate)
            .join(Candidate, col(Candidate.id) == col(Attempt.candidate_id))
            .where(col(Attempt.session_id) == session_id)
            .order_by(col(Candidate.registration_number))
        ).all()
        seen = seen_alive(s, [a for a, _ in rows])
    out = []
    for a, c in rows:
        row = {
            "attempt_id": a.id,
            "registration_number": c.registration_number,
            "name": c.name,
            "category": c.category,
            "status": "absent"
            if absent_now(a.status, a.terminal_id, a.last_seq, closed)
            else a.status,
            "terminal_id": a.terminal_id,
            "terminal_released": a.terminal_released,
            "remaining_seconds": remaining_seconds(a.remaining_at_start, a.running_since, now),
            "deadline": a.deadline_at,
            "last_seq": a.last_seq,
            "last_seen_at": seen.get(a.id or 0, a.last_seen_at),
            "finish_reason": a.finish_reason,
        }
        if with_scores:
            row.update(
                {
                    "total": a.total_points,
                    "passed": a.passed,
                    "pass_reason": a.pass_reason,
                    "score": json.loads(a.score_json) if a.score_json else None,
                }
            )
        out.append(row)
    return out


async def session_attempts(request: Request) -> Response:
    sid = _int_param(request, "session_id")
    rows = await anyio.to_thread.run_sync(
        _attempt_rows, context(request.app).engine, sid, True, _now(request)
    )
    return JSONResponse(rows)


async def attempt_detail(request: Request) -> Response:
    aid = _int_param(request, "attempt_id")

    def q() -> dict[str, Any] | None:
        from exam_server.models import Response as Resp

        with Session(context(request.app).engine) as s:
            a = s.get(Attempt, aid)
            if a is None:
                return None
            c = s.get(Candidate, a.candidate_id)
            n = s.execute(
                select(func.count()).select_from(Resp).where(col(Resp.attempt_id) == aid)
            ).scalar()
            return {
                "attempt_id": a.id,
                "session_id": a.session_id,
                "registration_number": c.registration_number if c else None,
                "status": a.status,
                "finish_reason": a.finish_reason,
                "total": a.total_points,
                "passed": a.passed,
                "pass_reason": a.pass_reason,
                "responses": n,
                "score": json.loads(a.score_json) if a.score_json else None,
                "started_at": a.started_at,
                "finished_at": a.finished_at,
            }

    d = await anyio.to_thread.run_sync(q)
    if d is None:
        raise ApiError(404, "not_found", "no such attempt")
    return JSONResponse(d)


ENDPOINTS: list[Endpoint] = [
    Endpoint(
        "GET",
        "/api/admin/sessions/{session_id:int}/attempts",
        session_attempts,
        "attempts of a session with scores and pass/fail",
        ("admin",),
    ),
    Endpoint(
        "GET",
        "/api/admin/attempts/{attempt_id:int}",
        attempt_detail,
        "one attempt with its score",
        ("admin",),
        responses={"404": "no such attempt"},
    ),
]
