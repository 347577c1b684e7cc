"""The centre's side of sync: a site's batches stored exactly once and
verified as they arrive.

Each record is checked with the rule that made it: an audit event's hash
with :func:`exam_server.audit.event_hash`, an answer's with
:func:`exam_server.audit.response_hash`, a checkpoint line's signature with
:func:`exam_server.checkpoints.signature_ok` under the site's checkpoint key
registered for the line's number (``exam_server.sites.checkpoint_keys``),
and each line's recorded heads against the records synced. A finished
attempt whose answers and finish event have all arrived is scored again
here (:func:`exam_server.audit.recompute_score` under the exam's policy), so
the centre's result is its own, and compared with the site's.

Outcomes per record: stored; a duplicate (same position, same hash: a
resend); a conflict (same position, another hash, or a record that does not
link to the stored one while the site built the batch on it: the site
rewrote what it had synced), recorded as a :class:`SiteProblem` and not
stored; a gap (a record whose predecessor is not here): the whole batch is
refused with :class:`Gap`, so nothing from it is stored.

The work lives in modules by what it checks, used here (callers import
from ``exam_server.sites.intake``): ``copies`` (the centre's tables of a
site, its positions), ``chains`` (audit events, answers, attempts),
``heads`` (checkpoint lines, the site's heads), ``rescoring`` (results
scored again) and ``reverify`` (:func:`verify_copies`). :func:`apply_batch`,
which runs them in one transaction, is here.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from exam_server.db import writer
from exam_server.sites.chains import _attempts, _audit, _responses
from exam_server.sites.copies import (  # noqa: F401
    LINK,
    PROBLEM,
    Gap,
    _GapSignal,
    _Outcome,
    positions,
    positions_of,
    read_positions,
)
from exam_server.sites.heads import _checkpoints, _compare_heads
from exam_server.sites.rescoring import _check_results
from exam_server.sites.reverify import verify_copies  # noqa: F401
from exam_server.sites.wire import Batch, BatchResult


def apply_batch(engine: Engine, site_id: int, batch: Batch, now: float) -> BatchResult:
    """Store and verify ``batch`` from ``site_id`` in one transaction. Raises
    :class:`Gap` (nothing stored) when a record does not follow what is here."""
    out = _Outcome()
    try:
        with writer(engine).begin() as conn:
            link = conn.execute(select(LINK).where(LINK.c.site_id == site_id)).mappings().one()
            audit_head = _audit(conn, site_id, link, batch, out)
            response_heads = _responses(conn, site_id, batch, out)
            _attempts(conn, site_id, batch, out)
            cp_head = _checkpoints(conn, site_id, link, batch, out)
            _compare_heads(conn, site_id, batch, response_heads, out)
            touched = {a.attempt_id for a in batch.attempts} | set(response_heads)
            touched |= {e.attempt_id for e in batch.audit if e.attempt_id is not None}
            _check_results(conn, site_id, touched, out)
            conn.execute(
                LINK.update()
                .where(LINK.c.site_id == site_id)
                .values(
                    audit_last_id=audit_head.position,
                    audit_last_hash=audit_head.hash,
                    checkpoint_n=cp_head.position,
                    checkpoint_hash=cp_head.hash,
                    received=LINK.c.received + out.stored,
                    duplicates=LINK.c.duplicates + out.duplicates,
                    site_pending=batch.status.pending,
                    oldest_pending_at=batch.status.oldest_pending_at,
                    sessions_running=batch.status.sessions_running,
                    last_contact_at=now,
                    last_sync_at=now,
                )
            )
            _record_problems(conn, site_id, out.problems, now)
            pos = positions(conn, site_id)
    except _GapSignal as sig:
        with engine.connect() as conn:
            raise Gap(str(sig), positions(conn, site_id)) from None
    return BatchResult(
        stored=out.stored,
        duplicates=out.duplicates,
        problems=[m for _, m in out.problems],
        positions=pos,
    )


def _record_problems(
    conn: Connection, site_id: int, problems: list[tuple[str, str]], now: float
) -> None:
    """Each problem once: a site that keeps resending the same rewritten
    record does not fill the page with copies of one finding."""
    if not problems:
        return
    known = set(
        conn.execute(
            select(PROBLEM.c.message).where(
                PROBLEM.c.site_id == site_id, PROBLEM.c.message.in_([m for _, m in problems])
            )
        ).scalars()
    )
    fresh = {m: k for k, m in problems if m not in known}
    if fresh:
        conn.execute(
            PROBLEM.insert(),
            [{"site_id": site_id, "at": now, "kind": k, "message": m} for m, k in fresh.items()],
        )
