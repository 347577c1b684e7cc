"""Simulated SKD sessions with planted cheaters, and item streams with leaks.

Honest candidates follow the models the indices assume: each subtest's
ability from a multivariate normal (correlation ``trait_correlation``), a
speed τ ~ N(0, 0.25²) varying by N(0, σ_w²) between subtests, IRT answers,
distractors chosen with item-specific attractiveness, lognormal times, and a
few answers that replaced an earlier one (drawn among the other options in
proportion to their probability: the null of :mod:`forensics.changes`). Cheaters:

* copier: copies ``copy_fraction`` of the answers of a candidate seated next
  to them (their own times);
* preknowledge: knows the best option of the compromised items (a share
  ``compromised_fraction`` of the form) and answers them at
  ``preknowledge_time_factor`` of their usual time;
* stand-in: one subtest answered by another person (ability and speed drawn
  afresh from the population, shifted by ``standin_ability_mean`` and
  ``standin_speed_mean`` for a hired expert);
* changer: ``changes`` wrong answers changed to the key after the fact.

A copier's source answers honestly but is marked ``source`` (ω is
symmetric enough that the source of a copier resembles them too: a reviewer
sees the pair).

Every candidate takes the same form (a fixed-form session); candidates sit
in rooms of ``rows × cols`` seats.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from cat_engine.irt import category_probabilities
from cat_engine.synthetic import skd_synthetic_bank
from forensics.data import SessionData, SessionItems
from forensics.drift import administration_scores

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

ROLES = ("honest", "copier", "preknowledge", "standin", "changer", "source")


def skd_form(seed: int = 0) -> SessionItems:
    """One 110-item SKD form (TWK 30, TIU 35, TKP 45) with response-time parameters.

    β ~ N(ln 50 s, 0.35²) (SKD allows 100 minutes for 110 items, about 55 s
    an item); α ~ U(1.5, 2.5) (log-time sd 0.4–0.67, as in van der Linden,
    2006, for a licensing test).
    """
    bank = skd_synthetic_bank(per_area_scale=1, seed=seed)
    rng = np.random.default_rng(seed + 7919)
    n = bank.n_items
    return SessionItems.from_bank(
        bank,
        alpha=rng.uniform(1.5, 2.5, n),
        beta=rng.normal(np.log(50.0), 0.35, n),
    )


@dataclass(frozen=True)
class Cheating:
    """How many of each kind of cheater to plant, and how they cheat."""

    copiers: int = 0
    copy_fraction: float = 0.5
    preknowledge: int = 0
    compromised_fraction: float = 0.4
    preknowledge_time_factor: float = 0.5
    standins: int = 0
    standin_section: str = "TIU"
    standin_ability_mean: float = 0.0
    standin_speed_mean: float = 0.0
    changers: int = 0
    changes: int = 10

    def __post_init__(self) -> None:
        for name in ("copy_fraction", "compromised_fraction"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {v!r}")
        if not self.preknowledge_time_factor > 0:
            raise ValueError("preknowledge_time_factor must be > 0")
        for name in ("copiers", "preknowledge", "standins", "changers", "changes"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be ≥ 0")


@dataclass(frozen=True)
class SimulatedSession:
    """data: the session; compromised: (n,) the leaked item set; role: (m,)
    index into :data:`ROLES`; source: (m,) whom a copier copied (``-1``)."""

    data: SessionData
    compromised: BoolArray
    role: IntArray
    source: IntArray

    def is_(self, role: str) -> BoolArray:
        return np.asarray(self.role == ROLES.index(role))


def _answers(
    rng: np.random.Generator, items: SessionItems, theta: FloatArray, attract: FloatArray
) -> tuple[IntArray, FloatArray]:
    """Options (m, n) drawn at per-section θ (m, S), and their probabilities (m, n, O)."""
    m, n, o = theta.shape[0], items.n_items, items.n_options
    probs = np.zeros((m, n, o))
    for s in np.unique(items.section):
        cols = np.flatnonzero(items.section == s)
        cp = category_probabilities(theta[:, s], items.params.subset(cols))  # (m, c, K)
        cat = np.clip(items.option_category[cols], 0, None)
        probs[:, cols, :] = cp[:, np.arange(cols.size)[:, None], cat] * attract[None, cols, :]
    probs /= probs.sum(axis=2, keepdims=True)
    return _draw(rng, probs), probs


def _draw(rng: np.random.Generator, probs: FloatArray) -> IntArray:
    cum = np.cumsum(probs, axis=2)
    u = rng.random((*probs.shape[:2], 1)) * cum[:, :, -1:]
    return np.asarray(np.minimum((u > cum).sum(axis=2), probs.shape[2] - 1), dtype=np.int64)


def _attractiveness(rng: np.random.Generator, items: SessionItems) -> FloatArray:
    """(n, O): each option's share within its category (distractors differ in pull)."""
    valid = items.option_category >= 0
    w = np.where(valid, rng.gamma(2.0, 1.0, items.option_category.shape), 0.0)
    n = items.n_items
    k = items.params.max_categories
    cat = np.clip(items.option_category, 0, None)
    tot = np.zeros((n, k))
    np.add.at(tot, (np.broadcast_to(np.arange(n)[:, None], cat.shape), cat), w)
    return np.asarray(np.where(valid, w / tot[np.arange(n)[:, None], cat], 0.0))


