"""The test engine: pure functions of a :class:`TestState` and a bank.

Every function returns a NEW state and never changes its argument; the same
input always gives the same output (all random draws come from the state's
seed and step), so a server can store the state after every answer and
resume exactly after a crash.

Linear mode: :func:`start` assembles the whole form (parallel forms under
the blueprint, :mod:`cat_engine.assembly`); the candidate navigates freely,
changes answers and flags items ("ragu-ragu"); the test ends with
:func:`finish` (submit or time-out). Adaptive mode: one item at a time per
section, answered once, the next chosen inside :func:`record`; a section
ends on its stopping rules, the test after its last section.

For the ability estimate a blank answer on a presented item counts as the
lowest category (wrong), as it scores 0 points: otherwise skipping hard
adaptive items would raise the estimate.

This module holds :func:`start`, :func:`record` with the adaptive step and
the live board's :func:`running_points`; the rest of the API is re-exported
here from the modules that hold it: :mod:`cat_engine.choices`
(:class:`Choices`), :mod:`cat_engine.queries` (:func:`presented`,
:func:`administered`, :func:`current`, :func:`is_complete`),
:mod:`cat_engine.linear` (:func:`flag`, :func:`navigate`),
:mod:`cat_engine.finishing` (:func:`finish`, :func:`add_time`) and
:mod:`cat_engine.scores` (:class:`SectionScore`, :class:`TestScore`,
:func:`score`). Their helpers: :mod:`cat_engine.ability` (the general
ability estimate), :mod:`cat_engine.exposure_limits` (hard exposure limits,
withdrawn items) and :mod:`cat_engine.presenting` (adding an item, pretest
picks).
"""

from __future__ import annotations

import numpy as np

from cat_engine.ability import _estimate, _evidence, _responded
from cat_engine.adaptive import eligibility, select_next
from cat_engine.bank import BankArrays
from cat_engine.choices import Choices
from cat_engine.design import SectionDesign, TestDesign
from cat_engine.errors import EngineError
from cat_engine.estimators import Evidence
from cat_engine.exposure import ExposureUsage
from cat_engine.exposure_limits import _allowed, _limits_apply
from cat_engine.finishing import _check_time, add_time, finish
from cat_engine.linear import _start_linear, flag, navigate
from cat_engine.live_step import (
    _all_scored,
    _given_mask,
    _live_sections,
    _LiveSection,
    _running_loglik,
)
from cat_engine.pool import check_design_against_bank, pretest_positions
from cat_engine.prepared import bank_extra
from cat_engine.presenting import _enemy_groups, _pick_pretest, _present
from cat_engine.queries import _find, administered, current, is_complete, presented
from cat_engine.scores import SectionScore, TestScore, score
from cat_engine.scoring import reference_curve
from cat_engine.state import SectionState, TestState, finite_or_none
from cat_engine.stopping import section_stop, stop_reason

# The engine's API, as callers use it (``from cat_engine import engine as cat``;
# ``cat.record``, ``cat.Choices``, ...): the parts defined in the modules above
# are re-exported here.
__all__ = [
    "SHORTCUTS",
    "Choices",
    "SectionScore",
    "TestScore",
    "add_time",
    "administered",
    "current",
    "finish",
    "flag",
    "is_complete",
    "navigate",
    "presented",
    "record",
    "running_points",
    "score",
    "start",
]


# ---------------------------------------------------------------------------
# The adaptive step
# ---------------------------------------------------------------------------
#
# It stays in this module: the tests switch its shortcuts off and count its
# selections by patching ``SHORTCUTS`` and ``select_next`` here, and
# ``benchmarks/server_profile.py`` finds ``record``, ``_estimate_live`` and
# ``running_points`` by their file, ``cat_engine/engine.py``.


