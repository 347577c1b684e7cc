"""The candidate's registration (``/recruitment/me``): the form with live
eligibility, uploads, submit, the receipt, the appeal, the exam card and the
candidate's own documents."""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
from typing import Any

import segno
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from exam_server.context import context
from exam_server.receipts.again import SittingReceipt, sitting_receipt
from exam_server.recruitment import service as svc
from exam_server.recruitment.forms import FormError
from exam_server.recruitment.pages.accounts import _account_id
from exam_server.recruitment.pages.plumbing import (
    Handler,
    _config,
    _document_response,
    _form,
    _guarded,
    _kick_outbox,
    _lang,
    _now,
    _period,
    _redirect,
    _run,
    render,
)
from recruitment import eligibility as elig
from recruitment.receipts import card_code


async def _candidate(request: Request) -> tuple[int, svc.PeriodView]:
    account_id = _account_id(request)
    if account_id is None:
        raise _LoginNeeded()
    period = await _period(request)
    if period is None:
        raise svc.Refused("belum ada periode seleksi", "there is no selection period")
    return account_id, period


class _LoginNeeded(Exception):
    pass


def _needs_login(fn: Handler) -> Handler:
    @functools.wraps(fn)
    async def wrapped(request: Request) -> Response:
        try:
            return await fn(request)
        except _LoginNeeded:
            return _redirect(request, "/recruitment/login")

    return wrapped


