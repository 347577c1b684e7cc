"""What every recruitment page uses: the cookies and their lifetimes, the
Jinja2 templates, the recruitment settings and the server key, CSRF tokens,
rendering in both languages, the guard that turns refusals into pages, the
outbox kick, and a stored document sent back (to its candidate or a verifier)."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import anyio.to_thread
import jinja2
from itsdangerous import URLSafeTimedSerializer
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Match, Mount

from exam_server.context import context
from exam_server.limits import Throttled
from exam_server.recruitment import outbox
from exam_server.recruitment import service as svc
from exam_server.recruitment.config import RecruitmentConfig
from exam_server.recruitment.forms import CODE_RE
from recruitment.scope import ROLE_ACTIONS  # noqa: F401  (re-exported by the package)
from recruitment.states import NEED_STATUS_TEXT, STATUS_TEXT, NeedStatus, Status, TransitionError

SCOPE = "recruit"
CANDIDATE_COOKIE = "rec_c"
STAFF_COOKIE = "rec_s"
CSRF_COOKIE = "rec_csrf"
SESSION_SECONDS = 8 * 3600
EMAIL_LINK_SECONDS = 3 * 86400
#: The largest request body accepted (uploads are limited per kind below this).
MAX_BODY = 25 * 1024 * 1024

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


def _period_code(request: Request) -> str | None:
    """The period a page is about: ``/recruitment/p/CODE/…`` or ``?period=CODE``
    (None: the newest period). Links and redirects keep it (:func:`render`'s
    ``u``, :func:`_redirect`), so each period's pages have stable addresses."""
    code = request.path_params.get("period") or request.query_params.get("period")
    return code if isinstance(code, str) and CODE_RE.match(code) else None


async def _period(request: Request) -> svc.PeriodView | None:
    """The page's period (:func:`_period_code`; an unknown code is ``NotFound``),
    or the newest one, or None when there is none."""
    code = _period_code(request)
    engine = context(request.app).engine
    if code is None:
        return await _run(svc.current_period, engine)
    return await _run(svc.period_by_code, engine, code)


async def _the_period(request: Request) -> svc.PeriodView:
    """:func:`_period`, refused when there is no period at all."""
    period = await _period(request)
    if period is None:
        raise svc.Refused("belum ada periode seleksi", "there is no selection period")
    return period


def _keep(request: Request, path: str) -> str:
    """``path`` with the page's language and period kept in its query."""
    extra = []
    code = _period_code(request)
    if code is not None and "period=" not in path:
        extra.append(f"period={code}")
    if _lang(request) == "en" and "lang=" not in path:
        extra.append("lang=en")
    if not extra:
        return path
    return path + ("&" if "?" in path else "?") + "&".join(extra)


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


def _other_language(request: Request, other: str) -> str:
    """The language switch's address. A page fetched by GET again with
    ``lang``; the page answering a form (POST) has an address no GET
    answers, so its switch goes to the page the form was on (its same-origin
    Referer under /recruitment; else the announcement), and a message page
    answering a form shows its text in both languages (message.html)."""
    if request.method == "GET":
        return str(request.url.include_query_params(lang=other))
    ref = urlsplit(request.headers.get("referer", ""))
    if (
        ref.netloc == request.url.netloc
        and ref.path.startswith("/recruitment")
        and _answers_get(request.app, ref.path)
    ):
        page = request.url.replace(path=ref.path, query=ref.query)
    else:
        # The form was itself on a page answering a form (a 400 page of
        # /recruitment/me/save sent again: a review's 405), or elsewhere.
        page = request.url.replace(path="/recruitment/", query="")
    return str(page.include_query_params(lang=other))


def _answers_get(app: Any, path: str) -> bool:
    """Whether ``path`` names a route of ``app`` that answers GET (through
    its mounts), by Starlette's own matching."""
    scope: dict[str, Any] = {"type": "http", "path": path, "method": "GET", "root_path": ""}
    routes = list(getattr(app, "routes", ()))
    while routes:
        for route in routes:
            match, child = route.matches(scope)
            if match == Match.FULL:
                if isinstance(route, Mount):
                    scope = {**scope, **child}
                    routes = list(route.routes)
                    break
                return True
        else:
            return False
    return False


def render(request: Request, template: str, status_code: int = 200, **ctx: Any) -> HTMLResponse:
    lang = _lang(request)
    token, new_cookie = csrf_token(request)

    def tr(text_id: str, text_en: str) -> str:
        return text_en if lang == "en" else text_id

    def u(path: str) -> str:
        """A link that keeps the page's language and period."""
        return _keep(request, path)

    other = "en" if lang != "en" else "id"
    html = _ENV.get_template(template).render(
        lang=lang,
        tr=tr,
        u=u,
        csrf=token,
        css_url=str(request.url_for("results_css")),
        # Only a page fetched by GET may be fetched again in the remembered language.
        can_follow=request.method == "GET",
        other_lang_url=_other_language(request, other),
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
    return RedirectResponse(_keep(request, path), status_code=303)


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
