"""Whether a candidate passes: the exam's ranking policy, applied once.

The engine scores (points per subtest on the published scale); the verdict
is the exam's policy (``ExamData.policy``, the document ``seleksi results
publish`` ranks with) applied by :func:`exam_server.results.rules.evaluate`.
The terminal's final frame, ``exam_attempt.passed``/``pass_reason``, the
audit ``finish`` event, the admin API and the board all carry this one
verdict.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exam_server.exams import ExamData
from exam_server.results import rules


def section_points(score: Mapping[str, Any]) -> dict[str, float]:
    """Points per subtest code of an engine score (``TestScore.to_dict()``)."""
    return {str(s["code"]): float(s["points"]) for s in score.get("sections", [])}


def verdict(
    exam: ExamData, category: str, score: Mapping[str, Any]
) -> tuple[bool | None, dict[str, str]]:
    """Whether ``score`` passes for ``category`` under the exam's policy, and
    why: ``{"id": …, "en": …}`` (Bahasa Indonesia for the candidate first,
    English beside it; the English text is what ``pass_reason`` stores).

    None (undecided) when the policy cannot judge the score, e.g. an unknown
    category or a subtest the policy does not know: the staff text says why."""
    try:
        v = rules.evaluate(exam.policy, category, section_points(score))
    except ValueError as exc:
        return None, {"id": "Kelulusan belum dapat ditentukan.", "en": str(exc)}
    return v.passed, {"id": v.reason("id"), "en": v.reason("en")}


def stored_reasons(
    exam: ExamData, category: str, score: Mapping[str, Any], stored: str | None
) -> dict[str, str | None]:
    """Both reasons of a finished attempt read back from the database, where
    only the English one is stored: recomputed from the stored points (the
    policy is a pure function of them). The exam's policy cannot change once
    a session has opened, so a difference means the stored row was made by
    other rules: the stored text is the record, with no Indonesian text
    (clients fall back to ``pass_reason``)."""
    _, reasons = verdict(exam, category, score)
    if reasons["en"] != stored:
        return {"id": None, "en": stored}
    return dict(reasons)
