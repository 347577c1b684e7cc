"""Agreement statistics equal the maintained reference implementations to 1e-6."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from assessment.agreement import AgreementError, icc, icc_oneway, krippendorff_alpha_ordinal

pd = pytest.importorskip("pandas")
pingouin = pytest.importorskip("pingouin")
krippendorff = pytest.importorskip("krippendorff")


def panel(seed: int, n: int = 25, k: int = 3) -> np.ndarray:
    """A panel's scores on a 1–5 rubric with assessor leniency differences."""
    rng = np.random.default_rng(seed)
    true = rng.normal(3, 1, (n, 1))
    offsets = np.linspace(-0.6, 0.6, k)
    return np.clip(np.round(true + offsets + rng.normal(0, 0.7, (n, k))), 1, 5)


def pingouin_icc(x: np.ndarray) -> dict[str, tuple[float, float, float]]:
    n, k = x.shape
    long = pd.DataFrame(
        {"c": np.repeat(np.arange(n), k), "a": np.tile(np.arange(k), n), "s": x.reshape(-1)}
    )
    # pingouin rounds the interval to 2 decimals by default; compare at full precision.
    saved = pingouin.options.get("round.column.CI95")
    pingouin.options["round.column.CI95"] = None
    try:
        table = pingouin.intraclass_corr(long, "c", "a", "s").set_index("Type")
    finally:
        pingouin.options["round.column.CI95"] = saved
    return {t: (row.ICC, row.CI95[0], row.CI95[1]) for t, row in table.iterrows()}


@pytest.mark.parametrize("seed,k", [(1, 3), (2, 4), (3, 2), (4, 5)])
def test_icc_equals_pingouin(seed: int, k: int) -> None:
    x = panel(seed, k=k)
    ours = icc(x).as_dict()
    ref = pingouin_icc(x)
    for name in ("ICC(A,1)", "ICC(A,k)", "ICC(C,1)", "ICC(C,k)"):
        est = ours[name]
        assert isinstance(est, dict)
        assert est["value"] == pytest.approx(ref[name][0], abs=1e-6), name
        assert est["low"] == pytest.approx(ref[name][1], abs=1e-6), name
        assert est["high"] == pytest.approx(ref[name][2], abs=1e-6), name


def test_a_panel_of_two_candidates_gets_an_open_interval_not_one_above_its_estimate() -> None:
    """Two candidates, three assessors: ICC(A,1)'s lower bound (-0.68) lies below
    -1/(k-1) = -0.5, where the Spearman-Brown step to ICC(A,k) has its pole.
    pingouin carries the bound through the pole and reports [5.63, 1.0] around
    0.64; the chair's page must not show an interval that excludes its estimate."""
    x = np.array([[82.0, 68.3, 78.7], [19.2, 80.2, 19.1]])
    r = icc(x)
    assert r.agreement_single.low == pytest.approx(-0.6817, abs=1e-4)
    ak = r.agreement_average
    assert ak.value == pytest.approx(0.6387, abs=1e-4)
    assert ak.low == -np.inf and ak.as_dict()["low"] is None  # unbounded below
    assert ak.value < ak.high <= 1.0
    ref = pingouin_icc(x)["ICC(A,k)"]
    assert ref[1] > ref[0]  # the peer's interval above its own estimate
    assert ak.high == pytest.approx(ref[2], abs=1e-6)


@settings(max_examples=300, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(2, 6), st.integers(2, 5)),
        elements=st.integers(0, 100).map(float),
    )
)
def test_every_icc_interval_holds_its_estimate(x: np.ndarray) -> None:
    try:
        r = icc(x)
    except AgreementError:
        return  # every score the same, or candidates as alike as one's scores vary
    for e in (
        r.agreement_single,
        r.agreement_average,
        r.consistency_single,
        r.consistency_average,
    ):
        if np.isnan(e.low) or np.isnan(e.high):
            continue  # undefined (an error-free table): None in JSON
        # 1e-9: the bounds and the estimate are computed along different
        # formulas; they meet at the ends (a perfect table) up to rounding.
        assert e.low <= e.value + 1e-9 and e.value <= e.high + 1e-9, e
        assert e.high <= 1.0 + 1e-9


