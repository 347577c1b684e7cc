"""The public board's release rule (exam_server.live.release), as properties.

The rule is per subtest: a subtest's figure is shown only as a sum over at
least ``batch_answers`` answered items of that subtest, differing in at least
that many items from every answer set of the subtest shown before; an
adaptive test's blank responses (−1) count in neither.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exam_server.exam_options import BoardOptions
from exam_server.live.release import (
    Answers,
    Form,
    Release,
    ReleaseTracker,
    StoredAnswer,
    board_release,
    by_section,
    changed_items,
)

START = 1_000.0

#: A three-subtest form: items 1–6 TWK, 7–12 TIU, 13–17 TKP, 18 a pretest item.
FORM: Form = {
    **dict.fromkeys(range(1, 7), "TWK"),
    **dict.fromkeys(range(7, 13), "TIU"),
    **dict.fromkeys(range(13, 18), "TKP"),
    18: None,
}
TWK, TIU, TKP = ([n for n, c in FORM.items() if c == code] for code in ("TWK", "TIU", "TKP"))
#: One subtest only (the rule then is the whole test's).
ONE: Form = dict.fromkeys(range(1, 41), "TWK")

options_st = st.builds(
    BoardOptions,
    show_running=st.booleans(),
    batch_answers=st.integers(1, 8),
    min_interval_seconds=st.floats(0, 600, allow_nan=False),
)


@st.composite
def answer_runs(draw: st.DrawFn, items: int = len(FORM), max_size: int = 80) -> list[StoredAnswer]:
    """Stored answers in seq order: time moves on by 0–120 s between two."""
    steps = draw(
        st.lists(
            st.tuples(
                st.floats(0, 120, allow_nan=False),
                st.integers(1, items),
                st.integers(-1, 4),
            ),
            max_size=max_size,
        )
    )
    at, out = START, []
    for seq, (dt, number, option) in enumerate(steps, start=1):
        at += dt
        out.append(StoredAnswer(seq, at, number, option))
    return out


def releases(
    options: BoardOptions, answers: list[StoredAnswer], adaptive: bool = False, form: Form = FORM
) -> list[Release]:
    tracker = ReleaseTracker(options, START, form, adaptive=adaptive)
    return [r for a in answers if (r := tracker.add(a)) is not None]


def of(answers: Answers, code: str, form: Form = FORM) -> dict[int, int]:
    """The answers of one subtest's items."""
    return {n: o for n, o in answers.items() if form[n] == code}


def chosen(answers: Answers) -> dict[int, int]:
    """The answers with an option chosen: a blank response (−1) left out."""
    return {n: o for n, o in answers.items() if o >= 0}


def apart(a: Answers, b: Answers) -> int:
    """Items whose chosen option differs between ``a`` and ``b`` (a blank
    response is no option): written out here, not the module's count."""
    x, y = chosen(a), chosen(b)
    return sum(1 for n in x.keys() | y.keys() if x.get(n) != y.get(n))


def released_sets(made: list[Release], form: Form = FORM) -> dict[str, list[dict[int, int]]]:
    """Per subtest, every answer set whose figure the board showed, in order."""
    out: dict[str, list[dict[int, int]]] = {}
    for release in made:
        for code in release.sections:
            out.setdefault(code, []).append(of(release.answers, code, form))
    return out


@given(options_st, answer_runs(), st.booleans())
def test_releases_are_batches_far_enough_apart(
    options: BoardOptions, answers: list[StoredAnswer], adaptive: bool
) -> None:
    """Each release comes at least min_interval_seconds after the one before,
    changes the figure of at least one subtest and no other, and differs
    from the one before in at least batch_answers items; nothing is
    released when running points are not shown."""
    made = releases(options, answers, adaptive)
    if not options.show_running:
        assert made == []
    previous = Release(START)
    for release in made:
        assert release.sections
        assert changed_items(previous.answers, release.answers) >= options.batch_answers
        assert release.at - previous.at >= options.min_interval_seconds
        assert release.seq > previous.seq
        for code in ("TWK", "TIU", "TKP"):
            if code not in release.sections:
                assert of(release.answers, code) == of(previous.answers, code)
        assert all(FORM[n] is not None for n in release.answers)  # no pretest item
        previous = release


