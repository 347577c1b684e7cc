"""The public pages: the newest signed announcement (searchable by education
level, major and location), its earlier versions, the signature files and the
agency's public key, and the check of a receipt or an exam card."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from exam_server.context import context
from exam_server.recruitment import service as svc
from exam_server.recruitment.pages.plumbing import (
    _config,
    _form,
    _guarded,
    _now,
    _period,
    _run,
    message,
    render,
)
from exam_server.results.publication import public_key_pem
from recruitment import announcement as ann
from recruitment.receipts import check_text

#: The search fields of the public pages (query parameters).
SEARCH = ("agency", "period", "education", "major", "location")


def _query(request: Request) -> dict[str, str]:
    return {k: (request.query_params.get(k) or "").strip()[:100] for k in SEARCH}


def _search(formations: list[dict[str, Any]], q: dict[str, str]) -> list[dict[str, Any]]:
    """The formations matching every search field given (agency and period:
    their codes; education: the level; major and location: a part of the text)."""
    edu, major, loc = (
        q.get("education", ""),
        q.get("major", "").lower(),
        q.get("location", "").lower(),
    )
    agency, period = q.get("agency", ""), q.get("period", "")
    out = []
    for x in formations:
        if agency and x.get("agency", "") != agency:
            continue
        if period and x.get("period", period) != period:
            continue
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
    period = await _period(request)
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
    q = _query(request)
    stats = await _run(svc.appeal_stats, engine)
    agencies = sorted({(x.get("agency", ""), x.get("agency_name", "")) for x in doc["formations"]})
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
        agencies=[a for a in agencies if a[0]],
        stats=stats,
        schedule_text=ann.SCHEDULE_TEXT,
        categories=period.rules.categories,
    )


@_guarded
async def vacancies(request: Request) -> Response:
    """Every open vacancy of every period whose registration has not closed,
    across agencies, searchable by agency, period, education, major, location."""
    engine = context(request.app).engine
    every = await _run(svc.open_vacancies, engine, svc.today(_now(request)))
    q = _query(request)
    return render(
        request,
        "vacancies.html",
        formations=_search(every, q),
        q=q,
        periods=sorted({(x["period"], x["period_name"]) for x in every}),
        agencies=sorted({(x["agency"], x["agency_name"]) for x in every if x["agency"]}),
        levels=sorted({x["education_level"] for x in every}),
    )


async def announcement_file(request: Request) -> Response:
    engine = context(request.app).engine
    try:
        period = await _period(request)
    except svc.NotFound:
        period = None
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
