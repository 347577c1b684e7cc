"""The verifier's pages: one registration with its documents and eligibility,
MS/TMS decisions, TMS review by a second person, conflicts of interest,
appeals, and voiding a fraudulent registration."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from exam_server.context import context
from exam_server.recruitment import service as svc
from exam_server.recruitment.pages.plumbing import (
    _document_response,
    _form,
    _guarded,
    _kick_outbox,
    _now,
    _redirect,
    _run,
    render,
)
from exam_server.recruitment.pages.staff import _staff, _staff_page


@_staff_page
@_guarded
async def staff_registration(request: Request) -> Response:
    st = await _staff(request, "verify")
    engine = context(request.app).engine
    reg = await _run(
        svc.registration_for_staff, engine, int(request.path_params["id"]), st.username
    )
    period = await _run(svc.period_by_id, engine, reg.period_id)
    return render(
        request,
        "staff_reg.html",
        st=st,
        reg=reg,
        period=period,
        documents=await _run(svc.documents_of, engine, reg.id),
        checks=await _run(svc.eligibility_of, engine, period, reg),
        identity=json.loads(reg.identity_json),
        reasons=period.rules.reason_codes,
        grant_default=svc.default_grant_until(period.schedule, _now(request)).isoformat(),
        grant_min=svc.today(_now(request)).isoformat(),
        draft_holders=await _run(svc.draft_holders_of, engine, reg.id),
        grant=await _run(svc.grant_of, engine, reg.id) if reg.status == "void" else None,
    )


@_staff_page
@_guarded
async def staff_document(request: Request) -> Response:
    st = await _staff(request, "verify")
    reg = await _run(
        svc.registration_for_staff,
        context(request.app).engine,
        int(request.path_params["id"]),
        st.username,
    )
    return await _document_response(request, reg.id, request.path_params["kind"])


@_staff_page
@_guarded
async def staff_decide(request: Request) -> Response:
    st = await _staff(request, "verify")
    engine = context(request.app).engine
    reg_id = int(request.path_params["id"])
    # The registration's own period (its reason codes); another agency's: 404.
    reg = await _run(svc.registration_for_staff, engine, reg_id, st.username)
    period = await _run(svc.period_by_id, engine, reg.period_id)
    form = _form(request)
    await _run(
        svc.decide_registration,
        engine,
        period,
        reg_id,
        st.username,
        str(form.get("decision") or ""),
        str(form.get("reason_code") or ""),
        str(form.get("note") or "")[:2000],
        _now(request),
    )
    resp = _redirect(request, "/recruitment/staff")
    resp.background = _kick_outbox(request)
    return resp


@_staff_page
@_guarded
async def staff_conflict(request: Request) -> Response:
    st = await _staff(request, "verify")
    form = _form(request)
    await _run(
        svc.declare_conflict,
        context(request.app).engine,
        int(request.path_params["id"]),
        st.username,
        str(form.get("reason") or "")[:2000],
        _now(request),
    )
    return _redirect(request, "/recruitment/staff")


def _grant_form(form: Any) -> tuple[dt.date | None, str, str]:
    """The late-registration fields of the void and grant forms: last day
    (``grant_until``; empty: the default), the owner's e-mail, the reason."""
    until_text = str(form.get("grant_until") or "").strip()
    try:
        until = dt.date.fromisoformat(until_text) if until_text else None
    except ValueError:
        raise svc.Refused(
            "batas pendaftaran susulan bukan tanggal (YYYY-MM-DD)",
            "the late registration's last day is not a date (YYYY-MM-DD)",
        ) from None
    return until, str(form.get("owner_email") or "")[:254], str(form.get("reason") or "")[:2000]


def _grant_result(
    request: Request,
    reg_id: int,
    title: tuple[str, str],
    emails: list[str],
    holders: list[str],
) -> Response:
    """The result page of a void or a grant change: whom the late
    registration is for, the draft holders left out; the outbox kicked."""
    resp = render(
        request,
        "message.html",
        title=title,
        text=_grant_text(
            (f"{title[0]}.", f"{title[1]}."), emails, [e for e in holders if e not in emails]
        ),
        link=(f"/recruitment/staff/reg/{reg_id}", ("Kembali ke pendaftaran", "Back to it")),
    )
    resp.background = _kick_outbox(request)
    return resp


