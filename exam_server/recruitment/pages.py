"""The recruitment pages (``/recruitment``): public, candidates, agency staff.

Server-rendered with Jinja2 (autoescape, ``templates/``), Bahasa Indonesia
first and English with ``?lang=en``. Every form carries a CSRF token bound to
a cookie of the browser (:func:`csrf_token`), checked before anything else;
every field is validated on the server (``forms``) and a refused form is
shown again with a message per field in both languages, nothing stored.

* Public: ``/recruitment/`` — the newest signed announcement (searchable by
  education level, major and location; printable), its earlier versions and
  what changed, the signature files, and per-agency appeal statistics.
* Candidates: ``signup`` (email verified through the outbox), ``login``,
  ``me`` (registration form with live eligibility, uploads, submit), the
  receipt, the appeal, the exam card.
* Staff: ``staff`` — needs and their approval, publishing, the verification
  queue, TMS review by a second person, conflicts of interest, appeals,
  scheduling.

Logins and sign-ups back off per account and source under the rules of
``exam_server.limits`` (scope ``recruit``): waits grow and are capped, so
nobody is locked out for good. Sessions are cookies signed with the server
key (itsdangerous, one salt each for candidates and staff).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import hmac
import json
import secrets
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import anyio.to_thread
import jinja2
import segno
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.background import BackgroundTask
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from exam_server.auth import hash_password
from exam_server.context import context
from exam_server.limits import Throttled, request_source
from exam_server.recruitment import forms as f
from exam_server.recruitment import outbox
from exam_server.recruitment import service as svc
from exam_server.recruitment.config import RecruitmentConfig
from exam_server.recruitment.forms import FormError
from exam_server.results.publication import public_key_pem
from recruitment import announcement as ann
from recruitment import eligibility as elig
from recruitment.receipts import card_code, check_text
from recruitment.states import (
    NEED_STATUS_TEXT,
    STATUS_TEXT,
    NeedStatus,
    Status,
    TransitionError,
)

SCOPE = "recruit"
CANDIDATE_COOKIE = "rec_c"
STAFF_COOKIE = "rec_s"
CSRF_COOKIE = "rec_csrf"
SESSION_SECONDS = 8 * 3600
EMAIL_LINK_SECONDS = 3 * 86400
#: The largest request body accepted (uploads are limited per kind below this).
MAX_BODY = 25 * 1024 * 1024
ROLE_ACTIONS = {
    "needs": ("operator", "admin"),
    "decide_need": ("approver", "admin"),
    "verify": ("verifier",),
    "publish": ("admin",),
    "schedule": ("admin",),
}

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("exam_server.recruitment", "templates"),
    autoescape=jinja2.select_autoescape(["html"], default_for_string=True, default=True),
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)


def _when(ts: float | None) -> str:
    if ts is None:
        return "–"
    return dt.datetime.fromtimestamp(ts, svc.WIB).strftime("%Y-%m-%d %H:%M WIB")


_ENV.filters["when"] = _when


# -- plumbing -------------------------------------------------------------------------------


def _config(request: Request) -> RecruitmentConfig:
    cfg = getattr(request.app.state, "recruitment", None)
    if not isinstance(cfg, RecruitmentConfig):
        cfg = RecruitmentConfig.from_settings(request.app.state.settings)
        request.app.state.recruitment = cfg
    return cfg


def _secret(request: Request) -> str:
    return str(context(request.app).settings.secret_key)


def _serializer(request: Request, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(_secret(request), salt=salt)


def _lang(request: Request) -> str:
    return "en" if request.query_params.get("lang") == "en" else "id"


def _now(request: Request) -> float:
    return float(context(request.app).clock.now())


async def _run(fn: Callable[..., Any], *args: Any) -> Any:
    return await anyio.to_thread.run_sync(functools.partial(fn, *args))


def csrf_token(request: Request) -> tuple[str, str | None]:
    """(the token forms carry, a new cookie value to set or None)."""
    cookie = request.cookies.get(CSRF_COOKIE)
    new = None
    if not cookie or len(cookie) > 100:
        cookie = new = secrets.token_urlsafe(24)
    token = hmac.new(_secret(request).encode(), f"csrf|{cookie}".encode(), hashlib.sha256)
    return token.hexdigest(), new


def _csrf_ok(request: Request, form: Any) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE)
    sent = form.get("csrf")
    if not cookie or not isinstance(sent, str):
        return False
    want, _ = csrf_token(request)
    return hmac.compare_digest(want, sent)


def render(request: Request, template: str, status_code: int = 200, **ctx: Any) -> HTMLResponse:
    lang = _lang(request)
    token, new_cookie = csrf_token(request)

    def tr(text_id: str, text_en: str) -> str:
        return text_en if lang == "en" else text_id

    def u(path: str) -> str:
        """A link that keeps the page's language."""
        if lang != "en":
            return path
        return path + ("&" if "?" in path else "?") + "lang=en"

    other = "en" if lang != "en" else "id"
    html = _ENV.get_template(template).render(
        lang=lang,
        tr=tr,
        u=u,
        csrf=token,
        css_url=str(request.url_for("results_css")),
        # Only a page fetched by GET may be fetched again in the remembered language.
        can_follow=request.method == "GET",
        other_lang_url=str(request.url.include_query_params(lang=other)),
        status_text=lambda s: tr(*STATUS_TEXT[Status(s)]),
        need_status_text=lambda s: tr(*NEED_STATUS_TEXT[NeedStatus(s)]),
        **ctx,
    )
    resp = HTMLResponse(html, status_code=status_code)
    # Forms are never framed by another site (clickjacking); links in a page
    # (a reset token in its address) do not travel to other sites; pages
    # about a person are not kept in caches (a shared computer at a café).
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["Referrer-Policy"] = "same-origin"
    if template != "public.html":
        resp.headers["Cache-Control"] = "no-store"
    if new_cookie:
        resp.set_cookie(
            CSRF_COOKIE, new_cookie, httponly=True, samesite="strict", path="/recruitment"
        )
    return resp


