"""Final integration: SKB CSV import, the 40/60 score, the full tie-break chain down to
age, SKB absence/disqualification, and optimisation of vacant openings."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exam_server.results.integration import (
    SkbImportError,
    SkbScore,
    integrate,
    optimise,
    parse_skb_csv,
    skb_csv,
)
from exam_server.results.ranking import RankingError, rank_skd
from exam_server.results.rules import RankingPolicy
from tests.results.results_cases import POLICY, cand, codes, formation


def skb(**points: float | str) -> dict[str, SkbScore]:
    """SKB records: a number = present with those points; 'absent'/'disqualified'."""
    out = {}
    for regno, v in points.items():
        if isinstance(v, str):
            out[regno] = SkbScore(regno, v, None)
        else:
            out[regno] = SkbScore(regno, "present", POLICY.points(v))
    return out


def test_final_score_is_40_60_of_the_scaled_scores() -> None:
    # 400/550 × 40 = 29.0909…, 85/100 × 60 = 51 → 80.0909… → 80.091 (3 places, half up)
    assert POLICY.final_score(Decimal(400), Decimal(85)) == Decimal("80.091")
    assert POLICY.final_score(Decimal(550), Decimal(100)) == 100
    assert POLICY.final_score(Decimal(0), Decimal(0)) == 0
    # 275/550 × 40 = 20 exactly; 72.5 × 0.6 = 43.5 → 63.5
    assert POLICY.final_score(Decimal(275), Decimal("72.5")) == Decimal("63.5")


def _final_pair(a: dict[str, Any], b: dict[str, Any], skb_a: float, skb_b: float) -> Any:
    cs = [cand("A", *a.pop("pts"), **a), cand("B", *b.pop("pts"), **b)]
    skd = rank_skd(POLICY, [formation(openings=1)], cs)
    assert codes(skd) == {"A": "P/L", "B": "P/L"}  # both called to SKB (cut 3)
    return integrate(POLICY, skd, skb(A=skb_a, B=skb_b))


# Each pair is equal on every rule before the one named, and A wins on it.
CHAIN = [
    ("final score", {"pts": (80, 100, 170)}, {"pts": (80, 100, 170)}, 80, 79),
    # 400/550×40 + 80×0.6 = 77.0909 and 389/550×40 + 81.333×0.6 = 77.0907: both 77.091
    ("SKD total", {"pts": (100, 120, 180)}, {"pts": (100, 109, 180)}, 80, 81.333),
    ("TKP", {"pts": (80, 100, 180)}, {"pts": (85, 105, 170)}, 80, 80),
    ("TIU", {"pts": (80, 105, 175)}, {"pts": (85, 100, 175)}, 80, 80),
    # TWK cannot decide once total, TKP and TIU are equal (it is then equal too).
    ("GPA", {"pts": (80, 100, 170), "gpa": 3.8}, {"pts": (80, 100, 170), "gpa": 3.5}, 80, 80),
    ("GPA", {"pts": (80, 100, 170), "gpa": 2.0}, {"pts": (80, 100, 170), "gpa": None}, 80, 80),
    (
        "age (older first)",
        {"pts": (80, 100, 170), "gpa": 3.5, "born": "1995-01-01"},
        {"pts": (80, 100, 170), "gpa": 3.5, "born": "1998-06-30"},
        80,
        80,
    ),
]


@pytest.mark.parametrize(("rule", "a", "b", "skb_a", "skb_b"), CHAIN, ids=[c[0] for c in CHAIN])
def test_final_tie_break_chain(
    rule: str, a: dict[str, Any], b: dict[str, Any], skb_a: float, skb_b: float
) -> None:
    final = _final_pair(dict(a), dict(b), skb_a, skb_b)
    f = final.formations[0]
    assert [e.registration_number for e in f.entries] == ["A", "B"]
    assert codes(final) == {"A": "P/L", "B": "TL"}
    assert [e.rank for e in f.entries] == [1, 2]
    if rule != "final score":
        assert f.entries[0].final == f.entries[1].final
        assert f"equal final score, ahead of B on {rule}" in f.entries[0].reason_en
        assert f"equal final score, behind A on {rule}" in f.entries[1].reason_en


def test_the_chain_is_order_independent() -> None:
    a = {"pts": (80, 100, 170), "gpa": 3.5, "born": "1995-01-01"}
    b = {"pts": (80, 100, 170), "gpa": 3.5, "born": "1998-06-30"}
    cs = [
        cand("B", *b["pts"], gpa=3.5, born=b["born"]),
        cand("A", *a["pts"], gpa=3.5, born=a["born"]),
    ]
    skd = rank_skd(POLICY, [formation(openings=1)], cs)
    final = integrate(POLICY, skd, skb(A=80, B=80))
    assert codes(final) == {"A": "P/L", "B": "TL"}


def test_a_tie_on_every_rule_at_the_last_opening_appoints_all_tied() -> None:
    same = {"gpa": 3.5, "born": "1995-01-01"}
    cs = [cand("A", 80, 100, 170, **same), cand("B", 80, 100, 170, **same)]  # type: ignore[arg-type]
    skd = rank_skd(POLICY, [formation(openings=1)], cs)
    final = integrate(POLICY, skd, skb(A=80, B=80))
    assert codes(final) == {"A": "P/L", "B": "P/L"}
    assert [e.rank for e in final.formations[0].entries] == [1, 1]
    assert "fully tied with B" in final.formations[0].entries[0].reason_en
    assert "all tied candidates pass" in final.formations[0].entries[1].reason_en


def test_final_reason_shows_the_formula() -> None:
    final = _final_pair({"pts": (100, 120, 180)}, {"pts": (80, 100, 170)}, 85, 80)
    e = final.formations[0].entries[0]
    assert e.reason_en.startswith(
        "final score 80.091 = SKD 400/550 × 40 + SKB 85/100 × 60; rank 1 of 2, within the 1 opening"
    )
    assert e.reason_id.startswith("nilai akhir 80.091 = SKD 400/550 × 40 + SKB 85/100 × 60")


def test_skb_absent_and_disqualified() -> None:
    cs = [cand(x, 80 + i, 100, 170) for i, x in enumerate("ABC")]
    skd = rank_skd(POLICY, [formation(openings=2)], cs)
    final = integrate(
        POLICY, skd, {**skb(A=70, B="absent"), "C": SkbScore("C", "disqualified", None, "joki")}
    )
    assert codes(final) == {"A": "P/L", "B": "TH", "C": "DIS"}
    e = {x.registration_number: x for x in final.formations[0].entries}
    assert e["C"].reason_en == "disqualified at the SKB (joki)"
    assert e["B"].final is None and e["B"].rank is None
    # Two openings, one appointed: one vacant.
    assert (final.formations[0].appointed, final.formations[0].vacant) == (1, 1)


def test_missing_skb_record_is_an_error_unless_treated_as_absent() -> None:
    cs = [cand("A", 80, 100, 170), cand("B", 81, 100, 170)]
    skd = rank_skd(POLICY, [formation()], cs)
    with pytest.raises(RankingError, match="no SKB record for: B"):
        integrate(POLICY, skd, skb(A=70))
    final = integrate(POLICY, skd, skb(A=70), missing_is_absent=True)
    assert codes(final) == {"A": "P/L", "B": "TH"}
    assert "no SKB record" in final.formations[0].entries[-1].reason_en


def test_skb_record_for_someone_not_called_is_an_error() -> None:
    cs = [cand(f"C{i}", 80 + i, 100, 170) for i in range(4)]  # C0 is P (outside the cut)
    skd = rank_skd(POLICY, [formation()], cs)
    with pytest.raises(RankingError, match="not called to SKB: C0"):
        integrate(POLICY, skd, skb(C0=90, C1=80, C2=80, C3=80))


def test_skb_minimum_when_the_policy_sets_one() -> None:
    doc = POLICY.to_dict()
    doc["final"]["skb_minimum"] = 60
    policy = RankingPolicy.from_dict(doc)
    cs = [cand("A", 100, 120, 180), cand("B", 80, 100, 170)]
    skd = rank_skd(policy, [formation(openings=2)], cs)
    final = integrate(policy, skd, skb(A=59.999, B=60))
    assert codes(final) == {"A": "TL", "B": "P/L"}
    assert "SKB below the minimum: SKB 59.999 < 60" in final.formations[0].entries[-1].reason_en


def test_more_openings_than_skb_participants_leaves_vacancies() -> None:
    cs = [cand("A", 80, 100, 170), cand("TL", 60, 100, 170)]
    skd = rank_skd(POLICY, [formation(openings=3)], cs)
    final = integrate(POLICY, skd, skb(A=50))
    assert codes(final) == {"A": "P/L"}
    assert final.formations[0].vacant == 2


# -- optimisation ----------------------------------------------------------------------


def _optimisation_case(policy: RankingPolicy = POLICY) -> tuple[Any, Any]:
    # FA: 1 opening, cut 3, five passers: A1..A3 go to SKB, A4/A5 are P.
    # FB (same group): 2 openings, one passer; it will have one vacancy.
    # FC (other group): 1 opening, nobody passes.
    cs = [cand(f"A{i}", 90 - i, 100, 170, formation="FA", gpa=3.0) for i in range(1, 6)] + [
        cand("B1", 80, 100, 170, formation="FB"),
        cand("C1", 60, 100, 170, formation="FC"),
        cand("C2", 90, 100, 160, formation="FC2"),  # TKP 160: TL
    ]
    forms = [
        formation("FA", 1, group="analyst"),
        formation("FB", 2, group="analyst"),
        formation("FC", 1, group="nurse"),
        formation("FC2", 1, group="nurse"),
    ]
    skd = rank_skd(policy, forms, cs)
    final = integrate(policy, skd, skb(A1=80, A2=70, A3=60, B1=75))
    return skd, final


def test_optimisation_is_a_separate_step() -> None:
    skd, final = _optimisation_case()
    assert not final.optimised
    assert {f.formation.id: f.vacant for f in final.formations} == {
        "FA": 0,
        "FB": 1,
        "FC": 1,
        "FC2": 1,
    }
    opt = optimise(POLICY, skd, final)
    assert opt.optimised and not final.optimised  # a new result; the old one is untouched
    fb = {e.registration_number: e for e in opt.formations[1].entries}
    # FB's vacancy goes to the best P candidate of the group (A4: total 356 > A5: 355).
    assert fb["A4"].code == "P/L-O" and fb["A4"].origin_formation == "FA"
    assert "fills vacant opening 1 of FB from formation FA" in fb["A4"].reason_en
    assert "A5" not in fb
    # FC and FC2's group has no passers at all: their openings stay vacant.
    assert opt.formations[2].vacant == 1 and opt.formations[3].vacant == 1
    with pytest.raises(ValueError, match="already optimised"):
        optimise(POLICY, skd, opt)


def test_optimisation_scope_formation_keeps_to_its_own_pool() -> None:
    doc = POLICY.to_dict()
    doc["optimisation"]["scope"] = "formation"
    policy = RankingPolicy.from_dict(doc)
    skd, final = _optimisation_case(policy)
    opt = optimise(policy, skd, final)
    assert sum(f.appointed for f in opt.formations) == sum(f.appointed for f in final.formations)


def test_optimisation_from_final_not_appointed_pool() -> None:
    doc = POLICY.to_dict()
    doc["optimisation"]["pool"] = "final_not_appointed"
    policy = RankingPolicy.from_dict(doc)
    skd, final = _optimisation_case(policy)
    opt = optimise(policy, skd, final)
    fa = {e.registration_number: e for e in opt.formations[0].entries}
    fb = {e.registration_number: e for e in opt.formations[1].entries}
    # A2 ranked 2nd in FA (not appointed) has the best final score among the not appointed.
    assert fb["A2"].code == "P/L-O" and fb["A2"].final == fa["A2"].final
    assert fa["A2"].code == "TL" and "moved to formation FB by optimisation" in fa["A2"].reason_en


# -- SKB CSV ---------------------------------------------------------------------------


def test_skb_csv_parses_and_defaults_status() -> None:
    text = "\ufeffregistration_number,skb,status,note\nA,85.5,,\n\nB,,absent,sick\nC,0,present,\n"
    got = parse_skb_csv(text, POLICY)
    assert got["A"] == SkbScore("A", "present", Decimal("85.500"), "")
    assert got["B"] == SkbScore("B", "absent", None, "sick")
    assert got["C"].points == 0


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "line 1: the file is empty"),
        ("registration_number,score\n", "line 1, header: missing column 'skb'"),
        ("registration_number,skb,x\n", "line 1, header: unknown column(s) 'x'"),
        ("registration_number,skb\nA,eighty\n", "line 2, skb: 'eighty' is not a number"),
        ("registration_number,skb\nA,100.5\n", "line 2, skb: 100.5 is outside 0–100"),
        ("registration_number,skb\nA,-1\n", "line 2, skb: -1 is outside 0–100"),
        ("registration_number,skb\nA,80\nA,81\n", "line 3, registration_number: A appears twice"),
        ("registration_number,skb\n,80\n", "line 2, registration_number: empty"),
        ("registration_number,skb,status\nA,80,late\n", "line 2, status: must be one of"),
        ("registration_number,skb,status\nA,80,absent\n", "line 2, skb: must be empty when"),
        ("registration_number,skb\nA,80,extra\n", "line 2: expected 2 fields, got 3"),
        ("registration_number,skb\nA,nan\n", "line 2, skb: 'nan' is not a number"),
    ],
)
def test_skb_csv_errors_name_line_and_field(text: str, problem: str) -> None:
    with pytest.raises(SkbImportError) as err:
        parse_skb_csv(text, POLICY)
    assert any(p.startswith(problem) for p in err.value.problems), err.value.problems


def test_skb_csv_reports_every_bad_row_at_once() -> None:
    text = "registration_number,skb\nA,x\nB,200\nC,50\n"
    with pytest.raises(SkbImportError) as err:
        parse_skb_csv(text, POLICY)
    assert (
        len(err.value.problems) == 2 and "line 2" in str(err.value) and "line 3" in str(err.value)
    )


_regno = st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-", min_size=1, max_size=12)
_record = st.one_of(
    st.builds(
        lambda r, p: SkbScore(r, "present", POLICY.points(p)),
        _regno,
        st.decimals(min_value=0, max_value=100, places=3, allow_nan=False),
    ),
    st.builds(
        lambda r, s, n: SkbScore(r, s, None, n),
        _regno,
        st.sampled_from(["absent", "disqualified"]),
        st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), max_size=20).map(
            str.strip
        ),
    ),
)


@settings(max_examples=100, deadline=None)
@given(st.lists(_record, max_size=20, unique_by=lambda s: s.registration_number))
def test_skb_csv_round_trips(records: list[SkbScore]) -> None:
    parsed = parse_skb_csv(skb_csv(records), POLICY)
    assert parsed == {s.registration_number: s for s in records}


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_skb_csv_never_crashes_on_garbage(text: str) -> None:
    try:
        parse_skb_csv("registration_number,skb,status,note\n" + text, POLICY)
    except SkbImportError as exc:
        assert all(p.startswith("line ") for p in exc.problems)


# -- properties of the final stage -------------------------------------------------------

_person = st.tuples(
    st.sampled_from([70, 80, 90]),  # TWK
    st.sampled_from([85, 95]),  # TIU
    st.sampled_from([170, 180]),  # TKP
    st.sampled_from([None, 3.0, 3.5]),  # GPA
    st.sampled_from([None, "1995-01-01", "1998-06-30"]),  # birth date
    st.sampled_from(["FA", "FB", "FC"]),
    st.one_of(st.sampled_from([60, 75, 75.5, 90]), st.sampled_from(["absent", "disqualified"])),
)


@settings(max_examples=80, deadline=None)
@given(
    people=st.lists(_person, max_size=24),
    openings=st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)),
    seed=st.integers(0, 2**32 - 1),
)
def test_final_ranking_properties(
    people: list[tuple[Any, ...]], openings: tuple[int, int, int], seed: int
) -> None:
    import random

    cs = [
        cand(f"R{i:03d}", twk, tiu, tkp, formation=fid, gpa=gpa, born=born)
        for i, (twk, tiu, tkp, gpa, born, fid, _) in enumerate(people)
    ]
    results = {f"R{i:03d}": p[6] for i, p in enumerate(people)}
    forms = [
        formation("FA", openings[0], group="g"),
        formation("FB", openings[1], group="g"),
        formation("FC", openings[2]),
    ]

    def run(order: list[Any]) -> Any:
        skd = rank_skd(POLICY, forms, order)
        called = [
            e.registration_number
            for f in skd.formations
            for e in f.entries
            if e.meaning == "in_cut"
        ]
        final = integrate(POLICY, skd, skb(**{r: results[r] for r in called}))
        return skd, final, optimise(POLICY, skd, final)

    skd, final, opt = run(cs)
    shuffled = cs[:]
    random.Random(seed).shuffle(shuffled)
    assert run(shuffled) == (skd, final, opt)  # invariant to input order
    for f in final.formations:
        pl = [e for e in f.entries if e.code == "P/L"]
        tl = [e for e in f.entries if e.code == "TL"]
        if pl and tl:  # every appointed candidate strictly outranks every other
            assert max(e.rank or 0 for e in pl) < min(e.rank or 0 for e in tl)
        ranked = [e for e in f.entries if e.rank is not None]
        assert len(pl) >= min(f.formation.openings, len(ranked))
        if len(pl) > f.formation.openings:  # only a full tie at the last opening
            assert len({e.rank for e in pl}) < len(pl)
    # Optimisation never exceeds openings, and moves only P candidates of the group.
    skd_codes = {e.registration_number: e.code for f in skd.formations for e in f.entries}
    for f in opt.formations:
        moved = [e for e in f.entries if e.code == "P/L-O"]
        assert all(skd_codes[e.registration_number] == "P" for e in moved)
        assert all(f.formation.id != "FC" or e.origin_formation == "FC" for e in moved)
        assert len(moved) <= max(0, f.formation.openings - sum(e.code == "P/L" for e in f.entries))
