"""The cheap paths of every ``seleksi calibrate`` run agree with the general ones."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special

from calibration import classical
from calibration.data import ResponseData
from calibration.fit import chi2_sf
from calibration.parallel import DenseChunks


@settings(max_examples=300, deadline=None)
@given(df=st.integers(1, 2000), x=st.floats(1e-6, 5000.0))
def test_chi2_sf_is_scipys(df: int, x: float) -> None:
    expected = float(special.chdtrc(df, x))
    # relative 1e-9: far below anything a p-value column shows; tiny tails absolute
    assert chi2_sf(x, df) == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_chi2_sf_refuses_a_fractional_df() -> None:
    with pytest.raises(ValueError, match="whole number"):
        chi2_sf(1.0, 2.5)  # type: ignore[arg-type]


def test_dense_item_statistics_are_the_general_ones() -> None:
    rng = np.random.default_rng(11)
    x = (rng.random((2000, 25)) < rng.uniform(0.2, 0.8, 25)).astype(np.int64)
    x[:, :4] += rng.random((2000, 4)) < 0.4  # a few three-category items
    data = ResponseData.from_dense(x, weights=rng.uniform(0.5, 2.0, 2000))
    assert data.dense_matrix is not None
    fast = classical.item_statistics(data)
    data.dense_matrix = None  # the coordinate (bincount) path
    slow = classical.item_statistics(data)
    for name in ("n", "mean", "p_value", "point_biserial", "item_rest"):
        # the same moments summed in another order: rounding only
        np.testing.assert_allclose(getattr(fast, name), getattr(slow, name), rtol=1e-10)


def test_from_dense_keeps_the_callers_array_apart() -> None:
    x = np.array([[0, 1], [1, 1], [1, 0]], dtype=np.int8)
    data = ResponseData.from_dense(x)
    x[0, 0] = 1  # the caller reuses its array
    np.testing.assert_array_equal(data.to_dense(), [[0, 1], [1, 1], [1, 0]])
    np.testing.assert_array_equal(data.n_categories, [2, 2])


def test_dense_chunks_are_the_indicator() -> None:
    rng = np.random.default_rng(12)
    x = rng.integers(0, 2, (300, 8))
    x[:, :2] += rng.integers(0, 2, (300, 2))  # two three-category items
    data = ResponseData.from_dense(x)
    source = data.chunk_source(128)
    assert isinstance(source, DenseChunks) and source.n_chunks == 3
    full = data.indicator()
    assert isinstance(full, np.ndarray)
    got = np.vstack([source.load(i)[0] for i in range(source.n_chunks)])
    np.testing.assert_array_equal(got, full)
    nonzero = np.setdiff1d(np.arange(full.shape[1]), data.offsets[:-1])
    reduced = source.reduced(nonzero)
    np.testing.assert_array_equal(np.vstack(reduced.chunks), full[:, nonzero])
