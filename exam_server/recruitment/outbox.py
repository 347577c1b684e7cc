"""The outbox: messages stored with the change they tell about, then sent by
SMTP (smtplib) with retries.

Every message is first a ``rec_outbox`` row written in the transaction of the
change (:func:`enqueue`), so a message is never lost and never sent for a
change that rolled back. :func:`send_pending` then:

1. **claims** due messages in one ``UPDATE`` (``status`` pending and
   ``next_try_at`` ≤ now, or a ``sending`` claim whose lease ran out): they
   become ``sending`` under this sender's token until ``now + lease``. On
   PostgreSQL the rows are picked ``FOR UPDATE SKIP LOCKED``, on SQLite the
   writer transaction holds the database lock, so two server processes (or
   the page's kick and the background loop) never claim one message twice;
2. sends them over one SMTP connection, and records each result at once
   (only while the claim is still this sender's): ``sent``; a temporary
   failure (connection refused, 4xx, timeout) back to ``pending`` with the
   next try after the policy's back-off (``recruitment.delivery``); a 5xx
   reply, or the last allowed attempt, ``failed`` with the error. A sender
   near the end of its lease lets the rest of its claim go untried.

Staff see pending and failed messages (:func:`outbox_status`) and send a
failed one again (:func:`send_again`, audited).

Delivery is at least once: a sender that dies after the SMTP server took a
message but before its result was stored leaves it to be sent again when
the lease ends. Every try of one message therefore carries the same
``Message-ID`` and ``Date`` (:func:`message_id`), which is how mail
systems and mail readers recognise a copy they already have (RFC 5322,
section 3.6.4).
"""

from __future__ import annotations

import hashlib
import secrets
import smtplib
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from exam_server import audit
from exam_server.db import writer
from recruitment.bounces import Bounce
from recruitment.delivery import RetryPolicy, classify, describe
from recruitment.models import RecOutbox

OUTBOX = RecOutbox.__table__  # type: ignore[attr-defined]


@dataclass
class SmtpTarget:
    """Where and how messages go. timeout_seconds: each SMTP socket operation;
    lease_seconds: how long a claim holds (a sender that died lets go after
    it; must leave room for a batch: checked in ``config``)."""

    host: str
    port: int
    mail_from: str
    timeout_seconds: float = 10.0
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    lease_seconds: float = 300.0
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True)
class Delivery:
    """What one :func:`send_pending` did: messages claimed, sent, put back for
    a later try, failed for good, and released untried (lease running out or
    the connection lost)."""

    claimed: int = 0
    sent: int = 0
    retry: int = 0
    failed: int = 0
    released: int = 0


# -- storing ------------------------------------------------------------------------------


def enqueue(
    s: Session, to: str, subject: str, body: str, kind: str, now: float, key: str | None = None
) -> None:
    """Store a message in the caller's transaction (sent later by :func:`send_pending`).
    key: a once-only key (``dedupe_key``); use :func:`enqueue_once` when the
    key may already be there."""
    s.add(
        RecOutbox(
            to_addr=to,
            subject=subject[:300],
            body=body,
            kind=kind,
            created_at=now,
            next_try_at=now,
            dedupe_key=key,
        )
    )


def enqueue_once(s: Session, rows: list[dict[str, Any]]) -> None:
    """Store messages keyed by ``dedupe_key``, skipping any key already stored
    (``INSERT … ON CONFLICT DO NOTHING``: two processes queueing the same
    reminder at once store it once). rows: to_addr, subject, body, kind,
    created_at, dedupe_key."""
    if not rows:
        return
    values = [{**r, "next_try_at": r["created_at"], "subject": r["subject"][:300]} for r in rows]
    for r in values:
        r.setdefault("attempts", 0)
        r.setdefault("last_error", "")
        r.setdefault("status", "pending")
        r.setdefault("claimed_by", "")
    dialect = s.get_bind().dialect.name
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(OUTBOX)
    s.execute(ins.values(values).on_conflict_do_nothing(index_elements=["dedupe_key"]))


# -- what staff see -----------------------------------------------------------------------


