"""How the outbox delivers: retry timing, what an SMTP error means, and when a
registration deadline's reminder is due. Rules only (no database, no web):
``exam_server.recruitment.outbox`` and ``.reminders`` apply them.

* :class:`RetryPolicy` — a temporary failure is tried again after
  ``first_delay_seconds`` × 2^(attempt − 1), capped at ``max_delay_seconds``;
  after ``max_attempts`` attempts the message has failed.
* :func:`classify` — an SMTP reply 5xx to a message (recipient, sender, data)
  is permanent; a 4xx reply, a refused or dropped connection, a timeout are
  temporary.
* :func:`due_lead` — which of the reminder lead times (days before a
  deadline: the end of registration, or of the appeal window) is due now:
  each lead's window runs from its point to the next smaller lead's point, so
  a server that was down at the 3-day point sends the 1-day reminder only,
  never two at once. :func:`appeal_lead_due` adds that an appeal reminder
  waits for the window to open.
"""

from __future__ import annotations

import datetime as dt
import smtplib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

WIB = ZoneInfo("Asia/Jakarta")
DAY = 86400.0

Outcome = Literal["temporary", "permanent"]


@dataclass(frozen=True)
class RetryPolicy:
    """Retry timing of the outbox (seconds; ``max_attempts`` counts every try,
    the first included). Defaults: 1, 2, 4 … minutes, at most an hour apart,
    eight tries (about two hours and seven minutes from the first to the last)."""

    first_delay_seconds: float = 60.0
    max_delay_seconds: float = 3600.0
    max_attempts: int = 8

    def __post_init__(self) -> None:
        if not 1.0 <= self.first_delay_seconds <= 86400.0:
            raise ValueError("first retry delay must be between 1 s and one day")
        if not self.first_delay_seconds <= self.max_delay_seconds <= 7 * 86400.0:
            raise ValueError("longest retry delay must be between the first delay and a week")
        if not 1 <= self.max_attempts <= 100:
            raise ValueError("max attempts must be between 1 and 100")

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failed try (attempts ≥ 1)."""
        exponent = min(max(attempts, 1) - 1, 60)  # 2**60 s is past any cap
        return float(min(self.max_delay_seconds, self.first_delay_seconds * 2.0**exponent))

    def gives_up(self, attempts: int) -> bool:
        """True when ``attempts`` tries are all this policy allows."""
        return attempts >= self.max_attempts


def classify(exc: BaseException) -> Outcome:
    """What a failed send of one message means for it: ``permanent`` for a 5xx
    reply to it (every refused recipient 5xx; the sender or the data refused
    with 5xx), ``temporary`` for anything else (4xx, connection refused or
    dropped, a timeout, an unexpected reply)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return "permanent" if codes and all(500 <= c < 600 for c in codes) else "temporary"
    if isinstance(exc, smtplib.SMTPConnectError):
        return "temporary"  # the server, not this message (a greeting 554 is for everyone)
    if isinstance(exc, smtplib.SMTPResponseException):
        return "permanent" if 500 <= exc.smtp_code < 600 else "temporary"
    return "temporary"


def describe(exc: BaseException) -> str:
    """The error as staff read it: the SMTP reply (``550 5.1.1 no such user``)
    when there is one, else the exception's name and text; at most 500 characters."""

    def text(raw: bytes | str) -> str:
        return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)

    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        parts = [f"{code} {text(msg)}" for code, msg in exc.recipients.values()]
        out = "; ".join(parts)
    elif isinstance(exc, smtplib.SMTPResponseException):
        out = f"{exc.smtp_code} {text(exc.smtp_error)}"
    else:
        out = f"{type(exc).__name__}: {exc}"
    return out[:500]


def start_of_day(day: dt.date) -> float:
    """Midnight WIB at the start of ``day``, epoch seconds."""
    return dt.datetime.combine(day, dt.time(0), WIB).timestamp()


def end_of_day(day: dt.date) -> float:
    """The end of ``day`` (dates are WIB and inclusive): midnight WIB after
    it, epoch seconds."""
    return start_of_day(day + dt.timedelta(days=1))


def submission_deadline(registration_closes: dt.date) -> float:
    """The end of the last registration day, epoch seconds."""
    return end_of_day(registration_closes)


def parse_lead_days(text: str) -> tuple[float, ...]:
    """``"3,1"`` → (3.0, 1.0): reminder lead times in days, largest first;
    ``"off"`` or ``"none"`` → (). Each must be in (0, 60], distinct, at most 6."""
    text = text.strip().lower()
    if text in ("off", "none", "0"):
        return ()
    try:
        leads = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"reminder lead days: numbers separated by commas, not {text!r}") from None
    if not leads or len(leads) > 6:
        raise ValueError("reminder lead days: one to six numbers (or 'off')")
    if any(not 0 < d <= 60 for d in leads) or len(set(leads)) != len(leads):
        raise ValueError("reminder lead days: distinct numbers of days in (0, 60]")
    return tuple(sorted(leads, reverse=True))


