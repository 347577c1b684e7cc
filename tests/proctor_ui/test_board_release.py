"""The public board's release rule (exam_server.live.release), as properties.

The rule is per subtest: each item is shown once, frozen at its answer when
first released; a subtest is released when at least ``batch_answers`` of its
items with an answer that counts were never released before (an adaptive
test's blank responses (−1) never count). So the answer sets shown of a
subtest are nested, each step a block of at least a batch of new items, and
no combination of its figures isolates one item.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Mapping, Sequence
from fractions import Fraction

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
    section_release,
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
ONE_ITEMS = list(ONE)

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


def new_in(before: Answers, after: Answers) -> dict[int, int]:
    """The answers of ``after`` whose items ``before`` does not hold."""
    return {n: o for n, o in after.items() if n not in before}


def in_span(
    rows: Sequence[Mapping[tuple[int, int], int]], target: Mapping[tuple[int, int], int]
) -> bool:
    """Whether ``target`` is a linear combination of ``rows`` (sparse vectors
    over (item, option)), in exact arithmetic: elimination written out here."""
    basis: list[tuple[tuple[int, int], dict[tuple[int, int], Fraction]]] = []

    def reduce(vector: Mapping[tuple[int, int], int]) -> dict[tuple[int, int], Fraction]:
        v = {k: Fraction(x) for k, x in vector.items() if x}
        for pivot, b in basis:  # each basis vector is zero at every earlier pivot
            if pivot in v:
                f = v[pivot] / b[pivot]
                for k, x in b.items():
                    v[k] = v.get(k, Fraction(0)) - f * x
                    if v[k] == 0:
                        del v[k]
        return v

    for row in rows:
        if left := reduce(row):
            basis.append((min(left), left))
    return not reduce(target)


def isolated(sets: Sequence[Answers], batch: int) -> list[Mapping[tuple[int, int], int]]:
    """What a signed sum of the figures of a subtest shown at ``sets`` could
    isolate, were each figure the sum of points p(item, option) over its
    answers (a blank scores a known nothing: left out): the difference of
    two options of one item, or (with batches of two or more) one option's
    points. Empty: nothing."""
    rows = [{(n, o): 1 for n, o in chosen(shown).items()} for shown in sets]
    seen: dict[int, set[int]] = {}
    for row in rows:
        for n, o in row:
            seen.setdefault(n, set()).add(o)
    targets: list[Mapping[tuple[int, int], int]] = []
    for n, options in seen.items():
        for o, o2 in itertools.combinations(sorted(options), 2):
            targets.append({(n, o): 1, (n, o2): -1})
        if batch >= 2:
            targets += [{(n, o): 1} for o in options]
    return [t for t in targets if in_span(rows, t)]


@given(options_st, answer_runs(), st.booleans())
def test_releases_are_batches_far_enough_apart(
    options: BoardOptions, answers: list[StoredAnswer], adaptive: bool
) -> None:
    """Each release comes at least min_interval_seconds after the one before,
    changes the figure of at least one subtest and no other, and adds at
    least batch_answers items with an option chosen to each subtest it
    releases, keeping every item shown before as it was; nothing is released
    when running points are not shown."""
    made = releases(options, answers, adaptive)
    if not options.show_running:
        assert made == []
    previous = Release(START)
    for release in made:
        assert release.sections
        assert {**release.answers, **previous.answers} == dict(release.answers)
        for code in release.sections:
            added = new_in(previous.answers, of(release.answers, code))
            assert len(chosen(added)) >= options.batch_answers, (code, added)
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


@settings(max_examples=300)
@given(options_st, answer_runs(), st.booleans())
def test_shown_sets_are_nested_blocks_of_new_items_frozen_once_shown(
    options: BoardOptions, answers: list[StoredAnswer], adaptive: bool
) -> None:
    """The fix for the four-release attack, as a property over answers, changes
    and clears in any order: the answer sets shown of a subtest are nested,
    each one adding at least batch_answers never-shown items with an option
    chosen to the one before (the first: to nothing), and an item's shown
    answer never changes once shown, whatever the candidate does with it."""
    batch = options.batch_answers
    made = releases(options, answers, adaptive)
    for code, sets in released_sets(made).items():
        previous: dict[int, int] = {}
        for shown in sets:
            assert {**shown, **previous} == shown, (code, previous, shown)  # nested, frozen
            added = new_in(previous, shown)
            assert len(chosen(added)) >= batch, (code, added)
            previous = shown
    first: dict[int, int] = {}
    for release in made:
        for n, o in release.answers.items():
            assert first.setdefault(n, o) == o, (n, first[n], o)
        assert first.keys() == release.answers.keys()  # nothing shown is dropped


@settings(max_examples=300)
@given(options_st, answer_runs(), st.booleans())
def test_no_combination_of_figures_isolates_an_item(
    options: BoardOptions, answers: list[StoredAnswer], adaptive: bool
) -> None:
    """Were each figure a sum of per-(item, option) points, no signed sum of
    the figures ever shown of a subtest is the difference of two options of
    one item, nor (batches of two or more) one option's points: exact linear
    algebra over every release, not only pairs."""
    made = releases(options, answers, adaptive)
    for code, sets in released_sets(made).items():
        assert isolated(sets, options.batch_answers) == [], (code, sets)


@given(options_st, answer_runs(), st.booleans())
def test_a_release_adds_the_new_items_as_of_its_answer(
    options: BoardOptions, answers: list[StoredAnswer], adaptive: bool
) -> None:
    """A released subtest adds its never-shown items at their answers as of the
    releasing answer (changes in between merged) and keeps every item shown
    before at the answer it was first shown with (a change since does not
    show); every other subtest keeps what it showed; and no subtest's
    release is held back (an oracle written out here: at each answer, a
    subtest with a batch of never-shown chosen options is released)."""
    tracker = ReleaseTracker(options, START, FORM, adaptive=adaptive)
    current: dict[int, int] = {}
    shown: dict[str, dict[int, int]] = {}
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
            and len(chosen(new_in(shown.get(code, {}), of(current, code)))) >= batch
        )
        before = tracker.last
        made = tracker.add(a)
        assert (made is not None) == bool(due)
        if made is None:
            continue
        assert set(made.sections) == set(due)
        for code in due:
            shown[code] = {**of(current, code), **shown.get(code, {})}
        for code in ("TWK", "TIU", "TKP"):
            want = shown.get(code, {}) if code in due else of(before.answers, code)
            assert of(made.answers, code) == want
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
    assert pieces.shown == whole.shown


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
    TWK and TKP never are, so no figure on the board is one option's points.
    TIU is released once, at the fifth TIU answer of the first round; later
    rounds change TIU items (and answer the sixth: one new item), which
    releases nothing: the board keeps the first round's TIU answers."""
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
    assert [r.sections for r in c.made] == [("TIU",)]
    for release in c.made:
        assert of(release.answers, "TWK") == {} and of(release.answers, "TKP") == {}
        assert of(release.answers, "TIU") == dict.fromkeys(TIU[:5], 0)


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


