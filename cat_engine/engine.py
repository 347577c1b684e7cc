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
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cat_engine.adaptive import eligibility, select_next
from cat_engine.assembly import assemble_form
from cat_engine.bank import BankArrays
from cat_engine.design import SectionDesign, TestDesign
from cat_engine.errors import EngineError
from cat_engine.estimators import Evidence, OneEvidence
from cat_engine.exposure import ExposureUsage
from cat_engine.live_step import (
    _all_scored,
    _given_mask,
    _live_sections,
    _LiveSection,
    _local_of,
    _option_category,
    _running_loglik,
)
from cat_engine.pool import (
    check_design_against_bank,
    n_enemy_groups,
    pick_pretest,
    place_linear_pretest,
    pretest_blocked,
    pretest_positions,
    section_items,
)
from cat_engine.prepared import bank_extra, section_tables
from cat_engine.scoring import reference_curve, reference_max_points, reference_tcc
from cat_engine.state import SectionState, TestState, finite_or_none
from cat_engine.stopping import section_stop, stop_reason

IntArray = NDArray[np.int64]


@dataclass
class Choices:
    """The scored items an adaptive :func:`record` chose, to replay the step exactly.

    The live choice depends on the exposure usage of that moment (other
    candidates' tests), which a later replay cannot know. Pass an empty
    ``Choices()`` to :func:`record` to have each choice of the step written
    to ``made``, as ``(bank index or −1 when the section's pool was exhausted,
    bank indices the exposure lottery refused)`` in the order they were made;
    pass ``Choices(made, replay=True)`` to take those choices instead of
    choosing again (pretest items, estimates and stopping rules are computed
    as always). Linear tests choose nothing here.
    """

    made: list[tuple[int, list[int]]] = field(default_factory=list)
    replay: bool = False
    _next: int = 0

    def take(self) -> tuple[int, list[int]]:
        """The next recorded choice (replay). Raises ``EngineError('replay_mismatch')``."""
        if self._next >= len(self.made):
            raise EngineError("replay_mismatch", "the step chose more items than were recorded")
        out = self.made[self._next]
        self._next += 1
        return out

    def finished(self) -> None:
        """Raise ``EngineError('replay_mismatch')`` unless every recorded choice was taken."""
        if self.replay and self._next != len(self.made):
            raise EngineError("replay_mismatch", "the step chose fewer items than were recorded")


# ---------------------------------------------------------------------------
# Scores
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SectionScore:
    """code; points on the published scale; max_points; theta, se (logits; se
    None if undefined); n_answered (scored, non-blank); n_items (scored items
    presented).

    Points, not verdicts: whether a candidate passes is the exam's ranking
    policy's (``exam_server.results.rules``), which may differ by category.
    The design's ``passing_points`` is only the cut SPRT stopping and the
    simulator's classification use.
    """

    code: str
    points: float
    max_points: float
    theta: float
    se: float | None
    n_answered: int
    n_items: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "points": self.points,
            "max_points": self.max_points,
            "theta": self.theta,
            "se": self.se,
            "n_answered": self.n_answered,
            "n_items": self.n_items,
        }


@dataclass(frozen=True)
class TestScore:
    """Per-section scores and the total points (the sum over sections)."""

    __test__ = False

    mode: str
    sections: list[SectionScore] = field(default_factory=list)

    @property
    def total(self) -> float:
        return float(sum(s.points for s in self.sections))

    @property
    def max_total(self) -> float:
        return float(sum(s.max_points for s in self.sections))

    def section(self, code: str) -> SectionScore:
        for s in self.sections:
            if s.code == code:
                return s
        raise KeyError(code)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "sections": [s.to_dict() for s in self.sections],
            "total": self.total,
            "max_total": self.max_total,
        }


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def _check_bank(state: TestState, bank: BankArrays) -> None:
    for sec in state.sections:
        for i, item_id in zip(sec.items, sec.item_ids, strict=True):
            if i >= bank.n_items or bank.item_ids[i] != item_id:
                raise EngineError(
                    "bank_mismatch",
                    f"item {item_id!r} is no longer at bank position {i}: "
                    "resume the test with the bank it started with",
                )