def message(
    request: Request, title: tuple[str, str], text: tuple[str, str], status_code: int = 200
) -> HTMLResponse:
    return render(request, "message.html", status_code, title=title, text=text)


def _redirect(request: Request, path: str) -> RedirectResponse:
    if _lang(request) == "en":
        path += ("&" if "?" in path else "?") + "lang=en"
    return RedirectResponse(path, status_code=303)


Handler = Callable[[Request], Awaitable[Response]]


def _guarded(fn: Handler) -> Handler:
    """Checks the CSRF token of a POST; turns refusals into pages (never a crash)."""

    @functools.wraps(fn)
    async def wrapped(request: Request) -> Response:
        if request.method == "POST":
            # A body without a length (chunked) is refused: it could not be
            # bounded before the form parser spooled it to disk.
            length = request.headers.get("content-length")
            if length is None:
                return message(
                    request,
                    ("Panjang kiriman tidak diketahui", "Length required"),
                    ("Kirim formulir dari peramban.", "Send the form from a browser."),
                    411,
                )
            if not length.isdigit() or int(length) > MAX_BODY:
                return message(
                    request,
                    ("Terlalu besar", "Too large"),
                    ("Kiriman melebihi 25 MB.", "The request is larger than 25 MB."),
                    413,
                )
            try:
                form = await request.form(max_files=2, max_fields=60)
            except (HTTPException, MultiPartException, ClientDisconnect, ValueError):
                # A malformed multipart or urlencoded body, too many parts, a
                # body cut short: an answer, not a crash.
                return message(
                    request,
                    ("Kiriman rusak", "Malformed request"),
                    ("Formulir tidak dapat dibaca.", "The form cannot be read."),
                    400,
                )
            request.state.form = form
            if not _csrf_ok(request, form):
                return message(
                    request,
                    ("Sesi formulir kedaluwarsa", "Form session expired"),
                    ("Muat ulang halaman lalu kirim lagi.", "Reload the page and send again."),
                    403,
                )
        try:
            return await fn(request)
        except svc.Refused as exc:
            return message(
                request, ("Tidak dapat diproses", "Cannot be done"), (exc.text_id, exc.text_en), 409
            )
        except TransitionError as exc:
            return message(
                request, ("Tidak dapat diproses", "Cannot be done"), (exc.text_id, exc.text_en), 409
            )
        except svc.NotFound:
            return message(
                request,
                ("Tidak ditemukan", "Not found"),
                ("Data tidak ditemukan.", "Nothing here."),
                404,
            )
        except Throttled as exc:
            resp = message(
                request,
                ("Terlalu banyak percobaan", "Too many attempts"),
                (
                    f"Coba lagi setelah {exc.retry_after} detik.",
                    f"Try again in {exc.retry_after} s.",
                ),
                429,
            )
            resp.headers["Retry-After"] = str(exc.retry_after)
            return resp

    return wrapped


