"""Session forensics, the item watch and the review workflow on the database.

* :func:`analyse_session` — a stored session through every index;
* :func:`feed_watch` — the answers of finished attempts not yet seen go into
  each item's CUSUM (``forensics.drift``); an item crossing the threshold is
  flagged for review (a review row and an audit event);
* :func:`decide` — a reviewer retires or clears a flagged item, with a
  reason, audited in the chain (``exam_server.audit``). Retiring sets the
  item's status in the item bank (new exams leave it out) and withdraws it
  from every exam that holds it (:class:`WithdrawnItem`, read with the
  exposure counts, so the next selection leaves it out: ``exam_server.usage``);
  tests assembled before it and not started get a parallel item in its place
  (``exam_server.forensics.forms``, called after the decision);
* :func:`review_queue` — the items and their current review status.

All blocking (SQLAlchemy): the API calls them in a worker thread.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np
from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection, Engine

from cat_engine.bank import BankArrays
from exam_server import audit
from exam_server.db import writer
from exam_server.forensics.load import (
    ATTEMPT,
    EXAM,
    RESPONSE,
    SESSION,
    LoadedSession,
    assemble,
    item_times,
    load_session,
)
from exam_server.forensics.models import (
    ItemReview,
    ItemWatchState,
    WatchedAttempt,
    WithdrawnItem,
)
from exam_server.snapshot import SealedBankError, bank_from_json
from forensics import rt
from forensics.ability import estimate, grid_log_likelihood
from forensics.drift import CusumSettings, ItemWatch, administration_scores
from forensics.session import ForensicSettings, SessionReport, analyse
from item_bank.records import ItemStatus
from item_bank.store import ItemStore

REVIEW = ItemReview.__table__  # type: ignore[attr-defined]
WATCH = ItemWatchState.__table__  # type: ignore[attr-defined]
WATCHED = WatchedAttempt.__table__  # type: ignore[attr-defined]
WITHDRAWN = WithdrawnItem.__table__  # type: ignore[attr-defined]

#: The statuses a reviewer may set on a flagged item.
DECISIONS = ("retired", "cleared")


class ReviewError(ValueError):
    """A review step that is not allowed (unknown item, not flagged, no reason)."""


class UnknownItem(ReviewError):
    """An item id neither the item bank nor any exam's frozen bank holds."""


def analyse_session(
    engine: Engine,
    ref: str,
    *,
    compromised: Sequence[str] = (),
    settings: ForensicSettings | None = None,
) -> tuple[LoadedSession, SessionReport]:
    """Load session ``ref`` (id or code) and run every index.

    compromised: item ids of a suspected leaked set (those the session used
    are tested; none used: no preknowledge index)."""
    loaded = load_session(engine, ref)
    mask = None
    if compromised:
        wanted = set(compromised)
        mask = np.array([iid in wanted for iid in loaded.data.items.item_ids], dtype=bool)
        if not mask.any():
            mask = None
    return loaded, analyse(loaded.data, settings, mask)


# --- the item watch ---------------------------------------------------------------


@dataclass(frozen=True)
class WatchResult:
    """attempts: taken in by this run; administrations: answers fed;
    flagged: item ids newly flagged for review."""

    attempts: int
    administrations: int
    flagged: tuple[str, ...]


