"""How the pages are rendered: the Jinja2 environment over ``templates/``
(autoescaped), its filters and helpers, the page frame every page shares
(:func:`_render`), the offline verifier page, the reader's language, and the
shared stylesheet.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from exam_server.results.pages.text import t
from exam_server.results.pages.view import View
from exam_server.results.rules import RankingPolicy, fmt


def _n(v: Any) -> str:
    """A published value as people read it: numbers without exponent, nothing as an en dash."""
    if v is None:
        return "–"
    if isinstance(v, Decimal):
        return fmt(v)
    return str(v)


def fingerprint_groups(hex_fp: str) -> str:
    """``56475aa75463…`` as ``5647 5aa7 5463 …``: easier to compare by eye with an announcement."""
    return " ".join(hex_fp[i : i + 4] for i in range(0, len(hex_fp), 4))


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("exam_server.results", "templates"),
    autoescape=jinja2.select_autoescape(["html"], default_for_string=True, default=True),
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)
_ENV.filters["n"] = _n
_ENV.globals["fingerprint_groups"] = fingerprint_groups


def _render(
    request: Request,
    template: str,
    lang: str,
    title: str,
    view: View | None,
    status_code: int = 200,
    *,
    can_follow: bool = True,
    **ctx: Any,
) -> HTMLResponse:
    """A page; can_follow: the page may be asked for again with the reader's
    remembered language (not the answer to a POST)."""

    def tr(key: str) -> str:
        return t(key, lang)

    other = "en" if lang != "en" else "id"
    html = _ENV.get_template(template).render(
        lang=lang,
        title=title,
        view=view,
        t=tr,
        other_lang_url=str(request.url.include_query_params(lang=other)),
        verifier_url=str(request.url_for("results_verifier")),
        search_url=str(request.url_for("results_search")),
        receipt_url=str(request.url_for("results_receipt")),
        css_url=str(request.url_for("results_css")),
        can_follow=can_follow,
        **ctx,
    )
    return HTMLResponse(html, status_code=status_code)


def verifier_html(exam: str = "") -> str:
    """The offline verifier page: one HTML file with its script and style inline.

    ``exam``: the exam it was downloaded for, shown as a reminder (nothing is
    taken from the server for the checks themselves).
    """
    return _ENV.get_template("verifier.html").render(exam=exam)


def _lang(request: Request) -> str:
    return "en" if request.query_params.get("lang") == "en" else "id"


def _url(request: Request, name: str, lang: str, **params: str) -> str:
    u = str(request.url_for(name, **params))
    return f"{u}?lang=en" if lang == "en" else u


def _helpers(policy: RankingPolicy, lang: str) -> dict[str, Any]:
    def category(cid: str) -> str:
        c = policy.categories.get(cid)
        return c.name(lang) if c else cid

    def code_text(meaning: str) -> str:
        return policy.code(meaning).text(lang) if meaning in policy.codes else ""

    return {"category": category, "code_text": code_text}


@functools.cache
def _shared_css() -> bytes:
    """``proctor_ui/static/css/seleksi.css``: the look every Seleksi page shares."""
    import proctor_ui

    return (Path(proctor_ui.__file__).parent / "static" / "css" / "seleksi.css").read_bytes()
