"""Proctor actions: open and close a session (admins too), check-in PINs, the
terminals of a session, pause, resume, extend, release, void and notes on one
attempt or every attempt of a session, and the session's audit log. Every
action needs a ``reason`` and lands in the audit chain."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import anyio.to_thread
from sqlalchemy import select
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from exam_server import scheduling as sch
from exam_server.admin.common import _actor, _int_param, _now, _run, _svc
from exam_server.admin.results import _attempt_rows
from exam_server.admin.scope import _guard
from exam_server.attempts import ActionError
from exam_server.attempts.proctor_acts import extended_under
from exam_server.context import context
from exam_server.http import NUM, STR, ApiError, Endpoint, field_num, field_str, obj, read_json
from exam_server.models import AuditEvent

log = logging.getLogger(__name__)
#: A console's id of a session-wide request (crypto.randomUUID() and the like).
REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")

ACTIONS = ("pause", "resume", "extend", "release", "void", "note")


async def open_session(request: Request) -> Response:
    sid = _int_param(request, "session_id")
    await _guard(request, "session", sid)
    token = await _run(sch.open_session, context(request.app).engine, sid, _actor(request))
    _svc(request).spawn_prepare(sid)
    return JSONResponse({"session_id": sid, "status": "open", "token": token})


async def close_session(request: Request) -> Response:
    sid = _int_param(request, "session_id")
    await _guard(request, "session", sid)
    d = await read_json(request)
    reason = field_str(d, "reason", max_len=2000)
    actor = _actor(request)
    pending = await _run(sch.mark_session_closed, context(request.app).engine, sid, actor, reason)
    svc = _svc(request)
    for aid in pending:  # the session is over: unfinished attempts are scored as they stand
        la = await svc.get(aid)
        await svc.finish(la, "session_closed", actor)
    # Sign the heads as the session ends: the proctor copies this fingerprint
    # into the session report (exam_server.checkpoints).
    cps = context(request.app).checkpoints
    fingerprint = await cps.close_session(sid)
    return JSONResponse(
        {
            "session_id": sid,
            "status": "closed",
            "finished": len(pending),
            "checkpoint": fingerprint,
        }
    )


async def checkin(request: Request) -> Response:
    sid = _int_param(request, "session_id")
    await _guard(request, "session", sid)
    d = await read_json(request)
    reg = field_str(d, "registration_number", max_len=40)
    pin = await _run(
        sch.issue_pin,
        context(request.app).engine,
        context(request.app).settings.secret_key,
        sid,
        reg,
        _actor(request),
    )
    # The proctor has checked the candidate's identity: the new PIN starts
    # without the wrong ones typed before it, from any address.
    await context(request.app).limits.clear("pin", reg)
    return JSONResponse({"registration_number": reg, "pin": pin})


async def proctor_attempts(request: Request) -> Response:
    sid = _int_param(request, "session_id")
    await _guard(request, "session", sid)
    rows = await anyio.to_thread.run_sync(
        _attempt_rows, context(request.app).engine, sid, False, _now(request)
    )
    svc = _svc(request)
    for r in rows:  # live facts only this process knows
        la = svc.live.get(r["attempt_id"])
        if la is not None:
            r["connected"] = la.conn is not None
            r["answered"] = len(la.answers)
            r["flagged"] = sum(1 for v in la.flags.values() if v)
    return JSONResponse(rows)


async def attempt_action(request: Request) -> Response:
    aid = _int_param(request, "attempt_id")
    await _guard(request, "attempt", aid)
    action = request.path_params["action"]
    if action not in ACTIONS:
        raise ApiError(404, "not_found", f"unknown action {action}")
    d = await read_json(request)
    reason = field_str(d, "reason", max_len=2000)
    seconds = field_num(d, "seconds", 1, 14400) if action == "extend" else 0.0
    try:
        result = await _svc(request).act(aid, action, _actor(request), reason, seconds)
    except KeyError:
        raise ApiError(404, "not_found", "no such attempt") from None
    except ActionError as exc:
        raise ApiError(409, exc.code, str(exc)) from None
    return JSONResponse(result)


async def session_action(request: Request) -> Response:
    sid = _int_param(request, "session_id")
    await _guard(request, "session", sid)
    action = request.path_params["action"]
    if action not in ("pause", "resume", "extend", "note"):
        raise ApiError(404, "not_found", f"unknown session action {action}")
    d = await read_json(request)
    reason = field_str(d, "reason", max_len=2000)
    seconds = field_num(d, "seconds", 1, 14400) if action == "extend" else 0.0
    # The console's id of this request: sent again with a retry, it keeps an
    # extension from being given twice to the attempts the first try reached.
    request_id = field_str(d, "request_id", max_len=64, required=False).strip()
    if request_id and not REQUEST_ID.fullmatch(request_id):
        raise ApiError(422, "bad_field", "request_id: 1–64 letters, digits, '-' or '_'")
    engine = context(request.app).engine
    rows = await anyio.to_thread.run_sync(_attempt_rows, engine, sid, False, _now(request))
    done, skipped, failed = [], [], []
    for r in rows:
        aid = r["attempt_id"]
        if (
            action == "extend"
            and request_id
            and await anyio.to_thread.run_sync(extended_under, engine, aid, request_id)
        ):
            done.append(aid)  # extended by an earlier try of this request
            continue
        try:
            await _svc(request).act(aid, action, _actor(request), reason, seconds, request_id)
            done.append(aid)
        except ActionError:
            skipped.append(aid)
        except Exception:  # the database away for a moment: the rest still go on
            log.exception("session %s: %s of attempt %s failed", sid, action, aid)
            failed.append(aid)
    body = {
        "session_id": sid,
        "action": action,
        "applied": done,
        "skipped": skipped,
        "failed": failed,
    }
    if failed:
        body.update(error="unavailable", message=f"{len(failed)} attempts not reached; try again")
    return JSONResponse(body, status_code=503 if failed else 200)


async def session_audit(request: Request) -> Response:
    sid = _int_param(request, "session_id")
    await _guard(request, "session", sid)

    def q() -> list[dict[str, Any]]:
        with Session(context(request.app).engine) as s:
            rows = s.execute(
                select(AuditEvent).where(AuditEvent.session_id == sid).order_by(AuditEvent.id)  # type: ignore[arg-type]
            ).scalars()
            return [
                {
                    "id": e.id,
                    "at": e.at,
                    "kind": e.kind,
                    "actor": e.actor,
                    "attempt_id": e.attempt_id,
                    "reason": e.reason,
                    "data": _public_data(e.kind, e.data_json),
                }
                for e in rows
            ]

    return JSONResponse(await anyio.to_thread.run_sync(q))


def _public_data(kind: str, data_json: str) -> dict[str, Any]:
    d: dict[str, Any] = json.loads(data_json)
    d.pop("seed", None)  # the seed would let anyone replay form assembly
    return d


REASON = obj(["reason"], reason=STR)
ENDPOINTS: list[Endpoint] = [
    Endpoint(
        "POST",
        "/api/sessions/{session_id:int}/open",
        open_session,
        "open a session for logins; returns the session token",
        ("admin", "proctor"),
        tag="proctor",
        responses={"404": "no such session", "409": "closed"},
    ),
    Endpoint(
        "POST",
        "/api/sessions/{session_id:int}/close",
        close_session,
        "close a session; unfinished attempts are scored as they stand",
        ("admin", "proctor"),
        REASON,
        tag="proctor",
    ),
    Endpoint(
        "POST",
        "/api/proctor/sessions/{session_id:int}/checkin",
        checkin,
        "issue a candidate's check-in PIN after the identity check",
        ("proctor",),
        obj(["registration_number"], registration_number=STR),
        tag="proctor",
        responses={"404": "candidate not in this session"},
    ),
    Endpoint(
        "GET",
        "/api/proctor/sessions/{session_id:int}/attempts",
        proctor_attempts,
        "the terminals of a session (no scores)",
        ("proctor",),
        tag="proctor",
    ),
    Endpoint(
        "POST",
        "/api/proctor/attempts/{attempt_id:int}/{action}",
        attempt_action,
        "pause | resume | extend (seconds) | release | void | note one attempt, with a reason",
        ("proctor",),
        obj(["reason"], reason=STR, seconds=NUM),
        tag="proctor",
        responses={
            "404": "no such attempt or action",
            "409": "not possible in this state",
            "422": "missing reason",
        },
    ),
    Endpoint(
        "POST",
        "/api/proctor/sessions/{session_id:int}/{action}",
        session_action,
        "pause | resume | extend | note every attempt of the session, with a reason; "
        "request_id: the console's id of the request, so that a retried extension is "
        "given once; 503 with the attempts not reached in `failed`",
        ("proctor",),
        obj(["reason"], reason=STR, seconds=NUM, request_id=STR),
        tag="proctor",
    ),
    Endpoint(
        "GET",
        "/api/proctor/sessions/{session_id:int}/audit",
        session_audit,
        "the session's audit log (incidents, actions)",
        ("proctor",),
        tag="proctor",
    ),
]
