"""Each selector's choice on small banks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from cat_engine.adaptive import eligibility
from cat_engine.design import SectionStrategies
from cat_engine.exposure import NoControl, Progressive, SympsonHetter
from cat_engine.selection import AStratified, KullbackLeibler, MaxInfo, Randomesque, ShadowTest
from cat_engine.selection.base import Pool, SelectionContext
from cat_engine.selection.stratified import strata_of

from .banks import dichotomous_bank


def _pool(bank, targets: list[int] | None = None) -> Pool:  # type: ignore[no-untyped-def]
    n = bank.n_items
    return Pool(
        index=np.arange(n),
        params=bank.params,
        area=bank.content_area.copy(),
        area_codes=tuple(bank.content_codes[: len(targets or [])]),
        area_target=np.asarray(targets or [], dtype=np.int64),
        enemy=bank.enemy_group.copy(),
    )


def _ctx(
    pool: Pool,
    theta: list[float],
    given: list[list[int]] | None = None,
    length: int = 5,
    seed: int = 1,
    step: int = 0,
) -> SelectionContext:
    m, n = len(theta), pool.n_items
    g = np.zeros((m, n), dtype=bool)
    for j, items in enumerate(given or []):
        g[j, items] = True
    groups = [set(pool.enemy[g[j]][pool.enemy[g[j]] >= 0].tolist()) for j in range(m)]
    enemy_used = np.array(
        [[e in groups[j] and not g[j, i] for i, e in enumerate(pool.enemy)] for j in range(m)]
    )
    elig, area_count = eligibility(pool, g, np.zeros_like(g), enemy_used, None)
    return SelectionContext(
        pool=pool,
        theta=np.asarray(theta, dtype=float),
        se=np.ones(m),
        eligible=elig,
        given=g,
        area_count=area_count,
        n_given=g.sum(axis=1),
        test_length=length,
        seed=np.full(m, seed, dtype=np.int64),
        step=np.full(m, step, dtype=np.int64),
    )


def _pick(selector: object, ctx: SelectionContext) -> list[int]:
    return NoControl().choose(ctx, selector.rank(ctx)).items.tolist()  # type: ignore[attr-defined]


def test_max_info_takes_the_item_nearest_theta_among_equal_slopes() -> None:
    bank = dichotomous_bank([1.0] * 5, [-2.0, -1.0, 0.0, 1.0, 2.0])
    pool = _pool(bank)
    assert _pick(MaxInfo(), _ctx(pool, [-1.1, 0.2, 1.9])) == [1, 2, 4]
    # An item already given is never chosen again.
    assert _pick(MaxInfo(), _ctx(pool, [0.2], given=[[2]])) in ([1], [3])


def test_max_info_prefers_the_steeper_item_at_equal_distance() -> None:
    bank = dichotomous_bank([0.8, 2.0, 1.2], [0.0, 0.0, 0.0])
    assert _pick(MaxInfo(), _ctx(_pool(bank), [0.0])) == [1]


def test_kl_agrees_with_fisher_late_and_differs_early() -> None:
    # Late in a test (narrow interval) KL ranks like Fisher information.
    bank = dichotomous_bank([1.0, 1.0, 1.0, 1.0], [-1.5, -0.4, 0.3, 1.6])
    pool = _pool(bank)
    late = _ctx(pool, [0.25], given=[[]], length=100)
    late = SelectionContext(**{**late.__dict__, "n_given": np.array([400])})
    assert _pick(KullbackLeibler(), late) == _pick(MaxInfo(), late) == [2]
    # Early (one item given: interval θ̂ ± 3) a steep item away from θ̂ has
    # less Fisher information at θ̂ but more KL information over the interval.
    bank2 = dichotomous_bank([1.0, 2.5], [0.0, 1.5])
    pool2 = _pool(bank2)
    early = _ctx(pool2, [0.0], given=[[]], length=30)
    early = SelectionContext(**{**early.__dict__, "n_given": np.array([1])})
    assert _pick(MaxInfo(), early) == [0]
    assert _pick(KullbackLeibler(), early) == [1]
    kl = KullbackLeibler().rank(early)[0]

    def kl_integral(a: float, b: float) -> float:
        p0 = 1 / (1 + math.exp(a * b))

        def f(t: float) -> float:
            p = 1 / (1 + math.exp(-a * (t - b)))
            return p0 * math.log(p0 / p) + (1 - p0) * math.log((1 - p0) / (1 - p))

        return integrate.quad(f, -3, 3)[0]

    # 8-point Gauss–Legendre on a smooth integrand: agreement to 1 %.
    assert kl[0] == pytest.approx(kl_integral(1.0, 0.0), rel=0.01)
    assert kl[1] == pytest.approx(kl_integral(2.5, 1.5), rel=0.01)


def test_a_stratified_uses_low_slopes_first_and_b_closest_to_theta() -> None:
    a = [0.5, 1.5, 0.6, 1.6, 0.7, 1.7, 0.8, 1.8]
    b = [-1.5, -1.4, -0.5, -0.4, 0.5, 0.6, 1.5, 1.6]
    bank = dichotomous_bank(a, b)
    pool = _pool(bank)
    strata = strata_of(pool, 2)
    # b-blocking: each block of two adjacent difficulties gives one item to each stratum.
    assert strata.tolist() == [0, 1, 0, 1, 0, 1, 0, 1]
    sel = AStratified(n_strata=2)
    assert _pick(sel, _ctx(pool, [0.45], length=4)) == [4]  # low-a stratum, b nearest 0.45
    later = _ctx(pool, [0.45], given=[[0, 2]], length=4)  # second half: high-a stratum
    assert _pick(sel, later) == [5]


def test_randomesque_picks_among_the_top_k_reproducibly() -> None:
    bank = dichotomous_bank([1.0] * 9, np.linspace(-2, 2, 9).tolist())
    pool = _pool(bank)
    picks = {_pick(Randomesque(k=3), _ctx(pool, [0.0], seed=s))[0] for s in range(60)}
    assert picks == {3, 4, 5}
    again = [_pick(Randomesque(k=3), _ctx(pool, [0.0], seed=7))[0] for _ in range(3)]
    assert len(set(again)) == 1


def test_shadow_test_keeps_the_blueprint_completable() -> None:
    # The three most informative items are all in area A, but a 3-item test
    # needs 1 from A and 2 from B: the shadow test gives the best A item, then
    # only B items, whatever their information.
    bank = dichotomous_bank([2.0, 1.9, 1.8, 0.6, 0.5, 0.4], [0.0] * 6, areas=[0, 0, 0, 1, 1, 1])
    pool = _pool(bank, targets=[1, 2])
    sel = ShadowTest()
    first = _pick(sel, _ctx(pool, [0.0], length=3))
    assert first == [0]
    second = _pick(sel, _ctx(pool, [0.0], given=[[0]], length=3))
    assert second == [3]


def test_shadow_test_respects_enemies() -> None:
    # Items 0 and 1 are enemies and the two best: the test gets only one of them.
    bank = dichotomous_bank([2.0, 1.9, 1.0, 0.9], [0.0] * 4, enemy=[5, 5, -1, -1])
    pool = _pool(bank)
    ctx = _ctx(pool, [0.0], given=[[0]], length=3)
    assert _pick(ShadowTest(), ctx) == [2]
    assert _pick(MaxInfo(), ctx) == [2]  # eligibility already removes enemies


def test_sympson_hetter_refuses_with_probability_one_minus_k() -> None:
    bank = dichotomous_bank([2.0, 1.0], [0.0, 0.0])
    pool = _pool(bank)
    pool = Pool(**{**pool.__dict__, "exposure_k": np.array([0.3, 1.0])})
    picks = []
    for s in range(2000):
        ctx = _ctx(pool, [0.0], seed=s)
        ch = SympsonHetter().choose(ctx, MaxInfo().rank(ctx))
        picks.append(int(ch.items[0]))
        if ch.items[0] == 1:
            assert ch.refused is not None and ch.refused[0, 0]
    # P(item 0) = k = 0.3; binomial SE over 2000 draws ≈ 0.010, so ±0.04 is 4 SE.
    assert np.mean(np.array(picks) == 0) == pytest.approx(0.3, abs=0.04)


def test_progressive_is_random_first_and_informative_last() -> None:
    bank = dichotomous_bank([1.0] * 9, np.linspace(-2, 2, 9).tolist())
    pool = _pool(bank)
    first = {
        int(Progressive().choose(c, MaxInfo().rank(c)).items[0])
        for c in (_ctx(pool, [0.0], seed=s, length=10) for s in range(40))
    }
    assert len(first) > 4  # weight 0 on information at the first item
    last = _ctx(pool, [0.0], given=[[0, 1, 2, 3, 5, 6, 7, 8]], length=9)
    assert Progressive().choose(last, MaxInfo().rank(last)).items.tolist() == [4]


def test_strategy_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="k"):
        Randomesque(k=0)
    with pytest.raises(ValueError, match="n_strata"):
        AStratified(n_strata=0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        SympsonHetter({"Q1": 1.5})
    assert SectionStrategies(MaxInfo(), MaxInfo(), ()).stopping == ()


def test_shadow_shortcut_picks_what_the_0_1_program_picks() -> None:
    # The greedy per-area optimum is used only when it is provably the
    # program's optimum; on random banks with enemies both give the same item.
    for seed in range(15):
        r = np.random.default_rng(seed)
        n = 24
        enemy = np.full(n, -1)
        enemy[r.choice(n, 6, replace=False)] = [0, 0, 1, 1, 2, 2]
        bank = dichotomous_bank(
            np.exp(r.normal(0, 0.4, n)).tolist(),
            r.normal(0, 1, n).tolist(),
            areas=r.integers(0, 3, n).tolist(),
            enemy=enemy.tolist(),
        )
        counts = np.bincount(bank.content_area, minlength=3)
        targets = [int(min(2, c - 1)) for c in counts]
        pool = _pool(bank, targets=targets)
        given = [int(np.flatnonzero(bank.content_area == 0)[0])] if targets[0] > 0 else []
        ctx = _ctx(pool, [float(r.normal())], given=[given], length=sum(targets))
        fast = _pick(ShadowTest(), ctx)
        exact = _pick(ShadowTest(shortcut=False), ctx)
        assert fast == exact
