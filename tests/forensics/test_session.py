"""Planted cheaters are flagged; honest simulees no more often than the stated rate.

Every session is simulated from a fixed seed (``forensics.simulate``), so each
assertion is deterministic; the margins say how far a fresh seed could move
the figure (binomial standard errors), so that a change to an index that
breaks its calibration fails here rather than in a benchmark.
"""

from __future__ import annotations

import numpy as np
import pytest

from forensics.data import SessionData
from forensics.session import ForensicSettings, analyse
from forensics.simulate import ROLES, Cheating, SessionItems, simulate_session, skd_form


@pytest.fixture(scope="module")
def form() -> SessionItems:
    return skd_form(seed=0)


def flagged(p: np.ndarray, level: float = 0.01) -> np.ndarray:
    return np.nan_to_num(p, nan=1.0) <= level


def test_honest_candidates_are_flagged_at_about_the_stated_rate(form: SessionItems) -> None:
    sim = simulate_session(form, 2000, seed=6)
    rep = analyse(sim.data, ForensicSettings(all_pairs=False))
    # 2,000 honest simulees: the binomial SE of a 1 % rate is 0.22 %; 0.018
    # is three and a half of them above it.
    for key, p in rep.p.items():
        assert flagged(p).mean() <= 0.018, key
    # The review list controls the false-discovery rate; with nobody to
    # find, it should be (nearly) empty.
    assert rep.review.sum() <= 2


def test_copiers_are_flagged_against_their_neighbour(form: SessionItems) -> None:
    sim = simulate_session(form, 160, Cheating(copiers=8, copy_fraction=0.5), seed=21)
    rep = analyse(sim.data)
    copier = sim.is_("copier")
    assert flagged(rep.p["neighbour"])[copier].all()
    # The partner named is the neighbour they copied from.
    assert np.array_equal(rep.partner[copier], sim.source[copier])
    honest = sim.is_("honest")
    assert flagged(rep.p["neighbour"])[honest].mean() <= 0.03  # 144 honest: ≤ 4


def test_preknowledge_of_a_given_item_set_is_flagged(form: SessionItems) -> None:
    cheat = Cheating(preknowledge=8, compromised_fraction=0.4)
    sim = simulate_session(form, 160, cheat, seed=22)
    rep = analyse(sim.data, compromised=sim.compromised)
    pk = sim.is_("preknowledge")
    assert flagged(rep.p["preknowledge"])[pk].all()
    assert flagged(rep.p["preknowledge"])[sim.is_("honest")].mean() <= 0.03
    assert len(rep.compromised) == int(sim.compromised.sum())


def test_preknowledge_without_the_set_shows_in_the_times(form: SessionItems) -> None:
    cheat = Cheating(preknowledge=8, compromised_fraction=0.4)
    sim = simulate_session(form, 160, cheat, seed=23)
    rep = analyse(sim.data)
    pk = sim.is_("preknowledge")
    # Right answers far faster than the candidate's own pace.
    assert rep.fast_right[pk].mean() > 5 * max(rep.fast_right[sim.is_("honest")].mean(), 0.1)
    assert flagged(rep.p_combined)[pk].mean() >= 0.75


def test_an_able_stand_in_for_one_subtest_is_flagged_on_that_subtest(
    form: SessionItems,
) -> None:
    cheat = Cheating(standins=8, standin_ability_mean=1.5, standin_speed_mean=0.5)
    sim = simulate_session(form, 160, cheat, seed=24)
    rep = analyse(sim.data)
    si = sim.is_("standin")
    hit = flagged(rep.p["section"], 0.05)[si]
    assert hit.mean() >= 0.75
    tiu = form.section_codes.index("TIU")
    # Replacing TIU also moves "the rest" of the other subtests; the report
    # names TIU as the most unusual for most of them.
    assert (rep.section[si][hit] == tiu).mean() >= 0.7


def test_answers_changed_to_the_key_are_flagged(form: SessionItems) -> None:
    sim = simulate_session(form, 160, Cheating(changers=8, changes=10), seed=25)
    rep = analyse(sim.data)
    assert flagged(rep.p["changes"])[sim.is_("changer")].all()
    assert flagged(rep.p["changes"])[sim.is_("honest")].mean() <= 0.03


def test_planted_cheaters_rank_at_the_top_of_the_review_list(form: SessionItems) -> None:
    cheat = Cheating(copiers=4, preknowledge=4, changers=4)
    sim = simulate_session(form, 160, cheat, seed=26)
    rep = analyse(sim.data, compromised=sim.compromised)
    planted = sim.role != ROLES.index("honest")  # cheaters and the copiers' sources
    top = rep.order[: int(planted.sum())]
    assert planted[top].mean() >= 0.85
    assert rep.review[planted].mean() >= 0.8


def test_bad_input_names_the_candidate_and_item(form: SessionItems) -> None:
    sim = simulate_session(form, 4, seed=1)
    options = sim.data.options.copy()
    options[2, 5] = 9
    with pytest.raises(ValueError, match=r"S0002 .* option 9 of item"):
        SessionData(
            items=form,
            options=options,
            seconds=sim.data.seconds,
            previous=sim.data.previous,
            room=sim.data.room,
            row=sim.data.row,
            col=sim.data.col,
            candidate_ids=sim.data.candidate_ids,
        )
    with pytest.raises(ValueError, match="fdr"):
        ForensicSettings(fdr=1.5)
    with pytest.raises(ValueError, match="compromised must have"):
        analyse(sim.data, compromised=np.ones(3, dtype=bool))
