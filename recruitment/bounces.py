"""Reading bounces: delivery status notifications (RFC 3464) about the outbox's mail.

An SMTP server that accepted a message may still fail to deliver it later
(the mailbox does not exist, it is full, the domain refuses it) and then
mails a *delivery status notification* to the envelope sender: a
``multipart/report; report-type=delivery-status`` message whose second part,
``message/delivery-status``, has one block of fields per recipient
(``Final-Recipient``, ``Action``, ``Status``, ``Diagnostic-Code``) and whose
third part returns the original message or its headers, with its
``Message-ID``. The outbox gives every message a ``Message-ID`` made from its
row (``exam_server.recruitment.outbox.message_id``), so a report names the
message it is about.

:func:`read_report` turns one message's bytes into the failures it reports
(``Action: failed``, a permanent ``5.x.x`` status); anything else — a delay
warning, a delivery receipt, a message that is not a report, a broken MIME
structure, bytes that are not mail at all — gives nothing, never an error:
a bounce mailbox holds whatever the internet sent to it. Rules only (no
database): ``exam_server.recruitment.outbox.record_bounces`` applies them.
"""

from __future__ import annotations

import email
import email.errors
import email.policy
import re
from dataclasses import dataclass
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

#: The outbox's Message-ID (``<outbox.ID.DIGEST@domain>``): the row id and the
#: digest that ties the id to that row's creation time, recipient and subject.
OUTBOX_ID = re.compile(r"<outbox\.(\d{1,18})\.([0-9a-f]{16})@[^<>\s]+>")


@dataclass(frozen=True)
class Bounce:
    """A permanent delivery failure reported for one outbox message.

    outbox_id, digest: from the original ``Message-ID``; recipient: the
    ``Final-Recipient`` address; status: the ``5.x.x`` code; diagnostic: the
    remote server's words (``Diagnostic-Code``), at most 300 characters."""

    outbox_id: int
    digest: str
    recipient: str
    status: str
    diagnostic: str


def _fields(block: Message) -> dict[str, str]:
    return {k.lower(): " ".join(str(v).split()) for k, v in block.items()}


def _address(value: str) -> str:
    """``rfc822; name@host`` → ``name@host``."""
    return value.partition(";")[2].strip() if ";" in value else value.strip()


def _original_id(report: Message) -> str | None:
    """The Message-ID of the returned message (or of its returned headers)."""
    for part in report.walk():
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, Message) and inner.get("Message-ID"):
                return str(inner["Message-ID"])
        elif ctype == "text/rfc822-headers":
            raw = part.get_payload(decode=True)
            if isinstance(raw, bytes):
                headers = email.message_from_bytes(raw, policy=email.policy.compat32)
                if headers.get("Message-ID"):
                    return str(headers["Message-ID"])
    return None


def _status_blocks(report: Message) -> list[Message]:
    """The per-message and per-recipient field blocks of the report."""
    for part in report.walk():
        if part.get_content_type() == "message/delivery-status":
            payload = part.get_payload()
            if isinstance(payload, list):
                return [b for b in payload if isinstance(b, Message)]
    return []


def read_report(data: bytes) -> list[Bounce]:
    """The permanent failures one message reports about an outbox message
    (empty for anything else; see the module docstring)."""
    try:
        report: Message = email.message_from_bytes(data, policy=email.policy.compat32)
        if report.get_content_type() != "multipart/report":
            return []
        if str(report.get_param("report-type", "")).lower() != "delivery-status":
            return []
        original = _original_id(report)
        match = OUTBOX_ID.search(original or "")
        if match is None:
            return []  # not about a message of ours
        out: list[Bounce] = []
        for block in _status_blocks(report):
            f = _fields(block)
            status = f.get("status", "")
            if f.get("action", "").lower() != "failed" or not status.startswith("5."):
                continue  # delayed, delivered, relayed, or not permanent
            recipient = _address(f.get("final-recipient", f.get("original-recipient", "")))
            diagnostic = _address(f.get("diagnostic-code", ""))[:300]
            out.append(
                Bounce(int(match.group(1)), match.group(2), recipient, status[:20], diagnostic)
            )
        return out
    except (ValueError, TypeError, LookupError, AttributeError, email.errors.MessageError):
        # The email package parses leniently but not every malformed header
        # path is covered: a message it cannot read reports nothing.
        return []


def report_bytes(
    message_id: str,
    recipient: str,
    status: str = "5.1.1",
    diagnostic: str = "smtp; 550 5.1.1 user unknown",
    action: str = "failed",
) -> bytes:
    """A delivery status notification as a mail server sends one (RFC 3464):
    for tests, the demo and operators trying the command."""
    msg = MIMEMultipart("report", report_type="delivery-status")
    msg["From"] = "Mail Delivery System <MAILER-DAEMON@mail.contoh.go.id>"
    msg["To"] = "seleksi@contoh.go.id"
    msg["Subject"] = "Undelivered Mail Returned to Sender"
    msg.attach(MIMEText(f"Your message to {recipient} could not be delivered.\n"))
    status_part = Message()
    status_part["Content-Type"] = "message/delivery-status"
    per_message = Message()
    per_message["Reporting-MTA"] = "dns; mail.contoh.go.id"
    per_recipient = Message()
    per_recipient["Final-Recipient"] = f"rfc822; {recipient}"
    per_recipient["Action"] = action
    per_recipient["Status"] = status
    per_recipient["Diagnostic-Code"] = diagnostic
    status_part.set_payload([per_message, per_recipient])
    headers = Message()
    headers["Content-Type"] = "text/rfc822-headers"
    headers.set_payload(
        f"From: seleksi@contoh.go.id\r\nTo: {recipient}\r\nMessage-ID: {message_id}\r\n"
        "Subject: Verifikasi email / Email verification\r\n"
    )
    msg.attach(status_part)
    msg.attach(headers)
    return msg.as_bytes(policy=email.policy.SMTP)
