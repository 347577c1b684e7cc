"""When the public board may show a candidate's running points: the release rule.

Pure (no I/O, no clock of its own). A running score that moves with every
answer gives away the key: a candidate who cycles through the options of
one item shows anyone watching the board which option scores. So the
board shows a candidate's running points only at *releases*:

* a release happens at a stored answer when, compared with the answers of
  the previous release, at least ``batch_answers`` items have a different
  answer, **and** at least ``min_interval_seconds`` have passed since the
  previous release (:func:`board_release`);
* what is shown is the points as of that answer: every change between two
  releases is merged into one figure, never shown step by step;
* the first "release" is the start of the attempt (no answers, no points);
* with ``show_running=False`` nothing is released before the finish.

Changes are counted as items whose answer *differs* from the previous
release, not as stored answer messages: otherwise four re-sends of an
unchanged answer and one real change would make a batch whose whole
difference is that one answer.

The rule is a function of the attempt's stored answers (sequence number,
time, item number, option) and its start, so every process that serves a
board computes the same releases, whenever its board connected
(:class:`ReleaseTracker` folds the answers; folding them in pieces gives
the same result as folding them at once).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from exam_server.exam_options import BoardOptions

Answers = Mapping[int, int]
"""Item number (1-based position in the candidate's test) → chosen option.
Linear tests: a cleared answer is absent. Adaptive tests: a blank response
(−1) is a response and is kept."""


def changed_items(before: Answers, after: Answers) -> int:
    """How many item numbers have a different answer in ``after`` than in ``before``."""
    keys = before.keys() | after.keys()
    return sum(1 for k in keys if before.get(k) != after.get(k))


@dataclass(frozen=True)
class Release:
    """What the board last showed of one attempt's running points.

    at: epoch seconds of the answer that released it (the start of the
    attempt for the first one); seq: that answer's sequence number (0: the
    start); answers: the answers as of that answer."""

    at: float
    seq: int = 0
    answers: Answers = field(default_factory=lambda: MappingProxyType({}))


def board_release(options: BoardOptions, last: Release, answers: Answers, at: float) -> bool:
    """Whether an attempt's running points may be shown as of ``answers``,
    stored at ``at`` (epoch s), given the previous release ``last``.

    True when running points are shown at all, at least
    ``options.batch_answers`` items changed since ``last`` and at least
    ``options.min_interval_seconds`` passed since it."""
    return (
        options.show_running
        and at - last.at >= options.min_interval_seconds
        and changed_items(last.answers, answers) >= options.batch_answers
    )


@dataclass(frozen=True)
class StoredAnswer:
    """One stored ``answer`` response (``exam_response``): seq, epoch seconds,
    item number, option (−1: cleared / blank)."""

    seq: int
    at: float
    number: int
    option: int


class ReleaseTracker:
    """Folds one attempt's stored answers, in sequence order, into its releases.

    start_at: when the attempt's clock first started (epoch s; the first
    release); adaptive: blank responses count as responses (see
    :data:`Answers`). ``add`` ignores answers it has already seen (by seq), so
    feeding overlapping reads is harmless.
    """

    def __init__(self, options: BoardOptions, start_at: float, *, adaptive: bool) -> None:
        self.options = options
        self.adaptive = adaptive
        self.answers: dict[int, int] = {}
        self.seq = 0
        self.last = Release(float(start_at))

    def add(self, answer: StoredAnswer) -> Release | None:
        """Take one stored answer; the new release if it makes one."""
        if answer.seq <= self.seq:
            return None
        self.seq = answer.seq
        if answer.option >= 0 or self.adaptive:
            self.answers[answer.number] = answer.option
        else:
            self.answers.pop(answer.number, None)
        if not board_release(self.options, self.last, self.answers, answer.at):
            return None
        self.last = Release(answer.at, answer.seq, MappingProxyType(dict(self.answers)))
        return self.last

    def add_all(self, answers: Iterable[StoredAnswer]) -> Release | None:
        """Take answers in order; the last release they made (None: none)."""
        made = None
        for answer in answers:
            made = self.add(answer) or made
        return made