def test_icc_leaves_out_candidates_with_a_missing_score_like_pingouin() -> None:
    x = panel(7)
    x[[0, 4], [1, 2]] = np.nan
    assert icc(x).n == x.shape[0] - 2
    ref = pingouin_icc(x[~np.isnan(x).any(axis=1)])
    assert icc(x).agreement_single.value == pytest.approx(ref["ICC(A,1)"][0], abs=1e-6)


def test_severity_lowers_absolute_agreement_not_consistency() -> None:
    """A harsh assessor who orders candidates like the others: consistency stays high."""
    rng = np.random.default_rng(11)
    true = rng.normal(3, 1, (40, 1))
    same_order = true + np.array([0.0, 0.0, -1.5]) + rng.normal(0, 0.2, (40, 3))
    r = icc(same_order)
    assert r.consistency_single.value > 0.9
    assert r.agreement_single.value < r.consistency_single.value - 0.2


def across_panels(seed: int, n: int = 30, k: int = 3) -> np.ndarray:
    """A component's candidates, each scored by k assessors of their own panel
    (panels differ in leniency: a panel's offset is shared by its candidates)."""
    rng = np.random.default_rng(seed)
    true = rng.normal(60, 12, (n, 1))
    panel_offset = rng.choice([-6.0, 0.0, 5.0], (n, 1))
    return np.round(true + panel_offset + rng.normal(0, 6, (n, k)), 1)


@pytest.mark.parametrize("seed,k", [(1, 3), (2, 2), (3, 4), (4, 5)])
def test_oneway_icc_equals_pingouin(seed: int, k: int) -> None:
    x = across_panels(seed, k=k)
    ours = icc_oneway(x).as_dict()
    ref = pingouin_icc(x)
    for name, theirs in (("ICC(1)", "ICC(1,1)"), ("ICC(k)", "ICC(1,k)")):
        est = ours[name]
        assert isinstance(est, dict)
        assert est["value"] == pytest.approx(ref[theirs][0], abs=1e-6), name
        assert est["low"] == pytest.approx(ref[theirs][1], abs=1e-6), name
        assert est["high"] == pytest.approx(ref[theirs][2], abs=1e-6), name


def test_oneway_icc_reads_rows_not_columns_and_leaves_out_other_counts() -> None:
    """Across panels, column j of two rows is not the same assessor: the order
    of a row's scores and where its gaps fall change nothing; candidates with
    another number of scores (a recusal) are left out and counted."""
    x = across_panels(5, n=20, k=3)
    base = icc_oneway(x)
    rng = np.random.default_rng(0)
    padded = np.full((22, 5), np.nan)
    for i, row in enumerate(x):
        padded[i, rng.choice(5, 3, replace=False)] = row
    padded[20, [0, 3]] = [40.0, 90.0]  # two scores only
    padded[21, 1] = 55.0  # one score
    r = icc_oneway(padded)
    assert (r.n, r.k, r.left_out) == (20, 3, 2)
    assert r.single.value == pytest.approx(base.single.value, abs=1e-12)
    assert r.average.high == pytest.approx(base.average.high, abs=1e-12)


def test_oneway_icc_refuses_what_it_cannot_say() -> None:
    with pytest.raises(AgreementError, match="do not differ"):
        icc_oneway([[50.0, 60.0], [60.0, 50.0]])
    with pytest.raises(AgreementError, match="every score is the same"):
        icc_oneway([[50.0, 50.0], [50.0, 50.0]])
    with pytest.raises(AgreementError, match="at least 2 candidates"):
        icc_oneway([[50.0, 60.0, 55.0], [70.0, np.nan, np.nan]])
    perfect = icc_oneway([[50.0, 50.0], [70.0, 70.0], [65.0, 65.0]])
    assert perfect.single.value == perfect.average.low == 1.0


