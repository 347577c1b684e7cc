"""The public after-the-test pages under ``/after/{exam}/`` (server-rendered,
Jinja2 with autoescaping, no script needed; Bahasa Indonesia first,
``?lang=en`` for English):

* ``/after/{exam}/`` — the links below;
* ``diagnostik`` — a receipt in, the candidate's diagnostic report out (printable);
* ``saran`` — the public feedback box (categories, honeypot, signed form time,
  rate limit per sender);
* ``dasbor`` — the public dashboard: satisfaction by test day, feedback by
  category and status, the time to answer (its spread per feedback category
  and for appeals), appeal statistics, published feedback with answers (SVG
  plots drawn here, offline and printable, each with its table);
* ``sanggah`` — an appeal of results, identified by the receipt.

While ``seleksi demo`` still seeds its finished exam in the background
(:func:`exam_server.demo.being_prepared`), that exam's pages say so instead.

A candidate is identified by their signed receipt (``exam_server.receipts``,
checked against every key the server has held, so a receipt outlives a
replaced key): no password, and nobody else's report.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Awaitable, Callable
from typing import Any

import anyio.to_thread
import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from after_test import appeals, feedback
from after_test.errors import Refused
from exam_server import receipts
from exam_server.after_test import plots, service, store
from exam_server.after_test.text import t
from exam_server.context import context
from exam_server.demo import being_prepared
from exam_server.limits import request_source
from exam_server.receipts.at_server import verify_at_server
from exam_server.results import publication as pub

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("exam_server.after_test", "templates"),
    autoescape=jinja2.select_autoescape(["html"], default_for_string=True, default=True),
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)
MAX_FORM_BYTES = 64 * 1024
FORM_MAX_AGE = 86_400.0  # a feedback form older than a day is reloaded


def area_name(code: str) -> str:
    """``bahasa_indonesia`` → ``Bahasa indonesia``; ``SKB:wawancara`` stays readable."""
    return code.replace("_", " ").capitalize() if ":" not in code else code


def lang_of(request: Request) -> str:
    return "en" if request.query_params.get("lang") == "en" else "id"


def render(
    request: Request, template: str, title: str, status_code: int = 200, **ctx: Any
) -> HTMLResponse:
    lang = lang_of(request)
    other = "en" if lang != "en" else "id"

    def tr(key: str) -> str:
        return t(key, lang)

    html = _ENV.get_template(template).render(
        lang=lang,
        t=tr,
        title=title,
        exam=request.path_params.get("exam", ""),
        other_lang_url=str(request.url.include_query_params(lang=other)),
        css_url=str(request.url_for("results_css")),
        area_name=area_name,
        **ctx,
    )
    return HTMLResponse(html, status_code=status_code)


def message(request: Request, heading: str, text: str, status: int, back: str = "") -> HTMLResponse:
    return render(
        request,
        "message.html",
        heading,
        status,
        heading=heading,
        message=text,
        bad=status >= 400,
        back_url=back,
        back_text=t("after", lang_of(request)),
    )


def refused(request: Request, heading: str, exc: Refused, status: int = 422) -> HTMLResponse:
    text = exc.message_en if lang_of(request) == "en" else exc.message_id
    return message(request, heading, text, status, _url(request, "after_index"))


def _url(request: Request, name: str) -> str:
    u = str(request.url_for(name, exam=request.path_params["exam"]))
    return f"{u}?lang=en" if lang_of(request) == "en" else u


async def _form(request: Request) -> dict[str, str]:
    if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
        raise Refused("form", "formulir terlalu besar", "the form is too large")
    form = await request.form(max_files=0, max_fields=20)
    return {k: v for k, v in form.items() if isinstance(v, str)}


async def check_receipt(request: Request, text: str) -> receipts.Receipt:
    """The receipt in ``text`` if a key this server has held signed it (the
    current one or one retired since), or a key registered for the site where
    the candidate sat (``exam_server.sites.receipt_keys.receipt_keys_for``;
    :func:`exam_server.receipts.verify`), and it is for this exam; Refused
    otherwise, saying why. The check itself is the one the SKB candidate page
    uses too (:func:`exam_server.receipts.at_server.verify_at_server`)."""
    ctx = context(request.app)
    exam = request.path_params["exam"]
    try:
        r = (
            await anyio.to_thread.run_sync(
                verify_at_server, ctx.engine, ctx.checkpoints, text, exam
            )
        ).receipt
    except receipts.ReceiptRefused as exc:
        key = {
            "unknown_key": "receipt_unknown_key",
            "bad_signature": "receipt_bad_signature",
            "other_site": "receipt_other_site",
        }.get(exc.code, "receipt_unreadable" if exc.code == "unreadable" else "bad_receipt")
        raise Refused(
            "receipt",
            t(key, "id").format(key=exc.key_id, site=exc.site),
            t(key, "en").format(key=exc.key_id, site=exc.site),
        ) from None
    if r.exam != request.path_params["exam"]:
        raise Refused(
            "receipt",
            t("receipt_other_exam", "id").format(exam=r.exam),
            t("receipt_other_exam", "en").format(exam=r.exam),
        )
    return r


# -- the feedback form's signed time -------------------------------------------------------


def form_token(secret: str, now: float) -> str:
    """When the form was served, signed (the honeypot's companion: a robot
    posts at once, or replays an old form)."""
    stamp = str(int(now))
    mac = hmac.new(secret.encode(), b"after-feedback-form:" + stamp.encode(), hashlib.sha256)
    return f"{stamp}.{mac.hexdigest()[:32]}"


def form_age(secret: str, token: str, now: float) -> float | None:
    """Seconds since the form was served, or None when the token is not ours."""
    stamp, _, _ = token.partition(".")
    if not stamp.isdigit() or not hmac.compare_digest(form_token(secret, float(stamp)), token):
        return None
    return now - float(stamp)


def sender_mac(secret: str, request: Request) -> str:
    """The sender's address under the server key: counts senders, names nobody."""
    src = request_source(request).encode()
    return hmac.new(secret.encode(), b"after-feedback-sender:" + src, hashlib.sha256).hexdigest()


