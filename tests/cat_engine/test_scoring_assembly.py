"""Published-scale scores (reference TCC) and parallel linear forms."""

from __future__ import annotations

import numpy as np
import pytest

from cat_engine import engine
from cat_engine.assembly import form_profile
from cat_engine.design import TestDesign
from cat_engine.scoring import reference_max_points, reference_tcc, theta_for_points
from cat_engine.synthetic import synthetic_bank

BANK = synthetic_bank(
    {"TWK": {"TWK.a": 60, "TWK.b": 60}, "TKP": {"TKP.a": 50, "TKP.b": 50}},
    seed=8,
    polytomous=("TKP",),
)
DESIGN = TestDesign.from_dict(
    {
        "mode": "linear",
        "sections": [
            {"code": "TWK", "n_items": 10, "blueprint": {"TWK.a": 6, "TWK.b": 4}},
            {"code": "TKP", "n_items": 9, "blueprint": {"TKP.a": 5, "TKP.b": 4}},
        ],
        "assembly": {"score_tolerance": 0.03, "information_tolerance": 0.10},
    }
)


def test_reference_tcc_is_the_average_blueprint_form() -> None:
    twk = DESIGN.sections[0]
    assert reference_max_points(BANK, twk) == pytest.approx(50.0)  # 10 items × 5 points
    tkp = DESIGN.sections[1]
    assert reference_max_points(BANK, tkp) == pytest.approx(45.0)  # 9 items × 5 points
    grid = np.linspace(-5, 5, 41)
    tcc = reference_tcc(BANK, twk, grid)
    assert np.all(np.diff(tcc) > 0)
    # At θ → −∞ a 3PL item still scores its guessing rate: 5 × mean c per item.
    idx = np.flatnonzero(BANK.subtest == 0)
    w = np.where(BANK.content_area[idx] == 0, 6 / 60, 4 / 60)
    assert reference_tcc(BANK, twk, [-30.0])[0] == pytest.approx(5 * (w @ BANK.params.c[idx]))
    # Points ↔ θ: the passing grade maps to a θ whose TCC gives the grade back.
    cut = theta_for_points(BANK, twk, 30.0)
    assert reference_tcc(BANK, twk, [cut])[0] == pytest.approx(30.0, abs=0.05)


def test_linear_forms_are_parallel_within_the_stated_tolerance() -> None:
    profiles = []
    forms = []
    for seed in range(6):
        st = engine.start(DESIGN, BANK, seed=seed)
        for s, section in enumerate(DESIGN.sections):
            items = np.asarray(st.sections[s].items)
            areas = [BANK.content_codes[a] for a in BANK.content_area[items]]
            assert {c: areas.count(c) for c in set(areas)} == dict(section.blueprint)
            exp, info = form_profile(BANK, items, DESIGN.assembly.theta_points)
            target = reference_tcc(BANK, section, DESIGN.assembly.theta_points)
            tol = DESIGN.assembly.score_tolerance * reference_max_points(BANK, section)
            assert np.all(np.abs(exp.sum(axis=0) - target) <= tol + 1e-6)
            profiles.append(info.sum(axis=0))
        forms.append(frozenset(engine.presented(st)))
    assert len(set(forms)) == 6  # every candidate gets a different form


def test_adaptive_points_are_the_reference_tcc_at_theta() -> None:
    d = TestDesign.from_dict({**DESIGN.to_dict(), "mode": "adaptive"})
    st = engine.start(d, BANK, seed=3)
    while not engine.is_complete(st):
        st = engine.record(st, BANK, engine.current(st), 0)  # type: ignore[arg-type]
    sc = engine.score(st, BANK)
    for s, section in enumerate(d.sections):
        got = sc.sections[s]
        assert got.points == pytest.approx(reference_tcc(BANK, section, [got.theta])[0])
        assert got.max_points == pytest.approx(reference_max_points(BANK, section))
    # A section with no answer scores 0 points, not the TCC at the prior mean.
    fresh = engine.finish(engine.start(d, BANK, seed=3), "time")
    assert engine.score(fresh, BANK).total == 0.0


def test_a_short_adaptive_section_reports_on_the_full_reference_form() -> None:
    doc = {**DESIGN.to_dict(), "mode": "adaptive"}
    doc["sections"] = [
        {"code": "TWK", "n_items": 5, "blueprint": {"TWK.a": 3, "TWK.b": 2}, "reference_length": 10}
    ]
    short = TestDesign.from_dict(doc)
    section = short.sections[0]
    # Max points of the 10-item reference form (5 points per item), not of the 5 given.
    assert reference_max_points(BANK, section) == pytest.approx(50.0)
    full = DESIGN.sections[0]
    assert reference_tcc(BANK, section, [0.3])[0] == pytest.approx(
        reference_tcc(BANK, full, [0.3])[0]
    )
