"""The centre's side of sync: a site's batches stored exactly once and
verified as they arrive.

Each record is checked with the rule that made it: an audit event's hash
with :func:`exam_server.audit.event_hash`, an answer's with
:func:`exam_server.audit.response_hash`, a checkpoint line's signature with
:func:`exam_server.checkpoints.signature_ok` under the site's checkpoint key,
and each line's recorded heads against the records synced. A finished
attempt whose answers and finish event have all arrived is scored again
here (:func:`exam_server.audit.recompute_score` under the exam's policy), so
the centre's result is its own, and compared with the site's.

Outcomes per record: stored; a duplicate (same position, same hash: a
resend); a conflict (same position, another hash, or a record that does not
link to the stored one while the site built the batch on it: the site
rewrote what it had synced), recorded as a :class:`SiteProblem` and not
stored; a gap (a record whose predecessor is not here): the whole batch is
refused with :class:`Gap`, so nothing from it is stored.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import bindparam, or_, select, tuple_
from sqlalchemy.engine import Connection, Engine

from cat_engine.errors import EngineError
from exam_server import checkpoints as cps
from exam_server.audit import (
    ExamRules,
    ReplayError,
    compare_score,
    event_hash,
    recompute_score,
    response_hash,
    score_digest,
    verdict,
)
from exam_server.db import writer
from exam_server.models import Candidate, Exam, ExamSession
from exam_server.sites.models import (
    SiteAttempt,
    SiteAuditEvent,
    SiteChainHead,
    SiteCheckpoint,
    SiteLink,
    SiteProblem,
    SiteResponse,
)
from exam_server.sites.wire import AttemptPosition, Batch, BatchResult, ChainHead, Positions

LINK = SiteLink.__table__  # type: ignore[attr-defined]
S_AUDIT = SiteAuditEvent.__table__  # type: ignore[attr-defined]
S_RESPONSE = SiteResponse.__table__  # type: ignore[attr-defined]
S_HEAD = SiteChainHead.__table__  # type: ignore[attr-defined]
S_CHECKPOINT = SiteCheckpoint.__table__  # type: ignore[attr-defined]
S_ATTEMPT = SiteAttempt.__table__  # type: ignore[attr-defined]
PROBLEM = SiteProblem.__table__  # type: ignore[attr-defined]
SESSION = ExamSession.__table__  # type: ignore[attr-defined]
EXAM = Exam.__table__  # type: ignore[attr-defined]
CANDIDATE = Candidate.__table__  # type: ignore[attr-defined]


class Gap(Exception):
    """A record whose predecessor the centre does not hold: resend from ``positions``."""

    def __init__(self, message: str, positions: Positions) -> None:
        super().__init__(message)
        self.positions = positions


@dataclass
class _Outcome:
    stored: int = 0
    duplicates: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)  # (kind, message)

    def conflict(self, kind: str, message: str) -> None:
        self.problems.append((kind, message))


# -- positions ----------------------------------------------------------------------


def positions(conn: Connection, site_id: int) -> Positions:
    """How far each chain of ``site_id`` has arrived here."""
    link = conn.execute(select(LINK).where(LINK.c.site_id == site_id)).mappings().one()
    attempts = {
        aid: AttemptPosition(seq=h.position, hash=h.hash)
        for aid, h in positions_of(conn, site_id, None).items()
    }
    for aid, status, last_seq in conn.execute(
        select(S_ATTEMPT.c.attempt_id, S_ATTEMPT.c.status, S_ATTEMPT.c.last_seq).where(
            S_ATTEMPT.c.site_id == site_id
        )
    ):
        pos = attempts.setdefault(int(aid), AttemptPosition(seq=0, hash=""))
        pos.status, pos.last_seq = str(status), int(last_seq)
    return Positions(
        audit=ChainHead(position=int(link["audit_last_id"]), hash=str(link["audit_last_hash"])),
        checkpoint=ChainHead(position=int(link["checkpoint_n"]), hash=str(link["checkpoint_hash"])),
        attempts=attempts,
    )


def read_positions(engine: Engine, site_id: int, now: float) -> Positions:
    """:func:`positions`, noting the site's contact."""
    with writer(engine).begin() as conn:
        conn.execute(LINK.update().where(LINK.c.site_id == site_id).values(last_contact_at=now))
        return positions(conn, site_id)


# -- a batch ------------------------------------------------------------------------