# -- pages --------------------------------------------------------------------------------


async def index(request: Request) -> Response:
    urls = {
        "diag": _url(request, "after_diagnostic"),
        "feedback": _url(request, "after_feedback"),
        "dashboard": _url(request, "after_dashboard"),
        "appeal": _url(request, "after_appeal"),
    }
    return render(request, "index.html", t("after", lang_of(request)), urls=urls)


async def diagnostic(request: Request) -> Response:
    lang = lang_of(request)
    form = {"receipt": "", "error": ""}
    if request.method == "POST":
        try:
            data = await _form(request)
            r = await check_receipt(request, data.get("receipt", ""))
        except Refused as exc:
            form = {"receipt": "", "error": exc.message_en if lang == "en" else exc.message_id}
        else:
            engine = context(request.app).engine
            exam = request.path_params["exam"]
            try:
                report = await anyio.to_thread.run_sync(
                    service.diagnostic, engine, exam, r.registration_number
                )
            except store.NotFound:
                report = None
            except service.LeftOutAtSite as exc:
                key = "site_not_verified" if exc.why.arrived else "site_not_arrived"
                why = t(key, lang).format(site=exc.why.site, session=exc.why.session)
                return message(request, t("diag", lang), why, 404)
            if report is None:
                return message(request, t("diag", lang), t("no_result", lang), 404)
            return render(
                request,
                "diagnostic.html",
                t("diag", lang),
                regno=report.registration_number,
                name=report.name,
                lines=report.lines,
            )
    return render(
        request,
        "receipt_form.html",
        t("diag", lang),
        422 if form["error"] else 200,
        heading=t("diag", lang),
        intro=t("diag_intro", lang),
        action=_url(request, "after_diagnostic"),
        button=t("show", lang),
        **form,
    )


async def feedback_page(request: Request) -> Response:
    ctx = context(request.app)
    lang = lang_of(request)
    exam = request.path_params["exam"]
    if not await anyio.to_thread.run_sync(store.exam_exists, ctx.engine, exam):
        # Nothing stored under an exam code nobody holds (any text in the path).
        return message(request, t("feedback", lang), t("no_exam", lang), 404)
    policy = await anyio.to_thread.run_sync(store.policy_of, ctx.engine, exam)
    rules = policy.feedback
    now = ctx.clock.now()
    values = {"category": "", "text": "", "error": ""}
    if request.method == "POST":
        try:
            data = await _form(request)
            values.update(category=data.get("category", ""), text=data.get("text", ""))
            age = form_age(ctx.settings.secret_key, data.get("form", ""), now)
            if age is None or not rules.min_seconds <= age <= FORM_MAX_AGE:
                raise Refused("form", t("too_fast", "id"), t("too_fast", "en"))
            text = feedback.check_feedback(
                rules, data.get("category"), data.get("text"), data.get("website")
            )
            mac = sender_mac(ctx.settings.secret_key, request)
            recent = await anyio.to_thread.run_sync(
                store.recent_feedback, ctx.engine, mac, now - 3600.0
            )
            feedback.check_rate(rules, recent)
        except Refused as exc:
            values["error"] = exc.message_en if lang == "en" else exc.message_id
            status = 429 if exc.field == "rate" else 422
        else:
            n = await anyio.to_thread.run_sync(
                store.add_feedback,
                ctx.engine,
                exam,
                values["category"],
                text,
                feedback.text_digest(text),
                now,
                mac,
            )
            return message(
                request,
                t("feedback", lang),
                t("thanks", lang).format(n=n),
                200,
                _url(request, "after_dashboard"),
            )
    else:
        status = 200
    cats = [(code, b.en if lang == "en" else b.id) for code, b in rules.categories.items()]
    return render(
        request,
        "feedback.html",
        t("feedback", lang),
        status if values["error"] else 200,
        action=_url(request, "after_feedback"),
        form_token=form_token(ctx.settings.secret_key, now),
        categories=cats,
        max_text=rules.max_text,
        **values,
    )


