"""The hash-chained audit log and the chains of responses.

Audit rows: ``hash = sha256(prev_hash ‖ canonical JSON of the row)``; the
chain head (``exam_audit_head``) is read with ``FOR UPDATE`` inside the
appending transaction, so concurrent writers (several processes on
PostgreSQL) queue up instead of forking the chain. Each attempt's responses
form their own chain (``Response.hash``), whose head is recorded in the
attempt's ``finish`` audit event, with the score bound by
:func:`score_digest`. :func:`verify` recomputes everything: the chains, and
every finished attempt's score and verdict from its chained answers
(:func:`recompute_score`); with a checkpoint file
(``exam_server.checkpoints``) also that no chain lost its tail.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Engine

from cat_engine import engine as cat
from cat_engine.bank import BankArrays
from cat_engine.design import TestDesign
from cat_engine.errors import EngineError
from cat_engine.state import TestState
from exam_server import state_codec
from exam_server.forensics.models import WithdrawnItem
from exam_server.models import (
    Attempt,
    AttemptSnapshot,
    AuditEvent,
    AuditHead,
    Candidate,
    Exam,
    ExamSession,
    Response,
)
from exam_server.results.rules import RankingPolicy, evaluate
from exam_server.snapshot import bank_from_json

if TYPE_CHECKING:
    from exam_server.checkpoints import KeySwitch

AUDIT = AuditEvent.__table__  # type: ignore[attr-defined]
HEAD = AuditHead.__table__  # type: ignore[attr-defined]
RESPONSE = Response.__table__  # type: ignore[attr-defined]
ATTEMPT = Attempt.__table__  # type: ignore[attr-defined]
SNAPSHOT = AttemptSnapshot.__table__  # type: ignore[attr-defined]
SESSION = ExamSession.__table__  # type: ignore[attr-defined]
EXAM = Exam.__table__  # type: ignore[attr-defined]
CANDIDATE = Candidate.__table__  # type: ignore[attr-defined]
WITHDRAWN = WithdrawnItem.__table__  # type: ignore[attr-defined]


def _canon(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_hash(prev_hash: str, row: dict[str, Any]) -> str:
    body = {
        k: row[k]
        for k in ("at", "kind", "actor", "session_id", "attempt_id", "reason", "data_json")
    }
    return hashlib.sha256((prev_hash + "|" + _canon(body)).encode()).hexdigest()


#: Response fields a replay reads that were added later: hashed when present,
#: so the rows written before them keep their hashes.
_REPLAY_FIELDS = ("server_elapsed", "chosen")


def response_hash(prev_hash: str, row: dict[str, Any]) -> str:
    body = {
        k: row[k]
        for k in ("attempt_id", "seq", "kind", "number", "item_id", "option", "flagged", "at")
    }
    for k in _REPLAY_FIELDS:
        if row.get(k) is not None:
            body[k] = row[k]
    return hashlib.sha256((prev_hash + "|" + _canon(body)).encode()).hexdigest()


def encode_choices(choices: cat.Choices | None) -> str | None:
    """The ``chosen`` column of an adaptive answer: its next-item choices as
    compact JSON, ``[[item, [refused, ...]], ...]`` (None: nothing recorded)."""
    if choices is None:
        return None
    return json.dumps([[i, list(r)] for i, r in choices.made], separators=(",", ":"))


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


def append(
    conn: Connection,
    kind: str,
    actor: str,
    *,
    session_id: int | None = None,
    attempt_id: int | None = None,
    reason: str = "",
    data: dict[str, Any] | None = None,
    at: float | None = None,
) -> str:
    """Append one audit event inside the caller's transaction; returns its hash."""
    head = conn.execute(select(HEAD).where(HEAD.c.id == 1).with_for_update()).first()
    if head is None:
        conn.execute(insert(HEAD).values(id=1, last_id=0, last_hash=""))
        prev = ""
    else:
        prev = head.last_hash
    row = {
        "at": round(time.time() if at is None else at, 6),
        "kind": kind,
        "actor": actor,
        "session_id": session_id,
        "attempt_id": attempt_id,
        "reason": reason,
        "data_json": _canon(data or {}),
    }
    h = event_hash(prev, row)
    new_id = conn.execute(insert(AUDIT).values(**row, prev_hash=prev, hash=h)).inserted_primary_key
    conn.execute(
        update(HEAD).where(HEAD.c.id == 1).values(last_id=int(new_id[0]), last_hash=h)  # type: ignore[index]
    )
    return h


