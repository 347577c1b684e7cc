"""Appeals of results (sanggah hasil): who may appeal, when, what the agency
may decide, and what an accepted appeal may correct. No web, no database: the
app calls these and stores what they return.

Times are seconds since the epoch (the server's :mod:`exam_server.clock`);
a publication's date is its ``published_at`` (ISO date), the window opening
at 00:00 UTC of that day.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass
from enum import StrEnum

from after_test.errors import Refused
from after_test.policy import AppealRules
from exam_server.results.versions import correctable

DAY = 86_400.0
#: The longest field name and corrected value an appeal holds (the columns of
#: ``after_appeal``: ``field``, ``correction_from`` / ``correction_to``).
MAX_FIELD = 20
MAX_VALUE = 200


class Status(StrEnum):
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Window:
    """Open from ``opens`` to ``closes``; answers due by ``answer_by`` (epoch seconds)."""

    opens: float
    closes: float
    answer_days: int

    def answer_by(self, submitted_at: float) -> float:
        return submitted_at + self.answer_days * DAY

    def is_open(self, now: float) -> bool:
        return self.opens <= now < self.closes


def window(rules: AppealRules, published_at: str) -> Window:
    """The appeal window of a publication dated ``published_at`` (YYYY-MM-DD)."""
    try:
        day = dt.date.fromisoformat(published_at[:10])
    except ValueError:
        raise Refused(
            "published_at",
            f"tanggal publikasi tidak sah: {published_at!r}",
            f"not a publication date: {published_at!r}",
        ) from None
    opens = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()
    return Window(opens, opens + rules.window_days * DAY, rules.answer_days)


def allowed(rules: AppealRules, field: str) -> bool:
    """Whether the policy lets an appeal correct ``field``; ``skb`` covers one
    SKB component too (``skb:<code>``, :func:`exam_server.results.versions.correctable`)."""
    if len(field) > MAX_FIELD:
        return False
    return field in rules.fields or (
        "skb" in rules.fields and correctable(field) and field.startswith("skb:")
    )


@dataclass(frozen=True)
class AppealRequest:
    """What a candidate sends: the receipt (checked by
    :func:`exam_server.results.receipt_check`), the reason, the evidence (text,
    e.g. a description or a link), and the correction asked for (optional)."""

    reason: str
    evidence: str
    field: str | None
    requested: str | None


def check_request(rules: AppealRules, win: Window, now: float, req: AppealRequest) -> None:
    """Refuse an appeal outside the window, or without a reason; raises :class:`Refused`."""
    if now < win.opens:
        raise Refused("time", "masa sanggah belum dibuka", "the appeal window has not opened yet")
    if now >= win.closes:
        raise Refused(
            "time",
            f"masa sanggah telah ditutup ({rules.window_days} hari setelah pengumuman)",
            f"the appeal window has closed ({rules.window_days} days after publication)",
        )
    if not req.reason.strip():
        raise Refused("reason", "alasan sanggah wajib diisi", "a reason is required")
    if len(req.reason) > rules.max_reason:
        raise Refused(
            "reason",
            f"alasan paling banyak {rules.max_reason} karakter",
            f"the reason is limited to {rules.max_reason} characters",
        )
    if len(req.evidence) > rules.max_evidence:
        raise Refused(
            "evidence",
            f"bukti paling banyak {rules.max_evidence} karakter",
            f"the evidence is limited to {rules.max_evidence} characters",
        )
    if req.field is not None and not allowed(rules, req.field):
        raise Refused(
            "field",
            f"sanggah hanya dapat memperbaiki kesalahan administratif: {', '.join(rules.fields)}",
            f"an appeal may correct only clerical data: {', '.join(rules.fields)}",
        )


def check_not_pending(statuses: list[str]) -> None:
    """One open appeal per candidate and exam: a second waits for the first's answer."""
    if Status.SUBMITTED in statuses:
        raise Refused(
            "receipt",
            "Anda masih memiliki sanggah yang belum dijawab",
            "you have an appeal that is not answered yet",
        )


@dataclass(frozen=True)
class Decision:
    """The agency's answer. ``field``/``value``: the correction (accepted only)."""

    status: Status
    answer: str
    field: str | None = None
    value: str | None = None


def check_decision(rules: AppealRules, status: str, decision: Decision, now: float) -> None:
    """Refuse deciding an appeal twice, an accepted appeal without a correction
    of an allowed field, or an answer without text."""
    if status != Status.SUBMITTED:
        raise Refused(
            "status",
            f"sanggah ini sudah dijawab ({status})",
            f"this appeal was answered ({status})",
        )
    if not decision.answer.strip():
        raise Refused("answer", "jawaban wajib diisi", "an answer is required")
    if decision.status == Status.ACCEPTED:
        if decision.field is None or not allowed(rules, decision.field) or decision.value is None:
            raise Refused(
                "field",
                f"sanggah diterima harus menyebut perbaikan: {', '.join(rules.fields)}",
                f"an accepted appeal names its correction: one of {', '.join(rules.fields)}",
            )
        if len(decision.value) > MAX_VALUE:
            raise Refused(
                "value",
                f"nilai perbaikan paling banyak {MAX_VALUE} karakter",
                f"the corrected value is limited to {MAX_VALUE} characters",
            )
    elif decision.status != Status.REJECTED:
        raise Refused("status", "keputusan tidak dikenal", "unknown decision")


def check_no_waiting_correction(field: str, waiting: dict[int, str]) -> None:
    """Refuse accepting a correction of ``field`` while another accepted appeal
    of the same candidate corrects it and no published version carries it yet
    (``waiting``: appeal id → field). Both would start from the published
    value, and the next version, applying one after the other, could not
    sign the second: a decision once stored cannot be changed."""
    for appeal_id, other in sorted(waiting.items()):
        if other == field:
            raise Refused(
                "field",
                f"sanggah {appeal_id} peserta ini sudah diterima dengan perbaikan '{field}' yang "
                "belum diterbitkan: terbitkan versi berikutnya dahulu",
                f"appeal {appeal_id} of this candidate was accepted with a correction of "
                f"'{field}' that no published version carries yet: publish the next version first",
            )


@dataclass(frozen=True)
class AppealStats:
    """Public appeal statistics: counts by status, overdue answers, the
    median days to answer (None before any answer) and the days each
    answered appeal waited (sorted)."""

    submitted: int
    accepted: int
    rejected: int
    pending: int
    overdue: int
    median_days_to_answer: float | None
    days_to_answer: tuple[float, ...] = ()


def stats(rows: list[tuple[str, float, float | None, float]], now: float) -> AppealStats:
    """rows: (status, submitted_at, answered_at, answer_by) of every appeal."""
    answered = [(a - s) / DAY for st, s, a, _ in rows if a is not None]
    pending = [r for r in rows if r[0] == Status.SUBMITTED]
    return AppealStats(
        submitted=len(rows),
        accepted=sum(1 for r in rows if r[0] == Status.ACCEPTED),
        rejected=sum(1 for r in rows if r[0] == Status.REJECTED),
        pending=len(pending),
        overdue=sum(1 for r in pending if now > r[3]),
        median_days_to_answer=statistics.median(answered) if answered else None,
        days_to_answer=tuple(sorted(answered)),
    )