def apply_batch(engine: Engine, site_id: int, batch: Batch, now: float) -> BatchResult:
    """Store and verify ``batch`` from ``site_id`` in one transaction. Raises
    :class:`Gap` (nothing stored) when a record does not follow what is here."""
    out = _Outcome()
    try:
        with writer(engine).begin() as conn:
            link = conn.execute(select(LINK).where(LINK.c.site_id == site_id)).mappings().one()
            audit_head = _audit(conn, site_id, link, batch, out)
            response_heads = _responses(conn, site_id, batch, out)
            _attempts(conn, site_id, batch, out)
            cp_head = _checkpoints(conn, site_id, link, batch, out)
            _compare_heads(conn, site_id, batch, response_heads, out)
            touched = {a.attempt_id for a in batch.attempts} | set(response_heads)
            touched |= {e.attempt_id for e in batch.audit if e.attempt_id is not None}
            _check_results(conn, site_id, touched, out)
            conn.execute(
                LINK.update()
                .where(LINK.c.site_id == site_id)
                .values(
                    audit_last_id=audit_head.position,
                    audit_last_hash=audit_head.hash,
                    checkpoint_n=cp_head.position,
                    checkpoint_hash=cp_head.hash,
                    checkpoint_key=link["checkpoint_key"] or batch.checkpoint_key,
                    received=LINK.c.received + out.stored,
                    duplicates=LINK.c.duplicates + out.duplicates,
                    site_pending=batch.status.pending,
                    oldest_pending_at=batch.status.oldest_pending_at,
                    sessions_running=batch.status.sessions_running,
                    last_contact_at=now,
                    last_sync_at=now,
                )
            )
            _record_problems(conn, site_id, out.problems, now)
            pos = positions(conn, site_id)
    except _GapSignal as sig:
        with engine.connect() as conn:
            raise Gap(str(sig), positions(conn, site_id)) from None
    return BatchResult(
        stored=out.stored,
        duplicates=out.duplicates,
        problems=[m for _, m in out.problems],
        positions=pos,
    )


class _GapSignal(Exception):
    pass


def _record_problems(
    conn: Connection, site_id: int, problems: list[tuple[str, str]], now: float
) -> None:
    """Each problem once: a site that keeps resending the same rewritten
    record does not fill the page with copies of one finding."""
    if not problems:
        return
    known = set(
        conn.execute(
            select(PROBLEM.c.message).where(
                PROBLEM.c.site_id == site_id, PROBLEM.c.message.in_([m for _, m in problems])
            )
        ).scalars()
    )
    fresh = {m: k for k, m in problems if m not in known}
    if fresh:
        conn.execute(
            PROBLEM.insert(),
            [{"site_id": site_id, "at": now, "kind": k, "message": m} for m, k in fresh.items()],
        )


def _audit(conn: Connection, site_id: int, link: Any, batch: Batch, out: _Outcome) -> ChainHead:
    head = ChainHead(position=int(link["audit_last_id"]), hash=str(link["audit_last_hash"]))
    events = sorted(batch.audit, key=lambda e: e.id)
    old = [e for e in events if e.id <= head.position]
    if old:
        have: dict[int, str] = dict(
            conn.execute(
                select(S_AUDIT.c.id, S_AUDIT.c.hash).where(
                    S_AUDIT.c.site_id == site_id, S_AUDIT.c.id.in_([e.id for e in old])
                )
            ).all()
        )
        for e in old:
            if have.get(e.id) == e.hash:
                out.duplicates += 1
            else:
                out.conflict(
                    "rewritten",
                    f"audit event {e.id}: the site sent it again with other content"
                    " (changed at the site after it was synced)",
                )
    rows: list[dict[str, Any]] = []
    for e in (e for e in events if e.id > head.position):
        row = e.model_dump()
        if e.prev_hash != head.hash:
            if batch.base_audit.position != head.position or rows:
                raise _GapSignal(
                    f"audit event {e.id} does not follow event {head.position}, the last one here"
                )
            out.conflict(
                "rewritten",
                f"audit event {e.id} does not link to event {head.position} synced before:"
                " the site's audit chain was rewritten after it was synced",
            )
            break
        if event_hash(e.prev_hash, row) != e.hash:
            out.conflict("altered", f"audit event {e.id}: its hash does not match its content")
            break
        rows.append({"site_id": site_id, **row})
        head = ChainHead(position=e.id, hash=e.hash)
    if rows:
        conn.execute(S_AUDIT.insert(), rows)
        out.stored += len(rows)
    return head