def _next_adaptive(
    state: TestState,
    bank: BankArrays,
    usage: ExposureUsage | None,
    choices: Choices | None = None,
) -> TestState:
    """Present the next item, moving through sections; finish when none is left. Mutates."""
    design = state.design
    while state.section_index < len(design.sections):
        s = state.section_index
        sec = state.sections[s]
        section = design.sections[s]
        if not sec.complete:
            if len(sec.items) in sec.pretest_positions:
                pre = _pick_pretest(state, bank, s)
                if pre is not None:
                    _present(state, bank, s, pre, pretest=True)
                    return state
            item: int | None
            if choices is not None and choices.replay:
                taken, refused = choices.take()
                sec.refused.extend(refused)
                item = None if taken < 0 else taken
            else:
                n_refused = len(sec.refused)
                item = _choose_scored(state, bank, s, section, usage)
                if choices is not None:
                    choices.made.append((-1 if item is None else item, sec.refused[n_refused:]))
            if item is not None:
                _present(state, bank, s, item, pretest=False)
                return state
            sec.complete = True
            sec.stop_reason = "pool_exhausted"
        state.section_index += 1
    state.section_index = len(design.sections) - 1
    state.current = None
    state.finished = True
    state.finish_reason = state.finish_reason or "completed"
    return state


# The live step's shortcuts (:class:`_LiveSection`). False runs every step
# through the general path: the tests compare the two, bit for bit.
SHORTCUTS = True


def _estimate_live(
    state: TestState, bank: BankArrays, s: int, live: _LiveSection
) -> tuple[float, float, Evidence | None]:
    """(θ̂, SE, the Evidence if one was made) after an adaptive answer in section s.

    With EAP on a section whose items are all answered and scored (the live
    step), the estimate comes from the running row alone: no Evidence."""
    sec = state.sections[s]
    if SHORTCUTS and live.eap is not None and _all_scored(sec):
        row, _ = _running_loglik(sec, live.evidence_tables, live.local_of, live.option_category)
        theta, se = live.eap.estimate_one(row)
        return theta, se, None
    ev, theta, se = _estimate(state, bank, s)
    return theta, se, ev


def _next_lean(
    state: TestState,
    bank: BankArrays,
    s: int,
    live: _LiveSection,
    usage: ExposureUsage | None,
    choices: Choices | None,
) -> bool:
    """Present the next scored item of section s by maximum information when
    only the items given can be ineligible; False (nothing presented) when the
    general :func:`_next_adaptive` must run: another selector or control,
    enemies, a blueprint, an exposure limit or withdrawn items, refusals, a
    pretest position, a replay, or the section ended. Mutates."""
    sec = state.sections[s]
    if (
        not SHORTCUTS
        or live.max_info is None
        or s != state.section_index
        or sec.complete
        or sec.refused
        or len(sec.items) in sec.pretest_positions
        or (choices is not None and choices.replay)
        or _limits_apply(state.design, usage)
    ):
        return False
    tables = live.select_tables
    given, _ = _given_mask(sec, tables)
    best = live.max_info.best_one(tables.pool, sec.theta, given[0])
    item = live.pool_index[best] if best >= 0 else -1
    if choices is not None:
        choices.made.append((item, []))
    if item < 0:
        # Pool exhausted: the general path moves on to the next section.
        sec.complete = True
        sec.stop_reason = "pool_exhausted"
        return False
    _present(state, bank, s, item, pretest=False)
    return True