def _dashboard_data(engine: Any, exam: str, now: float) -> dict[str, Any]:
    policy = store.policy_of(engine, exam)
    rows = store.feedback_rows(engine, exam)
    dash = feedback.dashboard(
        store.survey_rows(engine, exam),
        [(r["category"], r["status"], r["created_at"], r["answered_at"]) for r in rows],
    )
    appeal_rows = store.appeal_rows(engine, exam)
    stats = appeals.stats(
        [(a["status"], a["submitted_at"], a["answered_at"], a["answer_by"]) for a in appeal_rows],
        now,
    )
    published = [r for r in rows if r["status"] == feedback.FeedbackStatus.PUBLISHED]
    return {"policy": policy, "dash": dash, "appeals": stats, "published": published}


async def dashboard(request: Request) -> Response:
    ctx = context(request.app)
    lang = lang_of(request)
    exam = request.path_params["exam"]
    data = await anyio.to_thread.run_sync(_dashboard_data, ctx.engine, exam, ctx.clock.now())
    policy, dash = data["policy"], data["dash"]
    qname: Callable[[str], str] = lambda code: next(  # noqa: E731
        ((q.text.en if lang == "en" else q.text.id) for q in policy.survey if q.code == code), code
    )
    cats = [(c, b.en if lang == "en" else b.id) for c, b in policy.feedback.categories.items()]
    cname = dict(cats)
    # Days with too few answers for a mean (feedback.MIN_SURVEY_CELL) are not plotted.
    days = sorted({d for d, _, m, _ in dash.satisfaction if m is not None})
    means = {(d, q): m for d, q, m, _ in dash.satisfaction if m is not None}
    series = [(qname(q.code), [means.get((d, q.code)) for d in days]) for q in policy.survey]
    sat_plot = (
        plots.lines(t("satisfaction", lang), days, series, (1.0, 5.0), t("mean_1_5", lang))
        if days
        else None
    )
    statuses = ["pending", "published", "rejected"]
    cat_plot = plots.stacked_bars(
        t("by_category", lang),
        [label for _, label in cats],
        [t(s, lang) for s in statuses],
        [[dash.by_category.get(c, {}).get(s, 0) for s in statuses] for c, _ in cats],
    )
    times = [
        (label, sp)
        for label, sp in [
            *((cname[c], feedback.spread(dash.days_to_answer.get(c, ()))) for c, _ in cats),
            (t("appeals_group", lang), feedback.spread(data["appeals"].days_to_answer)),
        ]
        if sp is not None
    ]
    desc = "; ".join(
        t("answer_times_desc", lang).format(
            group=label,
            median=f"{sp.median:.1f}",
            q1=f"{sp.quartiles[0]:.1f}",
            q3=f"{sp.quartiles[1]:.1f}",
            least=f"{sp.least:.1f}",
            most=f"{sp.most:.1f}",
            n=sp.n,
        )
        for label, sp in times
    )
    times_plot = (
        plots.spreads(t("answer_times", lang), desc, times, t("answer_times_axis", lang))
        if times
        else None
    )
    return render(
        request,
        "dashboard.html",
        t("dashboard", lang),
        dash=dash,
        answer_times=times,
        times_plot=times_plot,
        appeals=data["appeals"],
        published=data["published"],
        categories=cats,
        statuses=statuses,
        question_name=qname,
        category_name=lambda c: cname.get(c, c),
        sat_plot=sat_plot,
        cat_plot=cat_plot,
        min_survey_cell=feedback.MIN_SURVEY_CELL,
    )


