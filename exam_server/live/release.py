"""When the public board may show a candidate's running points: the release rule.

Pure (no I/O, no clock of its own). A running score that moves with every
answer gives away the key: a candidate who cycles through the options of
one item shows anyone watching the board which option scores. The board
shows points *per subtest* (section), so the rule is per subtest too: a
subtest's figure is a sum over that subtest's items, and a rule that counted
changes over the whole test would let a candidate keep one answered item in
a subtest, change items elsewhere to make up the batch, and have the board
show that single item's points.

The board shows a subtest's running figure only at *releases*
(:func:`board_release`, :func:`section_release`). At a stored answer, a
subtest's figure is released as of that answer when

* running points are shown at all (``show_running``);
* at least ``min_interval_seconds`` have passed since the attempt's previous
  release of *any* subtest (the interval is per attempt: releases of two
  subtests at the same answer come together, never one just after the other);
* the subtest has at least ``batch_answers`` answered items (a figure is never
  a sum over fewer items); and
* compared with **every** answer set of that subtest released before for this
  attempt (not only the last one), at least ``batch_answers`` of its items
  have a different answer, so no two figures of a subtest ever shown are sums
  over answer sets that differ in fewer items (an adaptive test's blank
  responses count as no answer in both rules: see below).

Between releases a subtest keeps its last released figure; what the board
shows (:attr:`Release.answers`) is, per subtest, its last released answers,
and the total is the sum of the subtests' shown figures, so a hidden change
in one subtest cannot show through the total. Before a subtest's first
release the board shows its figure at the start of the attempt (no answers).
The first "release" is the start of the attempt; with ``show_running=False``
nothing is released before the finish.

Changes are counted as items whose answer *differs*, not as stored answer
messages: otherwise four re-sends of an unchanged answer and one real change
would make a batch whose whole difference is that one answer. Items that no
figure counts (pretest items: ``None`` in the form) never count, and neither
do an adaptive test's blank responses (−1; :func:`counted`): a blank scores
nothing, whoever gave it knows its points, so counted it was a free filler —
four blanks and one answer made a batch whose difference is that one answer,
and a rise of the figure at such a release told that the option was the key.

The rule is a function of the attempt's stored answers (sequence number,
time, item number, option), its start and its form (item number → subtest),
so every process that serves a board computes the same releases, whenever its
board connected (:class:`ReleaseTracker` folds the answers; folding them in
pieces gives the same result as folding them at once).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from exam_server.exam_options import BoardOptions

Answers = Mapping[int, int]
"""Item number (1-based position in the candidate's test) → chosen option.
Linear tests: a cleared answer is absent. Adaptive tests: a blank response
(−1) is a response and is kept."""

Form = Mapping[int, str | None]
"""Item number → the code of the subtest (section) whose figure counts it;
None: an item no figure counts (a pretest item)."""


def counted(answers: Answers) -> dict[int, int]:
    """The answers the release rule counts: every chosen option, no blank
    response (−1, which adaptive tests keep as a response). A blank's points
    are known to whoever left it blank — none — so it hides nothing in a
    batch; linear tests keep no blanks (a cleared answer is absent)."""
    return {number: option for number, option in answers.items() if option >= 0}


def changed_items(before: Answers, after: Answers) -> int:
    """How many item numbers have a different counted answer (:func:`counted`)
    in ``after`` than in ``before``: a blank response counts as no answer."""
    was, now = counted(before), counted(after)
    return sum(1 for k in was.keys() | now.keys() if was.get(k) != now.get(k))


def by_section(answers: Answers, form: Form) -> dict[str, dict[int, int]]:
    """``answers`` split per subtest code, subtests in the order of their first
    answered item number; items no figure counts are left out. Raises
    KeyError for a number the form does not have."""
    out: dict[str, dict[int, int]] = {}
    for number in sorted(answers):
        code = form[number]
        if code is not None:
            out.setdefault(code, {})[number] = answers[number]
    return out


def section_release(options: BoardOptions, released: Sequence[Answers], current: Answers) -> bool:
    """Whether a subtest's figure may be shown as of ``current`` (the answers
    of its items), given ``released``: every answer set of it shown before.

    True when it has at least ``options.batch_answers`` answered items and
    differs from each released set in at least that many items, blank
    responses counting in neither (:func:`counted`). (The time rule is the
    attempt's: see :func:`board_release`.)"""
    batch = options.batch_answers
    if len(counted(current)) < batch:
        return False
    # The most recent releases are the likeliest to be close: check them first.
    return all(changed_items(before, current) >= batch for before in reversed(released))


@dataclass(frozen=True)
class Release:
    """What the board shows of one attempt's running points.

    at: epoch seconds of the answer that made the last release (the start of
    the attempt for the first one); seq: that answer's sequence number (0:
    the start); answers: per subtest, the answers of its last release (the
    board shows the points of these); sections: the subtests whose figure
    that release changed (none for the start)."""

    at: float
    seq: int = 0
    answers: Answers = field(default_factory=lambda: MappingProxyType({}))
    sections: tuple[str, ...] = ()


def board_release(
    options: BoardOptions,
    last: Release,
    history: Mapping[str, Sequence[Answers]],
    answers: Answers,
    form: Form,
    at: float,
) -> tuple[str, ...]:
    """The subtests whose figure is released as of ``answers`` (all the
    attempt's answers), stored at ``at`` (epoch s), given the attempt's
    previous release ``last`` and ``history``: per subtest code, every answer
    set of it released before. Empty: no release.

    Nothing when running points are not shown or less than
    ``options.min_interval_seconds`` passed since ``last`` (per attempt);
    otherwise each subtest that passes :func:`section_release`."""
    if not options.show_running or at - last.at < options.min_interval_seconds:
        return ()
    return tuple(
        code
        for code, current in by_section(answers, form).items()
        if section_release(options, history.get(code, ()), current)
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
    release); form: item number → subtest code (:data:`Form`), at least for
    every item answered so far: an adaptive test's form grows, and
    :meth:`place` adds the items given since; adaptive: blank responses
    count as responses (see :data:`Answers`). ``add`` ignores answers it has
    already seen (by seq), so feeding overlapping reads is harmless.
    """

    def __init__(
        self, options: BoardOptions, start_at: float, form: Form, *, adaptive: bool
    ) -> None:
        self.options = options
        self.adaptive = adaptive
        self.form: dict[int, str | None] = dict(form)
        self.answers: dict[int, int] = {}
        self.history: dict[str, list[Answers]] = {}
        self.seq = 0
        self.last = Release(float(start_at))

    def place(self, form: Form) -> None:
        """Learn the subtest of more item numbers (an item's subtest never changes)."""
        for number, code in form.items():
            if self.form.setdefault(number, code) != code:
                raise ValueError(f"item {number}: subtest {code!r}, was {self.form[number]!r}")

    def knows(self, answers: Iterable[StoredAnswer]) -> bool:
        """Whether the form has the subtest of every one of ``answers``' items."""
        return all(a.number in self.form for a in answers)

    def add(self, answer: StoredAnswer) -> Release | None:
        """Take one stored answer; the new release if it makes one. Raises
        KeyError (taking nothing) for an item number the form lacks."""
        if answer.seq <= self.seq:
            return None
        if answer.number not in self.form:
            raise KeyError(f"item {answer.number} is not in the form")
        self.seq = answer.seq
        if answer.option >= 0 or self.adaptive:
            self.answers[answer.number] = answer.option
        else:
            self.answers.pop(answer.number, None)
        codes = board_release(
            self.options, self.last, self.history, self.answers, self.form, answer.at
        )
        if not codes:
            return None
        current = by_section(self.answers, self.form)
        shown = {n: o for n, o in self.last.answers.items() if self.form[n] not in codes}
        for code in codes:
            self.history.setdefault(code, []).append(MappingProxyType(current[code]))
            shown.update(current[code])
        self.last = Release(answer.at, answer.seq, MappingProxyType(shown), codes)
        return self.last

    def add_all(self, answers: Iterable[StoredAnswer]) -> Release | None:
        """Take answers in order; the last release they made (None: none)."""
        made = None
        for answer in answers:
            made = self.add(answer) or made
        return made
