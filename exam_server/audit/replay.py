"""A finished attempt's score recomputed from its chained answers: the
engine replays them under the exam's stored design and bank, and the
ranking policy gives the verdict (:func:`recompute_score`,
:func:`compare_score`)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cat_engine import engine as cat
from cat_engine.bank import BankArrays
from cat_engine.design import TestDesign
from cat_engine.errors import EngineError
from cat_engine.state import TestState
from exam_server.audit.chain import score_digest
from exam_server.results.rules import RankingPolicy, evaluate
from exam_server.snapshot import bank_from_json


def apply_response(state: TestState, bank: BankArrays, idx: int, row: Mapping[str, Any]) -> Any:
    """One stored response applied through the engine as the live server
    applied it: an answer with the server's elapsed seconds and, for an
    adaptive answer, the next-item choices it recorded (``chosen``); rows
    written before those were stored replay with none (0 s, choosing again).
    ``idx``: the answered item's bank index. The live path's own rebuild
    (``exam_server.attempts.storage``) and :func:`replay` both use it.
    Raises ``EngineError``, or ``ValueError`` for an unknown kind."""
    kind = row["kind"]
    if kind == "answer":
        chosen = row.get("chosen")
        choices = (
            None
            if chosen is None
            else cat.Choices([(int(i), [int(x) for x in r]) for i, r in json.loads(chosen)], True)
        )
        elapsed = row.get("server_elapsed")
        return cat.record(
            state,
            bank,
            idx,
            int(row["option"]),
            flagged=bool(row["flagged"]),
            elapsed=0.0 if elapsed is None else float(elapsed),
            choices=choices,
        )
    if kind == "flag":
        return cat.flag(state, idx, bool(row["flagged"]))
    raise ValueError(f"unknown kind {kind!r}")


#: Points that differ by less than this are equal (the engine's arithmetic
#: replayed on another machine may differ in the last bits; published points
#: have two decimals at most, so no edit that shows can hide below it).
POINTS_TOLERANCE = 1e-6


class ReplayError(Exception):
    """The chained answers cannot be replayed through the engine from the seed."""

    def __init__(self, seq: int, message: str) -> None:
        super().__init__(f"seq {seq}: {message}")
        self.seq = seq


@dataclass(frozen=True)
class ExamRules:
    """What scoring an attempt of one exam needs: design, frozen bank, policy."""

    design: TestDesign
    bank: BankArrays
    policy: RankingPolicy
    index: dict[str, int]
    # Items retired after a review (issue 21) that later selections left out.
    withdrawn: bool = False

    @classmethod
    def from_row(cls, design_json: str, bank_json: str, policy_json: str | None) -> ExamRules:
        bank = bank_from_json(bank_json)
        # An exam made before exams stored their policy ran under the 2024 rules.
        policy = RankingPolicy.of_exam(policy_json)
        return cls(
            design=TestDesign.from_dict(json.loads(design_json)),
            bank=bank,
            policy=policy,
            index={item_id: i for i, item_id in enumerate(bank.item_ids)},
        )

    @property
    def replay_may_diverge(self) -> str | None:
        """Why a faithful replay from the seed may present other items than
        the live test did, or None. The chain holds what was answered, not
        the server's time per answer (adaptive sections with time limits) nor
        the exposure counts the live selection saw (a hard exposure cap)."""
        if self.design.exposure.max_rate is not None:
            return "the design caps item exposure, which depends on other candidates' tests"
        if self.withdrawn:
            return "items were retired after a review and left out of the selections after it"
        if self.design.mode == "adaptive" and any(
            s.time_limit_seconds is not None for s in self.design.sections
        ):
            return "the design has section time limits, and the chain holds no answer times"
        return None


def replay(
    rules: ExamRules,
    seed: int,
    answers: Sequence[Mapping[str, Any]],
    reason: str,
    start: TestState | None = None,
) -> Any:
    """The final engine state of a test started from ``seed`` (or, given, from
    the ``start`` state) and driven by the chained ``answers`` (response rows
    in seq order), finished with ``reason``. Raises :class:`ReplayError` where
    an answer does not fit."""
    state = cat.start(rules.design, rules.bank, seed) if start is None else start
    for r in answers:
        seq = int(r["seq"])
        idx = rules.index.get(str(r["item_id"]))
        if idx is None:
            raise ReplayError(seq, f"item {r['item_id']} is not in the exam's bank")
        try:
            state = apply_response(state, rules.bank, idx, r)
        except ValueError as exc:
            raise ReplayError(seq, str(exc)) from None
        except EngineError as exc:
            raise ReplayError(seq, f"item {r['item_id']}: {exc.message}") from None
    return cat.finish(state, reason)


def _stored_state_matches(state: TestState, answers: Sequence[Mapping[str, Any]]) -> str | None:
    """Why the stored state's answers differ from the chained ones, or None."""
    chained: dict[str, int] = {}
    for r in answers:
        if r["kind"] == "answer":
            chained[str(r["item_id"])] = int(r["option"])
    held: dict[str, int] = {}
    for sec in state.sections:
        for item_id, option in zip(sec.item_ids, sec.options, strict=True):
            if option >= 0 or item_id in chained:
                held[item_id] = int(option)
    for item_id in sorted(set(chained) | set(held)):
        if chained.get(item_id, -1) != held.get(item_id, -1):
            return (
                f"item {item_id}: option {held.get(item_id, -1)} in the stored state,"
                f" {chained.get(item_id, -1)} in the chained answers"
            )
    return None


