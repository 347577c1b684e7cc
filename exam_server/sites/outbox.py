"""The site's side of sync: what the centre does not hold yet, read from the
site's own tables against the centre's :class:`~exam_server.sites.wire.Positions`.

Nothing is kept here about what was sent: the centre's positions are the
only cursor, so a sync that died half-way (the link cut mid-batch, the site
restarted) resumes by asking again, and a batch whose answer was lost is
sent again and stored once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select, tuple_
from sqlalchemy.engine import Connection, Engine, RowMapping

from exam_server import checkpoints as cps
from exam_server import state_codec
from exam_server.models import (
    Attempt,
    AttemptSnapshot,
    AuditEvent,
    AuditHead,
    ExamSession,
    Response,
)
from exam_server.sites.wire import (
    AttemptRecord,
    AuditRecord,
    Batch,
    ChainHead,
    Positions,
    ResponseRecord,
    SiteStatus,
)

AUDIT = AuditEvent.__table__  # type: ignore[attr-defined]
HEAD = AuditHead.__table__  # type: ignore[attr-defined]
RESPONSE = Response.__table__  # type: ignore[attr-defined]
ATTEMPT = Attempt.__table__  # type: ignore[attr-defined]
SNAPSHOT = AttemptSnapshot.__table__  # type: ignore[attr-defined]
SESSION = ExamSession.__table__  # type: ignore[attr-defined]
_AUDIT_FIELDS = tuple(AuditRecord.model_fields)
_RESPONSE_FIELDS = tuple(ResponseRecord.model_fields)


@dataclass(frozen=True)
class Checkpoints:
    """The site's checkpoint file and the PEM of its public key."""

    path: Path
    public_pem: str

    def lines_after(self, n: int, limit: int) -> list[str]:
        """Up to ``limit`` lines numbered after ``n`` (the file is small and
        appended to: read whole)."""
        if not self.path.exists():
            return []
        out: list[str] = []
        with self.path.open("rb") as f:
            for raw in f:
                line = raw.rstrip(b"\n")
                if not line:
                    continue
                try:
                    if cps.parse_line(line).n > n:
                        out.append(line.decode())
                except ValueError:
                    out.append(line.decode())  # the centre says what is wrong with it
                if len(out) >= limit:
                    break
        return out