@settings(max_examples=300)
@given(options_st, answer_runs(), st.booleans())
def test_released_answer_sets_of_a_subtest_are_far_apart_and_large(
    options: BoardOptions, answers: list[StoredAnswer], adaptive: bool
) -> None:
    """Over a three-subtest form, with answers and clears in any order: every
    two answer sets of a subtest whose figures the board showed, consecutive
    or not, differ in at least batch_answers items, and each holds at least
    batch_answers answered items of that subtest (blank responses of an
    adaptive test counting in neither)."""
    batch = options.batch_answers
    for code, sets in released_sets(releases(options, answers, adaptive)).items():
        for shown in sets:
            assert len(chosen(shown)) >= batch, (code, shown)
        for a, b in itertools.combinations(sets, 2):
            assert apart(a, b) >= batch, (code, a, b)


@given(options_st, answer_runs(), st.booleans())
def test_a_release_shows_the_answers_as_of_its_answer(
    options: BoardOptions, answers: list[StoredAnswer], adaptive: bool
) -> None:
    """A released subtest shows its answers as of the releasing answer (changes
    in between merged); every other subtest keeps its last released answers;
    and no subtest's release is held back (an oracle written out here: at
    each answer, a subtest whose answers pass the rule is released)."""
    tracker = ReleaseTracker(options, START, FORM, adaptive=adaptive)
    current: dict[int, int] = {}
    shown_sets: dict[str, list[dict[int, int]]] = {}
    last_at = START
    batch = options.batch_answers
    for a in answers:
        if a.option >= 0 or adaptive:
            current[a.number] = a.option
        else:
            current.pop(a.number, None)
        due = tuple(
            code
            for code in ("TWK", "TIU", "TKP")
            if options.show_running
            and a.at - last_at >= options.min_interval_seconds
            and len(chosen(of(current, code))) >= batch
            and all(apart(s, of(current, code)) >= batch for s in shown_sets.get(code, []))
        )
        before = tracker.last
        made = tracker.add(a)
        assert (made is not None) == bool(due)
        if made is None:
            continue
        assert set(made.sections) == set(due)
        for code in ("TWK", "TIU", "TKP"):
            want = of(current, code) if code in due else of(before.answers, code)
            assert of(made.answers, code) == want
        for code in due:
            shown_sets.setdefault(code, []).append(of(current, code))
        last_at = a.at


@given(options_st, answer_runs(), st.lists(st.integers(0, 80), max_size=6), st.booleans())
def test_folding_in_pieces_gives_the_same_releases(
    options: BoardOptions, answers: list[StoredAnswer], cuts: list[int], adaptive: bool
) -> None:
    """A board that reads the stored answers in pieces (as events arrive), even
    overlapping ones, ends where a board that read them at once does: the
    release does not depend on when or where a board connected."""
    whole = ReleaseTracker(options, START, FORM, adaptive=adaptive)
    whole.add_all(answers)
    pieces = ReleaseTracker(options, START, FORM, adaptive=adaptive)
    bounds = sorted({0, len(answers), *(min(c, len(answers)) for c in cuts)})
    for lo, hi in itertools.pairwise(bounds):
        pieces.add_all(answers[max(0, lo - 2) : hi])  # overlap: re-read rows are ignored
    assert pieces.last == whole.last
    assert pieces.seq == whole.seq
    assert pieces.history == whole.history