def test_changed_released_items_never_make_a_release() -> None:
    """Release 1 shows set A. Changing every one of its items (set B, five
    items from A: a release under the old rule), then four of them back
    (set C, five from B, one from A: C − A would be one option's points)
    releases nothing, however long the candidate waits: no item was new.
    Five never-shown items are a release, which adds them and keeps A's
    items at their answers in A."""
    c = Candidate(BoardOptions(batch_answers=5, min_interval_seconds=180), ONE)
    items = ONE_ITEMS[:5]
    c.wait(200.0)
    for n in items:
        c.answer(n, 0)  # A
    c.wait(200.0)
    for n in items:
        assert c.answer(n, 1) is None  # B
    c.wait(200.0)
    for n in items[:4]:
        assert c.answer(n, 0) is None
    assert c.answer(items[4], 2) is None  # C
    c.wait(10_000.0)
    assert c.answer(ONE_ITEMS[5], -1) is None  # (a no-op clear, much later: still nothing)
    assert len(c.made) == 1
    # Four new items are not a batch; the fifth is.
    for n in ONE_ITEMS[5:9]:
        assert c.answer(n, 3) is None
    assert c.answer(ONE_ITEMS[9], 4) is not None
    a, b = (of(r.answers, "TWK", ONE) for r in c.made)
    assert a == dict.fromkeys(items, 0)
    assert b == {**a, **dict.fromkeys(ONE_ITEMS[5:9], 3), ONE_ITEMS[9]: 4}