async def _me_page(
    request: Request,
    status_code: int = 200,
    errors: dict[str, Any] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    account_id, period = await _candidate(request)
    view = await _run(
        svc.candidate_view, context(request.app).engine, period, account_id, _now(request)
    )
    reg, forms, acc, checks = view.registration, view.formations, view.account, view.checks
    chosen = next((x for x in forms if reg and x["id"] == reg.rec_formation_id), None)
    kinds = (
        period.rules.documents_for(chosen["category"])
        if chosen
        else period.rules.required_documents
    )
    today = svc.today(_now(request))
    sitting = await _sitting(request, reg)
    if values is None and reg is not None:
        values = {
            "name": reg.name,
            "birth_date": reg.birth_date,
            "sex": reg.sex,
            "education_level": reg.education_level,
            "major": reg.major,
            "formation": chosen["code"] if chosen else "",
            "test_location": reg.test_location,
            "accommodation": reg.accommodation,
        }
    return render(
        request,
        "me.html",
        status_code,
        account=acc,
        period=period,
        reg=reg,
        formations=forms,
        documents=view.documents,
        kinds=kinds,
        locations=view.locations,
        rules=period.rules,
        checks=checks,
        verdict=elig.verdict(checks) if checks else None,
        verification=view.verification,
        appeal=view.appeal,
        undelivered=view.undelivered,
        errors=errors or {},
        values=values or {"name": acc.name if acc else ""},
        # The form shows in the window, and after it while a late registration
        # runs (given with a void; the save decides for which NIK: may_register).
        registration_open=period.schedule.registration_open(today)
        or view.late_until is not None
        or (view.late_running and today > period.schedule.registration_closes),
        late_until=view.late_until,
        nik_held=view.nik_held,
        appeal_open=period.schedule.appeal_open(today),
        sitting=sitting,
        by_period=await _run(
            svc.registrations_by_period, context(request.app).engine, account_id, today
        ),
    )


async def _sitting(request: Request, reg: Any) -> SittingReceipt | None:
    """The receipt of the registration's finished sitting, signed again, so
    that a candidate who lost the one the terminal showed still reaches the
    SKB and after-test pages (``exam_server.receipts.again``); None before
    the finish, or when this server signs no receipts."""
    key = context(request.app).attempts.receipt_key
    if key is None or reg is None or reg.candidate_id is None:
        return None
    find = functools.partial(sitting_receipt, candidate_id=reg.candidate_id)
    found: SittingReceipt | None = await _run(find, context(request.app).engine, key)
    return found


@_needs_login
@_guarded
async def me(request: Request) -> Response:
    return await _me_page(request)


@_needs_login
@_guarded
async def me_save(request: Request) -> Response:
    account_id, period = await _candidate(request)
    engine = context(request.app).engine
    form = _form(request)
    forms = await _run(svc.formations, engine, period.id)
    cfg = _config(request)
    values = {k: v for k, v in form.items() if k not in ("nik", "csrf") and isinstance(v, str)}
    try:
        locations = await _run(svc.test_locations, engine, period.id)
        fields = svc.parse_registration(form, period, forms, locations, _now(request))
        await _run(
            svc.save_registration,
            engine,
            period,
            account_id,
            fields,
            cfg.nik_key,
            cfg.registry,
            _now(request),
        )
    except FormError as exc:
        return await _me_page(request, 400, errors=exc.by_field(), values=values)
    return _redirect(request, "/recruitment/me")


@_needs_login
@_guarded
async def me_check(request: Request) -> Response:
    """Live eligibility of the fields as typed (JSON; nothing stored)."""
    account_id, period = await _candidate(request)
    engine = context(request.app).engine
    form = _form(request)
    forms = {x["code"]: x for x in await _run(svc.formations, engine, period.id)}
    chosen = forms.get(str(form.get("formation") or ""))
    if chosen is None:
        return JSONResponse({"checks": [], "verdict": None})
    reg = await _run(svc.registration_of, engine, period.id, account_id)
    have = (
        frozenset(await _run(svc.documents_of, engine, reg.id)) if reg and reg.id else frozenset()
    )
    try:
        born = dt.date.fromisoformat(str(form.get("birth_date") or ""))
    except ValueError:
        born = None
    applicant = elig.Applicant(
        birth_date=born,
        education_level=str(form.get("education_level") or ""),
        major=str(form.get("major") or "")[:200],
        category=chosen["category"],
        accommodation=str(form.get("accommodation") or "")[:40],
        documents=have,
    )
    checks = elig.evaluate(period.rules, svc.requirement_of(chosen), applicant)
    lang = _lang(request)
    return JSONResponse(
        {
            "verdict": elig.verdict(checks),
            "checks": [
                {"code": c.code, "ok": c.ok, "text": c.text_en if lang == "en" else c.text_id}
                for c in checks
            ],
        }
    )


@_needs_login
@_guarded
async def me_upload(request: Request) -> Response:
    account_id, period = await _candidate(request)
    engine = context(request.app).engine
    form = request.state.form
    kind = str(form.get("kind") or "")
    upload = form.get("file")
    reg = await _run(svc.registration_of, engine, period.id, account_id)
    if reg is None or reg.id is None:
        raise svc.Refused(
            "isi dan simpan data pendaftaran dahulu", "fill in and save the registration first"
        )
    if not isinstance(upload, UploadFile):
        raise svc.Refused("pilih berkas untuk diunggah", "choose a file to upload")
    appeal = kind == "appeal"
    limit = (
        2048 * 1024
        if appeal
        else period.rules.documents[kind].max_kb * 1024
        if kind in period.rules.documents
        else 0
    )
    data = await upload.read(limit + 1)
    await _run(
        functools.partial(
            svc.upload_document,
            engine,
            _config(request).store,
            period,
            reg.id,
            f"account:{account_id}",
            kind,
            data,
            _now(request),
            appeal=appeal,
        )
    )
    return _redirect(request, "/recruitment/me")


@_needs_login
@_guarded
async def me_submit(request: Request) -> Response:
    account_id, period = await _candidate(request)
    # Idempotent: a second submit (double click, resent form) finds the
    # registration submitted and leads to the same receipt.
    await _run(
        svc.submit_registration,
        context(request.app).engine,
        period,
        account_id,
        _config(request).key,
        _now(request),
    )
    resp = _redirect(request, "/recruitment/me/receipt")
    resp.background = _kick_outbox(request)
    return resp


@_needs_login
@_guarded
async def me_receipt(request: Request) -> Response:
    account_id, period = await _candidate(request)
    reg = await _run(svc.registration_of, context(request.app).engine, period.id, account_id)
    if reg is None or reg.receipt is None:
        raise svc.Refused("pendaftaran belum dikirim", "the registration is not submitted")
    receipt = json.loads(reg.receipt)
    return render(
        request,
        "receipt.html",
        reg=reg,
        period=period,
        receipt=receipt,
        receipt_text=json.dumps(receipt, ensure_ascii=False, sort_keys=True),
    )


@_needs_login
@_guarded
async def me_appeal(request: Request) -> Response:
    account_id, period = await _candidate(request)
    form = _form(request)
    await _run(
        svc.file_appeal,
        context(request.app).engine,
        period,
        account_id,
        str(form.get("reason") or ""),
        _now(request),
    )
    return _redirect(request, "/recruitment/me")


@_needs_login
@_guarded
async def me_card(request: Request) -> Response:
    account_id, period = await _candidate(request)
    engine = context(request.app).engine
    reg = await _run(svc.registration_of, engine, period.id, account_id)
    card = await _run(svc.card_of, engine, reg.id) if reg and reg.id else None
    if reg is None or card is None:
        raise svc.Refused("jadwal ujian belum tersedia", "the exam schedule is not ready")
    code = card_code(card["number"], card["session"], _config(request).key)
    qr = segno.make(code, error="m")
    docs_ = await _run(svc.documents_of, engine, reg.id)
    photo = None
    if "photo" in docs_:
        d = docs_["photo"]
        data = await _run(_config(request).store.get, d.sha256)
        photo = f"data:{d.media_type};base64,{base64.b64encode(data).decode()}"
    return render(
        request,
        "card.html",
        card=card,
        period=period,
        photo=photo,
        qr_svg=qr.svg_inline(scale=3, dark="#000", light="#fff"),
    )


@_needs_login
@_guarded
async def me_document(request: Request) -> Response:
    account_id, period = await _candidate(request)
    engine = context(request.app).engine
    reg = await _run(svc.registration_of, engine, period.id, account_id)
    return await _document_response(request, reg.id if reg else None, request.path_params["kind"])