@given(options_st, answer_runs(), st.lists(st.integers(0, 80), max_size=6))
def test_a_growing_form_gives_the_same_releases(
    options: BoardOptions, answers: list[StoredAnswer], cuts: list[int]
) -> None:
    """An adaptive test's form grows as items are given: a board that learns
    it piece by piece (:meth:`ReleaseTracker.place` before each read) ends
    where one that knew it all along does."""
    whole = ReleaseTracker(options, START, FORM, adaptive=True)
    whole.add_all(answers)
    growing = ReleaseTracker(options, START, {}, adaptive=True)
    bounds = sorted({0, len(answers), *(min(c, len(answers)) for c in cuts)})
    for lo, hi in itertools.pairwise(bounds):
        piece = answers[lo:hi]
        if not growing.knows(piece):
            with pytest.raises(KeyError):
                growing.add_all(piece)  # takes the answers before the first unknown item
        top = max((a.number for a in piece), default=0)
        growing.place({n: FORM[n] for n in range(1, top + 1)})
        assert growing.knows(piece)
        growing.add_all(piece)  # those already taken are ignored
    assert growing.last == whole.last


@settings(max_examples=200)
@given(
    st.integers(2, 8),
    st.floats(0, 600, allow_nan=False),
    st.lists(st.tuples(st.floats(0, 900, allow_nan=False), st.integers(-1, 4)), max_size=60),
)
def test_cycling_one_item_never_releases(
    batch: int, interval: float, cycle: list[tuple[float, int]]
) -> None:
    """The attack: after a release, a candidate cycles through the options of
    one item, as long and as slowly as they like. With batches of two or
    more, the board never shows a new figure, so no option's points leak."""
    options = BoardOptions(batch_answers=batch, min_interval_seconds=interval)
    tracker = ReleaseTracker(options, START, ONE, adaptive=False)
    at, seq = START + interval + 1.0, 0
    # A batch of other answers: a release, which the board shows.
    for number in range(2, 2 + batch):
        seq += 1
        tracker.add(StoredAnswer(seq, at, number, 0))
    released = tracker.last
    assert released.seq > 0
    for dt, option in cycle:
        at += dt
        seq += 1
        assert tracker.add(StoredAnswer(seq, at, 1, option)) is None
    assert tracker.last == released


class Candidate:
    """Drives a tracker as a terminal would: one answer a second."""

    def __init__(self, options: BoardOptions, form: Form = FORM) -> None:
        self.tracker = ReleaseTracker(options, START, form, adaptive=False)
        self.at, self.seq = START, 0
        self.made: list[Release] = []

    def answer(self, number: int, option: int) -> Release | None:
        self.at += 1.0
        self.seq += 1
        made = self.tracker.add(StoredAnswer(self.seq, self.at, number, option))
        if made is not None:
            self.made.append(made)
        return made

    def wait(self, seconds: float) -> None:
        self.at += seconds


def test_one_answered_item_per_subtest_is_never_released() -> None:
    """The reviewer's attack: a colluding candidate keeps exactly one answered
    item in TWK and one in TKP; each round (after the interval) clears the
    old probes, answers new ones and changes TIU items so that far more than
    five items differ from the last release. TIU is released every round;
    TWK and TKP never are, so no figure on the board is one option's points."""
    c = Candidate(BoardOptions())  # batches of 5, 180 s
    probes = [(TWK[0], 0, TKP[0], 0), (TWK[1], 0, TKP[1], 0), (TWK[0], 1, TKP[0], 1)]
    probes += [(TWK[1], 1, TKP[1], 1), (TWK[2], 2, TKP[2], 2)]
    held: list[int] = []
    for k, (w, wo, p, po) in enumerate(probes):
        c.wait(200.0)
        for n in held:
            c.answer(n, -1)
        for n in TIU:
            c.answer(n, k % 5)
        c.answer(w, wo)
        c.answer(p, po)
        held = [w, p]
        assert len(of(c.tracker.answers, "TWK")) == len(of(c.tracker.answers, "TKP")) == 1
    assert [r.sections for r in c.made] == [("TIU",)] * len(probes)
    for release in c.made:
        assert of(release.answers, "TWK") == {} and of(release.answers, "TKP") == {}


def test_the_old_whole_test_count_is_not_enough() -> None:
    """Five items changed over the whole test, but only one of them in TWK,
    releases nothing of TWK, even long after the interval."""
    c = Candidate(BoardOptions(batch_answers=5, min_interval_seconds=0))
    for n in TWK[:5]:
        c.answer(n, 0)
    assert c.made[-1].sections == ("TWK",)
    c.answer(TWK[0], 1)
    for n in TIU[:4]:
        c.answer(n, 0)
    c.wait(10_000.0)
    assert c.answer(TKP[0], 0) is None
    assert len(c.made) == 1