def _form(request: Request) -> dict[str, Any]:
    form = request.state.form
    return {k: form.get(k) for k in form}


def _kick_outbox(request: Request) -> BackgroundTask | None:
    cfg = _config(request)
    if cfg.smtp is None:
        return None
    return BackgroundTask(
        anyio.to_thread.run_sync,
        functools.partial(
            outbox.send_pending, context(request.app).engine, cfg.smtp, _now(request)
        ),
    )


# -- public -------------------------------------------------------------------------------


def _search(formations: list[dict[str, Any]], q: dict[str, str]) -> list[dict[str, Any]]:
    edu, major, loc = (
        q.get("education", ""),
        q.get("major", "").lower(),
        q.get("location", "").lower(),
    )
    out = []
    for x in formations:
        if edu and x["education_level"] != edu:
            continue
        if major and x["majors"] and not any(major in m.lower() for m in x["majors"]):
            continue
        if loc and loc not in x["location"].lower():
            continue
        out.append(x)
    return out


@_guarded
async def public_index(request: Request) -> Response:
    engine = context(request.app).engine
    period = await _run(svc.current_period, engine)
    if period is None:
        return message(
            request,
            ("Belum ada pengumuman", "No announcement yet"),
            ("Belum ada periode seleksi.", "There is no selection period yet."),
        )
    wanted = request.path_params.get("version")
    versions = await _run(svc.announcement_versions, engine, period.id)
    current = await _run(svc.announcement, engine, period.id, wanted)
    if not versions:
        return message(
            request,
            ("Belum ada pengumuman", "No announcement yet"),
            ("Pengumuman belum diterbitkan.", "The announcement is not published yet."),
        )
    if current is None:
        raise svc.NotFound("no such version")
    doc = json.loads(current.document_json)
    q = {
        k: (request.query_params.get(k) or "").strip()[:100]
        for k in ("education", "major", "location")
    }
    stats = await _run(svc.appeal_stats, engine)
    return render(
        request,
        "public.html",
        period=period,
        doc=doc,
        current=current,
        versions=versions,
        changes=json.loads(current.changes_json),
        formations=_search(doc["formations"], q),
        q=q,
        stats=stats,
        schedule_text=ann.SCHEDULE_TEXT,
        categories=period.rules.categories,
    )


async def announcement_file(request: Request) -> Response:
    engine = context(request.app).engine
    period = await _run(svc.current_period, engine)
    version, ext = int(request.path_params["version"]), request.path_params["ext"]
    row = await _run(svc.announcement, engine, period.id, version) if period else None
    if row is None or ext not in ("json", "sig"):
        return Response("not found", status_code=404)
    if ext == "json":
        return Response(row.document_json.encode("utf-8"), media_type="application/json")
    return Response(row.signature + "\n", media_type="text/plain")


@_guarded
async def check(request: Request) -> Response:
    """Anyone checks a receipt (pasted JSON) or an exam card (its QR text): the
    signature under the agency's key, then whether this server holds the same."""
    if request.method == "GET":
        return render(request, "check.html", finding=None, on_record=False, text="")
    text = str(_form(request).get("text") or "")[:20_000]
    finding = check_text(text, _config(request).key.public_key())
    held = await _run(svc.on_record, context(request.app).engine, finding)
    return render(request, "check.html", finding=finding, on_record=held, text=text)


async def public_key(request: Request) -> Response:
    return Response(
        public_key_pem(_config(request).key.public_key()), media_type="application/x-pem-file"
    )


# -- candidate accounts -------------------------------------------------------------------


def _account_id(request: Request) -> int | None:
    raw = request.cookies.get(CANDIDATE_COOKIE)
    if not raw:
        return None
    try:
        return int(
            _serializer(request, "seleksi.recruitment.candidate.v1").loads(
                raw, max_age=SESSION_SECONDS
            )
        )
    except (BadSignature, TypeError, ValueError):
        return None