def build_batch(
    engine: Engine, pos: Positions, limit: int, checkpoints: Checkpoints | None
) -> Batch:
    """The next batch after ``pos``: audit events, then answers, then the
    attempt records whose status or length the centre has not seen; the
    checkpoint lines only once every record is in the batch (a line's heads
    are checked against records already there). At most ``limit`` records."""
    with engine.connect() as conn, conn.begin():  # one snapshot of the site's tables
        audit_rows = (
            conn.execute(
                select(*(AUDIT.c[f] for f in _AUDIT_FIELDS))
                .where(AUDIT.c.id > pos.audit.position)
                .order_by(AUDIT.c.id)
                # At most half the batch: answers keep flowing even while the
                # centre refuses this site's audit chain (a verification failure).
                .limit(max(1, limit // 2))
            )
            .mappings()
            .all()
        )
        audit = [AuditRecord(**r) for r in audit_rows]
        room = limit - len(audit)
        attempts = (
            conn.execute(
                select(
                    ATTEMPT.c.id,
                    ATTEMPT.c.session_id,
                    ATTEMPT.c.candidate_id,
                    ATTEMPT.c.status,
                    ATTEMPT.c.terminal_id,
                    ATTEMPT.c.seed,
                    ATTEMPT.c.last_seq,
                    ATTEMPT.c.response_head,
                    ATTEMPT.c.started_at,
                    ATTEMPT.c.finished_at,
                    ATTEMPT.c.finish_reason,
                    ATTEMPT.c.score_json,
                    ATTEMPT.c.total_points,
                    ATTEMPT.c.passed,
                    ATTEMPT.c.pass_reason,
                ).order_by(ATTEMPT.c.id)
            )
            .mappings()
            .all()
        )
        behind = []  # (attempt id, first seq to send, last seq)
        for a in attempts:
            there = pos.attempts.get(int(a["id"]))
            have = there.seq if there is not None else 0
            if int(a["last_seq"]) > have:
                behind.append((int(a["id"]), have, int(a["last_seq"])))
        responses: list[ResponseRecord] = []
        chosen_ids: list[int] = []
        budget = room
        for aid, have, last in behind:
            if budget <= 0:
                break
            chosen_ids.append(aid)
            budget -= last - have
        if chosen_ids:
            start = {aid: have for aid, have, _ in behind}
            rows = conn.execute(
                select(*(RESPONSE.c[f] for f in _RESPONSE_FIELDS))
                .where(RESPONSE.c.attempt_id.in_(chosen_ids))
                .order_by(RESPONSE.c.attempt_id, RESPONSE.c.seq)
            ).mappings()
            for r in rows:
                if r["seq"] > start[int(r["attempt_id"])] and len(responses) < room:
                    responses.append(ResponseRecord(**r))
        sent_upto = {r.attempt_id: r.seq for r in responses}
        records: list[AttemptRecord] = []
        for a in attempts:
            aid = int(a["id"])
            there = pos.attempts.get(aid)
            complete = sent_upto.get(aid, there.seq if there else 0) >= int(a["last_seq"])
            if (
                complete
                and not _seen(pos, a)
                and len(audit) + len(responses) + len(records) < limit
            ):
                state = None
                if a["status"] == "finished":
                    state = conn.execute(
                        select(SNAPSHOT.c.state)
                        .where(SNAPSHOT.c.attempt_id == aid)
                        .order_by(SNAPSHOT.c.seq.desc())
                        .limit(1)
                    ).scalar()
                records.append(
                    AttemptRecord(
                        attempt_id=aid,
                        **{k: a[k] for k in a if k != "id"},
                        state_json=None if state is None else state_codec.unpack_json(state),
                    )
                )
        after_audit = audit[-1].id if audit else pos.audit.position
        pending, oldest = _waiting(conn, pos, attempts, after_audit, sent_upto, len(records))
        head = conn.execute(select(HEAD.c.last_id, HEAD.c.last_hash).where(HEAD.c.id == 1)).first()
        running = conn.execute(
            select(func.count()).select_from(SESSION).where(SESSION.c.status == "open")
        ).scalar_one()
    lines: list[str] = []
    if checkpoints is not None and pending == 0:
        lines = checkpoints.lines_after(pos.checkpoint.position, max(1, limit // 10))
    return Batch(
        base_audit=pos.audit,
        audit=audit,
        responses=responses,
        attempts=records,
        checkpoints=lines,
        checkpoint_key=checkpoints.public_pem if checkpoints is not None else None,
        audit_head=ChainHead(position=int(head[0]), hash=str(head[1]))
        if head
        else ChainHead(position=0, hash=""),
        attempt_heads={
            int(a["id"]): ChainHead(position=int(a["last_seq"]), hash=str(a["response_head"]))
            for a in attempts
        },
        status=SiteStatus(
            pending=pending,
            oldest_pending_at=oldest,
            sessions_running=int(running),
        ),
    )


def backlog(engine: Engine, pos: Positions) -> tuple[int, float | None]:
    """What the site holds that the centre, at ``pos``, does not: the number
    of records and when the oldest of them was written (epoch seconds; None
    when nothing waits) — what a batch built now reports as pending before
    it takes any record."""
    with engine.connect() as conn, conn.begin():
        attempts = (
            conn.execute(select(ATTEMPT.c.id, ATTEMPT.c.status, ATTEMPT.c.last_seq))
            .mappings()
            .all()
        )
        return _waiting(conn, pos, attempts, pos.audit.position, {}, 0)


def _waiting(
    conn: Connection,
    pos: Positions,
    attempts: Sequence[RowMapping],
    after_audit: int,
    sent_upto: dict[int, int],
    records_sent: int,
) -> tuple[int, float | None]:
    """Records still to send once the audit events up to ``after_audit``,
    the answers up to ``sent_upto`` (attempt → seq) and ``records_sent``
    attempt records are at the centre: (how many, when the oldest was written)."""
    audit_left = conn.execute(
        select(func.count(), func.min(AUDIT.c.at)).where(AUDIT.c.id > after_audit)
    ).one()
    answers = 0
    next_unsent = []  # the next answer not sent of each attempt behind
    for a in attempts:
        aid = int(a["id"])
        there = pos.attempts.get(aid)
        done = sent_upto.get(aid, there.seq if there is not None else 0)
        if int(a["last_seq"]) > done:
            answers += int(a["last_seq"]) - done
            next_unsent.append((aid, done + 1))
    # The oldest of those next answers is how far behind the centre is.
    oldest_answer = (
        conn.execute(
            select(func.min(RESPONSE.c.at)).where(
                tuple_(RESPONSE.c.attempt_id, RESPONSE.c.seq).in_(next_unsent)
            )
        ).scalar()
        if next_unsent
        else None
    )
    unsent_records = sum(1 for a in attempts if not _seen(pos, a)) - records_sent
    pending = int(audit_left[0]) + answers + max(0, unsent_records)
    oldest = min((x for x in (audit_left[1], oldest_answer) if x is not None), default=None)
    return max(0, pending), oldest


def _seen(pos: Positions, a: RowMapping) -> bool:
    """Whether the centre holds this attempt's record as it is now."""
    there = pos.attempts.get(int(a["id"]))
    return there is not None and (there.status, there.last_seq) == (a["status"], a["last_seq"])