def recompute_score(
    rules: ExamRules,
    seed: int,
    answers: Sequence[Mapping[str, Any]],
    reason: str,
    state_json: str | None,
    start_json: str | None = None,
) -> tuple[dict[str, Any], str | None]:
    """The score of an attempt recomputed from its chained answers, and a note
    on how when it is not a plain replay. Replays through the engine from the
    seed; when that does not fit and the state the test started in is given
    (``start_json``, bound by its start event's ``form_sha256``), from that
    state (a linear form is assembled by a solver with a time limit: a busy
    machine can give the same seed another form); where the design makes the
    live selection unrepeatable (:attr:`ExamRules.replay_may_diverge`) and
    neither fits, scores the stored engine state after checking that its
    answers are exactly the chained ones. Raises :class:`ReplayError` when
    none is possible."""
    try:
        state = replay(rules, seed, answers, reason)
        return cat.score(state, rules.bank).to_dict(), None
    except ReplayError as exc:
        if start_json is not None:
            start = TestState.from_dict(json.loads(start_json))
            try:
                state = replay(rules, seed, answers, reason, start)
            except ReplayError:
                pass
            else:
                cause = rules.replay_may_diverge or (
                    "a linear form is assembled by a solver with a time limit, so a "
                    "busy machine can give a seed another form"
                )
                note = f"replayed from the state its start event bound ({cause}; seed: {exc})"
                return cat.score(state, rules.bank).to_dict(), note
        why = rules.replay_may_diverge
        if why is None or not state_json:
            raise
        stored = TestState.from_dict(json.loads(state_json))
        differs = _stored_state_matches(stored, answers)
        if differs is not None:
            raise ReplayError(
                exc.seq, f"replay diverged and the stored state differs: {differs}"
            ) from None
        note = f"scored from the stored state checked against its answers ({why})"
        return cat.score(stored, rules.bank).to_dict(), note


def verdict(
    policy: RankingPolicy, category: str, score: Mapping[str, Any]
) -> tuple[bool | None, str]:
    """Pass/fail of ``score`` under ``policy`` and the English reason, as the
    server stores them (None and the policy's message when it cannot judge)."""
    points = {str(s["code"]): float(s["points"]) for s in score.get("sections", [])}
    try:
        v = evaluate(policy, category, points)
    except ValueError as exc:
        return None, str(exc)
    return v.passed, v.reason("en")


def _differs(a: Any, b: Any) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return bool(abs(float(a) - float(b)) > POINTS_TOLERANCE)
    return bool(a != b)


def compare_score(
    aid: int,
    stored: Mapping[str, Any],
    recomputed: Mapping[str, Any],
    total_points: float | None,
    passed: bool | None,
    pass_reason: str | None,
    expected: tuple[bool | None, str],
) -> list[str]:
    """One problem per field of the stored result that the recomputation
    contradicts (``score_json`` per subtest and total, ``total_points``,
    ``passed``, ``pass_reason``)."""
    out: list[str] = []
    have = {str(s.get("code")): s for s in stored.get("sections", []) if isinstance(s, dict)}
    want = {str(s["code"]): s for s in recomputed.get("sections", [])}
    for code in [*want, *(c for c in have if c not in want)]:
        if code not in have:
            out.append(f"attempt {aid}: score_json has no subtest {code}")
        elif code not in want:
            out.append(f"attempt {aid}: score_json has a subtest {code} the exam does not have")
        else:
            for key in ("points", "max_points", "n_answered", "n_items"):
                if key in have[code] and _differs(have[code][key], want[code][key]):
                    out.append(
                        f"attempt {aid}: score_json {code} {key} is {have[code][key]} stored,"
                        f" {want[code][key]} recomputed from its answers"
                    )
    if _differs(stored.get("total"), recomputed["total"]):
        out.append(
            f"attempt {aid}: score_json total is {stored.get('total')} stored,"
            f" {recomputed['total']} recomputed from its answers"
        )
    if total_points is None or _differs(total_points, recomputed["total"]):
        out.append(
            f"attempt {aid}: total_points is {total_points} stored,"
            f" {recomputed['total']} recomputed from its answers"
        )
    if passed != expected[0]:
        out.append(
            f"attempt {aid}: passed is {passed} stored, {expected[0]} under the exam's policy"
        )
    if pass_reason != expected[1]:
        out.append(
            f"attempt {aid}: pass_reason is {pass_reason!r} stored,"
            f" {expected[1]!r} under the exam's policy"
        )
    return out


def _check_finish_event(
    aid: int, data: Mapping[str, Any], stored: Any, total_points: float | None, passed: bool | None
) -> list[str]:
    """The stored result against what the chained ``finish`` event bound."""
    out: list[str] = []
    digest = data.get("score_digest")
    if isinstance(digest, str):
        if total_points is None or score_digest(stored, total_points, passed) != digest:
            out.append(
                f"attempt {aid}: score_json/total_points/passed differ from the finish event's"
                " score_digest (changed after finish)"
            )
        return out
    # Finish events made before score_digest carry the result itself.
    if "total" in data and (total_points is None or _differs(data["total"], total_points)):
        out.append(f"attempt {aid}: total_points differs from the finish event")
    if "passed" in data and data["passed"] != passed:
        out.append(f"attempt {aid}: passed differs from the finish event")
    if "score" in data and isinstance(stored, dict):
        for s_evt, s_row in zip(
            data["score"].get("sections", []), stored.get("sections", []), strict=False
        ):
            if _differs(s_evt.get("points"), s_row.get("points")):
                out.append(
                    f"attempt {aid}: score_json {s_row.get('code')} points differ from the"
                    " finish event"
                )
    return out