@dataclass(frozen=True)
class OutboxStatus:
    unsent: int  # pending or being sent: not yet accepted by the SMTP server
    failed: int  # given up (5xx, or retries ran out): sent only if staff send them again
    failing: list[dict[str, Any]]  # the newest failed messages: id, to, subject, attempts, error
    retrying: int = 0  # pending after at least one failed try


def outbox_status(engine: Engine, limit: int = 20) -> OutboxStatus:
    with Session(engine) as s:
        counts = dict(
            s.execute(
                select(col(RecOutbox.status), func.count())
                .where(col(RecOutbox.status) != "sent")
                .group_by(col(RecOutbox.status))
            ).all()
        )
        retrying = s.execute(
            select(func.count())
            .select_from(RecOutbox)
            .where(col(RecOutbox.status) == "pending", col(RecOutbox.attempts) > 0)
        ).scalar_one()
        rows = s.execute(
            select(RecOutbox)
            .where(col(RecOutbox.status) == "failed")
            .order_by(col(RecOutbox.id).desc())
            .limit(limit)
        ).scalars()
        failing = [
            {
                "id": r.id,
                "to": r.to_addr,
                "subject": r.subject,
                "kind": r.kind,
                "attempts": r.attempts,
                "error": r.last_error,
            }
            for r in rows
        ]
        unsent = int(counts.get("pending", 0)) + int(counts.get("sending", 0))
        return OutboxStatus(unsent, int(counts.get("failed", 0)), failing, int(retrying))


def send_again(engine: Engine, message_ids: list[int] | None, actor: str, now: float) -> int:
    """Put failed messages back in the queue, due now, with a fresh count of
    attempts (None: every failed one); audited (``rec_outbox_retry``). Returns
    how many were failed and are pending again (a message not failed is left)."""
    with Session(writer(engine)) as s:
        q = select(OUTBOX.c.id).where(OUTBOX.c.status == "failed")
        if message_ids is not None:
            q = q.where(OUTBOX.c.id.in_(message_ids))
        ids = [int(i) for i in s.execute(q.order_by(OUTBOX.c.id)).scalars()]
        if not ids:
            return 0
        s.execute(
            update(OUTBOX)
            .where(OUTBOX.c.id.in_(ids), OUTBOX.c.status == "failed")
            .values(status="pending", next_try_at=now, attempts=0, claimed_by="", lease_until=None)
        )
        audit.append(s.connection(), "rec_outbox_retry", actor, data={"messages": ids}, at=now)
        s.commit()
        return len(ids)


@dataclass(frozen=True)
class BounceResult:
    """What :func:`record_bounces` did with the reports it was given."""

    marked: list[int]  # outbox ids now failed as bounced
    already: int  # reports about a message already marked with the same bounce
    unknown: int  # reports naming no message of this outbox (or a digest that does not fit)


def record_bounces(engine: Engine, bounces: list[Bounce], actor: str, now: float) -> BounceResult:
    """Mark the outbox messages that delivery status notifications report as
    permanently undeliverable (``recruitment.bounces.read_report``): status
    ``failed``, the report's status, diagnostic and recipient as the error
    staff see, so the address can be corrected; audited
    (``rec_outbox_bounced``). A report whose Message-ID digest does not match
    the row (another database's message, or a forged report) is not applied.
    Idempotent: a mailbox read twice marks nothing twice."""
    marked: list[int] = []
    unknown = already = 0
    with Session(writer(engine)) as s:
        for b in bounces:
            row = s.execute(
                select(
                    OUTBOX.c.id, OUTBOX.c.created_at, OUTBOX.c.to_addr, OUTBOX.c.subject,
                    OUTBOX.c.status, OUTBOX.c.last_error,
                ).where(OUTBOX.c.id == b.outbox_id)
            ).first()  # fmt: skip
            if row is None or _digest(row.id, row.created_at, row.to_addr, row.subject) != (
                b.digest
            ):
                unknown += 1
                continue
            error = f"{BOUNCED}{b.status} {b.recipient}: {b.diagnostic}"[:500]
            if row.status == "failed" and row.last_error == error:
                already += 1
                continue
            s.execute(
                update(OUTBOX)
                .where(OUTBOX.c.id == row.id)
                .values(status="failed", last_error=error, claimed_by="", lease_until=None)
            )
            marked.append(int(row.id))
        if marked:
            data = {"messages": marked}
            audit.append(s.connection(), "rec_outbox_bounced", actor, data=data, at=now)
        s.commit()
    return BounceResult(marked, already, unknown)


