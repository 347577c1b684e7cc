"""Every index of a session, and the candidates ranked for review.

:func:`analyse` computes, per candidate, each index of this package with its
p-value (one-sided, small = unusual in the suspicious direction), combines
them into one p-value per candidate (the smallest times the number of
indices computed, Bonferroni) and controls the false-discovery rate across
the session's candidates with Benjamini–Hochberg: the candidates with
``q ≤ settings.fdr`` are listed for *review*. An index is evidence that a
pattern is unusual under a model of honest answering; it never shows that a
candidate cheated (docs/forensics.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from forensics import changes, preknowledge, rt, sections, similarity
from forensics.ability import (
    estimate,
    grid_log_likelihood,
    option_probabilities,
    option_shares,
)
from forensics.data import SessionData
from forensics.personfit import lz_star
from forensics.pvalues import benjamini_hochberg, bonferroni_min

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

#: A response "much faster than the candidate's speed predicts": z below this
#: (one-sided 1 %).
FAST_Z = -2.33

#: The indices in report order: key, short English name, short Indonesian name.
INDICES: tuple[tuple[str, str, str], ...] = (
    ("lz", "person fit lz*", "kecocokan pola jawaban lz*"),
    ("lt", "person fit of times l_t", "kecocokan waktu l_t"),
    ("fast", "fast on right answers", "cepat pada jawaban benar"),
    ("neighbour", "similarity to a neighbour (ω)", "kemiripan dengan tetangga (ω)"),
    ("pair", "similarity to anyone (ω)", "kemiripan dengan peserta lain (ω)"),
    ("changes", "wrong-to-right changes", "perubahan salah ke benar"),
    ("section", "a section unlike the rest", "subtes yang berbeda"),
    ("preknowledge", "preknowledge of the item set", "bocoran kumpulan soal"),
)


@dataclass(frozen=True)
class ForensicSettings:
    """fdr: the false-discovery rate of the review list (0 < fdr < 1);
    all_pairs: also compare every pair in the session (not only neighbours);
    prior_sd: the N(0, prior_sd²) prior of θ̂ used by lz* and the option
    probabilities; sections: the section index's settings."""

    fdr: float = 0.05
    all_pairs: bool = True
    prior_sd: float = 1.0
    sections: sections.SectionSettings = field(default_factory=sections.SectionSettings)

    def __post_init__(self) -> None:
        if not 0.0 < self.fdr < 1.0:
            raise ValueError(f"fdr must be between 0 and 1, got {self.fdr!r}")
        if not self.prior_sd > 0.0:
            raise ValueError(f"prior_sd must be > 0, got {self.prior_sd!r}")


@dataclass(frozen=True)
class SessionReport:
    """Per candidate (m,): ``theta`` (MAP), ``tau`` (speed), ``stats`` and ``p``
    per index key (NaN = not computed for that candidate), ``partner`` (the
    most similar candidate, ``-1`` none), ``section`` (the most unusual
    section, ``-1`` none), ``fast_right`` (right answers faster than
    z = −2.33), ``p_combined``, ``q`` (Benjamini–Hochberg), ``review`` (q ≤
    fdr), ``order`` (candidates by p_combined, most unusual first);
    ``time_z``: (m, n) each response's time residual (one speed per
    subtest; NaN: no time)."""

    data: SessionData
    settings: ForensicSettings
    theta: FloatArray
    tau: FloatArray
    stats: dict[str, FloatArray]
    p: dict[str, FloatArray]
    partner: IntArray
    section: IntArray
    fast_right: IntArray
    p_combined: FloatArray
    q: FloatArray
    review: BoolArray
    order: IntArray
    time_z: FloatArray
    compromised: tuple[str, ...] = ()


