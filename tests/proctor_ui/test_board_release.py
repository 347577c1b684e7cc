"""The public board's release rule (exam_server.live.release), as properties."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from exam_server.exam_options import BoardOptions
from exam_server.live.release import (
    Release,
    ReleaseTracker,
    StoredAnswer,
    board_release,
    changed_items,
)

START = 1_000.0

options_st = st.builds(
    BoardOptions,
    show_running=st.booleans(),
    batch_answers=st.integers(1, 8),
    min_interval_seconds=st.floats(0, 600, allow_nan=False),
)


@st.composite
def answer_runs(draw: st.DrawFn, items: int = 8, max_size: int = 80) -> list[StoredAnswer]:
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
    options: BoardOptions, answers: list[StoredAnswer], adaptive: bool = False
) -> list[Release]:
    tracker = ReleaseTracker(options, START, adaptive=adaptive)
    return [r for a in answers if (r := tracker.add(a)) is not None]


@given(options_st, answer_runs(), st.booleans())
def test_releases_are_batches_far_enough_apart(
    options: BoardOptions, answers: list[StoredAnswer], adaptive: bool
) -> None:
    """Each release differs from the one before in at least batch_answers
    items and comes at least min_interval_seconds after it; nothing is
    released when running points are not shown."""
    made = releases(options, answers, adaptive)
    if not options.show_running:
        assert made == []
    previous = Release(START)
    for release in made:
        assert changed_items(previous.answers, release.answers) >= options.batch_answers
        assert release.at - previous.at >= options.min_interval_seconds
        assert release.seq > previous.seq
        previous = release


@given(options_st, answer_runs())
def test_a_release_shows_the_answers_as_of_its_answer(
    options: BoardOptions, answers: list[StoredAnswer]
) -> None:
    """Changes inside a batch are merged: the release holds the state after
    its answer, whatever happened in between; and no answer between two
    releases was itself releasable (a release is never held back)."""
    tracker = ReleaseTracker(options, START, adaptive=False)
    current: dict[int, int] = {}
    last = tracker.last
    for a in answers:
        if a.option >= 0:
            current[a.number] = a.option
        else:
            current.pop(a.number, None)
        releasable = board_release(options, last, current, a.at)
        made = tracker.add(a)
        assert (made is not None) == releasable
        if made is not None:
            assert dict(made.answers) == current
            last = made


@given(options_st, answer_runs(), st.lists(st.integers(0, 80), max_size=6))
def test_folding_in_pieces_gives_the_same_releases(
    options: BoardOptions, answers: list[StoredAnswer], cuts: list[int]
) -> None:
    """A board that reads the stored answers in pieces (as events arrive), even
    overlapping ones, ends where a board that read them at once does: the
    release does not depend on when or where a board connected."""
    whole = ReleaseTracker(options, START, adaptive=False)
    whole.add_all(answers)
    pieces = ReleaseTracker(options, START, adaptive=False)
    bounds = sorted({0, len(answers), *(min(c, len(answers)) for c in cuts)})
    for lo, hi in itertools.pairwise(bounds):
        pieces.add_all(answers[max(0, lo - 2) : hi])  # overlap: re-read rows are ignored
    assert pieces.last == whole.last
    assert pieces.seq == whole.seq


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
    tracker = ReleaseTracker(options, START, adaptive=False)
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


def test_resending_an_unchanged_answer_does_not_count() -> None:
    """Four re-sends of an answer already on the board and one real change
    are one change, not a batch of five (which would reveal that change)."""
    options = BoardOptions(batch_answers=5, min_interval_seconds=0)
    tracker = ReleaseTracker(options, START, adaptive=False)
    first = [StoredAnswer(s, START + s, s, 0) for s in range(1, 6)]
    assert tracker.add_all(first) is not None
    padded = [StoredAnswer(6 + k, START + 10 + k, 2, 0) for k in range(4)]
    padded.append(StoredAnswer(10, START + 20, 9, 3))
    assert tracker.add_all(padded) is None


def test_adaptive_blank_responses_count_and_linear_clears_do_not_linger() -> None:
    # Adaptive: a blank response (−1) is a response, which moves the estimate.
    options = BoardOptions(batch_answers=2, min_interval_seconds=0)
    adaptive = ReleaseTracker(options, START, adaptive=True)
    adaptive.add(StoredAnswer(1, START, 1, -1))
    assert adaptive.add(StoredAnswer(2, START, 2, -1)) is not None
    # Linear: answering and clearing an item leaves nothing changed.
    linear = ReleaseTracker(options, START, adaptive=False)
    linear.add(StoredAnswer(1, START, 1, 2))
    assert linear.add(StoredAnswer(2, START, 1, -1)) is None
    assert linear.answers == {}
