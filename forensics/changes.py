"""Answer changes: more wrong-to-right changes than the model expects.

From the stored answer history, ``previous[i, j]`` is the option candidate i
replaced with the final answer on item j. The null model: the final answer
follows the IRT model (as calibration assumes), and an earlier answer, when
there was one, was one of the other options in proportion to its
probability. Then, given that the abandoned answer was the wrong option w,
the final answer is option o with probability proportional to
``g_o = P_o / (1 − P_o)`` over the options o ≠ w, so
``p_ij = g_key / Σ_{o ≠ w} g_o`` (P at θ̂). The number of
wrong-to-right (WTR) changes is then a sum of independent Bernoulli(p_ij),
and its exact upper tail is the index's p-value (the idea of van der Linden
& Jeon, 2012, with the abandoned option's probability from the model).
Many WTR changes with a small chance each suggest answers changed with
help, or by someone else, after the fact.

That test is conditional on the changes made, so a candidate who changes
twenty wrong answers, all to the key, is not unusual by it when the key was
the likeliest choice anyway. The second test counts them: with ``r`` the
session's WTR changes per answered right/wrong item (leaving the candidate
out), a candidate's WTR count is compared with Binomial(n_answered, r), as
erasure analyses compare a candidate with the group. The index's p-value
is the smaller of the two times 2.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from forensics.data import SessionData
from forensics.pvalues import poisson_binomial_sf

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def wrong_to_right(data: SessionData, probs: FloatArray) -> tuple[IntArray, FloatArray, FloatArray]:
    """WTR changes, their expected number and the exact p-value, per candidate (m,).

    probs: (m, n, O) option probabilities at θ̂. p is NaN with no change away
    from a wrong answer.
    """
    items = data.items
    m, n = data.options.shape
    cols = np.arange(n)[None, :]
    prev = data.previous
    prev_cat = np.where(prev >= 0, items.option_category[cols, np.clip(prev, 0, None)], -1)
    from_wrong = (prev >= 0) & (prev_cat == 0) & items.dichotomous[None, :] & (data.options >= 0)
    odds = probs / np.maximum(1.0 - probs, 1e-9)  # (m, n, O); 0 for missing options
    key_odds = np.where(items.option_category[None, :, :] == 1, odds, 0.0).sum(axis=2)
    prev_odds = odds[np.arange(m)[:, None], cols, np.clip(prev, 0, None)]
    with np.errstate(divide="ignore", invalid="ignore"):
        rest = np.maximum(odds.sum(axis=2) - prev_odds, 1e-12)
        p = np.where(from_wrong, key_odds / rest, 0.0)
    p = np.clip(p, 0.0, 1.0)
    wtr = np.sum(from_wrong & (data.categories == 1), axis=1).astype(np.int64)
    n_changes = from_wrong.sum(axis=1)
    k = int(n_changes.max()) if m else 0
    # Each candidate's change probabilities packed to the left of a (m, k) block.
    packed = np.zeros((m, max(k, 1)))
    order = np.argsort(~from_wrong, axis=1, kind="stable")[:, : max(k, 1)]
    packed[:, :] = np.take_along_axis(p, order, axis=1)
    p_model = poisson_binomial_sf(packed, wtr)
    n_ans = np.sum(items.dichotomous[None, :] & (data.options >= 0), axis=1)
    others_wtr = wtr.sum() - wtr
    others_ans = n_ans.sum() - n_ans
    rate = np.clip((others_wtr + 0.5) / np.maximum(others_ans + 1.0, 1.0), 1e-9, 1.0)
    p_count = stats.binom.sf(wtr - 1, n_ans, rate)
    pval = np.minimum(2.0 * np.minimum(p_model, p_count), 1.0)
    return wtr, p.sum(axis=1), np.asarray(np.where(n_changes > 0, pval, np.nan))