def test_the_four_release_contrast_attack_isolates_nothing() -> None:
    """The reviewer's attack on the old rule (pairwise distance): item k, a
    block X and a block Y of b − 1 items, four releases with (k, X, Y) at
    options (0,0,0), (1,1,0), (0,1,1), (1,0,1), each at least b items from
    every other; each set is answered within the interval and released by a
    re-send after it. The old rule showed all four, and (R1 − R2 + R3 − R4)/2
    was p(k,0) − p(k,1). Now the sets shown are nested blocks of never-shown
    items, k is shown at option 0 only, and no combination of figures
    isolates it."""
    batch = 5
    k, xs, ys = 1, list(range(2, 1 + batch)), list(range(1 + batch, 2 * batch))
    c = Candidate(BoardOptions(batch_answers=batch, min_interval_seconds=180), ONE)
    rounds = [(0, 0, 0), (1, 1, 0), (0, 1, 1), (1, 0, 1)]
    for ok, ox, oy in rounds:
        want = {k: ok, **dict.fromkeys(xs, ox), **dict.fromkeys(ys, oy)}
        for n, o in want.items():
            if c.tracker.answers.get(n) != o:
                c.answer(n, o)  # less than the interval since the last release
        c.wait(200.0)
        c.answer(k, ok)  # the interval has passed: a release, if the rule allows
        assert c.tracker.answers == want
    sets = [of(r.answers, "TWK", ONE) for r in c.made]
    # The figures the board would show, with random points per (item, option).
    rng = random.Random(14)
    points = {(n, o): rng.randint(1, 5) for n in ONE for o in range(5)}
    points[k, 1] = points[k, 0] + 1
    figures = [sum(points[n, o] for n, o in shown.items()) for shown in sets]
    if len(figures) >= 4:
        r1, r2, r3, r4 = figures[:4]
        assert (r1 - r2 + r3 - r4) / 2 != points[k, 0] - points[k, 1]
    # The structure: nested, each step a batch of never-shown items; k frozen.
    previous: dict[int, int] = {}
    for shown in sets:
        assert {**shown, **previous} == shown
        assert len(new_in(previous, shown)) >= batch
        previous = shown
    assert all(shown[k] == 0 for shown in sets)
    assert isolated(sets, batch) == []
    assert figures == [sum(points[n, 0] for n in [k, *xs, *ys])]  # one release: R1


def test_new_blocks_keep_releasing_but_changed_items_never_show() -> None:
    """The attack with a fresh block of five never-shown items answered with
    each round's changes, so each round is released: every release adds
    exactly its fresh block, at the options then, while k, X and Y stay at
    their first release's options, so the rises of the figure are the fresh
    blocks' points."""
    batch = 5
    k, xs, ys = 1, list(range(2, 1 + batch)), list(range(1 + batch, 2 * batch))
    c = Candidate(BoardOptions(batch_answers=batch, min_interval_seconds=180), ONE)
    rounds = [(0, 0, 0), (1, 1, 0), (0, 1, 1), (1, 0, 1)]
    block = iter(range(2 * batch, 41))
    fresh_blocks: list[dict[int, int]] = []
    for r, (ok, ox, oy) in enumerate(rounds):
        want = {k: ok, **dict.fromkeys(xs, ox), **dict.fromkeys(ys, oy)}
        for n, o in want.items():
            if c.tracker.answers.get(n) != o:
                c.answer(n, o)  # less than the interval since the last release
        fresh_blocks.append({next(block): r % 5 for _ in range(batch)})
        for n, o in fresh_blocks[-1].items():
            c.answer(n, o)
        c.wait(200.0)
        c.answer(k, ok)  # the interval has passed: a release
    assert len(c.made) == len(rounds)
    first = dict.fromkeys([k, *xs, *ys], 0)
    sets = [of(r.answers, "TWK", ONE) for r in c.made]
    assert sets[0] == {**first, **fresh_blocks[0]}
    for before, after, added in zip(sets, sets[1:], fresh_blocks[1:], strict=False):
        assert after == {**before, **added}
    assert isolated(sets, batch) == []


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
    """TKP has items 13 and 14 shown: their changed answers and one new item
    are not a batch of two; a second new item is."""
    options = BoardOptions(batch_answers=2, min_interval_seconds=60)
    answers: Mapping[int, int] = {1: 0, 2: 0, 7: 1, 13: 0, 14: 1, 15: 2}
    shown = {"TKP": {13: 1, 14: 0}}
    assert board_release(options, Release(START), {}, answers, FORM, START + 59) == ()
    due = board_release(options, Release(START), shown, answers, FORM, START + 60)
    assert due == ("TWK",)
    more = {**answers, 16: 0}
    assert board_release(options, Release(START), shown, more, FORM, START + 60) == ("TWK", "TKP")
    quiet = BoardOptions(show_running=False, batch_answers=1, min_interval_seconds=0)
    assert board_release(quiet, Release(START), {}, answers, FORM, START + 1e6) == ()


def test_section_release_counts_never_shown_chosen_options_only() -> None:
    options = BoardOptions(batch_answers=3)
    shown = {1: 0, 2: 1}
    assert not section_release(options, shown, {1: 4, 2: 4, 3: 0, 4: 0})  # 2 new
    assert not section_release(options, shown, {1: 0, 2: 1, 3: 0, 4: 0, 5: -1})  # a blank
    assert section_release(options, shown, {3: 0, 4: 0, 5: 1})  # 1 and 2 cleared: still 3 new
    assert section_release(options, {}, {1: 0, 2: 1, 3: 2})