def _publication_manifest(directory: str | None) -> dict[str, Any] | None:
    import json

    if not directory:
        return None
    try:
        files = pub.read_publication(directory)
        manifest: dict[str, Any] = json.loads(files[pub.MANIFEST])
    except (pub.PublicationError, OSError, ValueError, KeyError):
        return None
    return manifest


def _day(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


async def appeal_page(request: Request) -> Response:
    ctx = context(request.app)
    lang = lang_of(request)
    exam = request.path_params["exam"]
    policy = await anyio.to_thread.run_sync(store.policy_of, ctx.engine, exam)
    rules = policy.appeals
    manifest = await anyio.to_thread.run_sync(_publication_manifest, ctx.settings.results_dir)
    if manifest is None or manifest["exam"]["id"] != exam:
        return message(request, t("appeal", lang), t("no_publication", lang), 404)
    win = appeals.window(rules, manifest["exam"]["published_at"])
    values = {
        "receipt": "",
        "reason": "",
        "evidence": "",
        "field": "",
        "requested": "",
        "error": "",
    }
    status = 200
    if request.method == "POST":
        now = ctx.clock.now()
        try:
            data = await _form(request)
            values.update(
                {k: data.get(k, "") for k in ("reason", "evidence", "field", "requested")}
            )
            r = await check_receipt(request, data.get("receipt", ""))
            req = appeals.AppealRequest(
                values["reason"],
                values["evidence"],
                values["field"] or None,
                values["requested"] or None,
            )
            appeals.check_request(rules, win, now, req)
            mine = await anyio.to_thread.run_sync(store.appeal_rows, ctx.engine, exam)
            appeals.check_not_pending(
                [a["status"] for a in mine if a["registration_number"] == r.registration_number]
            )
        except Refused as exc:
            values["error"] = exc.message_en if lang == "en" else exc.message_id
            status = 422
        else:
            n = await anyio.to_thread.run_sync(
                lambda: store.add_appeal(
                    ctx.engine,
                    exam_code=exam,
                    registration_number=r.registration_number,
                    receipt_sha256=receipts.receipt_hash(r),
                    published_version=int(manifest.get("version", {}).get("number", 1)),
                    reason=req.reason.strip(),
                    evidence=req.evidence.strip(),
                    field=req.field,
                    requested=(req.requested or "")[:200] or None,
                    submitted_at=now,
                    answer_by=win.answer_by(now),
                )
            )
            text = t("appeal_done", lang).format(n=n, d=_day(win.answer_by(now)))
            return message(request, t("appeal", lang), text, 200, _url(request, "after_dashboard"))
    return render(
        request,
        "appeal.html",
        t("appeal", lang),
        status,
        heading=t("appeal", lang),
        intro=t("appeal_intro", lang).format(w=rules.window_days, a=rules.answer_days),
        action=_url(request, "after_appeal"),
        button=t("submit_appeal", lang),
        window=f"{_day(win.opens)} – {_day(win.closes)}",
        fields=rules.fields,
        **values,
    )


Endpoint = Callable[[Request], Awaitable[Response]]


def unless_preparing(endpoint: Endpoint) -> Endpoint:
    """``endpoint``, or, while the demo still seeds this exam in the background,
    a page saying so (503 with Retry-After: an empty dashboard or "no result"
    would look like a broken demo)."""

    async def page(request: Request) -> Response:
        exam = request.path_params["exam"]
        if being_prepared(context(request.app).settings) != exam:
            return await endpoint(request)
        lang = lang_of(request)
        response = render(
            request,
            "preparing.html",
            t("preparing_heading", lang),
            503,
            heading=t("preparing_heading", lang),
            message=t("preparing", lang).format(exam=exam),
            reload_url=str(request.url),
        )
        response.headers["Retry-After"] = "5"
        return response

    return page


def routes() -> list[BaseRoute]:
    pages: list[tuple[str, Endpoint, list[str], str]] = [
        ("/", index, ["GET"], "after_index"),
        ("/diagnostik", diagnostic, ["GET", "POST"], "after_diagnostic"),
        ("/saran", feedback_page, ["GET", "POST"], "after_feedback"),
        ("/dasbor", dashboard, ["GET"], "after_dashboard"),
        ("/sanggah", appeal_page, ["GET", "POST"], "after_appeal"),
    ]
    return [
        Mount(
            "/after/{exam}",
            routes=[
                Route(path, unless_preparing(endpoint), methods=methods, name=name)
                for path, endpoint, methods, name in pages
            ],
        )
    ]
