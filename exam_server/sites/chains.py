"""Storing a batch's audit events, answers and attempts: each record stored
once, linked to the one stored before it and hashed as the rule that made it
hashes it (see :mod:`exam_server.sites.intake` for the outcomes).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import bindparam, select, tuple_
from sqlalchemy.engine import Connection

from exam_server.audit import event_hash, response_hash
from exam_server.sites.copies import (
    S_ATTEMPT,
    S_AUDIT,
    S_HEAD,
    S_RESPONSE,
    _GapSignal,
    _Outcome,
    positions_of,
)
from exam_server.sites.wire import Batch, ChainHead


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