@_guarded
async def signup(request: Request) -> Response:
    if request.method == "GET":
        return render(request, "signup.html", errors={}, values={})
    form = _form(request)
    limits = context(request.app).limits
    source = request_source(request)
    await limits.check(SCOPE, "signup", source)
    err = FormError()
    name = f.text(form, "name", err)
    email = f.email(form, "email", err)
    password = f.password(form, "password", err)
    if form.get("password2") != password:
        err.add("password2", "kata sandi tidak sama", "the passwords differ")
    if err.errors:
        return render(
            request,
            "signup.html",
            400,
            errors=err.by_field(),
            values={"name": name, "email": email},
        )
    # Every sign-up counts against its source: a burst from one address slows
    # down (capped waits), a person signing up once never waits.
    await limits.failed(SCOPE, "signup", source)
    ctx = context(request.app)
    async with ctx.hash_limiter:
        digest = await _run(hash_password, password, ctx.settings.scrypt_n)
    await _run(svc.signup, ctx.engine, email, name, digest, _verify_link(request), _now(request))
    resp = message(
        request,
        ("Periksa email Anda", "Check your email"),
        (
            "Jika alamat ini belum terdaftar, tautan verifikasi telah dikirim ke sana.",
            "If this address was not registered yet, a verification link has been sent to it.",
        ),
    )
    resp.background = _kick_outbox(request)
    return resp


def _verify_link(request: Request) -> Callable[[int], str]:
    """Makes the email verification link of an account (signed, three days)."""
    ser = _serializer(request, "seleksi.recruitment.email.v1")
    base = str(request.url_for("rec_verify"))

    def link(account_id: int) -> str:
        return f"{base}?t={ser.dumps(account_id)}"

    return link


@_guarded
async def verify(request: Request) -> Response:
    ser = _serializer(request, "seleksi.recruitment.email.v1")
    try:
        account_id = int(ser.loads(request.query_params.get("t", ""), max_age=EMAIL_LINK_SECONDS))
    except (BadSignature, TypeError, ValueError):
        return message(
            request,
            ("Tautan tidak sah", "Invalid link"),
            (
                "Tautan verifikasi tidak sah atau kedaluwarsa.",
                "The verification link is invalid or expired.",
            ),
            400,
        )
    await _run(svc.verify_email, context(request.app).engine, account_id, _now(request))
    return render(
        request,
        "message.html",
        title=("Email terverifikasi", "Email verified"),
        text=("Silakan masuk untuk mendaftar.", "Please log in to register."),
        link=("/recruitment/login", ("Masuk", "Log in")),
    )


RESET_SECONDS = 3600


def _reset_serializer(request: Request) -> URLSafeTimedSerializer:
    return _serializer(request, "seleksi.recruitment.reset.v1")


@_guarded
async def forgot(request: Request) -> Response:
    if request.method == "GET":
        return render(request, "forgot.html", errors={})
    form = _form(request)
    err = FormError()
    email = f.email(form, "email", err)
    if err.errors:
        return render(request, "forgot.html", 400, errors=err.by_field())
    ctx = context(request.app)
    # Every request counts against the address and the source, so a mailbox
    # cannot be flooded with links (waits are capped, never a lock).
    source = request_source(request)
    await ctx.limits.check(SCOPE, f"reset:{email}", source)
    await ctx.limits.failed(SCOPE, f"reset:{email}", source)
    ser, base = _reset_serializer(request), str(request.url_for("rec_reset"))

    def link(account_id: int, fingerprint: str) -> str:
        return f"{base}?t={ser.dumps([account_id, fingerprint])}"

    await _run(svc.request_password_reset, ctx.engine, email, link, _now(request))
    resp = message(
        request,
        ("Periksa email Anda", "Check your email"),
        (
            "Jika alamat ini terdaftar, tautan untuk mengatur ulang kata sandi telah dikirim.",
            "If this address has an account, a link to reset the password has been sent.",
        ),
    )
    resp.background = _kick_outbox(request)
    return resp