def _choose_scored(
    state: TestState,
    bank: BankArrays,
    s: int,
    section: SectionDesign,
    usage: ExposureUsage | None,
) -> int | None:
    design = state.design
    sec = state.sections[s]
    live = _live_sections(design, bank)[s]
    tables = live.select_tables
    pool = tables.pool
    n = pool.n_items
    given, n_given = _given_mask(sec, tables)
    has_enemy = live.has_enemy
    allowed = _allowed(design, bank, usage)
    if allowed is not None:
        allowed = allowed[pool.index]  # bank-wide → this section's pool
    if not (has_enemy or sec.refused or pool.has_blueprint or allowed is not None):
        # Nothing but the items already given can be ineligible: what
        # ``eligibility`` returns in this case, without its all-False masks.
        eligible = ~given
        area_count = np.zeros((1, 0), dtype=np.int64)
    else:
        refused = np.zeros((1, n), dtype=bool)
        if sec.refused:
            local_r = tables.local_of[sec.refused]
            refused[0, local_r[local_r >= 0]] = True
        groups = _enemy_groups(state, bank) if has_enemy else None
        if groups is not None and groups.size:
            used = np.isin(pool.enemy, groups) & (pool.enemy >= 0)
            enemy_used = used[None, :] & ~given
        else:
            enemy_used = np.zeros((1, n), dtype=bool)
        eligible, area_count = eligibility(pool, given, refused, enemy_used, allowed)
    # One array each for the floats and the integers, handed on as (1,) views:
    # allocating five one-element arrays was a tenth of a live step (issue 17).
    estimate = np.array([sec.theta, np.inf if sec.se is None else sec.se])
    ints = np.array([state.seed, state.step, n_given], dtype=np.int64)
    choice = select_next(
        design.strategies[s],
        design.exposure_control,
        pool,
        estimate[0:1],
        estimate[1:2],
        given,
        eligible,
        area_count,
        section.n_items,
        ints[0:1],
        ints[1:2],
        ints[2:3],
    )
    if choice.refused is not None and choice.refused[0].any():
        sec.refused.extend(int(i) for i in pool.index[choice.refused[0]])
    chosen = int(choice.items[0])
    return None if chosen < 0 else int(pool.index[chosen])


def _section_should_stop(
    state: TestState, bank: BankArrays, s: int, ev: Evidence | None, live: _LiveSection
) -> str | None:
    """Why section s ends after its latest answer, or None. ev: the answers'
    Evidence, or None to have it made only if a stopping rule may read it."""
    section = state.design.sections[s]
    sec = state.sections[s]
    n_scored = len(sec.pretest) - sec.pretest.count(True)
    if ev is None and section.minimum <= n_scored < section.n_items:
        ev = _evidence(state, bank, s)  # the rules are asked: they may read it
    code = section_stop(
        section,
        state.design.strategies[s].stopping,
        evidence=ev,
        theta=sec.theta,
        se=np.inf if sec.se is None else sec.se,
        n_scored=n_scored,
        time_used=sec.time_used,
        cut_theta=live.cut_theta,
    )
    return stop_reason(section, code)


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