def section_lz(data: SessionData, prior_sd: float = 1.0) -> FloatArray:
    """(m,) lz* of each right/wrong subtest with its own θ̂, combined as
    ``Σ lz*_s / sqrt(S)`` (Stouffer): the subtests measure different
    abilities, and one θ̂ for all of them would call every uneven profile
    misfit. NaN for a candidate with no right/wrong subtest."""
    items, p_all = data.items, data.items.params
    total = np.zeros(data.n_candidates)
    count = np.zeros(data.n_candidates)
    for s in np.unique(items.section[items.dichotomous]):  # a few subtests
        cols = items.dichotomous & (items.section == s)
        lz, _ = lz_star(
            data.correct[:, cols], p_all.a[cols], p_all.b[cols], p_all.c[cols], p_all.d[cols],
            prior_sd=prior_sd,
        )  # fmt: skip
        ok = np.isfinite(lz)
        total += np.where(ok, lz, 0.0)
        count += ok
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.where(count > 0, total / np.sqrt(count), np.nan))


def analyse(
    data: SessionData,
    settings: ForensicSettings | None = None,
    compromised: BoolArray | None = None,
) -> SessionReport:
    """Every index for every candidate of ``data``.

    compromised: (n,) the suspected item set (None: no preknowledge index).
    """
    cfg = settings or ForensicSettings()
    items = data.items
    m = data.n_candidates
    st: dict[str, FloatArray] = {}
    pv: dict[str, FloatArray] = {}

    theta, _ = estimate(grid_log_likelihood(data), cfg.prior_sd)
    probs = option_probabilities(theta, items, option_shares(data))

    lz = section_lz(data, cfg.prior_sd)
    st["lz"], pv["lz"] = lz, np.asarray(stats.norm.cdf(lz))

    lt = data.log_seconds
    tau, _ = rt.speed(lt, items.alpha, items.beta)
    z, fitted = rt.section_residuals(lt, items.alpha, items.beta, items.section)
    st["lt"], pv["lt"] = rt.lt_person_fit(z, fitted)
    st["fast"], pv["fast"] = rt.fast_when_right(z, data.correct)
    fast_right = np.sum((z < FAST_Z) & (data.correct == 1), axis=1).astype(np.int64)

    near = similarity.neighbour_pairs(data)
    w, p, _, _ = similarity.omega(data, probs, near)
    pv["neighbour"], st["neighbour"], partner = similarity.per_candidate(m, near, p, w)
    if cfg.all_pairs and m >= 2:
        every = similarity.all_pairs(m)
        w, p, _, _ = similarity.omega(data, probs, every)
        pv["pair"], st["pair"], any_partner = similarity.per_candidate(m, every, p, w)
        partner = np.where(partner >= 0, partner, any_partner)
    else:
        pv["pair"], st["pair"] = np.full(m, np.nan), np.full(m, np.nan)

    wtr, _, pv["changes"] = changes.wrong_to_right(data, probs)
    st["changes"] = wtr.astype(np.float64)

    pv["section"], section, st["section"] = sections.section_shift(data, cfg.sections)

    names: tuple[str, ...] = ()
    if compromised is not None:
        c = np.asarray(compromised, dtype=bool)
        if c.shape != (items.n_items,):
            raise ValueError(f"compromised must have {items.n_items} items, got {c.shape}")
        ls, p_score = preknowledge.signed_lr(data, c)
        _, p_time = preknowledge.speed_shift(data, c)
        st["preknowledge"], pv["preknowledge"] = ls, preknowledge.combined(p_score, p_time)
        names = tuple(i for i, flag in zip(items.item_ids, c, strict=True) if flag)
    else:
        st["preknowledge"] = pv["preknowledge"] = np.full(m, np.nan)

    keys = [k for k, _, _ in INDICES]
    p_comb = bonferroni_min(np.stack([pv[k] for k in keys], axis=1))
    q = benjamini_hochberg(p_comb)
    order = np.argsort(np.where(np.isfinite(p_comb), p_comb, 2.0), kind="stable")
    return SessionReport(
        data=data,
        settings=cfg,
        theta=theta,
        tau=tau,
        stats=st,
        p=pv,
        partner=partner,
        section=section,
        fast_right=fast_right,
        p_combined=p_comb,
        q=q,
        review=np.asarray(np.nan_to_num(q, nan=1.0) <= cfg.fdr),
        order=np.asarray(order, dtype=np.int64),
        time_z=z,
        compromised=names,
    )