@_guarded
async def reset(request: Request) -> Response:
    token = (
        request.query_params.get("t", "")
        if request.method == "GET"
        else str(_form(request).get("t") or "")
    )
    try:
        account_id, fingerprint = _reset_serializer(request).loads(token, max_age=RESET_SECONDS)
        account_id, fingerprint = int(account_id), str(fingerprint)
    except (BadSignature, TypeError, ValueError):
        return message(
            request,
            ("Tautan tidak sah", "Invalid link"),
            ("Tautan tidak sah atau kedaluwarsa.", "The link is invalid or expired."),
            400,
        )
    if request.method == "GET":
        return render(request, "reset.html", token=token, errors={})
    form = _form(request)
    err = FormError()
    password = f.password(form, "password", err)
    if form.get("password2") != password:
        err.add("password2", "kata sandi tidak sama", "the passwords differ")
    if err.errors:
        return render(request, "reset.html", 400, token=token, errors=err.by_field())
    ctx = context(request.app)
    async with ctx.hash_limiter:
        digest = await _run(hash_password, password, ctx.settings.scrypt_n)
    if not await _run(
        svc.reset_password, ctx.engine, account_id, fingerprint, digest, _now(request)
    ):
        return message(
            request,
            ("Tautan sudah dipakai", "Link already used"),
            ("Minta tautan baru bila perlu.", "Ask for a new link if needed."),
            409,
        )
    return render(
        request,
        "message.html",
        title=("Kata sandi diganti", "Password changed"),
        text=("Silakan masuk dengan kata sandi baru.", "Please log in with the new password."),
        link=("/recruitment/login", ("Masuk", "Log in")),
    )


async def _login_common(request: Request, staff: bool) -> Response:
    template = "login.html"
    if request.method == "GET":
        return render(request, template, staff=staff, errors={}, values={})
    form = _form(request)
    err = FormError()
    who = f.text(form, "username" if staff else "email", err, max_len=254).lower()
    password = form.get("password") if isinstance(form.get("password"), str) else ""
    ctx = context(request.app)
    source = request_source(request)
    account = ("staff:" if staff else "") + who
    await ctx.limits.check(SCOPE, account, source)
    async with ctx.hash_limiter:
        if staff:
            row: Any = await _run(svc.staff_login, ctx.engine, who, str(password), ctx.dummy_hash)
        else:
            row = await _run(svc.account_login, ctx.engine, who, str(password), ctx.dummy_hash)
    if row is None:
        await ctx.limits.failed(SCOPE, account, source)
        err.add(
            "password",
            "email/nama pengguna atau kata sandi salah",
            "wrong email/username or password",
        )
        return render(
            request, template, 401, staff=staff, errors=err.by_field(), values={"who": who}
        )
    await ctx.limits.succeeded(SCOPE, account, source)
    if not staff and row.email_verified_at is None:
        sent = await _run(
            svc.resend_verification, ctx.engine, row.id, _verify_link(request), _now(request)
        )
        unverified = message(
            request,
            ("Email belum diverifikasi", "Email not verified"),
            (
                "Buka tautan yang dikirim ke email Anda terlebih dahulu."
                + (" Tautan baru baru saja dikirim." if sent else ""),
                "Open the link sent to your email first."
                + (" A new link has just been sent." if sent else ""),
            ),
            403,
        )
        unverified.background = _kick_outbox(request)
        return unverified
    salt = "seleksi.recruitment.staff.v1" if staff else "seleksi.recruitment.candidate.v1"
    resp = _redirect(request, "/recruitment/staff" if staff else "/recruitment/me")
    resp.set_cookie(
        STAFF_COOKIE if staff else CANDIDATE_COOKIE,
        _serializer(request, salt).dumps(row.id),
        httponly=True,
        samesite="strict",
        path="/recruitment",
        max_age=SESSION_SECONDS,
    )
    return resp


@_guarded
async def login(request: Request) -> Response:
    return await _login_common(request, staff=False)


@_guarded
async def staff_login(request: Request) -> Response:
    return await _login_common(request, staff=True)


@_guarded
async def logout(request: Request) -> Response:
    resp = _redirect(request, "/recruitment/")
    resp.delete_cookie(CANDIDATE_COOKIE, path="/recruitment")
    resp.delete_cookie(STAFF_COOKIE, path="/recruitment")
    return resp


# -- the candidate's registration ---------------------------------------------------------


