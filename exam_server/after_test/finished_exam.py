"""A finished exam for the demo and the tests: candidates who sat a whole
test, played through the engine before anything is stored (answers drawn from
the bank's IRT model with area-specific abilities), then stored as the server
stores a sitting (answer chain, snapshots, start and finish events, final
scores) with their signed receipts, so ``seleksi audit verify`` replays them
and finds their scores.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Table, insert, select, update
from sqlalchemy.engine import Engine

from cat_engine import engine as cat
from cat_engine.bank import BankArrays
from cat_engine.design import TestDesign
from cat_engine.irt import category_probabilities
from cat_engine.state import TestState
from exam_server import audit, receipts
from exam_server import models as m
from exam_server import scheduling as sch
from exam_server.attempts import storage
from exam_server.attempts.frames import published_points
from exam_server.audit import verdict
from exam_server.db import writer
from exam_server.results.rules import RankingPolicy
from exam_server.snapshot import PublicItemContent


def _t(model: Any) -> Table:
    return model.__table__


CATEGORIES = ("general", "general", "general", "cumlaude", "disability")


class Stopped(Exception):
    """The seeding was asked to stop before it wrote anything."""


@dataclass
class FinishedExam:
    exam_code: str
    session_code: str
    registration_numbers: list[str] = field(default_factory=list)
    receipts: dict[str, str] = field(default_factory=dict)  # regno → text code


def _answers(
    rng: np.random.Generator, bank: BankArrays, items: list[int], theta: np.ndarray
) -> list[int]:
    """Options drawn from each item's IRT model at ``theta[area]``, in ``items``'
    order (one draw of the category, then of an option with it, per item)."""
    probs_all = category_probabilities(theta, bank.params.subset(items))  # (areas, n, K)
    out: list[int] = []
    for j, item in enumerate(items):
        probs = probs_all[int(bank.content_area[item]), j]
        k = int(rng.choice(probs.shape[0], p=probs / probs.sum()))
        options = np.flatnonzero(bank.option_category[item, : bank.n_options[item]] == k)
        out.append(int(rng.choice(options)) if options.size else -1)
    return out


def seed_finished_exam(
    engine: Engine,
    *,
    design: TestDesign,
    bank: BankArrays,
    items: list[PublicItemContent],
    formations: Sequence[str],
    site_code: str,
    room_code: str,
    receipt_key: Ed25519PrivateKey | None,
    exam_code: str = "SKD-HASIL",
    exam_name: str = "SKD CPNS, sesi selesai (demo)",
    n_candidates: int = 60,
    prefix: str = "2023",
    seed: int = 20,
    starts_at: float = 1_735_700_400.0,  # 2025-01-01 03:00 UTC
    area_sd: float = 0.6,
    stop: Callable[[], bool] | None = None,
) -> FinishedExam:
    """An exam whose one closed session holds ``n_candidates`` finished
    attempts. Each candidate's ability in a content area is ``0.8·g +
    area_sd·z`` (g, z standard normal), so areas differ from the total.

    Every test is played first (the forms' assembly takes most of the time),
    then the exam, its session, candidates and sittings are written; the
    sittings in one transaction. stop: asked between tests and last before
    anything is written; when it says True, nothing is written and
    :class:`Stopped` is raised (the demo's background seeding, when the demo
    stops first)."""
    rng = np.random.default_rng(seed)
    policy = RankingPolicy.default_2024()
    # Half the test's time spread over its items: no test ends on the clock.
    n_total = sum(sec.n_items for sec in design.sections)
    per_item = 0.5 * (design.time_limit_seconds or 6000.0) / max(n_total, 1)
    categories = [CATEGORIES[i % len(CATEGORIES)] for i in range(n_candidates)]
    n_areas = len(bank.content_codes)
    played: list[_Played] = []
    for k in range(n_candidates):
        if stop is not None and stop():
            raise Stopped
        theta = 0.8 * rng.normal() + area_sd * rng.normal(size=n_areas)
        played.append(
            _play(rng, design, bank, policy, categories[k], seed * 100_000 + k, theta, per_item)
        )
    if stop is not None and stop():
        raise Stopped
    return _write_finished_exam(
        engine,
        design=design,
        bank=bank,
        items=items,
        policy=policy,
        played=played,
        formations=formations,
        categories=categories,
        site_code=site_code,
        room_code=room_code,
        receipt_key=receipt_key,
        exam_code=exam_code,
        exam_name=exam_name,
        prefix=prefix,
        starts_at=starts_at,
        per_item=per_item,
    )


@dataclass
class _Played:
    """One candidate's whole test, played through the engine before anything
    is stored: the answers in order, the states to snapshot, the result."""

    seed: int
    answers: list[tuple[int, str, int, str | None]]  # screen number, item id, option, chosen
    snapshots: dict[int, TestState]  # seq → state after it (0: the start; the last: final)
    score: dict[str, Any]
    passed: bool | None
    reason: str


def _play(
    rng: np.random.Generator,
    design: TestDesign,
    bank: BankArrays,
    policy: RankingPolicy,
    category: str,
    attempt_seed: int,
    theta: np.ndarray,
    per_item: float,
) -> _Played:
    """One candidate's test through the engine as the server drives it: a
    linear form answered in its order, an adaptive test item by item; answers
    drawn from the bank's IRT model at the candidate's ability in each item's
    content area (see :func:`_answers`)."""
    state = cat.start(design, bank, attempt_seed)
    snapshots: dict[int, TestState] = {0: state}
    answers: list[tuple[int, str, int, str | None]] = []
    numbers: dict[int, int] = {}
    seq = 0
    # A linear form is answered in its order; an adaptive test item by item.
    form = [i for sec in state.sections for i in sec.items] if design.mode == "linear" else None
    drawn = iter(_answers(rng, bank, form, theta)) if form is not None else None
    while True:
        nxt = (form[seq] if seq < len(form) else None) if form is not None else None
        if form is None and not cat.is_complete(state):
            nxt = cat.current(state)
        if nxt is None:
            break
        current: int = nxt
        numbers.setdefault(current, len(numbers) + 1)  # its number on the screen
        option = next(drawn) if drawn is not None else _answers(rng, bank, [current], theta)[0]
        choices = cat.Choices() if form is None else None
        before = state
        state = cat.record(state, bank, current, option, elapsed=per_item, choices=choices)
        seq += 1
        answers.append(
            (numbers[current], bank.item_ids[current], option, audit.encode_choices(choices))
        )
        if storage.snapshot_due(before, state, seq, 10):
            snapshots[seq] = state
    final = cat.finish(state, "submitted")
    snapshots[seq] = final  # the final state replaces a snapshot of the last answer
    score = cat.score(final, bank).to_dict()
    passed, reason = verdict(policy, category, score)
    return _Played(attempt_seed, answers, snapshots, score, passed, reason)


def _write_finished_exam(
    engine: Engine,
    *,
    design: TestDesign,
    bank: BankArrays,
    items: list[PublicItemContent],
    policy: RankingPolicy,
    played: list[_Played],
    formations: Sequence[str],
    categories: list[str],
    site_code: str,
    room_code: str,
    receipt_key: Ed25519PrivateKey | None,
    exam_code: str,
    exam_name: str,
    prefix: str,
    starts_at: float,
    per_item: float,
) -> FinishedExam:
    """Store the played tests as the server stores a sitting: the attempt, its
    ``start`` event, every answer chained onto the answer chain
    (``storage.chained_response``) with the engine's snapshots, the final
    state and the ``finish`` event binding the result
    (``audit.finish_event_data``), so that ``seleksi audit verify`` replays
    each answer and finds the stored score; the receipts signed at finish."""
    sch.create_exam(engine, exam_code, exam_name, design, bank, items, policy)
    session_code = f"{exam_code}-S1"
    session_id = sch.create_session(
        engine, session_code, exam_code, site_code, room_code, starts_at
    )
    rows = ["registration_number,name,category,formation_code,session_code,birth_date"]
    for i, category in enumerate(categories):
        rows.append(
            f"{prefix}{i + 1:04d},Peserta {prefix}-{i + 1},{category},"
            f"{formations[i % len(formations)]},{session_code},"
            f"{1990 + i % 10}-0{1 + i % 9}-1{i % 9}"
        )
    sch.import_candidates_csv(engine, "\n".join(rows) + "\n")
    out = FinishedExam(exam_code, session_code)
    cands, attempts = _t(m.Candidate), _t(m.Attempt)
    limit = float(design.time_limit_seconds or 0.0)
    finished = starts_at + 5400.0
    # BEGIN IMMEDIATE: the audit chain's head is read and extended here while a
    # served demo may write its own events.
    with writer(engine).begin() as conn:
        conn.execute(
            update(_t(m.ExamSession))
            .where(_t(m.ExamSession).c.id == session_id)
            .values(status="closed", opened_at=starts_at, closed_at=starts_at + 7200.0)
        )
        people = conn.execute(
            select(cands.c.id, cands.c.registration_number)
            .where(cands.c.session_id == session_id)
            .order_by(cands.c.registration_number)
        ).all()
        responses: list[dict[str, Any]] = []
        snapshots: list[dict[str, Any]] = []
        for person, play in zip(people, played, strict=True):
            actor = f"candidate:{person.id}"
            key = conn.execute(
                insert(attempts).values(
                    session_id=session_id,
                    candidate_id=person.id,
                    status="running",
                    seed=play.seed,
                    last_seq=0,
                    response_head="",
                    terminal_released=False,
                    remaining_at_start=limit,
                    last_seen_at=starts_at,
                    started_at=starts_at,
                )
            ).inserted_primary_key
            assert key is not None
            aid = int(key[0])
            audit.append(
                conn,
                "start",
                actor,
                session_id=session_id,
                attempt_id=aid,
                data=audit.start_event_data(
                    play.seed, "DEMO", audit.candidate_facts(conn, person.id)
                ),
                at=starts_at,
            )
            head, now = "", starts_at
            for seq, (number, item_id, option, chosen) in enumerate(play.answers, start=1):
                now += per_item
                row = storage.chained_response(
                    aid,
                    head,
                    seq,
                    "answer",
                    number,
                    item_id,
                    option,
                    False,
                    per_item,
                    now,
                    server_elapsed=per_item,
                    chosen=chosen,
                )
                head = row["hash"]
                responses.append(row)
            snapshots += [storage.snapshot_row(aid, s, st) for s, st in play.snapshots.items()]
            total = float(play.score.get("total", 0.0))
            conn.execute(
                update(attempts)
                .where(attempts.c.id == aid)
                .values(
                    status="finished",
                    last_seq=len(play.answers),
                    response_head=head,
                    remaining_at_start=max(0.0, limit - (now - starts_at)),
                    last_seen_at=finished,
                    finished_at=finished,
                    finish_reason="submitted",
                    score_json=json.dumps(play.score, separators=(",", ":")),
                    total_points=total,
                    passed=play.passed,
                    pass_reason=play.reason[:300],
                )
            )
            audit.append(
                conn,
                "finish",
                actor,
                session_id=session_id,
                attempt_id=aid,
                reason="submitted",
                data=audit.finish_event_data(head, play.score, total, play.passed),
                at=finished,
            )
            out.registration_numbers.append(person.registration_number)
            if receipt_key is not None:
                points, total_points = published_points(policy, play.score)
                r = receipts.sign_receipt(
                    receipt_key,
                    registration_number=person.registration_number,
                    exam=exam_code,
                    session=session_code,
                    scores=points,
                    total=total_points,
                    chain_head=head,
                )
                out.receipts[person.registration_number] = receipts.encode(r)
        # Many rows in one statement each (executemany), not one statement a row.
        if responses:
            conn.execute(insert(storage.RESPONSE), responses)
        conn.execute(insert(storage.SNAPSHOT), snapshots)
    return out
