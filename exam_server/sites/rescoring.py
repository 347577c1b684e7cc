"""A finished attempt scored again at the centre from its synced answers
(:func:`exam_server.audit.recompute_score` under the exam's policy) and
compared with the site's result.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.engine import Connection

from cat_engine.errors import EngineError
from exam_server.audit import (
    ExamRules,
    ReplayError,
    compare_score,
    recompute_score,
    score_digest,
    verdict,
)
from exam_server.sites.copies import (
    CANDIDATE,
    EXAM,
    S_ATTEMPT,
    S_AUDIT,
    S_RESPONSE,
    SESSION,
    _Outcome,
    positions_of,
)
from exam_server.sites.wire import ChainHead


def _check_results(conn: Connection, site_id: int, attempt_ids: set[int], out: _Outcome) -> None:
    """Score again every finished attempt of ``attempt_ids`` whose answers and
    finish event are all here; store the centre's result and whether it
    equals the site's."""
    if not attempt_ids:
        return
    rows = (
        conn.execute(
            select(
                S_ATTEMPT,
                EXAM.c.design_json,
                EXAM.c.bank_json,
                EXAM.c.policy_json,
                EXAM.c.id.label("exam_id"),
                CANDIDATE.c.category,
            )
            .join(SESSION, SESSION.c.id == S_ATTEMPT.c.session_id)
            .join(EXAM, EXAM.c.id == SESSION.c.exam_id)
            .join(CANDIDATE, CANDIDATE.c.id == S_ATTEMPT.c.candidate_id)
            .where(
                S_ATTEMPT.c.site_id == site_id,
                S_ATTEMPT.c.attempt_id.in_(sorted(attempt_ids)),
                S_ATTEMPT.c.status == "finished",
                S_ATTEMPT.c.centre_check == "pending",
            )
        )
        .mappings()
        .all()
    )
    if not rows:
        return
    ids = [int(r["attempt_id"]) for r in rows]
    heads = positions_of(conn, site_id, ids)
    events: dict[tuple[int, str], dict[str, Any]] = {}
    for aid, kind, data in conn.execute(
        select(S_AUDIT.c.attempt_id, S_AUDIT.c.kind, S_AUDIT.c.data_json).where(
            S_AUDIT.c.site_id == site_id,
            S_AUDIT.c.attempt_id.in_(ids),
            or_(S_AUDIT.c.kind == "start", S_AUDIT.c.kind == "finish"),
        )
    ):
        events[(int(aid), str(kind))] = _json_object(data)
    rules: dict[int, ExamRules] = {}
    for a in rows:
        aid = int(a["attempt_id"])
        head = heads.get(aid, ChainHead(position=0, hash=""))
        start, finish = events.get((aid, "start")), events.get((aid, "finish"))
        if head.position != a["last_seq"] or start is None or finish is None:
            continue  # not all here yet: checked when the rest arrives
        try:
            _check_one(conn, site_id, a, head, start, finish, rules, out)
        except (ValueError, TypeError, KeyError, EngineError) as exc:
            # What the site sent cannot even be read as a result: a failure
            # to show, never a crash of the sync.
            out.conflict("differs", f"attempt {aid}: its result cannot be checked ({exc})")
            _set_check(conn, site_id, aid, None, None, "differs")


def _json_object(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _check_one(
    conn: Connection,
    site_id: int,
    a: Any,
    head: ChainHead,
    start: dict[str, Any],
    finish: dict[str, Any],
    rules: dict[int, ExamRules],
    out: _Outcome,
) -> None:
    """Score one finished attempt again and compare (see :func:`_check_results`)."""
    aid = int(a["attempt_id"])
    if head.hash != a["response_head"] or finish.get("response_head") != head.hash:
        out.conflict("differs", f"attempt {aid}: its answers differ from its finish event")
        _set_check(conn, site_id, aid, None, None, "differs")
        return
    eid = int(a["exam_id"])
    if eid not in rules:
        rules[eid] = ExamRules.from_row(a["design_json"], a["bank_json"], a["policy_json"])
    answers = [
        dict(r)
        for r in conn.execute(
            select(S_RESPONSE)
            .where(S_RESPONSE.c.site_id == site_id, S_RESPONSE.c.attempt_id == aid)
            .order_by(S_RESPONSE.c.seq)
        ).mappings()
    ]
    try:
        score, _ = recompute_score(
            rules[eid],
            int(start.get("seed", a["seed"])),
            answers,
            a["finish_reason"] or "submitted",
            a["state_json"],
        )
    except ReplayError as exc:
        out.conflict("differs", f"attempt {aid}: its synced answers cannot be scored: {exc}")
        _set_check(conn, site_id, aid, None, None, "differs")
        return
    expected = verdict(rules[eid].policy, str(a["category"]), score)
    stored = _json_object(a["score_json"])
    problems = compare_score(
        aid, stored, score, a["total_points"], a["passed"], a["pass_reason"], expected
    )
    digest = finish.get("score_digest")
    if (
        a["total_points"] is not None
        and isinstance(digest, str)
        and digest != score_digest(stored, float(a["total_points"]), a["passed"])
    ):
        problems.append(f"attempt {aid}: its result differs from its finish event")
    for p in problems:
        out.conflict("differs", f"site result: {p}")
    _set_check(
        conn,
        site_id,
        aid,
        float(score["total"]),
        expected[0],
        "differs" if problems else "equal",
    )


def _set_check(
    conn: Connection,
    site_id: int,
    aid: int,
    total: float | None,
    passed: bool | None,
    check: str,
) -> None:
    conn.execute(
        S_ATTEMPT.update()
        .where(S_ATTEMPT.c.site_id == site_id, S_ATTEMPT.c.attempt_id == aid)
        .values(centre_total=total, centre_passed=passed, centre_check=check)
    )
