"""Synthetic banks for tests, benchmarks and simulation when no real bank is at hand.

Parameters are drawn like those of operational 3PL banks: log a ~ N(0, 0.3²)
(a ≈ 1), b ~ N(0, 1), c ~ U(0.1, 0.25) on five-option items. TKP-like
sections are GRM items whose five options score 1–5 points.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from cat_engine.bank import BankArrays
from cat_engine.irt import ItemParameters, Model


def synthetic_bank(
    sections: Mapping[str, Mapping[str, int]],
    *,
    seed: int = 0,
    polytomous: tuple[str, ...] = (),
    points_correct: float = 5.0,
    n_pretest: int = 0,
    enemy_pairs: int = 0,
) -> BankArrays:
    """A bank with, per subtest code, ``{content area code: n items}``.

    polytomous: subtest codes whose items are 5-category GRM items scored by
    option (1–5 points); the others are 3PL items with one key scoring
    ``points_correct``. n_pretest: extra unscored pretest items per subtest.
    enemy_pairs: pairs of same-subtest items put in one enemy group.
    """
    rng = np.random.default_rng(seed)
    codes_sub = tuple(sections)
    codes_area = tuple(a for s in sections.values() for a in s)
    rows: list[tuple[int, int, bool]] = []  # (subtest, area, pretest)
    for si, areas in enumerate(sections.values()):
        first_area = codes_area.index(next(iter(areas))) if areas else 0
        for area_code, count in areas.items():
            rows.extend((si, codes_area.index(area_code), False) for _ in range(count))
        rows.extend((si, first_area, True) for _ in range(n_pretest))
    n = len(rows)
    subtest = np.array([r[0] for r in rows], dtype=np.int64)
    area = np.array([r[1] for r in rows], dtype=np.int64)
    pretest = np.array([r[2] for r in rows], dtype=bool)
    poly = np.isin(subtest, [codes_sub.index(c) for c in polytomous if c in codes_sub])
    a = np.exp(rng.normal(0.0, 0.3, n))
    b = rng.normal(0.0, 1.0, n)
    c = rng.uniform(0.1, 0.25, n)
    thresholds = np.full((n, 4), np.nan)
    steps = np.sort(rng.normal(0.0, 1.0, (n, 4)), axis=1) + np.array([-1.5, -0.5, 0.5, 1.5])
    thresholds[poly] = np.sort(steps[poly], axis=1)
    model = np.where(poly, Model.GRM, Model.THREE_PL).astype(np.int8)
    params = ItemParameters(
        model=model,
        a=a,
        b=np.where(poly, np.nan, b),
        c=np.where(poly, 0.0, c),
        d=np.ones(n),
        thresholds=thresholds,
    )
    n_opt = 5
    option_points = np.zeros((n, n_opt))
    option_category = np.zeros((n, n_opt), dtype=np.int64)
    keys = rng.integers(0, n_opt, n)
    option_points[np.arange(n), keys] = points_correct
    option_category[np.arange(n), keys] = 1
    # TKP: option o scores a shuffled 1..5 points and reaches category points − 1.
    perm = np.argsort(rng.random((n, n_opt)), axis=1) + 1
    option_points = np.where(poly[:, None], perm.astype(np.float64), option_points)
    option_category = np.where(poly[:, None], perm - 1, option_category)
    enemy = np.full(n, -1, dtype=np.int64)
    for g in range(enemy_pairs):
        cand = np.flatnonzero((subtest == g % len(codes_sub)) & ~pretest & (enemy < 0))
        if cand.shape[0] >= 2:
            enemy[rng.choice(cand, 2, replace=False)] = g
    return BankArrays(
        item_ids=tuple(f"I{i:05d}" for i in range(n)),
        params=params,
        subtest=subtest,
        subtest_codes=codes_sub,
        content_area=area,
        content_codes=codes_area,
        n_options=np.full(n, n_opt, dtype=np.int64),
        option_points=option_points,
        option_category=option_category,
        enemy_group=enemy,
        pretest=pretest,
    )


def skd_synthetic_bank(per_area_scale: int = 10, seed: int = 0, **kw: int) -> BankArrays:
    """An SKD-shaped bank: the SKD blueprint's areas with ``count × per_area_scale`` items."""
    from cat_engine.design import SKD_BLUEPRINT

    sections = {
        sub: {area: count * per_area_scale for area, count in areas.items()}
        for sub, areas in SKD_BLUEPRINT.items()
    }
    return synthetic_bank(
        sections,
        seed=seed,
        polytomous=("TKP",),
        n_pretest=kw.get("n_pretest", 0),
        enemy_pairs=kw.get("enemy_pairs", 0),
    )