def _responses(conn: Connection, site_id: int, batch: Batch, out: _Outcome) -> dict[int, ChainHead]:
    """Store the answers; returns the head of every attempt they touched."""
    by_attempt: dict[int, list[Any]] = defaultdict(list)
    for r in batch.responses:
        by_attempt[r.attempt_id].append(r)
    if not by_attempt:
        return {}
    current = positions_of(conn, site_id, list(by_attempt))
    # Only resent records (at or before the head here) need what is stored.
    resent = [
        (r.attempt_id, r.seq)
        for r in batch.responses
        if r.seq <= current.get(r.attempt_id, ChainHead(position=0, hash="")).position
    ]
    have = (
        dict(
            ((int(a), int(s)), str(h))
            for a, s, h in conn.execute(
                select(S_RESPONSE.c.attempt_id, S_RESPONSE.c.seq, S_RESPONSE.c.hash).where(
                    S_RESPONSE.c.site_id == site_id,
                    tuple_(S_RESPONSE.c.attempt_id, S_RESPONSE.c.seq).in_(resent),
                )
            )
        )
        if resent
        else {}
    )
    rows: list[dict[str, Any]] = []
    heads: dict[int, ChainHead] = {}
    for aid, records in by_attempt.items():
        head = current.get(aid, ChainHead(position=0, hash=""))
        for r in sorted(records, key=lambda r: r.seq):
            if r.seq <= head.position:
                if have.get((aid, r.seq)) == r.hash:
                    out.duplicates += 1
                else:
                    out.conflict(
                        "rewritten",
                        f"attempt {aid}: answer seq {r.seq} sent again with other content"
                        " (changed at the site after it was synced)",
                    )
                continue
            if r.seq > head.position + 1:
                raise _GapSignal(
                    f"attempt {aid}: answer seq {r.seq} arrived after seq {head.position}"
                    f" (seq {head.position + 1} missing)"
                )
            row = r.model_dump()
            if r.prev_hash != head.hash:
                out.conflict(
                    "rewritten",
                    f"attempt {aid}: answer seq {r.seq} does not link to seq {head.position}"
                    " synced before: the attempt's answers were rewritten at the site",
                )
                break
            if response_hash(r.prev_hash, row) != r.hash:
                out.conflict(
                    "altered", f"attempt {aid}: answer seq {r.seq}: its hash does not match"
                )
                break
            rows.append({"site_id": site_id, **row})
            head = ChainHead(position=r.seq, hash=r.hash)
        heads[aid] = head
    if rows:
        conn.execute(S_RESPONSE.insert(), rows)
        out.stored += len(rows)
        _store_heads(conn, site_id, current, heads)
    return heads


def positions_of(
    conn: Connection, site_id: int, attempt_ids: list[int] | None
) -> dict[int, ChainHead]:
    """The last answer stored here of each of ``attempt_ids`` (None: of every attempt)."""
    where = S_HEAD.c.site_id == site_id
    if attempt_ids is not None:
        where = where & S_HEAD.c.attempt_id.in_(attempt_ids)
    rows = conn.execute(select(S_HEAD.c.attempt_id, S_HEAD.c.seq, S_HEAD.c.hash).where(where))
    return {int(a): ChainHead(position=int(s), hash=str(h)) for a, s, h in rows}


def _store_heads(
    conn: Connection, site_id: int, before: dict[int, ChainHead], after: dict[int, ChainHead]
) -> None:
    """Move the heads of the attempts whose chains grew in this batch."""
    moved = {a: h for a, h in after.items() if before.get(a) != h}
    update = [
        {"s": site_id, "a": a, "n": h.position, "h": h.hash}
        for a, h in moved.items()
        if a in before
    ]
    if update:
        conn.execute(
            S_HEAD.update()
            .where(S_HEAD.c.site_id == bindparam("s"), S_HEAD.c.attempt_id == bindparam("a"))
            .values(seq=bindparam("n"), hash=bindparam("h")),
            update,
        )
    new = [
        {"site_id": site_id, "attempt_id": a, "seq": h.position, "hash": h.hash}
        for a, h in moved.items()
        if a not in before
    ]
    if new:
        conn.execute(S_HEAD.insert(), new)


