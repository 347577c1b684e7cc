"""What a candidate does at the terminal: answer, flag, navigate, finish.

Each action is checked (status, clock, sequence number, item), applied by
the engine to a new state, made durable (the group commit), and only then
applied in memory, acknowledged and published.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from cat_engine import engine as cat
from cat_engine.errors import EngineError
from cat_engine.exposure import ExposureUsage
from cat_engine.state import TestState
from exam_server import audit
from exam_server import protocol as p
from exam_server.attempts import frames, places, storage, verdicts
from exam_server.attempts.state import ACTIVE, LiveAttempt, check_active, check_seq
from exam_server.events import LiveEvent
from exam_server.scaleout.locks import check_attempt_current
from exam_server.usage import Administered

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from exam_server.attempts.service import AttemptService

log = logging.getLogger(__name__)

ENGINE_CODES = {
    "not_presented": "not_presented",
    "already_answered": "already_answered",
    "not_current": "not_current",
    "complete": "attempt_finished",
    "navigation_not_allowed": "not_allowed",
    "invalid_option": "bad_option",
}


def engine_code(exc: EngineError) -> str:
    """The protocol error code for an engine refusal."""
    return ENGINE_CODES.get(exc.code, "bad_field")


def _checked_index(la: LiveAttempt, number: int, seq: int | None) -> int:
    try:
        return la.index_of(number)
    except p.ProtocolError as exc:
        exc.ref = seq
        raise


async def answer(svc: AttemptService, la: LiveAttempt, msg: p.Answer) -> list[dict[str, Any]]:
    """Store an answer, then acknowledge it (adaptive: with the next item)."""
    async with la.lock:
        if msg.seq <= la.last_seq:
            return [p.frame("ack", seq=msg.seq, duplicate=True)]
        now = svc.clock.now()
        check_active(la, now)
        check_seq(la, msg.seq)
        idx = _checked_index(la, msg.number, msg.seq)
        n_opt = int(la.exam.bank.n_options[idx])
        if msg.option >= n_opt:
            raise p.ProtocolError("bad_option", f"item {msg.number} has {n_opt} options", msg.seq)
        adaptive = la.exam.mode == "adaptive"
        flagged = la.flags.get(msg.number, False) if msg.flagged is None else msg.flagged
        if adaptive:
            flagged = False
        # The engine counts time from the server's clock, never the
        # terminal's report (kept in the response row for analysis).
        since = max(la.last_event_at, la.running_since or now)
        server_elapsed = max(0.0, now - since) if la.running_since is not None else 0.0
        # The server's deadline (with proctor extensions) decides when time
        # is up; keep the engine's own counter below the design's limit so
        # that an extension is never cut short by the engine.
        limit = la.exam.design.time_limit_seconds
        if limit is not None:
            used = float(la.state.time_used)
            server_elapsed = min(server_elapsed, max(0.0, float(limit) - used - 0.001))
        option = msg.option

        async def step(usage: ExposureUsage | None) -> tuple[TestState, cat.Choices | None]:
            # The choice depends on the usage of this moment: recorded with
            # the answer, so that a replay (a load after a crash) takes it.
            choices = cat.Choices() if adaptive else None
            try:
                state = cat.record(
                    la.state,
                    la.exam.bank,
                    idx,
                    option,
                    flagged=flagged,
                    elapsed=server_elapsed,
                    usage=usage if adaptive else None,
                    choices=choices,
                )
            except EngineError as exc:
                raise p.ProtocolError(engine_code(exc), exc.message, msg.seq) from None
            return state, choices

        given: Administered | None = None
        if adaptive:
            # The engine picks the next item under the exam's exposure
            # control (exam_server.attempts.places).
            new_state, choices, given = await places.administer(svc, la.exam, la.state, step)
        else:
            new_state, choices = await step(None)
        await store_response(
            svc,
            la,
            msg.seq,
            "answer",
            msg.number,
            idx,
            msg.option,
            flagged,
            msg.elapsed,
            new_state,
            now,
            given,
            server_elapsed=server_elapsed,
            chosen=audit.encode_choices(choices),
        )
        if msg.option >= 0:
            la.answers[msg.number] = msg.option
        else:
            la.answers.pop(msg.number, None)
        la.flags[msg.number] = flagged
        la.last_event_at = now
        out = [p.frame("ack", seq=msg.seq, duplicate=False, number=msg.number)]
        finished = cat.is_complete(la.state)
        if adaptive:
            nxt = la.number_of(cat.current(la.state))
            if nxt is not None and not finished:
                out.append(frames.item_frame(la, nxt))
        points = cat.running_points(la.state, la.exam.bank)
    svc.bus.publish(
        LiveEvent(
            "answer",
            la.session_id,
            la.id,
            la.registration_number,
            at=now,
            data={
                "number": msg.number,
                "item": idx,
                "item_id": la.exam.bank.item_ids[idx],
                "option": msg.option,
                "flagged": flagged,
                "elapsed": msg.elapsed,
                "answered": len(la.answers),
                "n_items": la.exam.n_items,
                "points": {k: float(v) for k, v in points.items()},
                "total": float(sum(points.values())),
            },
        )
    )
    if finished:
        final = await finish(svc, la, "complete", f"candidate:{la.registration_number}")
        if final is not None:
            out.append(final)
    return out


async def flag(svc: AttemptService, la: LiveAttempt, msg: p.Flag) -> list[dict[str, Any]]:
    """Set or clear the doubtful flag ("ragu-ragu") of an item (linear tests)."""
    async with la.lock:
        if msg.seq <= la.last_seq:
            return [p.frame("ack", seq=msg.seq, duplicate=True)]
        now = svc.clock.now()
        check_active(la, now)
        if la.exam.mode != "linear":
            raise p.ProtocolError("not_allowed", "no doubtful flags in adaptive mode", msg.seq)
        check_seq(la, msg.seq)
        idx = _checked_index(la, msg.number, msg.seq)
        try:
            new_state = cat.flag(la.state, idx, msg.flagged)
        except EngineError as exc:
            raise p.ProtocolError(engine_code(exc), exc.message, msg.seq) from None
        option = la.answers.get(msg.number, -1)
        await store_response(
            svc, la, msg.seq, "flag", msg.number, idx, option, msg.flagged, 0.0, new_state, now
        )
        la.flags[msg.number] = msg.flagged
    svc.bus.publish(
        LiveEvent(
            "flag",
            la.session_id,
            la.id,
            la.registration_number,
            at=now,
            data={"number": msg.number, "item": idx, "flagged": msg.flagged},
        )
    )
    return [p.frame("ack", seq=msg.seq, duplicate=False, number=msg.number)]


async def navigate(svc: AttemptService, la: LiveAttempt, msg: p.Navigate) -> list[dict[str, Any]]:
    """Show another item (linear tests). Stored with the next answer or the
    next presence flush, not on its own: navigation is not an answer."""
    async with la.lock:
        now = svc.clock.now()
        check_active(la, now)
        if la.exam.mode != "linear":
            raise p.ProtocolError("not_allowed", "adaptive tests do not navigate")
        idx = la.index_of(msg.number)
        try:
            la.state = cat.navigate(la.state, idx)
        except EngineError as exc:
            raise p.ProtocolError(engine_code(exc), exc.message) from None
        la.dirty = True
        frame = frames.item_frame(la, msg.number)
    svc.bus.publish(
        LiveEvent(
            "navigate",
            la.session_id,
            la.id,
            la.registration_number,
            at=now,
            data={"number": msg.number, "item": idx},
        )
    )
    return [frame]


async def store_response(
    svc: AttemptService,
    la: LiveAttempt,
    seq: int,
    kind: str,
    number: int,
    idx: int,
    option: int,
    flagged: bool,
    elapsed: float,
    new_state: TestState,
    now: float,
    given: Administered | None = None,
    *,
    server_elapsed: float | None = None,
    chosen: str | None = None,
) -> None:
    """Make one answer/flag durable, then take ``new_state`` in memory.

    Stored: the narrow response row and attempt update, and the state as a
    snapshot when one is due (``storage.snapshot_due``). given: the items the
    step administered (counted in the same transaction); server_elapsed,
    chosen: what the engine was given and chose (``storage.response_row``)."""
    row = storage.response_row(
        la, seq, kind, number, idx, option, flagged, elapsed, now, server_elapsed, chosen
    )
    head = row["hash"]
    values = {
        "last_seq": seq,
        "response_head": head,
        "last_seen_at": now,
        "on_screen": storage.on_screen(new_state),
    }
    inserts: list[tuple[Any, dict[str, Any]]] = [(storage.RESPONSE, row)]
    if storage.snapshot_due(la.state, new_state, seq, svc.settings.snapshot_every):
        inserts.append((storage.SNAPSHOT, storage.snapshot_row(la.id, seq, new_state)))
    # The items this step gave already count for the next selection (they
    # were counted when the engine chose them: places.administer); taken
    # back if the commit fails.
    try:
        # Grouped with the other answers of this moment into one transaction;
        # the guard (scale-out) locks the attempt across processes and
        # refuses a stale copy (see storage.check_attempt_guards).
        await svc.committer.submit_rows(
            inserts,
            [(storage.ATTEMPT, la.id, values)],
            guard=(la.id, la.last_seq),
            usage=() if given is None or not given.indices else (given,),
        )
    except BaseException as exc:
        await places.forget(svc, la.exam, given)
        if not isinstance(exc, Exception):
            raise
        log.warning("answer of attempt %s seq %s not stored: %s", la.id, seq, exc)
        if getattr(exc, "stale", False):  # another process moved the attempt on
            svc.forget(la.id)
            stale_conn, la.conn = la.conn, None
            if stale_conn is not None:  # the terminal reconnects and reloads
                await stale_conn.close(p.CLOSE_POLICY, "replaced")
        raise p.ProtocolError("unavailable", ref=seq) from None
    old_step, la.state = la.state.step, new_state
    la.last_seq = seq
    la.response_head = head
    la.dirty = False
    if new_state.step != old_step:  # step counts presented items: linear never moves it
        la.refresh()


async def store_navigation(svc: AttemptService, la: LiveAttempt) -> None:
    """Store the item on screen (best effort: navigation is not an answer)."""
    screen = storage.on_screen(la.state)

    def write(conn: Connection) -> None:
        storage.update_attempt(conn, la.id, {"on_screen": screen})

    try:
        await svc.committer.submit(write)
        la.dirty = False
    except Exception:
        log.debug("navigation of attempt %s not stored", la.id, exc_info=True)


async def finish(
    svc: AttemptService, la: LiveAttempt, reason: str, actor: str
) -> dict[str, Any] | None:
    """End the attempt: score it, judge it under the exam's policy, store and
    publish the result; returns the final frame (None if it had ended).

    The clock stops as of now (a candidate's finish, the deadline, a
    proctor's act)."""
    async with la.lock:
        if la.status not in ACTIVE:
            return la.finish
        now = svc.clock.now()
        remaining = la.remaining(now)
        if reason == "time_up" and (la.status != "running" or remaining > 0):
            # The sweep saw the deadline before it took the lock; meanwhile
            # the copy may have learnt of a pause or an extension.
            return None
        final_state = cat.finish(la.state, reason)
        score = cat.score(final_state, la.exam.bank).to_dict()
        final = storage.snapshot_row(la.id, la.last_seq, final_state)
        passed, reasons = verdicts.verdict(la.exam, la.category, score)
        why = reasons["en"]
        total = float(score.get("total", 0.0))
        score_json = json.dumps(score, separators=(",", ":"))
        # The result bound into the audit chain by hash: a later edit of
        # score_json/total_points/passed breaks `seleksi audit verify`.
        event = audit.finish_event_data(la.response_head, score, total, passed)

        # What this process believes; the write refuses if the database has
        # moved on (exam_server.scaleout.locks.check_attempt_current).
        believed = (la.last_seq, la.status, la.remaining_at_start, la.running_since)

        def write(conn: Connection) -> None:
            check_attempt_current(conn, la.id, *believed)
            storage.update_attempt(
                conn,
                la.id,
                {
                    "status": "finished",
                    "on_screen": None,
                    "finished_at": now,
                    "finish_reason": reason,
                    "score_json": score_json,
                    "total_points": total,
                    "passed": passed,
                    "pass_reason": why,
                    "remaining_at_start": remaining,
                    "running_since": None,
                    "deadline_at": None,
                },
            )
            # The final state replaces a snapshot taken after the same response.
            storage.put_snapshot(conn, final)
            audit.append(
                conn,
                "finish",
                actor,
                session_id=la.session_id,
                attempt_id=la.id,
                reason=reason,
                data=event,
                at=now,
            )

        try:
            await svc.committer.submit(write)
        except Exception as exc:
            if not getattr(exc, "stale", False):
                raise
            # Another process paused, extended or voided it: this copy is
            # dropped and the terminal reconnects to the stored attempt.
            log.warning("finish of attempt %s refused: %s", la.id, exc)
            svc.forget(la.id)
            stale_conn, la.conn = la.conn, None
            if stale_conn is not None:
                await stale_conn.close(p.CLOSE_POLICY, "replaced")
            return None
        la.status = "finished"
        la.state = final_state
        la.remaining_at_start, la.running_since = remaining, None
        la.finish = frames.final_frame(
            score,
            passed,
            reasons,
            reason,
            frames.receipt(la, score, svc.receipt_key),
            la.exam.policy,
        )
        conn = la.conn
    svc.bus.publish(
        LiveEvent(
            "finish",
            la.session_id,
            la.id,
            la.registration_number,
            at=now,
            data={
                "reason": reason,
                "total": total,
                "points": verdicts.section_points(score),
                "passed": passed,
                "category": la.category,
            },
        )
    )
    if conn is not None and reason != "complete" and not actor.startswith("candidate:"):
        await conn.send(la.finish)
    return la.finish