def due_lead(deadline: float, now: float, leads: Sequence[float]) -> float | None:
    """The lead time (days) whose reminder is due at ``now`` (epoch seconds),
    or None: lead L is due from ``deadline − L days`` until the next smaller
    lead's point (the last one until the deadline)."""
    ordered = sorted(leads, reverse=True)
    for i, lead in enumerate(ordered):
        until = deadline - (ordered[i + 1] * DAY if i + 1 < len(ordered) else 0.0)
        if deadline - lead * DAY <= now < until:
            return lead
    return None


def appeal_lead_due(
    appeal_opens: dt.date, appeal_closes: dt.date, now: float, leads: Sequence[float]
) -> float | None:
    """The lead time (days before the appeal window closes) whose reminder is
    due at ``now``, or None: as :func:`due_lead`, and never before the window
    opens (a lead longer than the window is due from its opening)."""
    if now < start_of_day(appeal_opens):
        return None
    return due_lead(end_of_day(appeal_closes), now, leads)


def lead_key(registration_id: int, lead: float) -> str:
    """The outbox key of one registration's reminder at one lead time (unique:
    the same reminder is never queued twice)."""
    return f"deadline:{registration_id}:{lead:g}"


def appeal_lead_key(registration_id: int, lead: float) -> str:
    """The outbox key of one registration's appeal reminder at one lead time."""
    return f"appeal:{registration_id}:{lead:g}"


def _last_day_and_left(deadline: float, now: float) -> tuple[str, str, str]:
    """(the last day as YYYY-MM-DD, the time left in Bahasa Indonesia, in English)."""
    last_day = dt.datetime.fromtimestamp(deadline - 1, WIB).strftime("%Y-%m-%d")
    hours = max(0, int((deadline - now) // 3600))
    left_id = f"{hours // 24} hari {hours % 24} jam" if hours >= 24 else f"{hours} jam"
    left_en = f"{hours // 24} days {hours % 24} hours" if hours >= 24 else f"{hours} hours"
    return last_day, left_id, left_en


def appeal_window_text(appeal_opens: dt.date, appeal_closes: dt.date) -> tuple[str, str]:
    """One line on the appeal window (Bahasa Indonesia, English), for the
    message that tells a registration it is TMS."""
    opens, closes = appeal_opens.isoformat(), appeal_closes.isoformat()
    return (
        f"Masa sanggah: {opens} sampai {closes} pukul 23.59 WIB, di halaman pendaftaran Anda.",
        f"Appeal window: {opens} to {closes} at 23:59 WIB, on your registration page.",
    )


def appeal_reminder_message(
    name: str, registration_number: str, period_name: str, deadline: float, now: float
) -> tuple[str, str]:
    """(subject, body) of an appeal-window reminder to a TMS registration that
    has not appealed, Bahasa Indonesia first, then English."""
    last_day, left_id, left_en = _last_day_and_left(deadline, now)
    subject = "Pengingat: masa sanggah segera ditutup / Reminder: the appeal window closes soon"
    body = (
        f"Yth. {name},\n\n"
        f"Pendaftaran {registration_number} untuk {period_name} dinyatakan tidak memenuhi "
        f"syarat (TMS). Masa sanggah ditutup {last_day} pukul 23.59 WIB (sisa waktu sekitar "
        f"{left_id}). Jika Anda tidak setuju dengan keputusan ini, ajukan sanggah beserta "
        "alasannya di halaman pendaftaran Anda. Sanggah yang diajukan setelah masa sanggah "
        "ditutup tidak dapat diterima.\n\n"
        f"Dear {name},\n\n"
        f"Registration {registration_number} for {period_name} was found not to meet the "
        f"requirements (TMS). The appeal window closes on {last_day} at 23:59 WIB (about "
        f"{left_en} left). If you disagree with this decision, file an appeal with your "
        "reasons on your registration page. An appeal cannot be filed after the window "
        "closes.\n"
    )
    return subject, body


def reminder_message(name: str, period_name: str, deadline: float, now: float) -> tuple[str, str]:
    """(subject, body) of a deadline reminder, Bahasa Indonesia first, then English."""
    last_day, left_id, left_en = _last_day_and_left(deadline, now)
    subject = "Pengingat: pendaftaran belum dikirim / Reminder: registration not submitted"
    body = (
        f"Yth. {name},\n\n"
        f"Pendaftaran Anda untuk {period_name} belum dikirim. Pendaftaran ditutup "
        f"{last_day} pukul 23.59 WIB (sisa waktu sekitar {left_id}). Lengkapi data dan "
        "dokumen, lalu kirim pendaftaran di halaman pendaftaran Anda. Pendaftaran yang "
        "tidak dikirim tidak akan diverifikasi.\n\n"
        f"Dear {name},\n\n"
        f"Your registration for {period_name} has not been submitted. Registration closes "
        f"on {last_day} at 23:59 WIB (about {left_en} left). Complete your data and "
        "documents, then submit the registration on your registration page. A registration "
        "that is not submitted will not be verified.\n"
    )
    return subject, body