def _exam_scores(
    conn: Connection, bank: BankArrays, attempt_ids: list[int]
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Every final answer of the given attempts of one exam, in attempt order:
    the item ids (k,), the combined residuals u (k,) and the (k, 3) right/wrong,
    P(right | θ̂) and time residual z behind them (NaN where not a right/wrong
    item or not timed). θ̂ and τ̂ are each attempt's own, all at once."""
    rows: list[Any] = []
    for start in range(0, len(attempt_ids), 5000):  # bound the IN list
        chunk = attempt_ids[start : start + 5000]
        rows += conn.execute(
            select(
                RESPONSE.c.attempt_id,
                RESPONSE.c.item_id,
                RESPONSE.c.option,
                RESPONSE.c.elapsed,
                RESPONSE.c.server_elapsed,
            )
            .where(RESPONSE.c.attempt_id.in_(chunk), RESPONSE.c.kind == "answer")
            .order_by(RESPONSE.c.attempt_id, RESPONSE.c.seq)
        ).all()
    if not rows:
        return [], np.zeros(0), np.zeros((0, 3))
    item_ids = sorted({str(r.item_id) for r in rows}, key=bank.index_of)
    attempts = [
        SimpleNamespace(id=a, terminal_id=None, registration_number=str(a)) for a in attempt_ids
    ]
    data, _ = assemble(bank, item_ids, attempts, rows, {}, item_times(conn, item_ids))
    items = data.items
    theta, _ = estimate(grid_log_likelihood(data), 1.0)
    lt = data.log_seconds
    tau, _ = rt.speed(lt, items.alpha, items.beta)
    z = rt.residuals(lt, tau, items.alpha, items.beta)
    p = items.params
    logistic = 1.0 / (1.0 + np.exp(-p.a[None, :] * (theta[:, None] - p.b[None, :])))
    p_right = np.where(items.dichotomous[None, :], p.c + (p.d - p.c) * logistic, np.nan)
    correct = data.correct
    u = administration_scores(correct, p_right, z)
    # Row-major: attempt by attempt (oldest first), as the watch must see them.
    who, which = np.nonzero(data.answered)
    parts = np.stack([correct[who, which], p_right[who, which], z[who, which]], axis=1)
    return [item_ids[j] for j in which], u[who, which], parts


def feed_watch(
    engine: Engine, now: float, settings: CusumSettings | None = None, actor: str = "item-watch"
) -> WatchResult:
    """Feed the finished attempts not yet watched, oldest first; flag items
    whose CUSUM crosses the threshold (review row + audit event)."""
    cfg = settings or CusumSettings()
    with writer(engine).begin() as conn:
        todo = conn.execute(
            select(ATTEMPT.c.id, SESSION.c.exam_id)
            .join(SESSION, SESSION.c.id == ATTEMPT.c.session_id)
            .where(ATTEMPT.c.status == "finished")
            .where(ATTEMPT.c.id.not_in(select(WATCHED.c.attempt_id)))
            .order_by(ATTEMPT.c.finished_at, ATTEMPT.c.id)
        ).all()
        if not todo:
            return WatchResult(0, 0, ())
        ids: list[str] = []
        scores: list[float] = []
        parts: list[np.ndarray] = []
        by_exam: dict[int, list[int]] = {}
        for attempt_id, exam_id in todo:
            by_exam.setdefault(int(exam_id), []).append(int(attempt_id))
        # Exam by exam (each has its own frozen parameters); an item shared by
        # two exams sees the first exam's new attempts, then the second's.
        for exam_id, attempt_ids in by_exam.items():
            text = conn.execute(select(EXAM.c.bank_json).where(EXAM.c.id == exam_id)).scalar_one()
            got_ids, u, part = _exam_scores(conn, bank_from_json(text), attempt_ids)
            ids.extend(got_ids)
            scores.extend(u.tolist())
            parts.append(part)
        names = sorted(set(ids))
        col = {iid: k for k, iid in enumerate(names)}
        # Per item: answers scored, right, expected right, timed, Σ time residual.
        sums = np.zeros((len(names), 5))
        if ids:
            obs = np.concatenate(parts)
            at = np.array([col[i] for i in ids], dtype=np.int64)
            scored = np.isfinite(obs[:, 0]) & np.isfinite(obs[:, 1])
            timed = np.isfinite(obs[:, 2])
            for c, v in enumerate(
                (scored, np.where(scored, obs[:, 0], 0), np.where(scored, obs[:, 1], 0),
                 timed, np.where(timed, obs[:, 2], 0))
            ):  # fmt: skip
                np.add.at(sums[:, c], at, v.astype(np.float64))
        watch = ItemWatch(len(names), cfg)
        stored = {
            str(r.item_id): r for r in conn.execute(select(WATCH).where(WATCH.c.item_id.in_(names)))
        }
        for iid, r in stored.items():
            k = col[iid]
            watch.cusum[k] = float(r.cusum)
            watch.count[k] = int(r._mapping["count"])  # (Row.count is tuple.count)
            watch.flagged_at[k] = -1 if r.flagged_count is None else int(r.flagged_count)
        new = watch.update(np.array([col[i] for i in ids], dtype=np.int64), np.array(scores))
        for k, iid in enumerate(names):
            before = stored.get(iid)
            values = {
                "cusum": float(watch.cusum[k]),
                "count": int(watch.count[k]),
                "flagged_count": None if watch.flagged_at[k] < 0 else int(watch.flagged_at[k]),
                "updated_at": now,
                "n_scored": int(sums[k, 0]) + (before.n_scored if before is not None else 0),
                "sum_right": float(sums[k, 1]) + (before.sum_right if before is not None else 0),
                "sum_expected": float(sums[k, 2])
                + (before.sum_expected if before is not None else 0),
                "n_timed": int(sums[k, 3]) + (before.n_timed if before is not None else 0),
                "sum_time_z": float(sums[k, 4]) + (before.sum_time_z if before is not None else 0),
            }
            if iid in stored:
                conn.execute(update(WATCH).where(WATCH.c.item_id == iid).values(**values))
            else:
                conn.execute(insert(WATCH).values(item_id=iid, **values))
        flagged = tuple(names[k] for k in new.tolist())
        for iid in flagged:
            k = col[iid]
            evidence = {
                "cusum": round(float(watch.cusum[k]), 3),
                "administrations": int(watch.count[k]),
                "k": cfg.k,
                "h": cfg.h,
            }
            _review_row(conn, iid, "flagged", actor, "CUSUM crossed the threshold", evidence, now)
        conn.execute(insert(WATCHED), [{"attempt_id": int(a), "at": now} for a, _ in todo])
    return WatchResult(len(todo), len(ids), flagged)


# --- the review workflow ----------------------------------------------------------


def _review_row(
    conn: Connection,
    item_id: str,
    status: str,
    actor: str,
    reason: str,
    evidence: dict[str, Any],
    now: float,
) -> None:
    conn.execute(
        insert(REVIEW).values(
            item_id=item_id,
            status=status,
            actor=actor,
            reason=reason,
            evidence_json=json.dumps(evidence, sort_keys=True),
            at=now,
        )
    )
    audit.append(
        conn,
        f"item_{status}",
        actor,
        reason=reason,
        data={"item_id": item_id, **evidence},
        at=now,
    )


def current_status(conn: Connection, item_id: str) -> str | None:
    """The item's latest review status (None: never flagged)."""
    row = conn.execute(
        select(REVIEW.c.status)
        .where(REVIEW.c.item_id == item_id)
        .order_by(REVIEW.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else str(row.status)


def _known(conn: Connection, item_id: str) -> bool:
    """Whether the item bank or an exam's frozen bank holds ``item_id``."""
    try:
        ItemStore(conn.engine).item(item_id)
        return True
    except KeyError:
        pass
    sealed: SealedBankError | None = None
    for (text,) in conn.execute(select(EXAM.c.bank_json)):
        try:
            if item_id in bank_from_json(text).item_ids:
                return True
        except SealedBankError as exc:  # at an exam site, before its key (sites.md)
            sealed = exc
    if sealed is not None:  # it may be in the sealed exam: nobody here can tell
        raise ReviewError(f"{sealed}: flag after that, or at the centre")
    return False


def flag(engine: Engine, item_id: str, actor: str, reason: str, now: float) -> None:
    """Flag an item for review by hand (e.g. a leak reported from outside).
    Raises :class:`UnknownItem` for an id no bank holds (a mistyped id would
    otherwise be flagged, and retired, while the leaked item stayed in use)."""
    reason = reason.strip()
    if not reason:
        raise ReviewError("a reason is required")
    with engine.connect() as conn:
        if not _known(conn, item_id):
            raise UnknownItem(f"no item {item_id!r} in the item bank or any exam")
    with writer(engine).begin() as conn:
        if current_status(conn, item_id) in ("flagged", "retired"):
            raise ReviewError(f"item {item_id} is already {current_status(conn, item_id)}")
        _review_row(conn, item_id, "flagged", actor, reason, {}, now)


@dataclass(frozen=True)
class Withdrawal:
    """A retired item's place in one exam: leave ``item_index`` out of ``exam_id``."""

    exam_id: int
    item_index: int


def decide(
    engine: Engine, item_id: str, status: str, actor: str, reason: str, now: float
) -> list[Withdrawal]:
    """Retire or clear a flagged item. Returns where a retired item was withdrawn."""
    if status not in DECISIONS:
        raise ReviewError(f"status must be one of {', '.join(DECISIONS)}, got {status!r}")
    reason = reason.strip()
    if not reason:
        raise ReviewError("a reason is required")
    out: list[Withdrawal] = []
    with writer(engine).begin() as conn:
        was = current_status(conn, item_id)
        if was != "flagged":
            raise ReviewError(
                f"item {item_id} is {was or 'not flagged'}; only a flagged item is decided"
            )
        if status == "cleared":
            # Cleared: the watch starts over for this item.
            conn.execute(
                update(WATCH)
                .where(WATCH.c.item_id == item_id)
                .values(cusum=0.0, flagged_count=None, updated_at=now)
            )
        else:
            for exam_id, text in conn.execute(select(EXAM.c.id, EXAM.c.bank_json)):
                try:
                    bank = bank_from_json(text)
                except SealedBankError as exc:  # at an exam site, before its key (sites.md)
                    raise ReviewError(f"{exc}: decide after that, or at the centre") from None
                if item_id in bank.item_ids:
                    out.append(Withdrawal(int(exam_id), bank.index_of(item_id)))
            conn.execute(
                delete(WITHDRAWN).where(WITHDRAWN.c.item_id == item_id)
            )  # a re-retired item is written afresh
            if out:
                conn.execute(
                    insert(WITHDRAWN),
                    [
                        {
                            "exam_id": w.exam_id,
                            "item_index": w.item_index,
                            "item_id": item_id,
                            "at": now,
                        }
                        for w in out
                    ],
                )
        evidence = {"exams": [w.exam_id for w in out]} if status == "retired" else {}
        _review_row(conn, item_id, status, actor, reason, evidence, now)
    if status == "retired":
        ItemStore(writer(engine)).set_status([item_id], ItemStatus.RETIRED)
    return out


def withdrawn_indices(conn: Connection, exam_id: int) -> list[int]:
    """The bank indices of exam ``exam_id`` that retired items leave out of selection."""
    rows = conn.execute(select(WITHDRAWN.c.item_index).where(WITHDRAWN.c.exam_id == exam_id))
    return [int(r.item_index) for r in rows]


def _ratio(row: Any, num: str, den: str) -> float | None:
    if row is None or not row._mapping[den]:
        return None
    return float(row._mapping[num]) / float(row._mapping[den])


def review_queue(engine: Engine, limit: int = 500) -> list[dict[str, Any]]:
    """Every item with a review history or a watch state, flagged ones first:
    its latest status, reason, when, and its CUSUM."""
    with engine.connect() as conn:
        latest: dict[str, Any] = {}
        for r in conn.execute(select(REVIEW).order_by(REVIEW.c.id)):
            latest[str(r.item_id)] = r
        watch = {
            str(r.item_id): r
            for r in conn.execute(select(WATCH).order_by(WATCH.c.cusum.desc()).limit(limit))
        }
    out: list[dict[str, Any]] = []
    for iid in sorted(set(latest) | set(watch)):
        rev, w = latest.get(iid), watch.get(iid)
        out.append(
            {
                "item_id": iid,
                "status": rev.status if rev is not None else "watching",
                "reason": rev.reason if rev is not None else "",
                "actor": rev.actor if rev is not None else "",
                "at": float(rev.at) if rev is not None else None,
                "cusum": float(w.cusum) if w is not None else None,
                "administrations": int(w._mapping["count"]) if w is not None else 0,
                # Observed against what the parameters predict, over every
                # administration watched (not reset by clearing).
                "p_right": _ratio(w, "sum_right", "n_scored"),
                "p_expected": _ratio(w, "sum_expected", "n_scored"),
                "time_z": _ratio(w, "sum_time_z", "n_timed"),
            }
        )
    order = {"flagged": 0, "retired": 1, "cleared": 2, "watching": 3}
    out.sort(key=lambda r: (order.get(r["status"], 4), -(r["cusum"] or 0.0)))
    return out[:limit]
