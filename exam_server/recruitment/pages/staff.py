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
    SESSION_SECONDS,
    STAFF_COOKIE,
    Handler,
    _config,
    _form,
    _guarded,
    _kick_outbox,
    _now,
    _period,
    _redirect,
    _run,
    _serializer,
    _the_period,
    message,
    render,
)
from recruitment import scope


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
    if action is not None:
        # The role here, before any form or object is read; an action on one
        # agency's object is checked again against that object by the service.
        who = scope.StaffScope(st.username, st.role, st.agency_id)
        try:
            scope.check(who, action, None if action in scope.PERIOD_ACTIONS else st.agency_id)
        except scope.RoleRefused:
            raise svc.Refused(
                "peran Anda tidak diizinkan melakukan ini", "your role may not do this"
            ) from None
        except scope.OutOfScope:
            raise svc.NotFound(f"{action}: not for an agency's account") from None
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
    period = await _period(request)
    if period is None:
        return message(
            request,
            ("Belum ada periode", "No period"),
            ("Buat periode dengan seleksi recruitment.", "Create a period first."),
        )
    needs = await _run(svc.needs, engine, period.id, st.username)
    edit = request.query_params.get("edit", "")
    editing = next((n for n in needs if str(n["id"]) == edit), None)
    national_admin = st.role == "admin" and st.agency_id is None
    verifier = st.role == "verifier"
    return render(
        request,
        "staff.html",
        st=st,
        period=period,
        needs=needs,
        queue=await _run(svc.verification_queue, engine, period.id, st.username)
        if verifier
        else svc.Queue(0, []),
        tms=await _run(svc.pending_tms, engine, period.id, st.username) if verifier else [],
        appeals=await _run(svc.open_appeals, engine, period.id, st.username) if verifier else [],
        counts=await _run(svc.registrations_by_status, engine, period.id) if national_admin else {},
        versions=await _run(svc.announcement_versions, engine, period.id),
        outbox=await _run(svc.outbox_status, engine) if national_admin else None,
        rules=period.rules,
        agencies=await _agencies(request, st),
        periods=await _run(svc.period_list, engine),
        errors={},
        values=svc.need_form_values(editing, period.rules) if editing else {},
    )


async def _agencies(request: Request, st: Any) -> list[svc.AgencyView]:
    """Every agency for a national account (it names a new need's), else its own."""
    every = await _run(svc.agencies, context(request.app).engine)
    return [a for a in every if st.agency_id is None or a.id == st.agency_id]


@_staff_page
@_guarded
async def staff_need_create(request: Request) -> Response:
    st = await _staff(request, "needs")
    engine = context(request.app).engine
    period = await _the_period(request)
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
            needs=await _run(svc.needs, engine, period.id, st.username),
            queue=svc.Queue(0, []),
            tms=[],
            appeals=[],
            counts={},
            versions=[],
            outbox=None,
            rules=period.rules,
            agencies=await _agencies(request, st),
            periods=await _run(svc.period_list, engine),
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
    period = await _the_period(request)
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
    period = await _the_period(request)
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