async def _candidate(request: Request) -> tuple[int, svc.PeriodView]:
    account_id = _account_id(request)
    if account_id is None:
        raise _LoginNeeded()
    period = await _run(svc.current_period, context(request.app).engine)
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
    view = await _run(svc.candidate_view, context(request.app).engine, period, account_id)
    reg, forms, acc, checks = view.registration, view.formations, view.account, view.checks
    chosen = next((x for x in forms if reg and x["id"] == reg.rec_formation_id), None)
    kinds = (
        period.rules.documents_for(chosen["category"])
        if chosen
        else period.rules.required_documents
    )
    today = svc.today(_now(request))
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
        errors=errors or {},
        values=values or {"name": acc.name if acc else ""},
        registration_open=period.schedule.registration_open(today),
        appeal_open=period.schedule.appeal_open(today),
    )


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


async def _document_response(request: Request, registration_id: int | None, kind: str) -> Response:
    if registration_id is None:
        raise svc.NotFound("no registration")
    docs_ = await _run(svc.documents_of, context(request.app).engine, registration_id)
    d = docs_.get(kind)
    if d is None:
        raise svc.NotFound("no document")
    data = await _run(_config(request).store.get, d.sha256)
    return Response(
        data,
        media_type=d.media_type,
        headers={
            "Content-Disposition": f'inline; filename="{kind}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )


# -- staff --------------------------------------------------------------------------------


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
async def staff_registration(request: Request) -> Response:
    st = await _staff(request, "verify")
    engine = context(request.app).engine
    period = await _run(svc.current_period, engine)
    reg = await _run(
        svc.registration_for_staff, engine, int(request.path_params["id"]), st.username
    )
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
    period = await _run(svc.current_period, engine)
    form = _form(request)
    await _run(
        svc.decide_registration,
        engine,
        period,
        int(request.path_params["id"]),
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


def _compile_templates() -> None:
    for name in _ENV.list_templates():
        _ENV.get_template(name)


def routes() -> list[BaseRoute]:
    """One Mount at ``/recruitment``. The templates are compiled in a thread
    of their own from here: compiled on its first request, a page held the event
    loop for a quarter of a second on a loaded machine (a request that comes
    first still compiles its page; Jinja2's cache is thread-safe)."""
    threading.Thread(target=_compile_templates, name="rec-templates", daemon=True).start()
    both = ["GET", "POST"]
    return [
        Mount(
            "/recruitment",
            routes=[
                Route("/", public_index, name="rec_index"),
                Route("/announcement/{version:int}", public_index, name="rec_version"),
                Route("/announcement/{version:int}.{ext}", announcement_file, name="rec_file"),
                Route("/key.pem", public_key, name="rec_key"),
                Route("/check", check, methods=both, name="rec_check"),
                Route("/signup", signup, methods=both, name="rec_signup"),
                Route("/verify", verify, name="rec_verify"),
                Route("/login", login, methods=both, name="rec_login"),
                Route("/forgot", forgot, methods=both, name="rec_forgot"),
                Route("/reset", reset, methods=both, name="rec_reset"),
                Route("/logout", logout, methods=["POST"], name="rec_logout"),
                Route("/me", me, name="rec_me"),
                Route("/me/save", me_save, methods=["POST"]),
                Route("/me/check", me_check, methods=["POST"]),
                Route("/me/upload", me_upload, methods=["POST"]),
                Route("/me/submit", me_submit, methods=["POST"]),
                Route("/me/receipt", me_receipt),
                Route("/me/appeal", me_appeal, methods=["POST"]),
                Route("/me/card", me_card),
                Route("/me/doc/{kind}", me_document),
                Route("/staff", staff_home, name="rec_staff"),
                Route("/staff/login", staff_login, methods=both),
                Route("/staff/needs", staff_need_create, methods=["POST"]),
                Route("/staff/needs/{id:int}/submit", staff_need_submit, methods=["POST"]),
                Route("/staff/needs/{id:int}/decide", staff_need_decide, methods=["POST"]),
                Route("/staff/publish", staff_publish, methods=["POST"]),
                Route("/staff/schedule", staff_schedule, methods=["POST"]),
                Route("/staff/reg/{id:int}", staff_registration),
                Route("/staff/reg/{id:int}/doc/{kind}", staff_document),
                Route("/staff/reg/{id:int}/decide", staff_decide, methods=["POST"]),
                Route("/staff/reg/{id:int}/conflict", staff_conflict, methods=["POST"]),
                Route("/staff/tms/{id:int}", staff_tms, methods=["POST"]),
                Route("/staff/appeal/{id:int}", staff_appeal, methods=["POST"]),
            ],
        )
    ]