@dataclass(frozen=True)
class Undelivered:
    """The last message to an address that came back undeliverable: its
    subject, when it was written (epoch s) and the receiving server's words."""

    subject: str
    at: float
    reason: str


#: How :func:`record_bounces` marks a returned message's error.
BOUNCED = "bounced "


def undelivered_to(engine: Engine, address: str) -> Undelivered | None:
    """What the address's owner should be told: the newest message to
    ``address`` whose delivery has an outcome (accepted by the mail server,
    or failed), if that outcome is a bounce (a report from the receiving
    side, :func:`record_bounces`); None otherwise. A later message accepted
    since hides an older bounce; another bounce shows again. Only bounces
    are told: a failure of this server's own mail relay says nothing about
    the address and stays on the staff page."""
    with Session(engine) as s:
        row = s.execute(
            select(OUTBOX.c.subject, OUTBOX.c.created_at, OUTBOX.c.status, OUTBOX.c.last_error)
            .where(
                OUTBOX.c.to_addr == address,
                or_(OUTBOX.c.status == "failed", OUTBOX.c.sent_at.is_not(None)),
            )
            .order_by(OUTBOX.c.created_at.desc(), OUTBOX.c.id.desc())
            .limit(1)
        ).first()
    if row is None or row.status != "failed" or not row.last_error.startswith(BOUNCED):
        return None
    # "bounced 5.1.1 someone@example.id: 550 5.1.1 user unknown": the status
    # code, and the receiving server's words after the address.
    words = row.last_error.removeprefix(BOUNCED)
    status = words.split(" ", 1)[0]
    said = words.split(": ", 1)[1].strip() if ": " in words else ""
    reason = f"{said} ({status})" if said else status
    return Undelivered(row.subject, float(row.created_at), reason[:200])


# -- sending ------------------------------------------------------------------------------


def _claim(engine: Engine, token: str, now: float, lease: float, limit: int) -> list[RecOutbox]:
    due = or_(
        and_(OUTBOX.c.status == "pending", OUTBOX.c.next_try_at <= now),
        and_(OUTBOX.c.status == "sending", OUTBOX.c.lease_until < now),
    )
    with Session(engine) as s:
        # A read first: an idle outbox (most ticks) never takes SQLite's write lock.
        if s.execute(select(OUTBOX.c.id).where(due).limit(1)).first() is None:
            return []
    with Session(writer(engine), expire_on_commit=False) as s:
        # Two statements in one transaction: the picked rows stay locked until
        # the commit (PostgreSQL: FOR UPDATE; SKIP LOCKED lets a second sender
        # take the next ones instead of waiting). A subquery inside the UPDATE
        # was re-run per row by PostgreSQL's planner and ignored its LIMIT.
        pick = select(OUTBOX.c.id).where(due).order_by(OUTBOX.c.id).limit(limit)
        if s.get_bind().dialect.name == "postgresql":
            pick = pick.with_for_update(skip_locked=True)
        ids = [int(i) for i in s.execute(pick).scalars()]
        if not ids:
            s.rollback()
            return []
        s.execute(
            update(OUTBOX)
            .where(OUTBOX.c.id.in_(ids), due)
            .values(status="sending", claimed_by=token, lease_until=now + lease)
        )
        rows = list(
            s.execute(
                select(RecOutbox)
                .where(col(RecOutbox.claimed_by) == token, col(RecOutbox.status) == "sending")
                .order_by(col(RecOutbox.id))
            ).scalars()
        )
        s.commit()
        return rows


def _record(engine: Engine, token: str, row: RecOutbox, values: dict[str, Any]) -> None:
    """One message's result, only if this sender still holds its claim."""
    with Session(writer(engine)) as s:
        s.execute(
            update(OUTBOX)
            .where(
                OUTBOX.c.id == row.id,
                OUTBOX.c.claimed_by == token,
                OUTBOX.c.status == "sending",
            )
            .values(claimed_by="", lease_until=None, **values)
        )
        s.commit()


