"""When the public board may show a candidate's running points: the release rule.

Pure (no I/O, no clock of its own). A running score that moves with every
answer gives away the key: a candidate who cycles through the options of
one item shows anyone watching the board which option scores. The board
shows points *per subtest* (section), so the rule is per subtest too: a
subtest's figure is a sum over that subtest's items, and a rule that counted
changes over the whole test would let a candidate keep one answered item in
a subtest, change items elsewhere to make up the batch, and have the board
show that single item's points.

**Each item is shown once, frozen.** The board shows a subtest's running
figure only at *releases* (:func:`board_release`, :func:`section_release`),
and what it shows of a subtest is the sum over the items *released* so far,
each at the answer it had when it was **first** released: a later change of
an already released item's answer (another option, or a clear) does not
move the running figure; the final score at the finish shows the truth.
At a stored answer, a subtest is released as of that answer when

* running points are shown at all (``show_running``);
* at least ``min_interval_seconds`` have passed since the attempt's previous
  release of *any* subtest (the interval is per attempt: releases of two
  subtests at the same answer come together, never one just after the other);
  and
* at least ``batch_answers`` of its items have an answer that counts
  (:func:`counted`: an option chosen, not an adaptive test's blank
  response) and were never released before (:func:`fresh`).

The release adds those items, at their answers as of that answer, to what
the board shows of the subtest (an adaptive test's new blank responses too:
they count in no batch, but the figure is the engine's score of the
responses given, blanks included). So the answer sets shown of a subtest
are *nested*, each step adding a disjoint block of at least ``batch_answers``
counted items never shown before, and each item appears in exactly one
block, with one answer: successive figures differ by that block's points,
and no combination of figures isolates one item. At most
``items // batch_answers`` releases of a subtest per attempt.

Between releases a subtest keeps its figure; what the board shows
(:attr:`Release.answers`) is, per subtest, its frozen answers, and the total
is the sum of the subtests' shown figures, so a hidden change in one subtest
cannot show through the total. Before a subtest's first release the board
shows its figure at the start of the attempt (no answers). The first
"release" is the start of the attempt; with ``show_running=False`` nothing is
released before the finish.

**Why differing from every earlier release was not enough.** The rule before
released a subtest's *current* answers when they differed in at least
``batch_answers`` (b) items from every answer set of it released before.
Pairwise distance does not stop combinations: with item k, a block X and a
block Y of b − 1 items each, four releases with (k, X, Y) at options
(0, 0, 0), (1, 1, 0), (0, 1, 1), (1, 0, 1) are each at least b items from
every other, yet (R1 − R2 + R3 − R4) / 2 = p(k, 0) − p(k, 1): one option
contrast of one item per subtest every four releases, on a page anyone can
watch. Frozen items make every figure a sum over nested sets, so a signed
sum of figures is a sum of whole blocks.

**What the public can still learn.** Block sums: each release's rise is the
points of at least ``batch_answers`` items of one candidate, with the
answers that candidate chose; extreme sums (none or all right) still tell
every item of a block, and a colluder who already knows the points of all
but one item of a block learns that one. The finish: a subtest's final
score minus its last running figure is the points of its items never
released plus the net effect of changes to released ones, so a candidate
who changes one released item just before finishing shows one contrast per
subtest, once per attempt (their own final score shows it to them anyway).
Colluders across candidates: two candidates whose forms share items can
each release a block with the same options on the shared items but one,
and the difference of their block sums is that one item's contrast; a rule
per attempt cannot see that. ``show_running: false`` closes all of it.

Changes are counted as items never shown, not as stored answer messages:
re-sending an answer, or changing a shown item's answer, adds nothing to a
batch. Items that no figure counts (pretest items: ``None`` in the form)
never count, and neither do an adaptive test's blank responses (−1;
:func:`counted`): a blank scores nothing, whoever gave it knows its points,
so counted it was a free filler — four blanks and one answer made a batch
whose only unknown is that one answer.

The rule is a function of the attempt's stored answers (sequence number,
time, item number, option), its start and its form (item number → subtest),
so every process that serves a board computes the same releases, whenever its
board connected (:class:`ReleaseTracker` folds the answers; folding them in
pieces gives the same result as folding them at once).
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

Form = Mapping[int, str | None]
"""Item number → the code of the subtest (section) whose figure counts it;
None: an item no figure counts (a pretest item)."""


def counted(answers: Answers) -> dict[int, int]:
    """The answers the release rule counts: every chosen option, no blank
    response (−1, which adaptive tests keep as a response). A blank's points
    are known to whoever left it blank — none — so it hides nothing in a
    batch; linear tests keep no blanks (a cleared answer is absent)."""
    return {number: option for number, option in answers.items() if option >= 0}


def fresh(shown: Answers, current: Answers) -> dict[int, int]:
    """The answers of ``current`` whose items ``shown`` does not hold: items
    never released, blank responses included (:func:`counted` tells which
    of them count toward a batch)."""
    return {number: option for number, option in current.items() if number not in shown}


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


def section_release(options: BoardOptions, shown: Answers, current: Answers) -> bool:
    """Whether a subtest is released as of ``current`` (the answers of its
    items), given ``shown``: its items released before, each frozen at its
    answer then.

    True when at least ``options.batch_answers`` items of ``current`` have a
    counted answer (:func:`counted`: no blank response) and are not in
    ``shown``; a changed answer of a shown item counts for nothing. (The
    time rule is the attempt's: see :func:`board_release`.)"""
    return len(counted(fresh(shown, current))) >= options.batch_answers


@dataclass(frozen=True)
class Release:
    """What the board shows of one attempt's running points.

    at: epoch seconds of the answer that made the last release (the start of
    the attempt for the first one); seq: that answer's sequence number (0:
    the start); answers: the released items of every subtest, each at its
    answer when first released (the board shows the points of these);
    sections: the subtests whose figure that release changed (none for the
    start)."""

    at: float
    seq: int = 0
    answers: Answers = field(default_factory=lambda: MappingProxyType({}))
    sections: tuple[str, ...] = ()


def board_release(
    options: BoardOptions,
    last: Release,
    shown: Mapping[str, Answers],
    answers: Answers,
    form: Form,
    at: float,
) -> tuple[str, ...]:
    """The subtests whose figure is released as of ``answers`` (all the
    attempt's answers), stored at ``at`` (epoch s), given the attempt's
    previous release ``last`` and ``shown``: per subtest code, its items
    released before, each at its answer when first released. Empty: no
    release.

    Nothing when running points are not shown or less than
    ``options.min_interval_seconds`` passed since ``last`` (per attempt);
    otherwise each subtest that passes :func:`section_release`."""
    if not options.show_running or at - last.at < options.min_interval_seconds:
        return ()
    empty: Answers = {}
    return tuple(
        code
        for code, current in by_section(answers, form).items()
        if section_release(options, shown.get(code, empty), current)
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

    answers: the attempt's current answers; shown: per subtest code, its
    released items, each frozen at its answer when first released (what the
    board shows: :attr:`Release.answers` is their union).
    """

    def __init__(
        self, options: BoardOptions, start_at: float, form: Form, *, adaptive: bool
    ) -> None:
        self.options = options
        self.adaptive = adaptive
        self.form: dict[int, str | None] = dict(form)
        self.answers: dict[int, int] = {}
        self.shown: dict[str, dict[int, int]] = {}
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
            self.options, self.last, self.shown, self.answers, self.form, answer.at
        )
        if not codes:
            return None
        current = by_section(self.answers, self.form)
        for code in codes:
            frozen = self.shown.setdefault(code, {})
            frozen.update(fresh(frozen, current[code]))
        shown = {n: o for frozen in self.shown.values() for n, o in frozen.items()}
        self.last = Release(answer.at, answer.seq, MappingProxyType(shown), codes)
        return self.last

    def add_all(self, answers: Iterable[StoredAnswer]) -> Release | None:
        """Take answers in order; the last release they made (None: none)."""
        made = None
        for answer in answers:
            made = self.add(answer) or made
        return made