def simulate_session(
    items: SessionItems,
    n_candidates: int,
    cheating: Cheating | None = None,
    *,
    seed: int = 0,
    rows: int = 5,
    cols: int = 8,
    trait_correlation: float = 0.8,
    speed_sd_within: float = 0.1,
    change_rate: float = 0.04,
) -> SimulatedSession:
    """A session of ``n_candidates`` on ``items`` with ``cheating`` planted."""
    ch = cheating or Cheating()
    n_cheat = ch.copiers + ch.preknowledge + ch.standins + ch.changers
    if n_cheat > n_candidates // 2:
        raise ValueError(f"{n_cheat} cheaters need at least {2 * n_cheat} candidates")
    rng = np.random.default_rng(seed)
    m, n = n_candidates, items.n_items
    n_sec = len(items.section_codes)
    cov = np.full((n_sec, n_sec), trait_correlation) + (1 - trait_correlation) * np.eye(n_sec)
    theta = rng.multivariate_normal(np.zeros(n_sec), cov, size=m)
    tau = rng.normal(0.0, 0.25, m)[:, None] + rng.normal(0.0, speed_sd_within, (m, n_sec))

    seat = np.arange(m)
    per_room = rows * cols
    room = seat // per_room
    row = ((seat % per_room) // cols).astype(np.float64)
    col = (seat % cols).astype(np.float64)

    role = np.zeros(m, dtype=np.int64)
    source = np.full(m, -1, dtype=np.int64)
    # Copiers sit at even seats copying the next seat in the row (a neighbour).
    free = list(rng.permutation(np.flatnonzero((col[:-1] + 1 < cols) & (room[:-1] == room[1:]))))
    taken: set[int] = set()
    copiers: list[int] = []
    for c in free:
        if len(copiers) == ch.copiers:
            break
        if c in taken or c + 1 in taken:
            continue
        copiers.append(int(c))
        taken.update((int(c), int(c) + 1))
    if len(copiers) < ch.copiers:
        raise ValueError("not enough seats for the copiers")
    role[copiers] = ROLES.index("copier")
    source[copiers] = np.asarray(copiers) + 1
    role[np.asarray(copiers, dtype=np.int64) + 1] = ROLES.index("source")
    rest = rng.permutation([i for i in range(m) if i not in taken])
    k = 0
    for name, count in (
        ("preknowledge", ch.preknowledge),
        ("standin", ch.standins),
        ("changer", ch.changers),
    ):
        role[rest[k : k + count]] = ROLES.index(name)
        k += count

    standin_sec = items.section_codes.index(ch.standin_section)
    standin = role == ROLES.index("standin")
    theta[standin, standin_sec] = rng.normal(ch.standin_ability_mean, 1.0, standin.sum())
    tau[standin, standin_sec] = rng.normal(ch.standin_speed_mean, 0.25, standin.sum())

    attract = _attractiveness(rng, items)
    options, probs = _answers(rng, items, theta, attract)
    sec = items.section
    log_t = items.beta[None, :] - tau[:, sec] + rng.normal(0.0, 1.0, (m, n)) / items.alpha[None, :]

    # Honest answer changes: the final answer follows the model; the earlier
    # one was another option, in proportion to its probability.
    previous = np.full((m, n), -1, dtype=np.int64)
    changed = rng.random((m, n)) < change_rate
    others = probs.copy()
    np.put_along_axis(others, options[:, :, None], 0.0, axis=2)
    others /= np.maximum(others.sum(axis=2, keepdims=True), 1e-12)
    earlier = _draw(rng, others)
    previous[changed] = earlier[changed]

    # Preknowledge: the best option of compromised items, fast.
    compromised = np.zeros(n, dtype=bool)
    compromised[rng.choice(n, round(ch.compromised_fraction * n), replace=False)] = True
    best = np.argmax(items.option_category, axis=1)
    pk = role == ROLES.index("preknowledge")
    hit = pk[:, None] & compromised[None, :]
    options = np.where(hit, best[None, :], options)
    previous = np.where(hit, -1, previous)
    log_t = np.where(hit, log_t + np.log(ch.preknowledge_time_factor), log_t)

    # Copying: the source's final answers on a random share of items.
    for c in copiers:
        take = rng.random(n) < ch.copy_fraction
        options[c, take] = options[c + 1, take]
        previous[c, take] = -1

    # Changers: wrong right/wrong answers turned into the key afterwards.
    key = np.argmax(items.option_category == 1, axis=1)
    dich = items.dichotomous
    for i in np.flatnonzero(role == ROLES.index("changer")):
        cats = items.option_category[np.arange(n), options[i]]
        wrong = np.flatnonzero(dich & (cats == 0))
        pick = rng.choice(wrong, min(ch.changes, wrong.size), replace=False)
        previous[i, pick] = options[i, pick]
        options[i, pick] = key[pick]

    data = SessionData(
        items=items,
        options=options,
        seconds=np.exp(log_t),
        previous=previous,
        room=room.astype(np.int64),
        row=row,
        col=col,
        candidate_ids=tuple(f"S{i:04d}" for i in range(m)),
    )
    return SimulatedSession(data=data, compromised=compromised, role=role, source=source)


def simulate_item_stream(
    n_items: int,
    administrations: int,
    *,
    leaked: IntArray | None = None,
    leak_at: int = 0,
    know_share: float = 0.3,
    time_factor: float = 0.5,
    seed: int = 0,
) -> FloatArray:
    """(n_items, administrations) combined residuals u (:mod:`forensics.drift`)
    of a stream of administrations of 3PL items with times.

    leaked: items whose key ``know_share`` of the candidates after
    administration ``leak_at`` know (answered right, at ``time_factor`` of
    their time). θ̂ and τ̂ carry estimation error (SE 0.3 and 0.1).
    """
    rng = np.random.default_rng(seed)
    shape = (n_items, administrations)
    a = np.exp(rng.normal(0.0, 0.3, n_items))[:, None]
    b = rng.normal(0.0, 1.0, n_items)[:, None]
    c = rng.uniform(0.1, 0.25, n_items)[:, None]
    alpha = rng.uniform(1.5, 2.5, n_items)[:, None]
    theta = rng.normal(0.0, 1.0, shape)
    theta_hat = theta + rng.normal(0.0, 0.3, shape)
    tau = rng.normal(0.0, 0.25, shape)
    tau_hat = tau + rng.normal(0.0, 0.1, shape)

    def p3(t: FloatArray) -> FloatArray:
        return np.asarray(c + (1 - c) / (1 + np.exp(-a * (t - b))))

    correct = (rng.random(shape) < p3(theta)).astype(np.float64)
    z = (rng.normal(0.0, 1.0, shape) - alpha * tau) + alpha * tau_hat  # α(ln t − β + τ̂)
    if leaked is not None and len(leaked):
        knows = np.zeros(shape, dtype=bool)
        knows[np.asarray(leaked), leak_at:] = (
            rng.random((len(leaked), administrations - leak_at)) < know_share
        )
        correct = np.where(knows, 1.0, correct)
        z = np.where(knows, z + alpha * np.log(time_factor), z)
    return administration_scores(correct, p3(theta_hat), z)