def _failure(
    row: RecOutbox, exc: BaseException, prefix: str, smtp: SmtpTarget, now: float
) -> dict[str, Any]:
    attempts = row.attempts + 1
    error = (prefix + describe(exc))[:500]
    if classify(exc) == "permanent" or smtp.policy.gives_up(attempts):
        return {"status": "failed", "attempts": attempts, "last_error": error}
    return {
        "status": "pending",
        "attempts": attempts,
        "last_error": error,
        "next_try_at": now + smtp.policy.delay(attempts),
    }


def message_id(row: RecOutbox, mail_from: str) -> str:
    """The ``Message-ID`` of every try of the outbox message ``row``: made from
    the row itself (id, creation time, recipient), so a copy sent again is
    recognisably the same message, and two messages never share one (the
    hash keeps ids apart across databases whose row ids restart)."""
    domain = mail_from.rpartition("@")[2] or "localhost"
    return f"<outbox.{row.id}.{_digest(row.id, row.created_at, row.to_addr, row.subject)}@{domain}>"


def _digest(row_id: Any, created_at: float, to_addr: str, subject: str) -> str:
    text = f"{row_id}|{created_at!r}|{to_addr}|{subject}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def send_pending(engine: Engine, smtp: SmtpTarget, now: float, limit: int = 50) -> Delivery:
    """Claim up to ``limit`` due messages and send them (see the module
    docstring). now: the server's clock, epoch seconds (retries are due
    relative to it)."""
    with smtp.lock:
        token = secrets.token_hex(8)
        started = time.monotonic()
        rows = _claim(engine, token, now, smtp.lease_seconds, limit)
        if not rows:
            return Delivery()
        sent = retry = failed = released = 0

        def outcome(row: RecOutbox, values: dict[str, Any]) -> None:
            nonlocal sent, retry, failed
            _record(engine, token, row, values)
            sent += values["status"] == "sent"
            retry += values["status"] == "pending"
            failed += values["status"] == "failed"

        try:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds)
        except (OSError, smtplib.SMTPException) as exc:
            for r in rows:
                outcome(r, _failure(r, exc, "connect: ", smtp, now))
            return Delivery(len(rows), sent, retry, failed, 0)
        rest = list(rows)
        try:
            while rest:
                r = rest[0]
                if time.monotonic() - started > smtp.lease_seconds / 2:
                    break  # the claim is running out: let the rest go untried
                rest.pop(0)
                msg = EmailMessage()
                msg["From"] = smtp.mail_from
                msg["To"] = r.to_addr
                msg["Subject"] = r.subject
                msg["Message-ID"] = message_id(r, smtp.mail_from)
                msg["Date"] = formatdate(r.created_at, usegmt=True)
                msg.set_content(r.body)
                try:
                    client.send_message(msg)
                except (smtplib.SMTPServerDisconnected, OSError) as exc:
                    # The connection is gone or in an unknown state: this one
                    # is retried later, the others are released untried.
                    outcome(r, _failure(r, exc, "", smtp, now))
                    break
                except smtplib.SMTPException as exc:
                    outcome(r, _failure(r, exc, "", smtp, now))
                else:
                    outcome(
                        r,
                        {
                            "status": "sent",
                            "sent_at": now,
                            "attempts": r.attempts + 1,
                            "last_error": "",
                        },
                    )
        finally:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()
            for r in rest:
                _record(engine, token, r, {"status": "pending"})
                released += 1
        return Delivery(len(rows), sent, retry, failed, released)


def send_due(engine: Engine, smtp: SmtpTarget, now: float, limit: int = 50) -> Delivery:
    """:func:`send_pending` until nothing due is left (or nothing was sent,
    so a server that refuses everything is not hammered); the totals."""
    total = Delivery()
    while True:
        d = send_pending(engine, smtp, now, limit)
        total = Delivery(
            total.claimed + d.claimed,
            total.sent + d.sent,
            total.retry + d.retry,
            total.failed + d.failed,
            total.released + d.released,
        )
        if d.claimed == 0 or d.sent == 0:
            return total
