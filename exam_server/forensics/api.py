"""REST endpoints of session forensics and the item review (admin only).

* ``GET /api/admin/forensics/sessions`` — the sessions with their attempts;
* ``GET /api/admin/forensics/sessions/{id}`` — the report as JSON
  (``?compromised=ID,ID`` a suspected item set, ``?fdr=0.05``);
* ``GET /api/admin/forensics/sessions/{id}/report.html`` — the same as the
  page ``seleksi forensics --report`` writes;
* ``GET /api/admin/forensics/items`` — the item watch and review queue;
* ``POST /api/admin/forensics/items/watch`` — take finished attempts into
  the item watch now;
* ``POST /api/admin/forensics/items/review`` — flag, retire or clear an item
  with a reason (audited). Retiring also withdraws the item from this
  process's selection at once; other processes read it back with the
  exposure counts (``exam_server.usage``). Tests prepared before it and not
  started get a parallel item in its place; the answer says how many, and
  how many started tests hold it unanswered (``exam_server.forensics.forms``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, Literal, TypeVar

import anyio.to_thread
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from exam_server.context import AppContext, context
from exam_server.forensics import forms, service
from exam_server.forensics.load import ATTEMPT, EXAM, ROOM, SESSION, SessionNotFound
from exam_server.forensics.report import render_html, summary
from exam_server.http import STR, ApiError, Endpoint, obj, read_json
from forensics.session import ForensicSettings

ROLES = ("admin",)
T = TypeVar("T")


def _actor(request: Request) -> str:
    st = request.state.staff
    return f"{st.role}:{st.username}"


class ReviewBody(BaseModel):
    """A review step: what the admin page sends."""

    model_config = ConfigDict(extra="forbid")
    item_id: str = Field(min_length=1, max_length=80)
    status: Literal["flagged", "retired", "cleared"]
    reason: str = Field(min_length=1, max_length=2000)


def _query_settings(request: Request) -> tuple[list[str], ForensicSettings]:
    raw = request.query_params.get("compromised", "")
    ids = [s.strip() for s in raw.split(",") if s.strip()]
    try:
        fdr = float(request.query_params.get("fdr", "0.05"))
        settings = ForensicSettings(fdr=fdr)
    except ValueError:
        raise ApiError(
            422, "bad_field", "'fdr' must be a number between 0 and 1", [{"field": "fdr"}]
        ) from None
    return ids, settings


async def list_sessions(request: Request) -> Response:
    engine = context(request.app).engine

    def q() -> list[dict[str, Any]]:
        with engine.connect() as conn:
            counts: dict[int, int] = {
                int(sid): int(n)
                for sid, n in conn.execute(
                    select(ATTEMPT.c.session_id, func.count())
                    .where(ATTEMPT.c.status != "void")
                    .group_by(ATTEMPT.c.session_id)
                )
            }
            rows = conn.execute(
                select(SESSION.c.id, SESSION.c.code, SESSION.c.status, EXAM.c.code, ROOM.c.code)
                .join(EXAM, EXAM.c.id == SESSION.c.exam_id)
                .join(ROOM, ROOM.c.id == SESSION.c.room_id)
                .order_by(SESSION.c.id)
            ).all()
        return [
            {
                "id": int(r[0]),
                "code": r[1],
                "status": r[2],
                "exam": r[3],
                "room": r[4],
                "attempts": int(counts.get(r[0], 0)),
            }
            for r in rows
        ]

    return JSONResponse({"sessions": await anyio.to_thread.run_sync(q)})


async def _analysed(request: Request, render: Callable[[Any, Any], T]) -> T:
    """Analyse the session of the path and render the result, in a worker thread."""
    ctx = context(request.app)
    ids, settings = _query_settings(request)
    ref = str(request.path_params["session_id"])

    def work() -> T:
        loaded, rep = service.analyse_session(ctx.engine, ref, compromised=ids, settings=settings)
        return render(loaded, rep)

    try:
        return await anyio.to_thread.run_sync(work)
    except SessionNotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from None


async def session_report(request: Request) -> Response:
    return JSONResponse(await _analysed(request, summary))


async def session_report_html(request: Request) -> Response:
    now = context(request.app).clock.now()
    html = await _analysed(request, lambda lo, rep: render_html(lo, rep, generated_at=now))
    return HTMLResponse(html)


async def list_items(request: Request) -> Response:
    engine = context(request.app).engine
    items = await anyio.to_thread.run_sync(lambda: service.review_queue(engine))
    return JSONResponse({"items": items})


async def run_watch(request: Request) -> Response:
    ctx = context(request.app)
    now = ctx.clock.now()
    result = await anyio.to_thread.run_sync(
        lambda: service.feed_watch(ctx.engine, now, actor=_actor(request))
    )
    return JSONResponse(
        {
            "attempts": result.attempts,
            "administrations": result.administrations,
            "flagged": list(result.flagged),
        }
    )


async def review_item(request: Request) -> Response:
    ctx = context(request.app)
    raw = await read_json(request)
    try:
        body = ReviewBody.model_validate(raw)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        raise ApiError(422, "bad_field", "the review step is not valid", errors) from None
    now = ctx.clock.now()
    actor = _actor(request)

    def work() -> list[service.Withdrawal]:
        if body.status == "flagged":
            service.flag(ctx.engine, body.item_id, actor, body.reason, now)
            return []
        return service.decide(ctx.engine, body.item_id, body.status, actor, body.reason, now)

    try:
        withdrawn = await anyio.to_thread.run_sync(work)
    except service.UnknownItem as exc:
        raise ApiError(404, "not_found", str(exc), [{"field": "item_id"}]) from None
    except service.ReviewError as exc:
        raise ApiError(409, "not_allowed", str(exc)) from None
    for w in withdrawn:
        # This process's selection leaves it out from the next step on.
        ctx.attempts.usage.withdraw(w.exam_id, [w.item_index])
    answer: dict[str, Any] = {
        "item_id": body.item_id,
        "status": body.status,
        "withdrawn_from_exams": sorted({w.exam_id for w in withdrawn}),
    }
    if withdrawn:
        answer["forms"] = (await _patch_forms(ctx, body.item_id, actor, now)).to_dict()
    return JSONResponse(answer)


async def _patch_forms(ctx: AppContext, item_id: str, actor: str, now: float) -> forms.Patched:
    """Give the prepared tests holding the retired item a parallel item.

    This process's copy of each (loaded now if it had none) is held under its
    lock while its form is rewritten: a login binds its terminal under the
    same lock and then uses the copy held here (a copy a login read meanwhile
    is not adopted over it), so no candidate starts on a form changed under
    them. One held by a terminal by then counts as started."""
    svc = ctx.attempts
    holding = await anyio.to_thread.run_sync(lambda: forms.scan(ctx.engine, item_id))
    untouched: list[int] = []
    async with contextlib.AsyncExitStack() as stack:
        held = []
        for aid in holding.prepared:
            la = await svc.get(aid)
            await stack.enter_async_context(la.lock)
            held.append(la)
            if (
                la.status == "running"
                and la.terminal_id is None
                and la.conn is None
                and la.last_seq == 0
                and la.running_since is None
                and not la.started_at
            ):
                untouched.append(aid)
        out = await anyio.to_thread.run_sync(
            lambda: forms.patch_prepared(ctx.engine, item_id, actor, now, untouched)
        )
        for la in held:
            state = out.states.get(la.id)
            if state is not None:
                la.state = state
                la.refresh()
    for given in out.given:
        svc.usage.count(given)
    out.started += holding.started + len(holding.prepared) - len(untouched)
    return out


ENDPOINTS: list[Endpoint] = [
    Endpoint(
        "GET",
        "/api/admin/forensics/sessions",
        list_sessions,
        "sessions for forensics, with their attempts",
        ROLES,
        tag="forensics",
    ),
    Endpoint(
        "GET",
        "/api/admin/forensics/sessions/{session_id:int}",
        session_report,
        "a session's forensic report as JSON: candidates ranked for review, every index "
        "(?compromised=ITEM,ITEM a suspected leaked set; ?fdr=0.05)",
        ROLES,
        tag="forensics",
        responses={"404": "no such session or no attempts", "422": "bad fdr"},
    ),
    Endpoint(
        "GET",
        "/api/admin/forensics/sessions/{session_id:int}/report.html",
        session_report_html,
        "the session's forensic report as an HTML page (as `seleksi forensics --report`)",
        ROLES,
        tag="forensics",
        responses={"404": "no such session or no attempts"},
    ),
    Endpoint(
        "GET",
        "/api/admin/forensics/items",
        list_items,
        "the item watch: every watched or reviewed item, flagged ones first",
        ROLES,
        tag="forensics",
    ),
    Endpoint(
        "POST",
        "/api/admin/forensics/items/watch",
        run_watch,
        "take the finished attempts not yet watched into each item's CUSUM; flag items "
        "crossing the threshold (audited)",
        ROLES,
        tag="forensics",
    ),
    Endpoint(
        "POST",
        "/api/admin/forensics/items/review",
        review_item,
        "flag, retire or clear an item with a reason (audited); a retired item leaves "
        "every exam's selection at once, tests prepared and not started get a parallel item "
        "in its place (answer: forms.prepared_patched, prepared_kept, started_unanswered)",
        ROLES,
        obj(["item_id", "status", "reason"], item_id=STR, status=STR, reason=STR),
        tag="forensics",
        responses={
            "404": "no bank holds the item",
            "409": "not allowed in the item's current status",
            "422": "bad field",
        },
    ),
]