def _grant_text(done: tuple[str, str], emails: list[str], left_out: list[str]) -> tuple[str, str]:
    """The result page's text: whom the late registration is for (or nobody),
    and the draft holders a named owner left out."""
    if emails:
        who = ", ".join(emails)
        text = (
            f"{done[0]} Pendaftaran susulan untuk NIK-nya hanya bagi: {who} "
            "(diberi tahu lewat email).",
            f"{done[1]} The late registration for its NIK is only for: {who} (told by e-mail).",
        )
    else:
        text = (
            f"{done[0]} " + svc.GRANT_NOBODY[0].capitalize() + ".",
            f"{done[1]} " + svc.GRANT_NOBODY[1].capitalize() + ".",
        )
    if left_out:
        out = ", ".join(left_out)
        text = (
            text[0] + f" Tidak termasuk akun yang drafnya memakai NIK ini: {out}.",
            text[1] + f" Left out, although their draft has this NIK: {out}.",
        )
    return text


@_staff_page
@_guarded
async def staff_void(request: Request) -> Response:
    """Void a registration found fraudulent (someone else's NIK), with a reason:
    its NIK is free again for its owner, who may register late until the
    date given (``grant_until``; empty: the default) from the account of the
    e-mail staff give (``owner_email``) alone, or, when they give none, from
    the accounts whose draft holds the NIK. The result page names those
    accounts (or says the late registration is for nobody) and the draft
    holders a named owner left out."""
    st = await _staff(request, "void")
    until, owner, reason = _grant_form(_form(request))
    engine = context(request.app).engine
    reg_id = int(request.path_params["id"])
    holders = await _run(svc.draft_holders_of, engine, reg_id)
    await _run(
        svc.void_registration, engine, reg_id, st.username, reason, _now(request), until, owner
    )
    emails = await _run(svc.granted_to, engine, reg_id)
    return _grant_result(
        request, reg_id, ("Pendaftaran dibatalkan", "Registration voided"), emails, holders
    )


@_staff_page
@_guarded
async def staff_grant(request: Request) -> Response:
    """Change the late registration of a voided registration (staff named the
    wrong account, or the owner needs more days): the same fields as the
    void's, with a reason (``exam_server.recruitment.voids.change_grant``)."""
    st = await _staff(request, "void")
    until, owner, reason = _grant_form(_form(request))
    engine = context(request.app).engine
    reg_id = int(request.path_params["id"])
    holders = await _run(svc.draft_holders_of, engine, reg_id)
    emails = await _run(
        svc.change_grant, engine, reg_id, st.username, reason, _now(request), until, owner
    )
    return _grant_result(
        request,
        reg_id,
        ("Pendaftaran susulan diubah", "Late registration changed"),
        emails,
        holders,
    )


@_staff_page
@_guarded
async def staff_tms(request: Request) -> Response:
    st = await _staff(request, "verify")
    form = _form(request)
    await _run(
        svc.approve_tms,
        context(request.app).engine,
        int(request.path_params["id"]),
        st.username,
        form.get("decision") == "agree",
        _now(request),
    )
    resp = _redirect(request, "/recruitment/staff")
    resp.background = _kick_outbox(request)
    return resp


@_staff_page
@_guarded
async def staff_appeal(request: Request) -> Response:
    st = await _staff(request, "verify")
    form = _form(request)
    await _run(
        svc.answer_appeal,
        context(request.app).engine,
        int(request.path_params["id"]),
        st.username,
        form.get("decision") == "accept",
        str(form.get("answer") or "")[:4000],
        _now(request),
    )
    resp = _redirect(request, "/recruitment/staff")
    resp.background = _kick_outbox(request)
    return resp
