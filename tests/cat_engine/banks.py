"""Small banks built directly as BankArrays, for the engine's tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cat_engine.bank import BankArrays
from cat_engine.irt import ItemParameters


def dichotomous_bank(
    a: Sequence[float],
    b: Sequence[float],
    c: Sequence[float] | float = 0.0,
    *,
    areas: Sequence[int] | None = None,
    area_codes: tuple[str, ...] = ("A", "B", "C", "D"),
    enemy: Sequence[int] | None = None,
    pretest: Sequence[bool] | None = None,
    subtest: str = "S",
    points: float = 5.0,
) -> BankArrays:
    """One subtest of 4-option items; the key is option 0 and scores ``points``."""
    n = len(b)
    cc = np.broadcast_to(np.asarray(c, dtype=float), (n,)).copy()
    params = ItemParameters.dichotomous(np.asarray(a, float), np.asarray(b, float), cc)
    option_points = np.zeros((n, 4))
    option_points[:, 0] = points
    option_category = np.zeros((n, 4), dtype=np.int64)
    option_category[:, 0] = 1
    return BankArrays(
        item_ids=tuple(f"Q{i}" for i in range(n)),
        params=params,
        subtest=np.zeros(n, dtype=np.int64),
        subtest_codes=(subtest,),
        content_area=np.asarray(areas if areas is not None else [0] * n, dtype=np.int64),
        content_codes=area_codes,
        n_options=np.full(n, 4, dtype=np.int64),
        option_points=option_points,
        option_category=option_category,
        enemy_group=np.asarray(enemy if enemy is not None else [-1] * n, dtype=np.int64),
        pretest=np.asarray(pretest if pretest is not None else [False] * n, dtype=bool),
    )
