"""Diagnostics from the engine's own final states, linear and adaptive."""

from __future__ import annotations

import numpy as np
import pytest

from after_test.diagnostics import answers_of, candidate_lines, diagnose, report_scale
from cat_engine import engine as cat
from exam_server.testing import small_design
from tests.after_test.conftest import area_bank


@pytest.mark.parametrize("mode", ["linear", "adaptive"])
def test_area_subscores_from_final_states(mode: str) -> None:
    bank, _ = area_bank(30)
    design = small_design(mode, 6000.0, lengths=(8, 8, 8))
    rng = np.random.default_rng(5)
    states = []
    for k in range(31):
        st = cat.start(design, bank, k)
        while not cat.is_complete(st):
            pending = [
                i
                for sec in st.sections
                for i, o in zip(sec.items, sec.options, strict=True)
                if o < 0
            ]
            item = pending[0] if mode == "linear" else cat.current(st)
            if item is None:
                break
            st = cat.record(st, bank, item, int(rng.integers(bank.n_options[item])), elapsed=1.0)
            if mode == "linear" and len(pending) == 1:
                break
        states.append(cat.finish(st, "submitted"))
    items, options = answers_of(states)
    assert items.shape == (31, 24) and (options >= 0).all()
    if mode == "adaptive":  # every candidate their own items
        assert len({tuple(sorted(r)) for r in items.tolist()}) > 1
    diags = diagnose(bank, items, options)
    assert [d.subtest for d in diags] == ["TWK", "TIU", "TKP"]
    for d in diags:
        assert d.areas == tuple(
            bank.content_codes[2 * ["TWK", "TIU", "TKP"].index(d.subtest) + j] for j in (0, 1)
        )
        assert (d.subscores.n_items.sum(axis=1) == 8).all()  # each answered item in one area
        assert np.all(d.subscores.se > 0)
    lines = candidate_lines(diags, 0)
    assert len(lines) == 6
    assert lines[0].score == pytest.approx(float(report_scale(diags[0].subscores.theta[0, 0])))
    assert lines[0].se == pytest.approx(10 * diags[0].subscores.se[0, 0])
