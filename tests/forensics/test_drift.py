"""The item watch flags a leaked item and leaves honest items alone."""

from __future__ import annotations

import numpy as np
import pytest

from forensics.drift import CusumSettings, ItemWatch, administration_scores, parameter_drift
from forensics.simulate import simulate_item_stream


def test_a_leaked_item_is_flagged_within_200_administrations() -> None:
    leaked = np.array([3, 7])
    u = simulate_item_stream(40, 900, leaked=leaked, leak_at=300, seed=3)
    watch = ItemWatch(40)
    flagged = watch.run(u)
    assert set(leaked) <= set(flagged)
    assert np.all(watch.flagged_at[leaked] - 300 <= 200)
    # 38 honest items over three days at the default threshold: none flagged
    # (the benchmark measures < 1 false flag per 1,000 items per day).
    assert set(flagged) == set(leaked)


def test_events_fed_in_batches_give_the_same_state_as_in_order() -> None:
    rng = np.random.default_rng(0)
    items = rng.integers(0, 5, 400)
    scores = rng.normal(0.4, 1.0, 400)
    one = ItemWatch(5, CusumSettings(h=5.0))
    for i, s in zip(items, scores, strict=True):
        one.update(np.array([i]), np.array([s]))
    batch = ItemWatch(5, CusumSettings(h=5.0))
    batch.update(items[:150], scores[:150])
    batch.update(items[150:], scores[150:])
    assert np.allclose(one.cusum, batch.cusum)
    assert np.array_equal(one.flagged_at, batch.flagged_at)
    assert np.array_equal(one.count, batch.count)


def test_a_cleared_item_starts_over() -> None:
    watch = ItemWatch(2, CusumSettings(k=0.5, h=2.0))
    assert list(watch.update(np.array([0, 0, 0, 0]), np.full(4, 1.5))) == [0]
    watch.clear(np.array([0]))
    assert watch.cusum[0] == 0 and watch.flagged_at[0] == -1


def test_scores_combine_right_answers_and_speed() -> None:
    u = administration_scores(
        np.array([1.0, 0.0, np.nan, 1.0]),
        np.array([0.5, 0.5, 0.5, 0.5]),
        np.array([-1.0, 0.0, -2.0, np.nan]),
    )
    assert np.allclose(u, [(1 + 1) / np.sqrt(2), -1 / np.sqrt(2), 2.0, 1.0])


def test_settings_and_input_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="threshold h"):
        CusumSettings(h=0)
    with pytest.raises(ValueError, match="out of range"):
        ItemWatch(3).update(np.array([3]), np.array([0.1]))


def test_parameter_drift_flags_an_item_that_became_easier() -> None:
    z, p = parameter_drift(
        np.array([0.0, 0.0]), np.array([0.1, 0.1]), np.array([-1.0, 0.05]), np.array([0.1, 0.1])
    )
    assert p[0] < 1e-6 and p[1] > 0.5 and z[0] < 0