def _find(state: TestState, item: int) -> tuple[int, int]:
    """(section number, position) of a presented item."""
    if item == state.current and not state.finished:
        # The usual case: the item on screen, the last one presented in its section.
        sec = state.sections[state.section_index]
        if sec.items and sec.items[-1] == item:
            return state.section_index, len(sec.items) - 1
    for s, sec in enumerate(state.sections):
        for p, i in enumerate(sec.items):
            if i == item:
                return s, p
    raise EngineError("not_presented", f"item {item} is not on this candidate's test")


def _responded(state: TestState, s: int) -> list[int]:
    """Positions of section s that count as responded (linear: not blank)."""
    sec = state.sections[s]
    if state.design.mode == "linear":
        return [p for p, o in enumerate(sec.options) if o >= 0]
    return [p for p, a in enumerate(sec.answered) if a]


def _evidence(state: TestState, bank: BankArrays, s: int) -> Evidence:
    sec = state.sections[s]
    linear = state.design.mode == "linear"
    # Plain Python over the ≤ a few hundred answers, then one row gather from
    # the section's (n·K, q) log-probability table: this runs on every answer.
    tables = section_tables(bank, state.design.sections[s])
    local_of = _local_of(tables)
    option_category = _option_category(bank)
    k = tables.logp.shape[2]
    if not linear and _all_scored(sec):
        row, cat_list = _running_loglik(sec, tables, local_of, option_category)
        # The lists as they are now: the section's own list grows on the next step.
        return OneEvidence(bank.params, sec.items[:], cat_list, row)
    pos = [p for p in _responded(state, s) if not sec.pretest[p]]
    item_list = [sec.items[p] for p in pos]
    option_list = [sec.options[p] for p in pos]
    # blank = lowest category (see module doc); linear forms never get here with a blank.
    cat_list = [
        option_category[i][o] if o >= 0 else 0 for i, o in zip(item_list, option_list, strict=True)
    ]
    rows = [local_of[i] * k + c for i, c in zip(item_list, cat_list, strict=True)]
    loglik = tables.logp_rows.take(np.array(rows, dtype=np.int64), axis=0).sum(axis=0)[None, :]
    items = np.array([item_list], dtype=np.int64).reshape(1, -1)
    cats = np.array([cat_list], dtype=np.int64).reshape(1, -1)
    return Evidence(bank.params, items, cats, loglik)


def _estimate(state: TestState, bank: BankArrays, s: int) -> tuple[Evidence, float, float]:
    ev = _evidence(state, bank, s)
    theta, se = state.design.strategies[s].estimator.estimate(ev)
    return ev, float(theta[0]), float(se[0])


def _limits_apply(design: TestDesign, usage: ExposureUsage | None) -> bool:
    """Whether ``usage`` can make an item ineligible: a hard maximum rate or withdrawn items."""
    return usage is not None and (
        design.exposure.max_rate is not None or usage.withdrawn is not None
    )


def _allowed(
    design: TestDesign, bank: BankArrays, usage: ExposureUsage | None
) -> NDArray[np.bool_] | None:
    """Items under the design's hard maximum exposure rate and not withdrawn
    (None: no limit, nothing withdrawn or no usage)."""
    if usage is None or not _limits_apply(design, usage):
        return None
    if usage.counts.shape[0] != bank.n_items:
        raise EngineError(
            "usage_mismatch",
            f"exposure usage counts {usage.counts.shape[0]} items, the bank has {bank.n_items}",
        )
    return usage.allowed(design.exposure.max_rate, design.exposure.warmup)


