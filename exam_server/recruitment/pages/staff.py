"""The agency staff's page (``/recruitment/staff``) and what it runs before
verification: needs and their approval, publishing the announcement,
scheduling, the outbox (failed messages sent again). The staff cookie and
role check every staff page uses is here."""

from __future__ import annotations

import functools
from typing import Any

from itsdangerous import BadSignature
from starlette.requests import Request
from starlette.responses import Response

from exam_server.context import context
from exam_server.recruitment import service as svc
from exam_server.recruitment.forms import FormError
from exam_server.recruitment.pages.plumbing import (
    ROLE_ACTIONS,
    SESSION_SECONDS,
    STAFF_COOKIE,
    Handler,
    _config,
    _form,
    _guarded,
    _kick_outbox,
    _now,
    _redirect,
    _run,
    _serializer,
    message,
    render,
)


class _StaffNeeded(Exception):
    pass


async def _staff(request: Request, action: str | None = None) -> Any:
    raw = request.cookies.get(STAFF_COOKIE)
    if not raw:
        raise _StaffNeeded()
    try:
        staff_id = int(
            _serializer(request, "seleksi.recruitment.staff.v1").loads(raw, max_age=SESSION_SECONDS)
        )
    except (BadSignature, TypeError, ValueError):
        raise _StaffNeeded() from None
    st = await _run(svc.staff_by_id, context(request.app).engine, staff_id)
    if st is None:
        raise _StaffNeeded()
    if action is not None and st.role not in ROLE_ACTIONS[action]:
        raise svc.Refused("peran Anda tidak diizinkan melakukan ini", "your role may not do this")
    return st


def _staff_page(fn: Handler) -> Handler:
    @functools.wraps(fn)
    async def wrapped(request: Request) -> Response:
        try:
            return await fn(request)
        except _StaffNeeded:
            return _redirect(request, "/recruitment/staff/login")

    return wrapped


@_staff_page
@_guarded
async def staff_home(request: Request) -> Response:
    st = await _staff(request)
    engine = context(request.app).engine
    period = await _run(svc.current_period, engine)
    if period is None:
        return message(
            request,
            ("Belum ada periode", "No period"),
            ("Buat periode dengan seleksi recruitment.", "Create a period first."),
        )
    needs = await _run(svc.needs, engine, period.id)
    edit = request.query_params.get("edit", "")
    editing = next((n for n in needs if str(n["id"]) == edit), None)
    return render(
        request,
        "staff.html",
        st=st,
        period=period,
        needs=needs,
        queue=await _run(svc.verification_queue, engine, period.id, st.username),
        tms=await _run(svc.pending_tms, engine, period.id, st.username),
        appeals=await _run(svc.open_appeals, engine, period.id, st.username),
        counts=await _run(svc.registrations_by_status, engine, period.id),
        versions=await _run(svc.announcement_versions, engine, period.id),
        outbox=await _run(svc.outbox_status, engine) if st.role == "admin" else None,
        rules=period.rules,
        errors={},
        values=svc.need_form_values(editing, period.rules) if editing else {},
    )


@_staff_page
@_guarded
async def staff_need_create(request: Request) -> Response:
    st = await _staff(request, "needs")
    engine = context(request.app).engine
    period = await _run(svc.current_period, engine)
    form = _form(request)
    try:
        fields = svc.parse_need(form, period.rules)
        need_id = str(form.get("need_id") or "")
        if need_id.isdigit():
            await _run(svc.update_need, engine, int(need_id), st.username, fields, _now(request))
        else:
            await _run(svc.create_need, engine, period.id, st.username, fields, _now(request))
    except FormError as exc:
        return render(
            request,
            "staff.html",
            400,
            st=st,
            period=period,
            needs=await _run(svc.needs, engine, period.id),
            queue=svc.Queue(0, []),
            tms=[],
            appeals=[],
            counts={},
            versions=[],
            outbox=None,
            rules=period.rules,
            errors=exc.by_field(),
            values={k: v for k, v in form.items() if isinstance(v, str)},
        )
    return _redirect(request, "/recruitment/staff")


@_staff_page
@_guarded
async def staff_need_submit(request: Request) -> Response:
    st = await _staff(request, "needs")
    await _run(
        svc.submit_need,
        context(request.app).engine,
        int(request.path_params["id"]),
        st.username,
        _now(request),
    )
    return _redirect(request, "/recruitment/staff")


@_staff_page
@_guarded
async def staff_need_decide(request: Request) -> Response:
    st = await _staff(request, "decide_need")
    form = _form(request)
    approve = form.get("decision") == "approve"
    await _run(
        svc.decide_need,
        context(request.app).engine,
        int(request.path_params["id"]),
        st.username,
        approve,
        str(form.get("reason") or "")[:2000],
        _now(request),
    )
    return _redirect(request, "/recruitment/staff")


@_staff_page
@_guarded
async def staff_publish(request: Request) -> Response:
    st = await _staff(request, "publish")
    engine = context(request.app).engine
    period = await _run(svc.current_period, engine)
    await _run(
        svc.publish_announcement,
        engine,
        period.id,
        _config(request).key,
        st.username,
        _now(request),
    )
    return _redirect(request, "/recruitment/staff")


@_staff_page
@_guarded
async def staff_schedule(request: Request) -> Response:
    st = await _staff(request, "schedule")
    engine = context(request.app).engine
    period = await _run(svc.current_period, engine)
    result = await _run(svc.schedule, engine, period, st.username, _now(request))
    resp = message(
        request,
        ("Penjadwalan selesai", "Scheduling done"),
        (
            f"{result.placed} peserta dijadwalkan; {len(result.unplaced)} belum mendapat tempat.",
            f"{result.placed} candidates scheduled; {len(result.unplaced)} without a seat.",
        ),
    )
    resp.background = _kick_outbox(request)
    return resp


@_staff_page
@_guarded
async def staff_outbox_again(request: Request) -> Response:
    """Send a failed message again (``/staff/outbox/{id}/again``), or every
    failed one (``/staff/outbox/again``); audited, then the outbox is kicked."""
    st = await _staff(request, "outbox")
    ident = request.path_params.get("id")
    await _run(
        svc.send_again,
        context(request.app).engine,
        None if ident is None else [int(ident)],
        st.username,
        _now(request),
    )
    resp = _redirect(request, "/recruitment/staff")
    resp.background = _kick_outbox(request)
    return resp