def _attempts(conn: Connection, site_id: int, batch: Batch, out: _Outcome) -> None:
    if not batch.attempts:
        return
    ids = [a.attempt_id for a in batch.attempts]
    conn.execute(
        S_ATTEMPT.delete().where(S_ATTEMPT.c.site_id == site_id, S_ATTEMPT.c.attempt_id.in_(ids))
    )
    conn.execute(
        S_ATTEMPT.insert(),
        [{"site_id": site_id, **a.model_dump(), "centre_check": "pending"} for a in batch.attempts],
    )
    out.stored += len(ids)


def _checkpoints(
    conn: Connection, site_id: int, link: Any, batch: Batch, out: _Outcome
) -> ChainHead:
    head = ChainHead(position=int(link["checkpoint_n"]), hash=str(link["checkpoint_hash"]))
    if not batch.checkpoints:
        return head
    pem = link["checkpoint_key"] or batch.checkpoint_key
    if batch.checkpoint_key and link["checkpoint_key"] and batch.checkpoint_key != pem:
        out.conflict(
            "key_changed",
            "the site's checkpoint key changed: its new lines are not accepted until an"
            " operator confirms the new key",
        )
        return head
    if not pem:
        out.conflict("no_key", "the site sent checkpoint lines without its checkpoint key")
        return head
    try:
        from cryptography.hazmat.primitives import serialization

        key = serialization.load_pem_public_key(pem.encode())
    except ValueError:
        out.conflict("no_key", "the site's checkpoint key is not a PEM public key")
        return head
    if not isinstance(key, Ed25519PublicKey):
        out.conflict("no_key", "the site's checkpoint key is not an Ed25519 key")
        return head
    for text in batch.checkpoints:
        raw = text.encode()
        try:
            cp = cps.parse_line(raw)
        except ValueError as exc:
            out.conflict("altered", f"a checkpoint line: {exc}")
            break
        if cp.n <= head.position:
            stored = conn.execute(
                select(S_CHECKPOINT.c.line).where(
                    S_CHECKPOINT.c.site_id == site_id, S_CHECKPOINT.c.n == cp.n
                )
            ).scalar()
            if stored == text:
                out.duplicates += 1
            else:
                out.conflict("rewritten", f"checkpoint {cp.n} sent again with other content")
            continue
        if cp.n > head.position + 1:
            raise _GapSignal(f"checkpoint {cp.n} arrived after checkpoint {head.position}")
        if not cps.signature_ok(raw, key):
            out.conflict("altered", f"checkpoint {cp.n}: its signature does not match")
            break
        if cp.prev != head.hash:
            out.conflict(
                "rewritten", f"checkpoint {cp.n} does not follow checkpoint {head.position}"
            )
            break
        out.problems.extend(_checkpoint_heads(conn, site_id, cp))
        conn.execute(S_CHECKPOINT.insert().values(site_id=site_id, n=cp.n, line=text))
        out.stored += 1
        head = ChainHead(position=cp.n, hash=cps.line_hash(raw))
    return head


def _checkpoint_heads(conn: Connection, site_id: int, cp: cps.Checkpoint) -> list[tuple[str, str]]:
    """The heads a signed checkpoint recorded against the records synced
    (a head whose record has not arrived yet is checked when it does: the
    site sends lines only after the records)."""
    found: list[tuple[str, str]] = []
    if cp.audit_id:
        h = conn.execute(
            select(S_AUDIT.c.hash).where(S_AUDIT.c.site_id == site_id, S_AUDIT.c.id == cp.audit_id)
        ).scalar()
        if h is not None and h != cp.audit_hash:
            found.append(
                ("rewritten", f"audit event {cp.audit_id} differs from {cp.where()} (rewritten)")
            )
    if cp.attempts:
        stored = dict(
            ((int(a), int(s)), str(h))
            for a, s, h in conn.execute(
                select(S_RESPONSE.c.attempt_id, S_RESPONSE.c.seq, S_RESPONSE.c.hash).where(
                    S_RESPONSE.c.site_id == site_id,
                    tuple_(S_RESPONSE.c.attempt_id, S_RESPONSE.c.seq).in_(
                        [(a, s) for a, s, _ in cp.attempts]
                    ),
                )
            )
        )
        for aid, seq, h in cp.attempts:
            if stored.get((aid, seq), h) != h:
                found.append(
                    ("rewritten", f"attempt {aid}: answer seq {seq} differs from {cp.where()}")
                )
    return found


