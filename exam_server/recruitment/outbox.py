"""The outbox sender: stored messages go out by SMTP (smtplib).

Every message is first a ``rec_outbox`` row written in the transaction of the
change it tells about (``service.enqueue``), so a message is never lost and
never sent for a change that rolled back. :func:`send_pending` sends the
unsent ones in order over one SMTP connection; a message the server refused
stays unsent with its error and attempt count, and is tried again next time.
One sender at a time per process (``lock``): two requests that both kick the
outbox do not send a message twice.
"""

from __future__ import annotations

import smtplib
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from exam_server.db import writer
from recruitment.models import RecOutbox

#: A message is given up after this many refused attempts (it stays visible).
MAX_ATTEMPTS = 5


@dataclass
class SmtpTarget:
    host: str
    port: int
    mail_from: str
    timeout_seconds: float = 10.0
    lock: threading.Lock = field(default_factory=threading.Lock)


def send_pending(engine: Engine, smtp: SmtpTarget, now: float, limit: int = 200) -> int:
    """Send up to ``limit`` unsent messages; returns how many were sent."""
    with smtp.lock:
        with Session(engine) as s:
            rows = list(
                s.execute(
                    select(RecOutbox)
                    .where(col(RecOutbox.sent_at).is_(None), col(RecOutbox.attempts) < MAX_ATTEMPTS)
                    .order_by(col(RecOutbox.id))
                    .limit(limit)
                ).scalars()
            )
        if not rows:
            return 0
        sent = 0
        results: list[tuple[int, str | None]] = []
        try:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds)
        except OSError as exc:
            results = [(r.id or 0, f"connect: {exc}") for r in rows]
        else:
            with client:
                for r in rows:
                    msg = EmailMessage()
                    msg["From"] = smtp.mail_from
                    msg["To"] = r.to_addr
                    msg["Subject"] = r.subject
                    msg.set_content(r.body)
                    try:
                        client.send_message(msg)
                    except (smtplib.SMTPException, OSError) as exc:
                        results.append((r.id or 0, str(exc)[:500]))
                    else:
                        results.append((r.id or 0, None))
                        sent += 1
        with Session(writer(engine)) as s:
            for ident, error in results:
                row = s.get(RecOutbox, ident)
                if row is None:
                    continue
                row.attempts += 1
                if error is None:
                    row.sent_at = now
                else:
                    row.last_error = error
                s.add(row)
            s.commit()
        return sent