def start(
    design: TestDesign, bank: BankArrays, seed: int, *, usage: ExposureUsage | None = None
) -> TestState:
    """A new test for one candidate.

    seed: the candidate's seed (0 ≤ seed < 2**63), stored in the state;
    usage: bank usage so far, to keep the hard maximum exposure rate (None:
    not enforced). Linear: every section's form is assembled now. Adaptive:
    the first item is chosen. Raises ``EngineError`` ('design_bank_mismatch',
    'assembly_infeasible').
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**63:
        raise ValueError(f"seed must be an integer in [0, 2**63), got {seed!r}")
    check_design_against_bank(design, bank)
    state = TestState(design=design, seed=seed, sections=[])
    for s, section in enumerate(design.sections):
        sec = SectionState(code=section.code)
        if design.mode == "adaptive" and section.pretest_items > 0:
            seeds = np.array([seed], dtype=np.int64)
            sec.pretest_positions = pretest_positions(seeds, s, section)[0].tolist()
        state.sections.append(sec)
    if design.mode == "linear":
        _start_linear(state, bank, usage)
        return state
    return _next_adaptive(state, bank, usage)


def record(
    state: TestState,
    bank: BankArrays,
    item: int,
    option: int,
    *,
    flagged: bool = False,
    elapsed: float = 0.0,
    usage: ExposureUsage | None = None,
    choices: Choices | None = None,
) -> TestState:
    """A new state with the answer ``option`` (−1 = blank/cleared) to ``item``.

    elapsed: seconds the candidate spent since the last event, added to the
    time used (the server's clock). Linear: any presented item, answers
    changeable. Adaptive: only the current item, once; the next item is
    chosen here. choices: records the step's choices, or replays recorded
    ones (:class:`Choices`). Raises ``EngineError`` with code 'complete',
    'not_presented', 'already_answered', 'invalid_option', 'bank_mismatch' or
    (replaying) 'replay_mismatch'.
    """
    if state.finished:
        raise EngineError("complete", "the test is over")
    if not (isinstance(elapsed, int | float) and elapsed >= 0):
        raise ValueError(f"elapsed must be a non-negative number of seconds, got {elapsed!r}")
    s, p = _find(state, item)
    sec0 = state.sections[s]
    if item >= bank.n_items or bank.item_ids[item] != sec0.item_ids[p]:
        raise EngineError("bank_mismatch", f"item {item} is not the item this test presented")
    if not -1 <= option < int(bank.n_options[item]):
        raise EngineError(
            "invalid_option",
            f"option {option} is not one of item {bank.item_ids[item]!r}'s "
            f"{int(bank.n_options[item])} options (−1 = blank)",
        )
    if state.design.mode == "adaptive" and item != state.current:
        raise EngineError(
            "already_answered", f"item {item} was already answered; adaptive tests go forward"
        )
    # Sections before s are over and never change here; linear changes only s.
    new = state.copy(s, s if state.design.mode == "linear" else None)
    sec = new.sections[s]
    sec.options[p] = int(option)
    sec.answered[p] = option >= 0 or new.design.mode == "adaptive"
    sec.flagged[p] = bool(flagged)
    sec.elapsed[p] += float(elapsed)
    sec.time_used += float(elapsed)
    new.time_used += float(elapsed)
    if new.design.mode == "linear":
        # Bookkeeping only: a linear form needs no estimate to go on, so θ is
        # estimated once at score time (``score``), not on every answer or
        # change of answer. The state's theta/se keep their start values.
        new.current = int(item)
        new.section_index = s
        _check_time(new)
        return new
    # Adaptive: the current item is now answered.
    new.current = None
    live = _live_sections(new.design, bank)[s]
    theta, se, ev = _estimate_live(new, bank, s, live)
    sec.theta, sec.se = theta, finite_or_none(se)
    reason = _section_should_stop(new, bank, s, ev, live)
    if reason is not None:
        sec.complete = True
        sec.stop_reason = reason
    _check_time(new)
    if not new.finished and not _next_lean(new, bank, s, live, usage, choices):
        _next_adaptive(new, bank, usage, choices)
    if choices is not None:
        choices.finished()
    return new


def _option_points(bank: BankArrays) -> list[list[float]]:
    """``bank.option_points`` as nested lists (item → option → points), built once per bank."""
    table: list[list[float]] = bank_extra(bank, "option_points_list", bank.option_points.tolist)
    return table


def running_points(state: TestState, bank: BankArrays) -> dict[str, float]:
    """Points per section so far, for the live board (cheap: no re-estimation).

    Linear: the number-correct points of the answers given. Adaptive: the
    reference-form expected score at the current estimate (0 before the
    first answer of a section).
    """
    out: dict[str, float] = {}
    for s, section in enumerate(state.design.sections):
        sec = state.sections[s]
        if state.design.mode == "linear":
            # Plain Python over the form (≤ a few hundred items) beats building
            # arrays for it: this runs with every answer for the live board.
            # A plain loop: a third cheaper than sum() over a generator.
            table = _option_points(bank)
            total = 0.0
            for i, o, pre in zip(sec.items, sec.options, sec.pretest, strict=True):
                if o >= 0 and not pre:
                    total += table[i][o]
            out[section.code] = total
        else:
            responded = [p for p in _responded(state, s) if not sec.pretest[p]]
            grid, curve = reference_curve(bank, section)
            out[section.code] = float(np.interp(sec.theta, grid, curve)) if responded else 0.0
    return out