def _enemy_groups(state: TestState, bank: BankArrays) -> IntArray:
    """Enemy groups of every item presented so far. (g,)"""
    items = [i for sec in state.sections for i in sec.items]
    if not items:
        return np.zeros(0, dtype=np.int64)
    groups = bank.enemy_group[items]
    return np.asarray(groups[groups >= 0], dtype=np.int64)


def _present(state: TestState, bank: BankArrays, s: int, item: int, pretest: bool) -> None:
    sec = state.sections[s]
    sec.items.append(int(item))
    sec.item_ids.append(bank.item_ids[item])
    sec.options.append(-1)
    sec.answered.append(False)
    sec.flagged.append(False)
    sec.pretest.append(pretest)
    sec.elapsed.append(0.0)
    state.current = int(item)
    state.step += 1


def _pick_pretest(state: TestState, bank: BankArrays, s: int) -> int | None:
    candidates = section_items(bank, state.design.sections[s], pretest=True)
    shown = np.isin(candidates, [i for sec in state.sections for i in sec.items])[None, :]
    used = np.zeros((1, n_enemy_groups(bank)), dtype=bool)
    used[0, _enemy_groups(state, bank)] = True
    blocked = pretest_blocked(bank, candidates, shown, used)
    seeds = np.array([state.seed], dtype=np.int64)
    item = int(pick_pretest(candidates, blocked, seeds, np.array([state.step]))[0])
    return None if item < 0 else item


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


def _check_time(state: TestState) -> None:
    limit = state.design.time_limit_seconds
    if limit is not None and state.time_used >= limit and not state.finished:
        state.finished = True
        state.finish_reason = "time"
        state.current = None


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


def _start_linear(state: TestState, bank: BankArrays, usage: ExposureUsage | None) -> None:
    design = state.design
    allowed = _allowed(design, bank, usage)
    allowed = np.ones(bank.n_items, dtype=bool) if allowed is None else allowed.copy()
    for s, section in enumerate(design.sections):
        scored = assemble_form(bank, section, design.assembly, state.seed, s, allowed)
        form, pretest = place_linear_pretest(bank, section, state.seed, s, list(scored))
        used_groups = bank.enemy_group[np.asarray(form, dtype=np.int64)]
        allowed &= ~np.isin(bank.enemy_group, used_groups[used_groups >= 0])
        sec = state.sections[s]
        sec.items = [int(i) for i in form]
        sec.item_ids = [bank.item_ids[i] for i in form]
        sec.options = [-1] * len(form)
        sec.answered = [False] * len(form)
        sec.flagged = [False] * len(form)
        sec.pretest = pretest
        sec.elapsed = [0.0] * len(form)
        _, theta, se = _estimate(state, bank, s)
        sec.theta, sec.se = theta, finite_or_none(se)
    state.current = state.sections[0].items[0]
    state.step = sum(len(sec.items) for sec in state.sections)


def presented(state: TestState) -> list[int]:
    """Bank indices shown so far, in order (linear: the whole form)."""
    return [i for sec in state.sections for i in sec.items]


def administered(before: TestState | None, after: TestState) -> IntArray:
    """Bank indices one engine step newly presented: what to count as used. (k,) int64

    before: the state passed to the step (None for :func:`start`); after: the
    state it returned. For ``start`` that is the whole linear form, or the
    first adaptive item; for ``record`` on an adaptive test the next item (none
    when the test ended), on a linear test nothing. Pretest items count too:
    they were shown. A server adds these to its per-exam usage counts, in the
    same transaction that stores ``after``, before building the
    :class:`~cat_engine.exposure.ExposureUsage` for the next step. Raises
    ``ValueError`` when the two states are not one test's before and after.
    """
    if before is None:
        return np.asarray(presented(after), dtype=np.int64)
    if before.seed != after.seed or len(before.sections) != len(after.sections):
        raise ValueError("administered: the two states are not the same test")
    new: list[int] = []
    for b, a in zip(before.sections, after.sections, strict=True):
        if a.items[: len(b.items)] != b.items:
            raise ValueError("administered: 'after' does not continue 'before'")
        new.extend(a.items[len(b.items) :])
    return np.asarray(new, dtype=np.int64)


