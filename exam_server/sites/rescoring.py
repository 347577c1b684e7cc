"""A finished attempt scored again at the centre from its synced answers
(:func:`exam_server.audit.recompute_score` under the exam's policy) and
compared with the site's result.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Rescored:
    """A site's finished attempt scored again at the centre.

    problems: sentences naming the attempt (empty: the site's result is the
    centre's); total, passed: the centre's own result (None when the synced
    answers cannot be scored)."""

    problems: tuple[str, ...]
    total: float | None = None
    passed: bool | None = None


def finished_copies(
    conn: Connection, site_id: int, attempt_ids: set[int] | None, *, pending_only: bool
) -> tuple[list[tuple[Any, ChainHead, dict[str, Any], dict[str, Any]]], list[int]]:
    """The finished attempts of ``site_id`` (``attempt_ids``; None: all) with
    what scoring them again needs: each attempt's row (with its exam's
    design, bank and policy and its candidate's category), its answer
    chain's head here, and its start and finish events' data. Returns
    ``(complete, incomplete)``: the attempts whose answers and both events
    have all arrived, and the ids of the others. pending_only: only those
    not yet checked (``centre_check = pending``), as sync scores each once."""
    if attempt_ids is not None and not attempt_ids:
        return [], []
    where = [S_ATTEMPT.c.site_id == site_id, S_ATTEMPT.c.status == "finished"]
    if attempt_ids is not None:
        where.append(S_ATTEMPT.c.attempt_id.in_(sorted(attempt_ids)))
    if pending_only:
        where.append(S_ATTEMPT.c.centre_check == "pending")
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
            .where(*where)
            .order_by(S_ATTEMPT.c.attempt_id)
        )
        .mappings()
        .all()
    )
    if not rows:
        return [], []
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
    complete: list[tuple[Any, ChainHead, dict[str, Any], dict[str, Any]]] = []
    incomplete: list[int] = []
    for a in rows:
        aid = int(a["attempt_id"])
        head = heads.get(aid, ChainHead(position=0, hash=""))
        start, finish = events.get((aid, "start")), events.get((aid, "finish"))
        if head.position != a["last_seq"] or start is None or finish is None:
            incomplete.append(aid)
        else:
            complete.append((a, head, start, finish))
    return complete, incomplete


def _check_results(conn: Connection, site_id: int, attempt_ids: set[int], out: _Outcome) -> None:
    """Score again every finished attempt of ``attempt_ids`` whose answers and
    finish event are all here (the rest is checked when it arrives); store
    the centre's result and whether it equals the site's."""
    complete, _ = finished_copies(conn, site_id, attempt_ids, pending_only=True)
    rules: dict[int, ExamRules] = {}
    for a, head, start, finish in complete:
        got = rescore(conn, site_id, a, head, start, finish, rules)
        for p in got.problems:
            out.conflict("differs", p)
        _set_check(
            conn,
            site_id,
            int(a["attempt_id"]),
            got.total,
            got.passed,
            "differs" if got.problems else "equal",
        )


def _json_object(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def rescore(
    conn: Connection,
    site_id: int,
    a: Any,
    head: ChainHead,
    start: dict[str, Any],
    finish: dict[str, Any],
    rules: dict[int, ExamRules],
) -> Rescored:
    """Score one finished attempt again from its synced answers and compare
    with the site's result (an entry of :func:`finished_copies`; ``rules``
    caches each exam's). The one rule of whether a site's result holds at
    the centre: sync applies it to what arrives, ``seleksi audit verify`` to
    everything held. What the site sent that cannot even be read as a result
    is a problem, never an exception."""
    try:
        return _rescore(conn, site_id, a, head, start, finish, rules)
    except (ValueError, TypeError, KeyError, EngineError) as exc:
        return Rescored((f"attempt {a['attempt_id']}: its result cannot be checked ({exc})",))


def _rescore(
    conn: Connection,
    site_id: int,
    a: Any,
    head: ChainHead,
    start: dict[str, Any],
    finish: dict[str, Any],
    rules: dict[int, ExamRules],
) -> Rescored:
    aid = int(a["attempt_id"])
    if head.hash != a["response_head"] or finish.get("response_head") != head.hash:
        return Rescored((f"attempt {aid}: its answers differ from its finish event",))
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
        return Rescored((f"attempt {aid}: its synced answers cannot be scored: {exc}",))
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
    return Rescored(
        tuple(f"site result: {p}" for p in problems), float(score["total"]), expected[0]
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
