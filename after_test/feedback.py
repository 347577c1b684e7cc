"""The terminal's anonymous survey and the public feedback box (kotak saran):
what a valid answer is, how moderation moves, and the public dashboard's
figures. No web, no database: the app reads rows and passes them here.

Moderation: ``pending`` → ``published`` or ``rejected`` (once); a published
item may get the agency's answer (once). The text is fixed at moderation: an
edit afterwards is refused (the dashboard shows what the moderator approved).
"""

from __future__ import annotations

import hashlib
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from after_test.errors import Refused
from after_test.policy import FeedbackRules, SurveyQuestion

DAY = 86_400.0


def check_survey(questions: Iterable[SurveyQuestion], answers: Any) -> dict[str, int]:
    """The answers by question code; refuses an unknown question, a value off
    the scale or not an integer, and an empty survey (skipping questions is fine)."""
    if not isinstance(answers, Mapping):
        raise Refused("answers", "jawaban survei harus berupa objek", "answers must be an object")
    by_code = {q.code: q for q in questions}
    out: dict[str, int] = {}
    for code, value in answers.items():
        q = by_code.get(code)
        if q is None:
            raise Refused(
                f"answers.{code}", f"pertanyaan tidak dikenal: {code}", f"unknown question {code}"
            )
        if isinstance(value, bool) or not isinstance(value, int) or not q.low <= value <= q.high:
            raise Refused(
                f"answers.{code}",
                f"jawaban '{code}' harus bilangan bulat {q.low}–{q.high}",
                f"answer '{code}' must be a whole number {q.low}–{q.high}",
            )
        out[code] = value
    if not out:
        raise Refused("answers", "tidak ada jawaban", "no answer given")
    return out


class FeedbackStatus(StrEnum):
    PENDING = "pending"
    PUBLISHED = "published"
    REJECTED = "rejected"


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_feedback(rules: FeedbackRules, category: Any, text: Any, honeypot: Any) -> str:
    """The cleaned text of a new feedback item, or :class:`Refused`.

    honeypot: a field hidden from people; anything in it is a robot's."""
    if honeypot:
        raise Refused("website", "pesan ditolak", "message refused")
    if not isinstance(category, str) or category not in rules.categories:
        raise Refused(
            "category",
            f"kategori harus salah satu dari: {', '.join(rules.categories)}",
            f"category must be one of: {', '.join(rules.categories)}",
        )
    if not isinstance(text, str) or not text.strip():
        raise Refused("text", "isi saran wajib diisi", "the text is required")
    if len(text) > rules.max_text:
        raise Refused(
            "text",
            f"isi saran paling banyak {rules.max_text} karakter",
            f"the text is limited to {rules.max_text} characters",
        )
    return text.strip()


def check_rate(rules: FeedbackRules, recent_from_sender: int) -> None:
    """Refuse a sender over ``per_hour`` items in the last hour."""
    if recent_from_sender >= rules.per_hour:
        raise Refused(
            "rate",
            f"terlalu banyak pesan; coba lagi dalam satu jam (batas {rules.per_hour})",
            f"too many messages; try again within the hour (limit {rules.per_hour})",
        )


def check_moderation(status: str, decision: str) -> None:
    if status != FeedbackStatus.PENDING:
        raise Refused(
            "status",
            f"saran ini sudah dimoderasi ({status})",
            f"this item was already moderated ({status})",
        )
    if decision not in (FeedbackStatus.PUBLISHED, FeedbackStatus.REJECTED):
        raise Refused("decision", "keputusan harus published atau rejected", "decision unknown")


def check_edit(status: str) -> None:
    """Only a pending item's text may change (a moderator fixing a typo before publishing)."""
    if status != FeedbackStatus.PENDING:
        raise Refused(
            "text",
            "saran yang sudah dimoderasi tidak dapat diubah",
            "a moderated item cannot be edited",
        )


def check_answer(status: str, answered: bool, answer: Any) -> str:
    if status != FeedbackStatus.PUBLISHED:
        raise Refused(
            "status", "hanya saran terbit yang dijawab", "only published items are answered"
        )
    if answered:
        raise Refused("answer", "saran ini sudah dijawab", "this item was already answered")
    if not isinstance(answer, str) or not answer.strip():
        raise Refused("answer", "jawaban wajib diisi", "an answer is required")
    return answer.strip()


@dataclass(frozen=True)
class Spread:
    """How long answers took in one group (days): the values sorted, their
    count, least, quartiles (``statistics.quantiles``, inclusive method: the
    same as numpy's default linear percentiles), median and most. One value:
    every figure is that value."""

    days: tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.days)

    @property
    def median(self) -> float:
        return statistics.median(self.days)

    @property
    def quartiles(self) -> tuple[float, float]:
        if self.n == 1:
            return self.days[0], self.days[0]
        q1, _, q3 = statistics.quantiles(self.days, n=4, method="inclusive")
        return q1, q3

    @property
    def least(self) -> float:
        return self.days[0]

    @property
    def most(self) -> float:
        return self.days[-1]


def spread(days: Iterable[float]) -> Spread | None:
    """The spread of ``days`` (None when there are none)."""
    values = tuple(sorted(days))
    return Spread(values) if values else None


#: The fewest answers behind a survey mean the public dashboard shows: a test
#: day with one respondent (a make-up session) would show that candidate's
#: answers; fewer than this show the count and no mean.
MIN_SURVEY_CELL = 5


@dataclass(frozen=True)
class Dashboard:
    """The public dashboard's figures.

    satisfaction: (day, question, mean, n) per test day and question, the
    mean None where fewer than :data:`MIN_SURVEY_CELL` answered;
    by_category: category → status → count; median_days_to_answer: over
    answered feedback (None before any); days_to_answer: category → the days
    each answered item waited, sorted; survey_n: submissions."""

    satisfaction: list[tuple[str, str, float | None, int]]
    by_category: dict[str, dict[str, int]]
    median_days_to_answer: float | None
    survey_n: int
    days_to_answer: dict[str, tuple[float, ...]]


def dashboard(
    survey: Iterable[tuple[str, str, str, int]],
    feedback: Iterable[tuple[str, str, float, float | None]],
) -> Dashboard:
    """survey: (submission, day, question, value) rows; feedback: (category,
    status, created_at, answered_at) rows."""
    sums: dict[tuple[str, str], list[int]] = defaultdict(list)
    subs: set[str] = set()
    for submission, day, question, value in survey:
        sums[(day, question)].append(value)
        subs.add(submission)
    satisfaction = [
        (day, q, sum(v) / len(v) if len(v) >= MIN_SURVEY_CELL else None, len(v))
        for (day, q), v in sorted(sums.items())
    ]
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    waits: dict[str, list[float]] = defaultdict(list)
    for category, status, created, answered in feedback:
        counts[category][status] += 1
        if answered is not None:
            waits[category].append((answered - created) / DAY)
    every = spread(d for ds in waits.values() for d in ds)
    return Dashboard(
        satisfaction,
        {c: dict(v) for c, v in sorted(counts.items())},
        every.median if every else None,
        len(subs),
        {c: tuple(sorted(ds)) for c, ds in sorted(waits.items())},
    )
