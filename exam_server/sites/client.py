"""The site's HTTP client to the centre: sync runs and key fetches.

Transport: plain HTTPS requests with JSON batches (httpx). Every request is
complete in itself — the centre's positions are the cursor — so a link that
drops mid-request costs at most that batch, resent on the next run; no
connection state to recover. See ``docs/sites.md`` for why not PostgreSQL
logical replication.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.engine import Engine

from exam_server.db import writer
from exam_server.sites.models import SyncState
from exam_server.sites.outbox import Checkpoints, backlog, build_batch
from exam_server.sites.wire import Batch, BatchResult, ChainHead, Positions

STATE = SyncState.__table__  # type: ignore[attr-defined]
API = "/api/centre/v1"


class CentreUnreachable(Exception):
    """The centre did not answer (the link is down) or answered with an error."""


class GapRefused(Exception):
    """The centre refused a batch as not following what it holds."""

    def __init__(self, message: str, positions: Positions) -> None:
        super().__init__(message)
        self.positions = positions


class CentreClient:
    """Requests to the centre at ``base_url`` with the site's sync ``token``."""

    def __init__(self, base_url: str, token: str, timeout: float = 15.0) -> None:
        self.http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, **kw: object) -> httpx.Response:
        try:
            r = self.http.request(method, API + path, **kw)  # type: ignore[arg-type]
        except httpx.HTTPError as exc:
            raise CentreUnreachable(f"the centre cannot be reached: {exc}") from None
        if r.status_code == 409 and path == "/batches":
            body = r.json()
            raise GapRefused(body["message"], Positions.model_validate(body["positions"]))
        if r.status_code >= 400:
            try:
                message = r.json().get("message", r.text)
            except ValueError:
                message = r.text[:200]
            raise CentreUnreachable(f"the centre answered {r.status_code}: {message}")
        return r

    def positions(self) -> Positions:
        return Positions.model_validate(self._call("GET", "/positions").json())

    def send(self, batch: Batch) -> BatchResult:
        r = self._call(
            "POST",
            "/batches",
            content=batch.model_dump_json(),
            headers={"Content-Type": "application/json"},
        )
        return BatchResult.model_validate(r.json())

    def fetch_key(self, session_code: str) -> bytes:
        r = self._call("POST", "/keys", json={"session_code": session_code})
        return base64.b64decode(r.json()["key"])


@dataclass
class SyncReport:
    """What one sync run did."""

    batches: int = 0
    sent: int = 0
    stored: int = 0
    duplicates: int = 0
    gaps: int = 0
    pending: int = 0
    problems: list[str] = field(default_factory=list)


def sync_once(
    engine: Engine,
    client: CentreClient,
    checkpoints: Checkpoints | None,
    *,
    limit: int = 2000,
    max_batches: int = 10_000,
) -> SyncReport:
    """Send everything the centre does not hold yet, batch by batch, ending
    with a batch that carries only the heads and the status. Raises
    :class:`CentreUnreachable` when the link fails (what was acknowledged
    stays acknowledged; the next run resumes from the centre's positions).
    The run and its outcome are recorded in ``site_sync_state``."""
    rep = SyncReport()
    _note(engine, try_at=time.time())
    pos: Positions | None = None
    try:
        pos = client.positions()
        while rep.batches < max_batches:
            batch = build_batch(engine, pos, limit, checkpoints)
            try:
                result = client.send(batch)
            except GapRefused as gap:
                rep.gaps += 1
                if rep.gaps > 3:
                    raise CentreUnreachable(f"the centre keeps refusing batches: {gap}") from None
                pos = gap.positions
                continue
            rep.batches += 1
            rep.sent += batch.size
            rep.stored += result.stored
            rep.duplicates += result.duplicates
            rep.problems.extend(p for p in result.problems if p not in rep.problems)
            rep.pending = batch.status.pending
            pos = result.positions
            # Done when the heads-only batch went through, or when the centre
            # took nothing from a full one (its records conflict: reported).
            if batch.size == 0 or result.stored == 0:
                break
    except CentreUnreachable as exc:
        _note(engine, error=str(exc), sent=rep.stored, positions=pos)
        raise
    _note(
        engine, ok_at=time.time(), error="", sent=rep.stored, positions=pos, problems=rep.problems
    )
    return rep


def _note(
    engine: Engine,
    *,
    try_at: float | None = None,
    ok_at: float | None = None,
    error: str | None = None,
    sent: int = 0,
    positions: Positions | None = None,
    problems: list[str] | None = None,
) -> None:
    values: dict[str, object] = {}
    if try_at is not None:
        values["last_try_at"] = try_at
    if ok_at is not None:
        values["last_ok_at"] = ok_at
    if error is not None:
        values["last_error"] = error
    if positions is not None:
        values["centre_positions"] = positions.model_dump_json()
    if problems is not None:
        values["problems_json"] = json.dumps(problems)
    with writer(engine).begin() as conn:
        row = conn.execute(select(STATE.c.sent).where(STATE.c.id == 1)).first()
        if row is None:
            conn.execute(STATE.insert().values(id=1, last_error="", sent=sent, **values))
        else:
            conn.execute(
                STATE.update().where(STATE.c.id == 1).values(sent=STATE.c.sent + sent, **values)
            )


def sync_state(engine: Engine) -> dict[str, Any]:
    """The site's sync as an operator reads it: ``last_try_at``,
    ``last_ok_at`` (epoch seconds or None), ``last_error``, ``sent`` (records
    the centre took), ``problems`` (what the last sync's centre refused),
    ``waiting`` (records the centre does not hold, counted against its
    positions at the last sync that reached it: :func:`outbox.backlog`) and
    ``oldest_waiting_at`` (when the oldest of them was written)."""
    with engine.connect() as conn:
        row = conn.execute(select(STATE).where(STATE.c.id == 1)).mappings().first()
    none = ChainHead(position=0, hash="")
    pos = (
        Positions.model_validate_json(row["centre_positions"])
        if row is not None and row["centre_positions"]
        else Positions(audit=none, checkpoint=none)
    )
    waiting, oldest = backlog(engine, pos)
    out: dict[str, Any] = {"waiting": waiting, "oldest_waiting_at": oldest}
    if row is None:
        return {
            "last_try_at": None,
            "last_ok_at": None,
            "last_error": "",
            "sent": 0,
            "problems": [],
            **out,
        }
    return {
        **{k: row[k] for k in ("last_try_at", "last_ok_at", "last_error", "sent")},
        "problems": json.loads(row["problems_json"] or "[]"),
        **out,
    }