def start_event_data(seed: int, terminal_id: str | None) -> dict[str, Any]:
    """The data of an attempt's ``start`` event: the seed :func:`verify` replays
    the answers from, and the terminal it started on."""
    return {"seed": seed, "terminal_id": terminal_id}


def finish_event_data(
    response_head: str, score: Mapping[str, Any], total: float, passed: bool | None
) -> dict[str, Any]:
    """The data of an attempt's ``finish`` event: its answer chain's head and
    its result, bound by :func:`score_digest` (what :func:`verify` checks)."""
    return {
        "response_head": response_head,
        "total": total,
        "passed": passed,
        "score": dict(score),
        "score_digest": score_digest(score, total, passed),
    }


def score_digest(score: Mapping[str, Any], total: float, passed: bool | None) -> str:
    """SHA-256 hex of the canonical JSON of a finished attempt's result: the
    engine's score (``TestScore.to_dict()``, as stored in ``score_json``),
    ``total_points`` and ``passed``. The ``finish`` audit event carries it as
    ``score_digest``, so the stored result cannot change without breaking the
    chain. Floats are written as Python's shortest round-trip text, so the
    digest of the stored row read back equals the digest made at finish."""
    body = {"score": score, "total": float(total), "passed": passed}
    return hashlib.sha256(_canon(body).encode()).hexdigest()


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


def replay(rules: ExamRules, seed: int, answers: Sequence[Mapping[str, Any]], reason: str) -> Any:
    """The final engine state of a test started from ``seed`` and driven by
    the chained ``answers`` (response rows in seq order), finished with
    ``reason``. Raises :class:`ReplayError` where an answer does not fit."""
    state = cat.start(rules.design, rules.bank, seed)
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
) -> tuple[dict[str, Any], str | None]:
    """The score of an attempt recomputed from its chained answers, and a note
    on how when it is not a plain replay. Replays through the engine from the
    seed; where the design makes the live selection unrepeatable
    (:attr:`ExamRules.replay_may_diverge`) and the replay does not fit, scores
    the stored engine state after checking that its answers are exactly the
    chained ones. Raises :class:`ReplayError` when neither is possible."""
    try:
        state = replay(rules, seed, answers, reason)
        return cat.score(state, rules.bank).to_dict(), None
    except ReplayError as exc:
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


@dataclass
class VerifyReport:
    events: int = 0
    attempts: int = 0
    responses: int = 0
    scores: int = 0  # finished attempts whose score was recomputed
    checkpoints: int = 0  # checkpoint lines checked
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def key_switches(conn: Connection) -> list[KeySwitch]:
    """The checkpoint key replacements recorded in this database's audit chain
    (``site_checkpoint_key`` events a site writes; the chain itself is
    verified with the rest), as :class:`exam_server.checkpoints.KeySwitch`."""
    from exam_server import checkpoints as cps

    out = []
    rows = conn.execute(
        select(AUDIT.c.data_json).where(AUDIT.c.kind == "site_checkpoint_key").order_by(AUDIT.c.id)
    )
    for (data_json,) in rows:
        d = json.loads(data_json or "{}")
        if "from_n" in d and "key_id" in d and d.get("previous_key_id", "") != d["key_id"]:
            out.append(cps.KeySwitch(int(d["from_n"]), str(d["key_id"]), d.get("previous_key_id")))
    return out


