"""Each shipped detector: one stream that triggers it, one that does not."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from cat_engine.bank import BankArrays
from cat_engine.irt import ItemParameters
from exam_server.events import EventBus, LiveEvent
from exam_server.proctoring import (
    AttemptContext,
    ConnectionDetector,
    FocusDetector,
    PersonFitDetector,
    RapidGuessingDetector,
    SecondLoginDetector,
)
from exam_server.proctoring.service import ProctoringService

CTX = AttemptContext(session_id=1, attempt_id=7, registration_number="R-7")


def ev(kind: str, at: float, **data: object) -> LiveEvent:
    return LiveEvent(kind, 1, 7, "R-7", at, dict(data))


def run(detector: object, events: list[LiveEvent]) -> list[str]:
    codes: list[str] = []
    for e in events:
        codes += [a.code for a in detector.observe(e)]  # type: ignore[attr-defined]
    return codes


def make_bank(n: int = 40, seed: int = 3) -> BankArrays:
    """n 3PL items with 4 options, option 0 the key."""
    rng = np.random.default_rng(seed)
    params = ItemParameters.dichotomous(
        a=rng.uniform(1.0, 2.0, n), b=np.linspace(-2.5, 2.5, n), c=np.full(n, 0.15)
    )
    points = np.zeros((n, 4))
    points[:, 0] = 5.0
    category = np.zeros((n, 4), dtype=np.int64)
    category[:, 0] = 1
    return BankArrays(
        item_ids=tuple(f"I{i}" for i in range(n)),
        params=params,
        subtest=np.zeros(n, dtype=np.int64),
        subtest_codes=("TIU",),
        content_area=np.zeros(n, dtype=np.int64),
        content_codes=("x",),
        n_options=np.full(n, 4, dtype=np.int64),
        option_points=points,
        option_category=category,
        enemy_group=np.full(n, -1, dtype=np.int64),
        pretest=np.zeros(n, dtype=bool),
    )


def test_focus_lost_and_fullscreen_exit_raise_alerts_escalating() -> None:
    d = FocusDetector(CTX, critical_after=2)
    alerts = [d.observe(ev("focus_lost", 1.0)), d.observe(ev("fullscreen_exit", 2.0))]
    assert [a[0].code for a in alerts] == ["focus_lost", "fullscreen_exit"]
    assert [a[0].severity for a in alerts] == ["warning", "critical"]


def test_focus_quiet_on_ordinary_work() -> None:
    d = FocusDetector(CTX)
    assert run(d, [ev("connect", 0), ev("answer", 5, item=1, option=0), ev("navigate", 6)]) == []


def test_connection_lost_alerts_while_running() -> None:
    d = ConnectionDetector(CTX)
    assert run(d, [ev("connect", 0), ev("disconnect", 10)]) == ["connection_lost"]


def test_connection_closed_after_finish_is_not_an_alert() -> None:
    d = ConnectionDetector(CTX)
    assert run(d, [ev("connect", 0), ev("finish", 9), ev("disconnect", 10)]) == []


def test_second_login_reported_by_server_or_seen_from_other_terminal() -> None:
    assert run(SecondLoginDetector(CTX), [ev("second_login", 1, terminal_id="B")]) == [
        "second_login"
    ]
    stream = [ev("connect", 0, terminal_id="A"), ev("login", 5, terminal_id="B")]
    assert run(SecondLoginDetector(CTX), stream) == ["second_login"]


def test_relogin_from_same_terminal_after_drop_is_fine() -> None:
    stream = [
        ev("login", 0, terminal_id="A"),
        ev("connect", 0, terminal_id="A"),
        ev("disconnect", 5, terminal_id="A"),
        ev("login", 6, terminal_id="B"),
        ev("connect", 6, terminal_id="B"),
        ev("login", 9, terminal_id="B"),
    ]
    assert run(SecondLoginDetector(CTX), stream) == []


def test_rapid_guessing_raises_one_alert_per_window() -> None:
    d = RapidGuessingDetector(CTX, min_seconds=4, window=10, min_rapid=5)
    stream = [ev("connect", 0)] + [ev("answer", 1.0 + i, item=i, option=1) for i in range(20)]
    assert run(d, stream) == ["rapid_guessing", "rapid_guessing"]


def test_rapid_guessing_quiet_for_reading_candidate_and_answer_changes() -> None:
    d = RapidGuessingDetector(CTX, min_seconds=4, window=10, min_rapid=5)
    stream = [ev("connect", 0)] + [
        ev("answer", 30.0 * (i + 1), item=i, option=1) for i in range(20)
    ]
    # Going back over the answers quickly (changing them) is not guessing.
    stream += [ev("answer", 700.0 + i, item=i, option=2) for i in range(20)]
    assert run(d, stream) == []


def test_rapid_guessing_uses_terminal_elapsed_when_given() -> None:
    d = RapidGuessingDetector(CTX, min_seconds=4, window=5, min_rapid=5)
    stream = [ev("answer", 60.0 * (i + 1), item=i, option=0, elapsed=1.0) for i in range(5)]
    assert run(d, stream) == ["rapid_guessing"]


def test_rapid_guessing_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="min_rapid"):
        RapidGuessingDetector(CTX, window=3, min_rapid=4)


def _answers(bank: BankArrays, correct: np.ndarray) -> list[LiveEvent]:
    return [
        ev("answer", 10.0 * (i + 1), item=bank.item_ids[i], option=0 if ok else 2)
        for i, ok in enumerate(correct)
    ]


def test_person_fit_flags_hard_right_easy_wrong() -> None:
    bank = make_bank()
    # Items are ordered easy → hard: the reversed Guttman pattern of someone
    # who copied the hard keys and guessed the easy ones.
    correct = np.arange(bank.n_items) >= bank.n_items // 2
    d = PersonFitDetector(CTX, bank=bank, min_items=20)
    assert run(d, _answers(bank, correct)) == ["aberrant_pattern"]
    assert d.last_lz is not None and d.last_lz < -4


def test_person_fit_quiet_for_model_consistent_pattern() -> None:
    bank = make_bank()
    # An able candidate: right on the easier 30 items, wrong on the hardest 10.
    correct = np.arange(bank.n_items) < 30
    d = PersonFitDetector(CTX, bank=bank, min_items=20)
    assert run(d, _answers(bank, correct)) == []
    assert d.last_lz is not None and d.last_lz > -1


def test_person_fit_follows_changed_and_cleared_answers() -> None:
    from exam_server.proctoring.personfit import lz_star

    bank = make_bank()
    rng = np.random.default_rng(4)
    correct = rng.random(bank.n_items) < 0.6
    d = PersonFitDetector(CTX, bank=bank, min_items=20)
    run(d, _answers(bank, correct))
    # A linear test lets the candidate change and clear answers: the live
    # check must judge the answers as they stand, not as they were given.
    changes = [(3, 2), (7, -1), (11, 0), (0, -1), (25, 2), (7, 0)]
    final = {i: int(ok) for i, ok in enumerate(correct)}
    for i, option in changes:
        run(d, [ev("answer", 500.0 + i, item=bank.item_ids[i], option=option)])
        if option < 0:
            final.pop(i)
        else:
            final[i] = int(option == 0)
    items = np.array(sorted(final))
    x = np.array([final[i] for i in items], dtype=float)
    p = bank.params
    expected, _ = lz_star(x, p.a[items], p.b[items], p.c[items], p.d[items])
    assert d.last_lz == pytest.approx(expected[0], abs=1e-6)


def test_person_fit_judges_only_dichotomous_items_and_real_options() -> None:
    """Answers to option-scored items (TKP: GRM/GPCM) and options an item
    does not have are left out of lz*; the rest are judged as usual."""
    from dataclasses import replace

    from cat_engine.irt import Model
    from exam_server.proctoring.personfit import lz_star

    base = make_bank()
    p = base.params
    model = p.model.copy()
    model[::4] = Model.GRM  # every fourth item option-scored
    thresholds = np.full((base.n_items, 4), np.nan)
    thresholds[::4, :4] = [-1.0, 0.0, 1.0, 2.0]
    params = type(p)(model, p.a, p.b, p.c, p.d, thresholds)
    n_options = base.n_options.copy()
    n_options[1] = 2  # item 1 has only options 0 and 1
    bank = replace(base, params=params, n_options=n_options)
    rng = np.random.default_rng(5)
    correct = rng.random(bank.n_items) < 0.6
    d = PersonFitDetector(CTX, bank=bank, min_items=20)
    run(d, _answers(bank, correct))
    kept = [i for i in range(bank.n_items) if (i % 4 and i != 1) or (i == 1 and correct[1])]
    assert sorted(d.correct) == kept  # item 1 answered 2 when wrong: not an option
    x = np.array([int(correct[i]) for i in kept], dtype=float)
    expected, _ = lz_star(x, p.a[kept], p.b[kept], p.c[kept], p.d[kept])
    assert d.last_lz == pytest.approx(expected[0], abs=1e-6)


def test_person_fit_needs_a_bank() -> None:
    with pytest.raises(ValueError, match="bank"):
        PersonFitDetector(CTX)


async def test_service_publishes_alerts_to_the_bus() -> None:
    bus = EventBus()
    service = ProctoringService(bus)
    watcher = bus.subscribe(1)
    await service.handle(ev("focus_lost", 3.0))
    await service.handle(ev("answer", 4.0, item=1, option=0))
    first = watcher.get_nowait()
    assert first is not None and first.kind == "alert"
    assert first.data["code"] == "focus_lost" and first.attempt_id == 7
    assert first.data["message"]["id"].startswith("Terminal kehilangan fokus")
    assert watcher.get_nowait() is None


async def test_alerts_raised_during_a_database_outage_are_stored_when_it_ends() -> None:
    """docs/proctoring.md promises every alert is stored: one raised while the
    database is down is kept and stored, in order, once it is back."""
    stored: list[LiveEvent] = []
    down = {"failures_left": 3}

    async def record(event: LiveEvent) -> None:
        if down["failures_left"] > 0:
            down["failures_left"] -= 1
            raise ConnectionError("database unavailable")
        stored.append(event)

    service = ProctoringService(EventBus(), record=record, retry_seconds=0.001)
    await service.handle(ev("focus_lost", 3.0))
    await service.handle(ev("fullscreen_exit", 4.0))
    for _ in range(200):  # the retries pause 1, 2, 4 … ms
        if len(stored) == 2:
            break
        await asyncio.sleep(0.005)
    assert [e.data["code"] for e in stored] == ["focus_lost", "fullscreen_exit"]
    assert service.unstored == 0 and service.dropped_alerts == 0
    await service.stop()


async def test_kept_alerts_are_bounded() -> None:
    async def record(event: LiveEvent) -> None:
        raise ConnectionError("database unavailable")

    service = ProctoringService(EventBus(), record=record, retry_seconds=60, max_unstored=1)
    await service.handle(ev("focus_lost", 3.0))
    await service.handle(ev("fullscreen_exit", 4.0))
    await asyncio.sleep(0)  # the background stores run
    await asyncio.sleep(0)
    assert service.unstored == 1 and service.dropped_alerts == 1
    await service.stop()
