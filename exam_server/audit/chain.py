"""The chains themselves: the audit log's rows and each attempt's responses,
hashed over canonical JSON, and what the start and finish events hold
(:func:`score_digest` binds a score to the finish event)."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from cat_engine import engine as cat
from exam_server.forensics.models import WithdrawnItem
from exam_server.models import (
    Attempt,
    AttemptSnapshot,
    AuditEvent,
    AuditHead,
    Candidate,
    Exam,
    ExamSession,
    Response,
)

AUDIT = AuditEvent.__table__  # type: ignore[attr-defined]
HEAD = AuditHead.__table__  # type: ignore[attr-defined]
RESPONSE = Response.__table__  # type: ignore[attr-defined]
ATTEMPT = Attempt.__table__  # type: ignore[attr-defined]
SNAPSHOT = AttemptSnapshot.__table__  # type: ignore[attr-defined]
SESSION = ExamSession.__table__  # type: ignore[attr-defined]
EXAM = Exam.__table__  # type: ignore[attr-defined]
CANDIDATE = Candidate.__table__  # type: ignore[attr-defined]
WITHDRAWN = WithdrawnItem.__table__  # type: ignore[attr-defined]


#: The canonical JSON of everything hashed: what ``json.dumps(obj,
#: sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` gives (it
#: builds this same encoder on every call; one kept saves a fifth of the
#: answer's hash).
_CANON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _canon(obj: Any) -> str:
    return _CANON.encode(obj)


def event_hash(prev_hash: str, row: dict[str, Any]) -> str:
    body = {
        k: row[k]
        for k in ("at", "kind", "actor", "session_id", "attempt_id", "reason", "data_json")
    }
    return hashlib.sha256((prev_hash + "|" + _canon(body)).encode()).hexdigest()


#: Response fields a replay reads that were added later: hashed when present,
#: so the rows written before them keep their hashes.
_REPLAY_FIELDS = ("server_elapsed", "chosen")


def response_hash(prev_hash: str, row: dict[str, Any]) -> str:
    body = {
        k: row[k]
        for k in ("attempt_id", "seq", "kind", "number", "item_id", "option", "flagged", "at")
    }
    for k in _REPLAY_FIELDS:
        if row.get(k) is not None:
            body[k] = row[k]
    return hashlib.sha256((prev_hash + "|" + _canon(body)).encode()).hexdigest()


def encode_choices(choices: cat.Choices | None) -> str | None:
    """The ``chosen`` column of an adaptive answer: its next-item choices as
    compact JSON, ``[[item, [refused, ...]], ...]`` (None: nothing recorded)."""
    if choices is None:
        return None
    return json.dumps([[i, list(r)] for i, r in choices.made], separators=(",", ":"))


def append(
    conn: Connection,
    kind: str,
    actor: str,
    *,
    session_id: int | None = None,
    attempt_id: int | None = None,
    reason: str = "",
    data: dict[str, Any] | None = None,
    at: float | None = None,
) -> str:
    """Append one audit event inside the caller's transaction; returns its hash."""
    head = conn.execute(select(HEAD).where(HEAD.c.id == 1).with_for_update()).first()
    if head is None:
        conn.execute(insert(HEAD).values(id=1, last_id=0, last_hash=""))
        prev = ""
    else:
        prev = head.last_hash
    row = {
        "at": round(time.time() if at is None else at, 6),
        "kind": kind,
        "actor": actor,
        "session_id": session_id,
        "attempt_id": attempt_id,
        "reason": reason,
        "data_json": _canon(data or {}),
    }
    h = event_hash(prev, row)
    new_id = conn.execute(insert(AUDIT).values(**row, prev_hash=prev, hash=h)).inserted_primary_key
    conn.execute(
        update(HEAD).where(HEAD.c.id == 1).values(last_id=int(new_id[0]), last_hash=h)  # type: ignore[index]
    )
    return h


def start_event_data(
    seed: int,
    terminal_id: str | None,
    candidate: Mapping[str, Any] | None = None,
    form_sha256: str | None = None,
) -> dict[str, Any]:
    """The data of an attempt's ``start`` event: the seed :func:`verify` replays
    the answers from, the terminal it started on, (``candidate``, from
    :func:`candidate_facts``) whose test it is as the ranking reads it, and
    (``form_sha256``, :func:`form_digest`) the state the test started in,
    stored as the attempt's first snapshot."""
    out: dict[str, Any] = {"seed": seed, "terminal_id": terminal_id}
    if candidate is not None:
        out["candidate"] = dict(candidate)
    if form_sha256 is not None:
        out["form_sha256"] = form_sha256
    return out


def form_digest(state_json: str) -> str:
    """SHA-256 hex of the JSON of the engine state a test started in (what
    ``exam_attempt_snapshot`` holds at seq 0, decompressed). A linear form is
    assembled by a solver with a time limit: on a busy machine the same seed
    can give another form, so :func:`verify` replays from this bound state
    when the seed's form does not fit the answers."""
    return hashlib.sha256(state_json.encode()).hexdigest()


def candidate_facts(conn: Connection, candidate_id: int) -> dict[str, Any]:
    """What a ranking reads of a candidate, bound into the ``start`` event so
    that verify reports a later change of the row: the registration number,
    category and formation (which list), the name (what is published), the
    birth date (a tie-break of the final ranking), the session and its exam
    (a candidate taken out of the session, or the session moved to another
    exam, drops out of the exam's ranking)."""
    return candidates_facts(conn, [candidate_id])[candidate_id]


def candidates_facts(conn: Connection, candidate_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """:func:`candidate_facts` of several candidates (id → facts; ids with no
    row left out): one statement, also for the centre's check of a site's
    attempts (``exam_server.sites.results``)."""
    rows = conn.execute(
        select(
            CANDIDATE.c.id,
            CANDIDATE.c.registration_number,
            CANDIDATE.c.category,
            CANDIDATE.c.formation_id,
            CANDIDATE.c.name,
            CANDIDATE.c.birth_date,
            CANDIDATE.c.session_id,
            SESSION.c.exam_id,
        )
        .select_from(CANDIDATE.outerjoin(SESSION, SESSION.c.id == CANDIDATE.c.session_id))
        .where(CANDIDATE.c.id.in_(list(candidate_ids)))
    ).mappings()
    return {int(r["id"]): {k: v for k, v in r.items() if k != "id"} for r in rows}


def finish_event_data(
    response_head: str, score: Mapping[str, Any], total: float, passed: bool | None
) -> dict[str, Any]:
    """The data of an attempt's ``finish`` event: its answer chain's head and
    its result, bound by :func:`score_digest` (what :func:`verify` checks)."""
    return {
        "response_head": response_head,
        "total": total,
        "passed": passed,
        "score": dict(score),
        "score_digest": score_digest(score, total, passed),
    }


def score_digest(score: Mapping[str, Any], total: float, passed: bool | None) -> str:
    """SHA-256 hex of the canonical JSON of a finished attempt's result: the
    engine's score (``TestScore.to_dict()``, as stored in ``score_json``),
    ``total_points`` and ``passed``. The ``finish`` audit event carries it as
    ``score_digest``, so the stored result cannot change without breaking the
    chain. Floats are written as Python's shortest round-trip text, so the
    digest of the stored row read back equals the digest made at finish."""
    body = {"score": score, "total": float(total), "passed": passed}
    return hashlib.sha256(_canon(body).encode()).hexdigest()