def test_two_releases_of_a_subtest_differ_in_a_batch_even_when_not_consecutive() -> None:
    """Release 1 (set A) and release 2 (set B, five items from A) are shown;
    set C differs from B in five items but from A in only one: showing it
    would give C − A, the points of one option of one item, so it is held
    back, however long the candidate waits."""
    c = Candidate(BoardOptions(batch_answers=5, min_interval_seconds=180))
    items = TWK[:5]
    c.wait(200.0)
    for n in items:
        c.answer(n, 0)  # A
    c.wait(200.0)
    for n in items:
        c.answer(n, 1)  # B
    assert [r.sections for r in c.made] == [("TWK",), ("TWK",)]
    c.wait(200.0)
    for n in items[:4]:
        c.answer(n, 0)
    assert c.answer(items[4], 2) is None  # C: 5 from B, 1 from A
    c.wait(10_000.0)
    assert c.answer(TWK[5], -1) is None  # (a no-op clear, much later: still nothing)
    assert len(c.made) == 2
    # A set five items away from both A and B is released.
    c.answer(TWK[5], 3)
    for n in items[:4]:
        c.answer(n, 4)
    assert len(c.made) == 3
    a, b, third = (of(r.answers, "TWK") for r in c.made)
    assert min(changed_items(third, a), changed_items(third, b), changed_items(a, b)) >= 5


def test_a_subtest_shows_its_last_release_while_another_moves() -> None:
    """Between its releases a subtest keeps its last released answers: the
    board's answers (hence each figure and their total) change only in the
    subtests released."""
    c = Candidate(BoardOptions(batch_answers=5, min_interval_seconds=0))
    for n in TWK[:5]:
        c.answer(n, 0)
    twk_shown = of(c.tracker.last.answers, "TWK")
    c.answer(TWK[0], 1)  # a hidden TWK change …
    for n in TIU[:5]:
        c.answer(n, 2)  # … then a TIU release
    assert c.made[-1].sections == ("TIU",)
    assert of(c.made[-1].answers, "TWK") == twk_shown
    assert of(c.made[-1].answers, "TIU") == dict.fromkeys(TIU[:5], 2)


def test_pretest_items_do_not_count() -> None:
    """Four scored TKP items and a pretest item are not a batch of five."""
    c = Candidate(BoardOptions(batch_answers=5, min_interval_seconds=0))
    for n in TKP[:4]:
        c.answer(n, 1)
    assert c.answer(18, 1) is None
    assert c.made == []
    assert c.answer(TKP[4], 1) is not None


def test_resending_an_unchanged_answer_does_not_count() -> None:
    """Four re-sends of an answer already on the board and one real change
    are one change, not a batch of five (which would reveal that change)."""
    options = BoardOptions(batch_answers=5, min_interval_seconds=0)
    tracker = ReleaseTracker(options, START, ONE, adaptive=False)
    first = [StoredAnswer(s, START + s, s, 0) for s in range(1, 6)]
    assert tracker.add_all(first) is not None
    padded = [StoredAnswer(6 + k, START + 10 + k, 2, 0) for k in range(4)]
    padded.append(StoredAnswer(10, START + 20, 9, 3))
    assert tracker.add_all(padded) is None


def test_adaptive_blank_responses_are_kept_uncounted_and_linear_clears_do_not_linger() -> None:
    # Adaptive: a blank response (−1) is a response, which moves the estimate
    # the figure is computed from, so it is kept; but it counts in no batch.
    options = BoardOptions(batch_answers=2, min_interval_seconds=0)
    adaptive = ReleaseTracker(options, START, ONE, adaptive=True)
    adaptive.add(StoredAnswer(1, START, 1, -1))
    assert adaptive.add(StoredAnswer(2, START, 2, -1)) is None
    adaptive.add(StoredAnswer(3, START, 3, 0))
    made = adaptive.add(StoredAnswer(4, START, 4, 1))
    assert made is not None and dict(made.answers) == {1: -1, 2: -1, 3: 0, 4: 1}
    # Linear: answering and clearing an item leaves nothing changed.
    linear = ReleaseTracker(options, START, ONE, adaptive=False)
    linear.add(StoredAnswer(1, START, 1, 2))
    assert linear.add(StoredAnswer(2, START, 1, -1)) is None
    assert linear.answers == {}


