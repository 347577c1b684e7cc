"""Fit the items' response-time parameters from the stored answers.

Each finished attempt's seconds per item (the server's clock counted to each
answer of the item, summed; as :mod:`exam_server.forensics.load` counts
them) form a candidates × items matrix, fitted by
:class:`calibration.rt.LognormalTimes`; the items with enough times get
their (α, β) stored in :class:`~exam_server.forensics.models.ItemTime`
(replacing an earlier fit). Run by ``seleksi calibrate --response-times``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Engine

from calibration.rt import LognormalTimes
from exam_server.db import writer
from exam_server.forensics.load import ATTEMPT, RESPONSE, TIME


@dataclass(frozen=True)
class TimesFit:
    """attempts, items: what the fit read; fitted: items given parameters."""

    attempts: int
    items: int
    fitted: int
    converged: bool


def fit_stored_times(engine: Engine, now: float, min_count: int = 20) -> TimesFit:
    """Fit and store every item's lognormal time parameters from finished attempts."""
    model = LognormalTimes(min_count=min_count)
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                RESPONSE.c.attempt_id,
                RESPONSE.c.item_id,
                RESPONSE.c.option,
                RESPONSE.c.elapsed,
                RESPONSE.c.server_elapsed,
            )
            .join(ATTEMPT, ATTEMPT.c.id == RESPONSE.c.attempt_id)
            .where(ATTEMPT.c.status == "finished", RESPONSE.c.kind == "answer")
            .order_by(RESPONSE.c.attempt_id, RESPONSE.c.seq)
        ).all()
    spent: dict[tuple[int, str], float] = defaultdict(float)
    final: dict[tuple[int, str], int] = {}
    for r in rows:
        key = (int(r.attempt_id), str(r.item_id))
        s = r.server_elapsed if r.server_elapsed is not None else r.elapsed
        spent[key] += float(s or 0.0)
        final[key] = int(r.option)
    attempts = sorted({a for a, _ in spent})
    items = sorted({i for _, i in spent})
    if not attempts:
        return TimesFit(0, 0, 0, True)
    row = {a: k for k, a in enumerate(attempts)}
    col = {i: k for k, i in enumerate(items)}
    seconds = np.full((len(attempts), len(items)), np.nan)
    for (a, i), s in spent.items():
        # A cleared answer or no time counted is not a response time.
        if final[(a, i)] >= 0 and s > 0:
            seconds[row[a], col[i]] = s
    model.fit(seconds)
    ok = np.flatnonzero(np.isfinite(model.alpha_))
    values = [
        {
            "item_id": items[j],
            "alpha": float(model.alpha_[j]),
            "beta": float(model.beta_[j]),
            "n": int(model.count_[j]),
            "fitted_at": now,
        }
        for j in ok
    ]
    with writer(engine).begin() as conn:
        if values:
            conn.execute(delete(TIME).where(TIME.c.item_id.in_([v["item_id"] for v in values])))
            conn.execute(insert(TIME), values)
    return TimesFit(len(attempts), len(items), len(values), bool(model.converged_))