@settings(max_examples=300, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(2, 10), st.integers(2, 5)),
        elements=st.one_of(st.integers(0, 100).map(float), st.just(np.nan)),
    )
)
def test_every_oneway_interval_holds_its_estimate(x: np.ndarray) -> None:
    try:
        r = icc_oneway(x)
    except AgreementError:
        return  # too few candidates with equal counts, or nothing to tell apart
    for e in (r.single, r.average):
        # 1e-9: bounds and estimate come from different formulas that meet at
        # the ends up to rounding.
        assert e.low <= e.value + 1e-9 and e.value <= e.high + 1e-9, e
        assert e.high <= 1.0 + 1e-9
    assert r.single.low >= -1.0 / (r.k - 1) - 1e-9  # ICC(1)'s own floor


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_alpha_equals_krippendorff_package(seed: int) -> None:
    x = panel(seed, n=30, k=4)
    rng = np.random.default_rng(seed)
    x[rng.random(x.shape) < 0.15] = np.nan  # recusals and missing scores
    ref = krippendorff.alpha(reliability_data=x.T, level_of_measurement="ordinal")
    assert krippendorff_alpha_ordinal(x, n_boot=10).value == pytest.approx(ref, abs=1e-6)


@settings(max_examples=60, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(2, 12), st.integers(2, 5)),
        elements=st.sampled_from([1.0, 2.0, 3.0, 4.0, 5.0, np.nan]),
    )
)
def test_alpha_equals_reference_on_any_panel(x: np.ndarray) -> None:
    try:
        ours = krippendorff_alpha_ordinal(x, n_boot=5).value
    except AgreementError:
        return  # fewer than two pairable candidates, or one value only
    ref = krippendorff.alpha(reliability_data=x.T, level_of_measurement="ordinal")
    assert ours == pytest.approx(ref, abs=1e-6)


def test_alpha_interval_holds_the_estimate_and_is_reproducible() -> None:
    x = panel(5, n=60)
    a = krippendorff_alpha_ordinal(x, n_boot=500)
    assert a.low < a.value < a.high
    assert krippendorff_alpha_ordinal(x, n_boot=500) == a


def test_two_candidates_scored_in_opposite_orders_get_a_clear_error_not_a_crash() -> None:
    # msr = msc = 0: every ICC formula divides by zero (a ZeroDivisionError
    # reached the chair's page before); a panel this small says why instead.
    with pytest.raises(AgreementError, match="undefined for this panel"):
        icc(np.array([[0.0, 3.0], [3.0, 0.0]]))
    # Candidates as alike as one candidate's scores vary: ICC(A,k) would be 2.7.
    with pytest.raises(AgreementError, match="undefined for this panel"):
        icc(np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 2.0]]))


def test_too_little_data_is_a_clear_error() -> None:
    with pytest.raises(AgreementError, match="at least 2 candidates"):
        icc([[1.0, 2.0]])
    with pytest.raises(AgreementError, match="every score is the same"):
        krippendorff_alpha_ordinal([[3.0, 3.0], [3.0, 3.0]])


def test_perfect_agreement_is_one_and_a_shifted_assessor_is_not() -> None:
    same = np.array([[1.0, 1.0, 1.0], [3.0, 3.0, 3.0], [4.0, 4.0, 4.0]])
    r = icc(same)
    assert r.agreement_single.value == r.consistency_average.value == 1.0
    shifted = same + np.array([0.0, 0.0, 1.0])
    r = icc(shifted)
    assert r.consistency_single.value == 1.0 and r.agreement_single.value < 1.0
    assert r.agreement_single.as_dict()["low"] is None  # undefined, and JSON-safe