def test_adaptive_blanks_are_no_filler_around_one_answer() -> None:
    """The lead: on an adaptive test a colluder leaves four items blank and
    answers one, round after round. A blank's points are known (none), so
    counted as responses the five made a batch whose difference from the last
    release was that one answer, and a rise of the figure said its option
    was the key. Blanks do not count: nothing is released until five
    answers with an option chosen are new, whatever the blanks around them."""
    c = Candidate(BoardOptions(), ONE)  # batches of 5, 180 s apart
    c.tracker.adaptive = True
    number = 0

    def give(option: int) -> Release | None:
        nonlocal number
        number += 1
        return c.answer(number, option)

    c.wait(200.0)
    for _ in range(5):
        give(0)
    assert len(c.made) == 1
    for round_ in range(4):
        c.wait(200.0)
        for _ in range(4):
            assert give(-1) is None
        assert give(round_ % 5) is None  # one new answer (the probe)
    assert len(c.made) == 1
    assert give(1) is not None  # the fifth new answer: a batch of five unknowns
    first, second = (of(r.answers, "TWK", ONE) for r in c.made)
    assert apart(first, second) == 5 and len(second) - len(first) == 21


@settings(max_examples=300)
@given(
    options_st,
    st.lists(st.tuples(st.floats(0, 300, allow_nan=False), st.integers(-1, 4)), max_size=40),
)
def test_adaptive_releases_differ_in_a_batch_of_chosen_options(
    options: BoardOptions, steps: list[tuple[float, int]]
) -> None:
    """An adaptive test as it runs: each item answered once, in order, blank
    or with an option. Every two answer sets of the subtest ever shown differ
    in at least batch_answers items with an option chosen, and each holds at
    least that many: blanks, whose points anyone who left them knows, never
    make up a batch."""
    at, run = START, []
    for seq, (dt, option) in enumerate(steps, start=1):
        at += dt
        run.append(StoredAnswer(seq, at, seq, option))
    sets = released_sets(releases(options, run, adaptive=True, form=ONE), ONE).get("TWK", [])
    for shown in sets:
        assert len(chosen(shown)) >= options.batch_answers, shown
    for a, b in itertools.combinations(sets, 2):
        assert apart(a, b) >= options.batch_answers, (a, b)


def test_an_unknown_item_is_refused_and_a_subtest_never_changes() -> None:
    tracker = ReleaseTracker(BoardOptions(), START, {1: "TWK"}, adaptive=True)
    with pytest.raises(KeyError):
        tracker.add(StoredAnswer(1, START, 2, 0))
    assert tracker.seq == 0 and tracker.answers == {}  # nothing taken
    tracker.place({1: "TWK", 2: "TIU"})
    with pytest.raises(ValueError):
        tracker.place({2: "TKP"})


def test_board_release_names_the_subtests_due() -> None:
    options = BoardOptions(batch_answers=2, min_interval_seconds=60)
    answers: Mapping[int, int] = {1: 0, 2: 0, 7: 1, 13: 0, 14: 1}
    history = {"TKP": [by_section({13: 1, 14: 0}, FORM)["TKP"]]}
    assert board_release(options, Release(START), {}, answers, FORM, START + 59) == ()
    due = board_release(options, Release(START), history, answers, FORM, START + 60)
    assert due == ("TWK", "TKP")
    quiet = BoardOptions(show_running=False, batch_answers=1, min_interval_seconds=0)
    assert board_release(quiet, Release(START), {}, answers, FORM, START + 1e6) == ()
