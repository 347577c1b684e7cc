"""The demo bank: realistic in size and shape, and the same for the same seed."""

from __future__ import annotations

from collections import Counter

import numpy as np

from item_bank.demo import AREA_DIFFICULTY, generate_demo_bank
from item_bank.records import BankDocument


def test_same_seed_same_bank_other_seed_other_bank(small_demo: BankDocument) -> None:
    assert generate_demo_bank(seed=7, per_subtest=30) == small_demo
    assert generate_demo_bank(seed=8, per_subtest=30) != small_demo


def test_size_areas_and_scoring(demo_bank: BankDocument) -> None:
    per_subtest = Counter(i.subtest for i in demo_bank.items)
    assert per_subtest == {"TWK": 600, "TIU": 600, "TKP": 600}
    areas = Counter((i.subtest, i.content_area) for i in demo_bank.items)
    for subtest in demo_bank.subtests:
        counts = [areas[(subtest.code, ca.code)] for ca in subtest.content_areas]
        assert max(counts) - min(counts) <= 1  # spread evenly over the areas
    for item in demo_bank.items:
        assert len(item.options) == 5 and len(set(item.options)) == 5
        if item.subtest == "TKP":
            assert item.points is not None and sorted(item.points) == [1, 2, 3, 4, 5]
            assert item.irt is None or (item.irt.model == "GPCM" and len(item.irt.thresholds) == 4)
        else:
            assert item.key is not None and item.points is None
            assert item.irt is None or item.irt.model == "3PL"
    # Keys are spread over the positions (a candidate cannot guess "always C").
    keys = Counter(i.key for i in demo_bank.items if i.key is not None)
    assert min(keys.values()) > 0.15 * sum(keys.values())
    # No two items alike.
    assert len({(i.stem, frozenset(i.options)) for i in demo_bank.items}) == 1800
    assert any(i.enemy_group for i in demo_bank.items)


def test_parameters_follow_the_stated_distributions(demo_bank: BankDocument) -> None:
    three_pl = [i.irt for i in demo_bank.items if i.irt is not None and i.irt.model == "3PL"]
    a = np.array([p.a for p in three_pl])
    c = np.array([p.c for p in three_pl])
    # LogNormal(0, 0.3): median 1; Beta(4, 16): mean 0.2. With ~1150 items the
    # sampling error of these summaries is below 0.02, so 0.05 is a safe margin.
    assert abs(np.median(a) - 1.0) < 0.05
    assert abs(c.mean() - 0.2) < 0.05
    assert a.min() >= 0.4 and a.max() <= 2.5 and c.min() >= 0.02 and c.max() <= 0.35
    numerik = [i.irt.b for i in demo_bank.items if i.content_area == "numerik" and i.irt]
    integritas = [i.irt.b for i in demo_bank.items if i.content_area == "integritas" and i.irt]
    # Area means differ by 1.1 logits; each mean has a standard error below 0.1.
    assert np.mean(numerik) - np.mean(integritas) > 0.6
    assert AREA_DIFFICULTY["numerik"] > AREA_DIFFICULTY["integritas"]
    gpcm = [i.irt for i in demo_bank.items if i.irt is not None and i.irt.model == "GPCM"]
    locations = np.array([np.mean(p.thresholds) for p in gpcm])
    assert abs(locations.mean() - (-1.0)) < 0.1
