"""Accounts: a candidate signs up (email verified through the outbox), resets
a forgotten password, and candidates and staff log in and out. Logins and
sign-ups back off per account and source (scope ``recruit``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from exam_server.auth import hash_password
from exam_server.context import context
from exam_server.limits import request_source
from exam_server.recruitment import forms as f
from exam_server.recruitment import service as svc
from exam_server.recruitment.forms import FormError
from exam_server.recruitment.pages.plumbing import (
    CANDIDATE_COOKIE,
    EMAIL_LINK_SECONDS,
    SCOPE,
    SESSION_SECONDS,
    STAFF_COOKIE,
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
    ctx = context(request.app)
    # Check and count as one step (LoginLimiter.trying), the hash inside it:
    # one source holds at most a few places in the public hash queue.
    async with limits.trying(SCOPE, "signup", source):
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
        async with ctx.public_hash_limiter:
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


def _change_serializer(request: Request) -> URLSafeTimedSerializer:
    return _serializer(request, "seleksi.recruitment.email-change.v1")


@_guarded
async def change_email(request: Request) -> Response:
    """A logged-in candidate asks to use another address: the current password,
    then a link to the new address (the change happens when it is opened) and
    a notice to the current one."""
    account_id = _account_id(request)
    if account_id is None:
        return _redirect(request, "/recruitment/login")
    ctx = context(request.app)
    acc = await _run(svc.account, ctx.engine, account_id)
    if acc is None:
        return _redirect(request, "/recruitment/login")
    if request.method == "GET":
        return render(request, "email.html", errors={}, values={}, current=acc.email)
    form = _form(request)
    # Every request counts against the account and the source: no mailbox is
    # flooded with links, and the password is not guessed here faster than at
    # the login (waits are capped, never a lock).
    source = request_source(request)
    key = f"email:{account_id}"
    async with ctx.limits.trying(SCOPE, key, source):
        await ctx.limits.failed(SCOPE, key, source)
        err = FormError()
        new_email = f.email(form, "email", err)
        password = form.get("password") if isinstance(form.get("password"), str) else ""
        if not err.errors and new_email == acc.email:
            err.add("email", "ini alamat Anda sekarang", "this is your current address")
        if not err.errors:
            async with ctx.public_hash_limiter:
                ok = await _run(
                    svc.password_ok, ctx.engine, account_id, str(password), ctx.dummy_hash
                )
            if not ok:
                err.add("password", "kata sandi salah", "wrong password")
    if err.errors:
        status = 401 if "password" in err.by_field() else 400
        return render(
            request,
            "email.html",
            status,
            errors=err.by_field(),
            values={"email": new_email},
            current=acc.email,
        )
    ser, base = _change_serializer(request), str(request.url_for("rec_email_confirm"))

    def link(aid: int, address: str, fingerprint: str) -> str:
        return f"{base}?t={ser.dumps([aid, address, fingerprint])}"

    await _run(svc.request_email_change, ctx.engine, account_id, new_email, link, _now(request))
    resp = render(
        request,
        "message.html",
        title=("Periksa email baru Anda", "Check your new email"),
        text=(
            f"Tautan konfirmasi dikirim ke {new_email}. Email akun tetap {acc.email} sampai "
            "tautan itu dibuka (berlaku tiga hari).",
            f"A confirmation link was sent to {new_email}. The account's email stays "
            f"{acc.email} until that link is opened (valid for three days).",
        ),
        link=("/recruitment/me", ("Kembali", "Back")),
    )
    resp.background = _kick_outbox(request)
    return resp


@_guarded
async def confirm_email(request: Request) -> Response:
    """The link sent to the new address: the account's email becomes it."""
    try:
        aid, address, fingerprint = _change_serializer(request).loads(
            request.query_params.get("t", ""), max_age=EMAIL_LINK_SECONDS
        )
        aid, address, fingerprint = int(aid), str(address), str(fingerprint)
    except (BadSignature, TypeError, ValueError):
        return message(
            request,
            ("Tautan tidak sah", "Invalid link"),
            ("Tautan tidak sah atau kedaluwarsa.", "The link is invalid or expired."),
            400,
        )
    ctx = context(request.app)
    outcome = await _run(
        svc.confirm_email_change, ctx.engine, aid, address, fingerprint, _now(request)
    )
    if outcome == "taken":
        return message(
            request,
            ("Alamat sudah dipakai", "Address already in use"),
            (
                f"{address} sudah menjadi email akun lain; email akun Anda tidak diganti.",
                f"{address} is already another account's email; yours was not changed.",
            ),
            409,
        )
    if outcome == "used":
        return message(
            request,
            ("Tautan sudah dipakai", "Link already used"),
            (
                "Email akun sudah diganti sejak tautan ini dibuat. Minta tautan baru bila perlu.",
                "The account's email has changed since this link was made. Ask for a new one "
                "if needed.",
            ),
            409,
        )
    resp = render(
        request,
        "message.html",
        title=("Email diganti", "Email changed"),
        text=(
            f"Email akun Anda kini {address}; masuk dengan alamat ini.",
            f"Your account's email is now {address}; log in with this address.",
        ),
        link=("/recruitment/me", ("Pendaftaran saya", "My registration")),
    )
    resp.background = _kick_outbox(request)
    return resp


RESET_SECONDS = 3600
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
    async with ctx.limits.trying(SCOPE, f"reset:{email}", source):
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
    async with ctx.public_hash_limiter:
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
    # Check and count as one step (LoginLimiter.trying): a concurrent burst is
    # not checked in full before its first failure is counted. The hash
    # queues on the public pages' own limiter, never ahead of a proctor's.
    async with ctx.limits.trying(SCOPE, account, source):
        async with ctx.public_hash_limiter:
            if staff:
                row: Any = await _run(
                    svc.staff_login, ctx.engine, who, str(password), ctx.dummy_hash
                )
            else:
                row = await _run(svc.account_login, ctx.engine, who, str(password), ctx.dummy_hash)
        if row is None:
            await ctx.limits.failed(SCOPE, account, source)
    if row is None:
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