def current(state: TestState) -> int | None:
    """The item the candidate is on (adaptive: the one to answer next); None when complete."""
    return None if state.finished else state.current


def is_complete(state: TestState) -> bool:
    """True once the test is over (adaptive: last section done; linear: submitted or timed out)."""
    return state.finished


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


def flag(state: TestState, item: int, flagged: bool) -> TestState:
    """Set or clear the "ragu-ragu" (doubtful) flag on a presented item (linear only)."""
    if state.finished:
        raise EngineError("complete", "the test is over")
    if state.design.mode != "linear":
        raise EngineError("navigation_not_allowed", "adaptive tests have no doubtful flags")
    s, p = _find(state, item)
    new = state.copy()
    new.sections[s].flagged[p] = bool(flagged)
    return new


def navigate(state: TestState, item: int) -> TestState:
    """Move to a presented item (linear only; adaptive accepts only the current item)."""
    if state.finished:
        raise EngineError("complete", "the test is over")
    if state.design.mode != "linear":
        if item == state.current:
            return state.copy()
        raise EngineError("navigation_not_allowed", "adaptive tests cannot go back or skip")
    s, _ = _find(state, item)
    new = state.copy()
    new.current = int(item)
    new.section_index = s
    return new


def finish(state: TestState, reason: str = "submitted") -> TestState:
    """End the test now (the candidate submits, or the server's clock runs out)."""
    new = state.copy()
    if not new.finished:
        new.finished = True
        new.finish_reason = reason
        new.current = None
        for sec in new.sections:
            if not sec.complete:
                sec.complete = True
                sec.stop_reason = reason
    return new


def add_time(state: TestState, seconds: float) -> TestState:
    """Count ``seconds`` more of testing time (no answer); finishes the test at its limit."""
    if not (isinstance(seconds, int | float) and seconds >= 0):
        raise ValueError(f"seconds must be a non-negative number, got {seconds!r}")
    new = state.copy()
    new.time_used += float(seconds)
    new.sections[new.section_index].time_used += float(seconds)
    _check_time(new)
    return new


def score(state: TestState, bank: BankArrays) -> TestScore:
    """Scores per section on the published scale (see :mod:`cat_engine.scoring`)."""
    _check_bank(state, bank)
    out = []
    for s, section in enumerate(state.design.sections):
        sec = state.sections[s]
        scored = [p for p in range(len(sec.items)) if not sec.pretest[p]]
        answered = [p for p in scored if sec.options[p] >= 0]
        _, theta, se = _estimate(state, bank, s)
        if state.design.mode == "linear":
            items = np.array([sec.items[p] for p in scored], dtype=np.int64)
            opts = np.array([sec.options[p] for p in scored], dtype=np.int64)
            points = float(bank.points_of(items, opts).sum())
            max_points = float(bank.max_points()[items].sum()) if items.size else 0.0
        else:
            responded = [p for p in _responded(state, s) if not sec.pretest[p]]
            points = float(reference_tcc(bank, section, [theta])[0]) if responded else 0.0
            max_points = reference_max_points(bank, section)
        out.append(
            SectionScore(
                code=section.code,
                points=points,
                max_points=max_points,
                theta=theta,
                se=finite_or_none(se),
                n_answered=len(answered),
                n_items=len(scored),
            )
        )
    return TestScore(mode=state.design.mode, sections=out)


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
            table = _option_points(bank)
            out[section.code] = float(
                sum(
                    table[i][o]
                    for i, o, pre in zip(sec.items, sec.options, sec.pretest, strict=True)
                    if o >= 0 and not pre
                )
            )
        else:
            responded = [p for p in _responded(state, s) if not sec.pretest[p]]
            grid, curve = reference_curve(bank, section)
            out[section.code] = float(np.interp(sec.theta, grid, curve)) if responded else 0.0
    return out