def verify(
    engine: Engine,
    *,
    checkpoint_file: Path | None = None,
    public_key: Ed25519PublicKey | None = None,
    expect: tuple[str, ...] = (),
    scores: bool = True,
    other_keys: Sequence[Ed25519PublicKey] = (),
) -> VerifyReport:
    """Recompute the audit chain, every attempt's response chain, check that
    each finished attempt's recorded response head matches, and (``scores``)
    recompute each finished attempt's score and verdict from its chained
    answers. With ``checkpoint_file`` and the checkpoint ``public_key``: check
    the file's lines and that the database still holds every head they
    recorded; ``expect``: fingerprints copied into session reports. A site
    whose checkpoint key was replaced has the replacements in its chain
    (``site_checkpoint_key``): each line is checked with the key its number
    calls for, the replaced keys' public keys given as ``other_keys``."""
    from exam_server import checkpoints as cps

    rep = VerifyReport()
    finish_heads: dict[int, str] = {}
    finish_data: dict[int, dict[str, Any]] = {}
    seeds: dict[int, int] = {}
    file_report = None
    if checkpoint_file is not None:
        if public_key is None:
            raise ValueError("checking a checkpoint file needs the checkpoint public key")
        with engine.connect() as conn:
            switches = key_switches(conn)
        file_report = cps.read_file(
            checkpoint_file, public_key, expect, switches=switches, other_keys=other_keys
        )
    # The chain, the head and the answers must be read at one moment: on a
    # live server an event committed between two reads would look like a
    # removed row. A SQLite read transaction is already one snapshot;
    # PostgreSQL's default READ COMMITTED is not.
    snapshot = {} if engine.dialect.name == "sqlite" else {"isolation_level": "REPEATABLE READ"}
    with engine.connect().execution_options(**snapshot) as conn, conn.begin():
        prev = ""
        last_id = 0
        for row in conn.execute(select(AUDIT).order_by(AUDIT.c.id)).mappings():
            rep.events += 1
            if row["prev_hash"] != prev:
                rep.problems.append(
                    f"audit event {row['id']}: prev_hash does not link to event {last_id}"
                )
            if event_hash(row["prev_hash"], dict(row)) != row["hash"]:
                rep.problems.append(f"audit event {row['id']}: hash does not match its content")
            if row["attempt_id"] is not None and row["kind"] in ("finish", "start"):
                data = json.loads(row["data_json"])
                aid = int(row["attempt_id"])
                if row["kind"] == "start" and isinstance(data.get("seed"), int):
                    seeds[aid] = int(data["seed"])
                elif row["kind"] == "finish":
                    finish_data[aid] = data
                    head = data.get("response_head")
                    if isinstance(head, str):
                        finish_heads[aid] = head
            prev, last_id = row["hash"], row["id"]
        head_row = conn.execute(select(HEAD).where(HEAD.c.id == 1)).first()
        if head_row is not None and (head_row.last_hash != prev or head_row.last_id != last_id):
            rep.problems.append("audit head does not point at the last event (rows removed?)")
        chains: dict[int, str] = {}
        answers: dict[int, list[dict[str, Any]]] = {}
        for r in conn.execute(
            select(RESPONSE).order_by(RESPONSE.c.attempt_id, RESPONSE.c.seq)
        ).mappings():
            rep.responses += 1
            aid = int(r["attempt_id"])
            p = chains.get(aid, "")
            if r["prev_hash"] != p:
                rep.problems.append(
                    f"response {r['id']} (attempt {aid}, seq {r['seq']}): broken link"
                )
            if response_hash(r["prev_hash"], dict(r)) != r["hash"]:
                rep.problems.append(f"response {r['id']} (attempt {aid}, seq {r['seq']}): altered")
            chains[aid] = r["hash"]
            answers.setdefault(aid, []).append(dict(r))
        attempts = conn.execute(
            select(
                ATTEMPT.c.id,
                ATTEMPT.c.response_head,
                ATTEMPT.c.status,
                ATTEMPT.c.seed,
                # The last snapshot: a finished attempt's is its final state.
                select(SNAPSHOT.c.state)
                .where(SNAPSHOT.c.attempt_id == ATTEMPT.c.id)
                .order_by(SNAPSHOT.c.seq.desc())
                .limit(1)
                .scalar_subquery()
                .label("state"),
                ATTEMPT.c.finish_reason,
                ATTEMPT.c.score_json,
                ATTEMPT.c.total_points,
                ATTEMPT.c.passed,
                ATTEMPT.c.pass_reason,
                EXAM.c.id.label("exam_id"),
                CANDIDATE.c.category,
            )
            .join(SESSION, SESSION.c.id == ATTEMPT.c.session_id)
            .join(EXAM, EXAM.c.id == SESSION.c.exam_id)
            .join(CANDIDATE, CANDIDATE.c.id == ATTEMPT.c.candidate_id)
            .order_by(ATTEMPT.c.id)
        ).mappings()
        exams: dict[int, ExamRules] = {}
        for a in attempts:
            rep.attempts += 1
            aid = int(a["id"])
            if chains.get(aid, "") != a["response_head"]:
                rep.problems.append(
                    f"attempt {aid}: stored response head differs from its responses"
                )
            if aid in finish_heads and finish_heads[aid] != chains.get(aid, ""):
                rep.problems.append(f"attempt {aid}: responses changed after the finish event")
            if scores and (a["status"] == "finished" or a["score_json"] is not None):
                eid = int(a["exam_id"])
                if eid not in exams:
                    exam_row = conn.execute(
                        select(EXAM.c.design_json, EXAM.c.bank_json, EXAM.c.policy_json).where(
                            EXAM.c.id == eid
                        )
                    ).one()
                    retired = conn.execute(
                        select(WITHDRAWN.c.item_index).where(WITHDRAWN.c.exam_id == eid).limit(1)
                    ).first()
                    exams[eid] = replace(
                        ExamRules.from_row(*exam_row), withdrawn=retired is not None
                    )
                rep.problems.extend(
                    _check_score(rep, a, exams[eid], seeds, finish_data, answers.get(aid, []))
                )
        if file_report is not None:
            rep.checkpoints = len(file_report.checkpoints)
            rep.problems.extend(file_report.problems)
            rep.problems.extend(cps.check_database(conn, file_report.checkpoints))
    return rep


