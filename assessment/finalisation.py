"""Several assessors' scores of one candidate on one component → one score.

:func:`finalise` applies the component's :class:`~assessment.components.Finalisation`:
the mean, the median or a trimmed mean of the assessors' component scores
(0–100), unless they differ by more than the adjudication margin, in which
case the score waits for the panel chair (:attr:`Outcome.needs_adjudication`).
A trimmed mean left with too few sheets to cut (recusals) is the median.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from assessment.components import ComponentError, Finalisation, quantize


@dataclass(frozen=True)
class Outcome:
    """``score`` is ``None`` while the spread is over the margin."""

    score: Decimal | None
    spread: Decimal
    needs_adjudication: bool


def combine(scores: Sequence[Decimal], rule: Finalisation) -> Decimal:
    """The rule's central value of ``scores`` (each 0–100), 3 decimals."""
    if not scores:
        raise ComponentError("no assessor's score to finalise")
    s = sorted(scores)
    n = len(s)
    if rule.rule == "median":
        mid = n // 2
        value = s[mid] if n % 2 else (s[mid - 1] + s[mid]) / 2
    elif rule.rule == "trimmed_mean" and n > 2 * rule.trim:
        kept = s[rule.trim : n - rule.trim]
        value = sum(kept, Decimal(0)) / len(kept)
    elif rule.rule == "trimmed_mean":
        # Recusals left too few sheets to cut: the median, the trimmed mean's limit.
        mid = n // 2
        value = s[mid] if n % 2 else (s[mid - 1] + s[mid]) / 2
    else:
        value = sum(s, Decimal(0)) / n
    return quantize(value)


def finalise(scores: Sequence[Decimal], rule: Finalisation) -> Outcome:
    spread = max(scores) - min(scores) if scores else Decimal(0)
    if spread > rule.adjudication_margin:
        return Outcome(None, spread, True)
    return Outcome(combine(scores, rule), spread, False)