def _compare_heads(
    conn: Connection,
    site_id: int,
    batch: Batch,
    touched: dict[int, ChainHead],
    out: _Outcome,
) -> None:
    """The site's heads now against the records synced: a head at a position
    the centre holds with another hash, or behind it, means the site changed
    or removed what it had sent."""
    ah = batch.audit_head
    if ah.position:
        h = conn.execute(
            select(S_AUDIT.c.hash).where(S_AUDIT.c.site_id == site_id, S_AUDIT.c.id == ah.position)
        ).scalar()
        if h is not None and h != ah.hash:
            out.conflict(
                "rewritten",
                f"the site's audit head (event {ah.position}) differs from the event synced:"
                " its audit chain was rewritten after sync",
            )
    if not batch.attempt_heads:
        return
    here = positions_of(conn, site_id, list(batch.attempt_heads))
    here.update(touched)
    # Only the heads here are compared (a small read): a site head at the
    # position held must carry its hash, and none may be behind it. A record
    # rewritten further back shows when the next one does not link to it.
    for aid, head in batch.attempt_heads.items():
        mine = here.get(aid)
        if mine is None or head.position > mine.position:
            continue  # not all here yet
        if head.position < mine.position:
            out.conflict(
                "removed",
                f"attempt {aid}: the site's chain ends at seq {head.position}, seq"
                f" {mine.position} was synced (answers removed at the site)",
            )
        elif head.hash != mine.hash:
            out.conflict(
                "rewritten",
                f"attempt {aid}: the site's answer seq {head.position} differs from the one"
                " synced (rewritten at the site after sync)",
            )


# -- results ------------------------------------------------------------------------


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


# -- checking the copies again ------------------------------------------------------


def verify_copies(engine: Engine, site_id: int) -> list[str]:
    """Verify everything the centre holds of ``site_id`` again, from the
    first record: the audit chain, every answer chain, the checkpoint lines
    (signature, order) and that each finished attempt's answers end at its
    finish event's head. One message per problem; ``[]`` when all verify."""
    out: list[str] = []
    with engine.connect() as conn:
        prev, last = "", 0
        heads: dict[int, str] = {}
        for row in conn.execute(
            select(S_AUDIT).where(S_AUDIT.c.site_id == site_id).order_by(S_AUDIT.c.id)
        ).mappings():
            if row["prev_hash"] != prev:
                out.append(f"audit event {row['id']}: does not link to event {last}")
            if event_hash(row["prev_hash"], dict(row)) != row["hash"]:
                out.append(f"audit event {row['id']}: hash does not match its content")
            if row["kind"] == "finish" and row["attempt_id"] is not None:
                head = _json_object(row["data_json"]).get("response_head")
                if isinstance(head, str):
                    heads[int(row["attempt_id"])] = head
            prev, last = row["hash"], row["id"]
        chains: dict[int, tuple[int, str]] = {}
        for r in conn.execute(
            select(S_RESPONSE)
            .where(S_RESPONSE.c.site_id == site_id)
            .order_by(S_RESPONSE.c.attempt_id, S_RESPONSE.c.seq)
        ).mappings():
            aid = int(r["attempt_id"])
            seq, h = chains.get(aid, (0, ""))
            if r["seq"] != seq + 1 or r["prev_hash"] != h:
                out.append(f"attempt {aid}: answer seq {r['seq']} does not follow seq {seq}")
            if response_hash(r["prev_hash"], dict(r)) != r["hash"]:
                out.append(f"attempt {aid}: answer seq {r['seq']}: hash does not match")
            chains[aid] = (int(r["seq"]), str(r["hash"]))
        for aid, head in heads.items():
            if chains.get(aid, (0, ""))[1] != head:
                out.append(f"attempt {aid}: its answers do not end at its finish event's head")
        pem = conn.execute(select(LINK.c.checkpoint_key).where(LINK.c.site_id == site_id)).scalar()
        lines = conn.execute(
            select(S_CHECKPOINT.c.n, S_CHECKPOINT.c.line)
            .where(S_CHECKPOINT.c.site_id == site_id)
            .order_by(S_CHECKPOINT.c.n)
        ).all()
        if lines:
            from cryptography.hazmat.primitives import serialization

            key = serialization.load_pem_public_key(str(pem).encode()) if pem else None
            prev_line = ""
            for n, line in lines:
                raw = str(line).encode()
                if not isinstance(key, Ed25519PublicKey) or not cps.signature_ok(raw, key):
                    out.append(f"checkpoint {n}: signature does not match")
                if cps.parse_line(raw).prev != prev_line:
                    out.append(f"checkpoint {n}: does not follow the one before")
                prev_line = cps.line_hash(raw)
    return out