def _check_score(
    rep: VerifyReport,
    a: Mapping[Any, Any],
    rules: ExamRules,
    seeds: Mapping[int, int],
    finish_data: Mapping[int, dict[str, Any]],
    answers: Sequence[Mapping[str, Any]],
) -> list[str]:
    aid = int(a["id"])
    out: list[str] = []
    if a["score_json"] is None:
        return [f"attempt {aid}: finished, but no score_json stored"]
    try:
        stored = json.loads(a["score_json"])
    except ValueError:
        return [f"attempt {aid}: score_json is not JSON"]
    if not isinstance(stored, dict):
        return [f"attempt {aid}: score_json is not a score"]
    passed = None if a["passed"] is None else bool(a["passed"])
    total = None if a["total_points"] is None else float(a["total_points"])
    data = finish_data.get(aid)
    if data is None:
        out.append(f"attempt {aid}: finished, but the audit log has no finish event for it")
    else:
        out.extend(_check_finish_event(aid, data, stored, total, passed))
    seed = seeds.get(aid)
    if seed is None:
        out.append(f"attempt {aid}: no start event with its seed in the audit log")
        seed = int(a["seed"])
    elif seed != int(a["seed"]):
        out.append(f"attempt {aid}: seed is {a['seed']} stored, {seed} in the start event")
    try:
        score, note = recompute_score(
            rules,
            seed,
            answers,
            a["finish_reason"] or "submitted",
            state_codec.unpack_json(a["state"]) if a["state"] else None,
        )
    except ReplayError as exc:
        out.append(f"attempt {aid}: its chained answers cannot be scored: {exc}")
        return out
    rep.scores += 1
    if note is not None:
        rep.notes.append(f"attempt {aid}: {note}")
    expected = verdict(rules.policy, str(a["category"]), score)
    out.extend(compare_score(aid, stored, score, total, passed, a["pass_reason"], expected))
    return out
