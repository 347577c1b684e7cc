"""The SKD ranking per formation: cut, ties at/inside/below the cut, TL/TH/DIS, reasons,
and properties over random formations."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exam_server.results.outcomes import CandidateOutcome
from exam_server.results.ranking import RankingError, rank_skd
from exam_server.results.rules import RankingPolicy
from tests.results.results_cases import POLICY, absent, cand, codes, formation


def ranks(result: object, fid: str = "F1") -> dict[str, int | None]:
    for f in result.formations:  # type: ignore[attr-defined]
        if f.formation.id == fid:
            return {e.registration_number: e.rank for e in f.entries}
    raise KeyError(fid)


def test_top_three_times_openings_go_on() -> None:
    # 1 opening → cut 3; five passers with distinct totals.
    cs = [cand(f"C{i}", 70 + i, 90, 170) for i in range(5)]
    r = rank_skd(POLICY, [formation(openings=1)], cs)
    assert codes(r) == {"C4": "P/L", "C3": "P/L", "C2": "P/L", "C1": "P", "C0": "P"}
    assert ranks(r) == {"C4": 1, "C3": 2, "C2": 3, "C1": 4, "C0": 5}
    f = r.formations[0]
    assert (f.cut, f.passed) == (3, 5)
    assert [e.registration_number for e in f.entries] == ["C4", "C3", "C2", "C1", "C0"]


def test_tie_inside_the_cut_shares_a_rank() -> None:
    cs = [
        cand("A", 80, 90, 170),
        cand("B", 80, 90, 170),
        cand("C", 75, 90, 170),
        cand("D", 70, 90, 170),
    ]
    r = rank_skd(POLICY, [formation(openings=1)], cs)
    assert codes(r) == {"A": "P/L", "B": "P/L", "C": "P/L", "D": "P"}
    assert ranks(r) == {"A": 1, "B": 1, "C": 3, "D": 4}
    reason = r.entry("A").reason_en
    assert "fully tied with B" in reason


def test_tie_at_the_cut_includes_every_tied_candidate() -> None:
    # Places 3, 4 and 5 are equal on total, TKP, TIU and TWK: all three go on (5 > cut 3).
    cs = (
        [cand("A", 90, 90, 170), cand("B", 85, 90, 170)]
        + [cand(x, 80, 90, 170) for x in ("C", "D", "E")]
        + [cand("F", 70, 90, 170)]
    )
    r = rank_skd(POLICY, [formation(openings=1)], cs)
    assert codes(r) == {"A": "P/L", "B": "P/L", "C": "P/L", "D": "P/L", "E": "P/L", "F": "P"}
    assert ranks(r)["E"] == 3
    assert "tied on every rule with place 3" in r.entry("E").reason_en
    assert "all tied candidates go on" in r.entry("E").reason_en
    assert "outside the cut of 3" in r.entry("F").reason_en


def test_equal_total_at_the_cut_is_decided_by_tkp_then_tiu_then_twk() -> None:
    # All four have total 340; the order is TKP, then TIU, then TWK.
    cs = [
        cand("TKP_HI", 80, 90, 170),  # TKP 170
        cand("TIU_HI", 81, 90, 169),  # TKP 169, TIU 90
        cand("TWK_HI", 86, 85, 169),  # TKP 169, TIU 85, TWK 86
        cand("TWK_LO", 85, 86, 169),  # TKP 169, TIU 86 > 85: ahead of TWK_HI
    ]
    r = rank_skd(POLICY, [formation(openings=1)], cs)
    order = [e.registration_number for e in r.formations[0].entries]
    assert order == ["TKP_HI", "TIU_HI", "TWK_LO", "TWK_HI"]
    assert codes(r)["TWK_HI"] == "P"
    assert "equal total, behind TWK_LO on TIU" in r.entry("TWK_HI").reason_en
    assert "ahead of TIU_HI on TKP" in r.entry("TKP_HI").reason_en


def test_pairs_equal_on_every_rule_share_ranks_and_go_on_together() -> None:
    # With total, TKP and TIU equal, TWK is equal too (total is their sum): TWK, the last
    # rule, never separates anyone under the 2024 order, and a full tie remains.
    cs = [
        cand("A", 80, 90, 170),
        cand("B", 80, 90, 170),
        cand("C", 79, 90, 170),
        cand("D", 79, 90, 170),
    ]
    r = rank_skd(POLICY, [formation(openings=1)], cs)
    # A and B share rank 1; C and D are tied at the cut (place 3): both included.
    assert codes(r) == {"A": "P/L", "B": "P/L", "C": "P/L", "D": "P/L"}


def test_ties_below_the_cut_stay_outside_and_share_a_rank() -> None:
    cs = [cand(x, 90 - i, 90, 170) for i, x in enumerate("ABC")] + [
        cand("D", 70, 90, 170),
        cand("E", 70, 90, 170),
    ]
    r = rank_skd(POLICY, [formation(openings=1)], cs)
    assert codes(r) == {"A": "P/L", "B": "P/L", "C": "P/L", "D": "P", "E": "P"}
    assert ranks(r)["D"] == ranks(r)["E"] == 4


def test_exclude_all_policy_leaves_a_tie_across_the_cut_out() -> None:
    doc = POLICY.to_dict()
    doc["skd"]["ties_at_cut"] = "exclude_all"
    strict = RankingPolicy.from_dict(doc)
    cs = [
        cand("A", 90, 90, 170),
        cand("B", 85, 90, 170),
        cand("C", 80, 90, 170),
        cand("D", 80, 90, 170),
    ]
    r = rank_skd(strict, [formation(openings=1)], cs)
    assert codes(r) == {"A": "P/L", "B": "P/L", "C": "P", "D": "P"}
    assert "all tied candidates are left out" in r.entry("C").reason_en


def test_below_threshold_absent_and_disqualified() -> None:
    cs = [
        cand("PASS", 70, 85, 170),
        # The highest total in the formation, but TWK is below 65: TL, and takes no place.
        cand("HIGH_TL", 64, 175, 225),
        absent("GONE"),
        absent("VOID", status="voided"),
        replace(absent("VOID2", status="voided"), status_note="joki (stand-in)"),
    ]
    r = rank_skd(POLICY, [formation(openings=1)], cs)
    assert codes(r) == {"PASS": "P/L", "HIGH_TL": "TL", "GONE": "TH", "VOID": "DIS", "VOID2": "DIS"}
    assert ranks(r)["HIGH_TL"] is None and ranks(r)["PASS"] == 1
    assert r.entry("HIGH_TL").reason_en == "below the passing grade for general: TWK 64 < 65"
    assert r.entry("GONE").reason_id == "tidak mengikuti tes"
    assert r.entry("VOID2").reason_en == "attempt voided by the proctor (joki (stand-in))"
    assert r.entry("GONE").total is None and r.entry("GONE").scores == {}
    f = r.formations[0]
    assert f.passed == 1
    # Listing: ranked, then TL, then TH and DIS.
    assert [e.code for e in f.entries] == ["P/L", "TL", "TH", "DIS", "DIS"]


def test_more_openings_than_passers_sends_every_passer_on() -> None:
    cs = [cand("A", 70, 85, 170), cand("B", 66, 81, 167), cand("C", 60, 85, 170)]
    r = rank_skd(POLICY, [formation(openings=5)], cs)
    assert codes(r) == {"A": "P/L", "B": "P/L", "C": "TL"}
    assert "no more than the cut of 15 (3 × 5 openings), all go on" in r.entry("B").reason_en


def test_categories_compete_in_one_formation_on_total() -> None:
    # A cum laude candidate passing on total + TIU floor (TKP below the general line)
    # is ranked with general candidates by total.
    cs = [
        cand("CUM", 100, 100, 150, category="cumlaude"),  # total 350, TKP 150 < 166
        cand("GEN", 70, 85, 170),  # total 325
        cand("GEN_TL", 100, 100, 150),  # same scores as CUM, general: TL
    ]
    r = rank_skd(POLICY, [formation(openings=1)], cs)
    assert codes(r) == {"CUM": "P/L", "GEN": "P/L", "GEN_TL": "TL"}
    assert ranks(r) == {"CUM": 1, "GEN": 2, "GEN_TL": None}


def test_formations_are_ranked_separately() -> None:
    cs = [cand(f"A{i}", 70 + i, 90, 170, formation="FA") for i in range(4)] + [
        cand("B0", 66, 81, 167, formation="FB")
    ]
    r = rank_skd(POLICY, [formation("FB"), formation("FA")], cs)
    assert [f.formation.id for f in r.formations] == ["FA", "FB"]
    assert codes(r, "FA") == {"A3": "P/L", "A2": "P/L", "A1": "P/L", "A0": "P"}
    assert codes(r, "FB") == {"B0": "P/L"}


def test_formation_with_no_openings_sends_nobody_on() -> None:
    r = rank_skd(POLICY, [formation(openings=0)], [cand("A", 100, 100, 200)])
    assert codes(r) == {"A": "P"}


@pytest.mark.parametrize(
    ("cands", "message"),
    [
        ([cand("A", 70, 90, 170, formation="NOPE")], "candidate A: formation 'NOPE' is not"),
        ([cand("A", 70, 90, 170), cand("A", 71, 90, 170)], "candidate A: listed twice"),
        ([cand("A", 70, 90, 170, category="vip")], "candidate A: unknown category 'vip'"),
        (
            [CandidateOutcome("A", "F1", "general", "finished", {"TWK": 70, "TIU": 90})],
            "candidate A: no score for subtest TKP",
        ),
        ([cand("A", 70, 176, 170)], "candidate A: TIU = 176 is outside 0–175"),
    ],
)
def test_inconsistent_input_names_the_candidate(
    cands: list[CandidateOutcome], message: str
) -> None:
    with pytest.raises(RankingError, match=message):
        rank_skd(POLICY, [formation()], cands)


def test_outcome_records_validate_themselves() -> None:
    with pytest.raises(ValueError, match="status must be one of"):
        CandidateOutcome("A", "F1", "general", "left early")
    with pytest.raises(ValueError, match="registration number"):
        CandidateOutcome(" A", "F1", "general", "absent")
    with pytest.raises(ValueError, match="responses_hash"):
        CandidateOutcome("A", "F1", "general", "absent", responses_hash="xyz")
    with pytest.raises(ValueError, match="may hold only letters"):
        formation("../etc")


# -- properties ----------------------------------------------------------------------

# Scores on a coarse grid so that ties (at and across the cut) are frequent.
_points = st.tuples(
    st.sampled_from([60, 65, 70, 75]),
    st.sampled_from([75, 80, 85, 90]),
    st.sampled_from([160, 166, 170]),
)
_candidate = st.tuples(
    _points,
    st.sampled_from(["general", "general", "cumlaude", "papua"]),
    st.sampled_from(["finished"] * 6 + ["absent", "voided"]),
    st.sampled_from(["F1", "F2"]),
)


@settings(max_examples=150, deadline=None)
@given(
    people=st.lists(_candidate, min_size=0, max_size=30),
    openings=st.tuples(st.integers(0, 4), st.integers(0, 4)),
    seed=st.integers(0, 2**32 - 1),
)
def test_ranking_is_invariant_to_input_order_and_pl_outranks_p(
    people: list[tuple[tuple[int, int, int], str, str, str]],
    openings: tuple[int, int],
    seed: int,
) -> None:
    cs = [
        cand(f"R{i:03d}", *pts, category=cat, status=status, formation=fid)
        for i, (pts, cat, status, fid) in enumerate(people)
    ]
    forms = [formation("F1", openings[0]), formation("F2", openings[1])]
    a = rank_skd(POLICY, forms, cs)
    shuffled = cs[:]
    random.Random(seed).shuffle(shuffled)
    b = rank_skd(POLICY, list(reversed(forms)), shuffled)
    assert a == b
    for f in a.formations:
        pl = [e for e in f.entries if e.code == "P/L"]
        p = [e for e in f.entries if e.code == "P"]
        # every P/L strictly outranks every P (a full tie is never split by the cut)
        if pl and p:
            assert max(e.rank or 0 for e in pl) < min(e.rank or 0 for e in p)
        # the cut is filled as far as passers allow, and only exceeded by ties
        assert len(pl) >= min(f.cut, f.passed)
        if len(pl) > f.cut:
            last = [e for e in pl if e.rank == max(x.rank or 0 for x in pl)]
            assert len(last) > 1 or f.cut == 0
        # each code has a reason in both languages
        assert all(e.reason_id and e.reason_en for e in f.entries)
