"""The many-facet Rasch model recovers known severities and corrects for them."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assessment.mfrm import ManyFacetRasch, MfrmError, Ratings, expected_points, simulate

THRESHOLDS = np.array([-1.5, -0.5, 0.5, 1.5])


def rotating(
    seed: int, n: int = 200, n_assessors: int = 8
) -> tuple[Ratings, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    severity = np.linspace(-1, 1, n_assessors)
    ability = rng.normal(0, 1, n)
    assessors_of = np.argsort(rng.random((n, n_assessors)), axis=1)[:, :3]
    r = simulate(ability, np.linspace(-0.5, 0.5, 4), severity, THRESHOLDS, assessors_of, rng)
    return r, ability, severity


def test_recovers_severities_and_fair_scores_beat_raw_means() -> None:
    # Fixed seed; with 200 candidates x 3 of 8 assessors x 4 criteria each severity
    # rests on ~300 ratings (SE ~0.07 logit), so r >= 0.95 and a clear fair/raw gap are
    # far from the sampling noise (the benchmark shows r ~0.99 over 20 seeds).
    r, ability, severity = rotating(3)
    m = ManyFacetRasch().fit(r)
    assert m.converged_
    assert np.corrcoef(m.severity_, severity)[0, 1] >= 0.95
    assert np.all(np.abs(m.severity_ - severity) < 4 * m.severity_se_)
    truth = expected_points(ability, THRESHOLDS, np.arange(5))
    fair = np.sqrt(np.mean((m.fair_average_ - truth) ** 2))
    raw = np.sqrt(np.mean((m.raw_average_ - truth) ** 2))
    assert fair < 0.85 * raw
    # Data drawn from the model fit it: mean squares near 1.
    assert np.all((m.assessor_infit_ > 0.8) & (m.assessor_infit_ < 1.2))
    assert np.all((m.assessor_outfit_ > 0.8) & (m.assessor_outfit_ < 1.2))


def test_an_erratic_assessor_shows_in_the_fit() -> None:
    r, _, _ = rotating(4)
    rng = np.random.default_rng(0)
    erratic = r.assessor == 0
    points = r.points.copy()
    points[erratic] = rng.integers(0, 5, erratic.sum()).astype(float)
    m = ManyFacetRasch().fit(Ratings.of(r.candidate, r.criterion, r.assessor, points))
    assert m.assessor_infit_[0] > 1.3
    assert np.argmax(m.assessor_outfit_) == 0


def test_a_harsher_assessor_gets_a_higher_severity_and_fair_scores_undo_it() -> None:
    """Two assessors seeing different halves of the same candidates, one 1 point harsher."""
    r, _, _ = rotating(5, n=120, n_assessors=6)
    harsh = r.assessor == 2
    points = r.points.copy()
    points[harsh] = np.maximum(points[harsh] - 1, 0)
    m0 = ManyFacetRasch().fit(r)
    m1 = ManyFacetRasch().fit(Ratings.of(r.candidate, r.criterion, r.assessor, points))
    assert m1.severity_[2] > m0.severity_[2] + 0.5
    seen = np.unique(r.candidate[harsh])
    # Their raw means fall; their fair averages much less (not to zero: clipping at
    # the lowest level is not a pure logit shift).
    raw_drop = (m0.raw_average_ - m1.raw_average_)[seen].mean()
    fair_drop = (m0.fair_average_ - m1.fair_average_)[seen].mean()
    assert fair_drop < 0.6 * raw_drop


def test_unused_levels_are_left_out_and_points_kept() -> None:
    r, _, _ = rotating(6, n=80)
    points = np.where(r.points == 0, 1, r.points) * 10  # levels 10..40, level 0 unused
    m = ManyFacetRasch().fit(Ratings.of(r.candidate, r.criterion, r.assessor, points))
    assert list(m.levels_) == [10.0, 20.0, 30.0, 40.0]
    assert m.thresholds_.shape == (3,)
    assert np.all((m.fair_average_ >= 10) & (m.fair_average_ <= 40))


def test_extreme_candidates_stay_finite() -> None:
    r, _, _ = rotating(7, n=60)
    points = np.where(r.candidate == 0, 4.0, r.points)
    m = ManyFacetRasch().fit(Ratings.of(r.candidate, r.criterion, r.assessor, points))
    assert np.isfinite(m.ability_).all() and m.ability_[0] == m.ability_.max()


def test_bad_input_is_refused() -> None:
    with pytest.raises(MfrmError, match="one length"):
        Ratings.of([0, 1], [0], [0], [1.0])
    with pytest.raises(MfrmError, match="at least two"):
        ManyFacetRasch().fit(Ratings.of([0, 1], [0, 0], [0, 1], [2.0, 2.0]))
    with pytest.raises(ValueError, match="prior_sd"):
        ManyFacetRasch(prior_sd=0)


def test_the_estimates_solve_the_rasch_score_equations() -> None:
    """At the joint ML solution each assessor's and criterion's observed total equals
    the model's expected total (their sufficient statistics), up to one shift shared
    by the facet (the prior's pull on the abilities, which centring passes on)."""
    r, _, _ = rotating(8, n=120)
    m = ManyFacetRasch(bias_correction=False).fit(r)
    b = m.ability_[r.candidate] - m.difficulty_[r.criterion] - m.severity_[r.assessor]
    expected = expected_points(b, m.thresholds_, m.levels_)
    prec = 1 / m.prior_sd**2
    for index, size, est in (
        (r.assessor, r.n_assessors, m.severity_),
        (r.criterion, r.n_criteria, m.difficulty_),
    ):
        gap = np.bincount(index, expected, size) - np.bincount(index, r.points, size)
        # The weak prior adds prec * estimate to each element's equation.
        assert np.ptp(gap - prec * est) < 1e-6 and abs(gap.mean()) < 0.05
    assert m.converged_ and m.n_iter_ < 20


def test_an_element_scored_only_at_one_end_stays_finite() -> None:
    """A criterion every assessor gave the top level, an assessor who gave only the
    lowest: the model still fits (the prior keeps them finite) and ranks them last."""
    r, _, _ = rotating(9, n=60)
    points = r.points.copy()
    points[r.criterion == 0] = 4.0
    points[r.assessor == 1] = 0.0
    m = ManyFacetRasch().fit(Ratings.of(r.candidate, r.criterion, r.assessor, points))
    assert m.converged_ and np.isfinite(m.severity_).all() and np.isfinite(m.difficulty_).all()
    assert np.argmin(m.difficulty_) == 0 and np.argmax(m.severity_) == 1


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_any_small_panel_fits_to_finite_estimates_or_is_refused(data: st.DataObject) -> None:
    """Whatever a small panel gives (ties, extremes, unused levels), the chair's page
    gets finite numbers or a clear refusal, never a crash."""
    n_c, n_i, n_a = (data.draw(st.integers(2, 6)), data.draw(st.integers(1, 3)),
                     data.draw(st.integers(2, 4)))  # fmt: skip
    size = n_c * n_i * n_a
    points = data.draw(st.lists(st.integers(1, 4), min_size=size, max_size=size))
    grid = np.indices((n_c, n_i, n_a)).reshape(3, -1)
    try:
        m = ManyFacetRasch().fit(Ratings.of(grid[0], grid[1], grid[2], points, n_c, n_i, n_a))
    except MfrmError:
        assert len(set(points)) == 1
        return
    for arr in (m.severity_, m.severity_se_, m.assessor_infit_, m.assessor_outfit_,
                m.fair_average_, m.ability_):  # fmt: skip
        assert np.isfinite(arr).all()
    assert np.all((m.fair_average_ >= 1) & (m.fair_average_ <= 4))


def test_the_partial_credit_form_recovers_each_criterions_thresholds() -> None:
    # Fixed seed; 300 candidates x 3 of 8 assessors: each criterion's thresholds rest on
    # ~900 ratings. Joint ML widens thresholds too (by ~L/(L-1) and more at the ends),
    # hence 0.35 logit; the rating-scale form must fit these data clearly worse.
    rng = np.random.default_rng(5)
    n, severity = 300, np.linspace(-1, 1, 8)
    taus = np.array([[-1.5, -0.5, 0.5, 1.5], [-2, -0.5, 0.5, 2], [-1, -0.8, 0.8, 1]])
    ability = rng.normal(0, 1, n)
    assessors_of = np.argsort(rng.random((n, 8)), axis=1)[:, :3]
    r = simulate(ability, np.array([-0.5, 0.0, 0.5]), severity, taus, assessors_of, rng)
    pc = ManyFacetRasch(form="partial_credit").fit(r)
    rs = ManyFacetRasch().fit(r)
    assert pc.converged_ and pc.thresholds_.shape == (3, 4)
    assert np.abs(pc.thresholds_ - taus).max() < 0.35
    assert np.corrcoef(pc.severity_, severity)[0, 1] > 0.99
    assert pc.log_likelihood_ > rs.log_likelihood_ + 20
    assert pc.fair_average_.shape == (n,) and np.all(
        (pc.fair_average_ >= 0) & (pc.fair_average_ <= 4)
    )
    with pytest.raises(ValueError, match="form must be"):
        ManyFacetRasch(form="graded")
