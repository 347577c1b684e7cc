"""The hash-chained audit log and the chains of responses.

Audit rows: ``hash = sha256(prev_hash ‖ canonical JSON of the row)``; the
chain head (``exam_audit_head``) is read with ``FOR UPDATE`` inside the
appending transaction, so concurrent writers (several processes on
PostgreSQL) queue up instead of forking the chain. Each attempt's responses
form their own chain (``Response.hash``), whose head is recorded in the
attempt's ``finish`` audit event. :func:`verify` recomputes everything.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Engine

from exam_server.models import Attempt, AuditEvent, AuditHead, Response

AUDIT = AuditEvent.__table__  # type: ignore[attr-defined]
HEAD = AuditHead.__table__  # type: ignore[attr-defined]
RESPONSE = Response.__table__  # type: ignore[attr-defined]
ATTEMPT = Attempt.__table__  # type: ignore[attr-defined]


def _canon(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_hash(prev_hash: str, row: dict[str, Any]) -> str:
    body = {
        k: row[k]
        for k in ("at", "kind", "actor", "session_id", "attempt_id", "reason", "data_json")
    }
    return hashlib.sha256((prev_hash + "|" + _canon(body)).encode()).hexdigest()


def response_hash(prev_hash: str, row: dict[str, Any]) -> str:
    body = {
        k: row[k]
        for k in ("attempt_id", "seq", "kind", "number", "item_id", "option", "flagged", "at")
    }
    return hashlib.sha256((prev_hash + "|" + _canon(body)).encode()).hexdigest()


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


@dataclass
class VerifyReport:
    events: int = 0
    attempts: int = 0
    responses: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(engine: Engine) -> VerifyReport:
    """Recompute the audit chain, every attempt's response chain, and check
    that each finished attempt's recorded response head matches."""
    rep = VerifyReport()
    finish_heads: dict[int, str] = {}
    # The chain, the head and the answers must be read at one moment: on a
    # live server an event committed between two reads would look like a
    # removed row. A SQLite read transaction is already one snapshot;
    # PostgreSQL's default READ COMMITTED is not.
    snapshot = {} if engine.dialect.name == "sqlite" else {"isolation_level": "REPEATABLE READ"}
    with engine.connect().execution_options(**snapshot) as conn:
        prev = ""
        last_id = 0
        for row in conn.execute(select(AUDIT).order_by(AUDIT.c.id)).mappings():
            rep.events += 1
            if row["prev_hash"] != prev:
                rep.problems.append(
                    f"audit event {row['id']}: prev_hash does not link to event {last_id}"
                )
            if event_hash(row["prev_hash"], dict(row)) != row["hash"]:
                rep.problems.append(f"audit event {row['id']}: hash does not match its content")
            if row["kind"] == "finish" and row["attempt_id"] is not None:
                head = json.loads(row["data_json"]).get("response_head")
                if isinstance(head, str):
                    finish_heads[int(row["attempt_id"])] = head
            prev, last_id = row["hash"], row["id"]
        head_row = conn.execute(select(HEAD).where(HEAD.c.id == 1)).first()
        if head_row is not None and (head_row.last_hash != prev or head_row.last_id != last_id):
            rep.problems.append("audit head does not point at the last event (rows removed?)")
        chains: dict[int, str] = {}
        for r in conn.execute(
            select(RESPONSE).order_by(RESPONSE.c.attempt_id, RESPONSE.c.seq)
        ).mappings():
            rep.responses += 1
            aid = int(r["attempt_id"])
            p = chains.get(aid, "")
            if r["prev_hash"] != p:
                rep.problems.append(
                    f"response {r['id']} (attempt {aid}, seq {r['seq']}): broken link"
                )
            if response_hash(r["prev_hash"], dict(r)) != r["hash"]:
                rep.problems.append(f"response {r['id']} (attempt {aid}, seq {r['seq']}): altered")
            chains[aid] = r["hash"]
        for a in conn.execute(select(ATTEMPT.c.id, ATTEMPT.c.response_head)).mappings():
            rep.attempts += 1
            aid = int(a["id"])
            if chains.get(aid, "") != a["response_head"]:
                rep.problems.append(
                    f"attempt {aid}: stored response head differs from its responses"
                )
            if aid in finish_heads and finish_heads[aid] != chains.get(aid, ""):
                rep.problems.append(f"attempt {aid}: responses changed after the finish event")
    return rep
