"""The endpoints under ``/results`` and the one :class:`~starlette.routing.Mount`
that holds them (:func:`routes`): the index, a formation's ranking, search,
the receipt check, proofs, the offline verifier, the receipt keys, the
stylesheet and the published files.
"""

from __future__ import annotations

import functools
import os
import urllib.parse
from pathlib import Path

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from exam_server import receipts
from exam_server.results import publication as pubm
from exam_server.results.pages.rendering import (
    _helpers,
    _lang,
    _render,
    _shared_css,
    _url,
    verifier_html,
)
from exam_server.results.pages.text import HOW_STEPS, t
from exam_server.results.pages.view import PublicationSource, View, _source
from exam_server.results.receipt_check import ReceiptFinding, check_receipt_text
from exam_server.results.rules import FINAL_MEANINGS, SKD_MEANINGS

# The receipt box posts a form; a receipt code is a few hundred characters.
MAX_RECEIPT_FORM_BYTES = 8192
# Pages only ever serve published files; the verifier forbids itself any load.
VERIFIER_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"
)


def routes(publication_dir: str | os.PathLike[str] | None = None) -> list[BaseRoute]:
    """The public results pages under ``/results``.

    ``publication_dir``: the directory ``seleksi results publish`` wrote. When
    ``None``, each request reads ``app.state.results_publication_dir`` (so the
    server can set or change it at run time); with neither, the pages say no
    results are published yet.
    """
    fixed = PublicationSource(publication_dir) if publication_dir is not None else None

    async def need(request: Request) -> tuple[str, View | None]:
        lang = _lang(request)
        src = _source(request, fixed)
        if src is None:
            return lang, None
        # Loading verifies the whole publication: never on the server's event loop.
        return lang, await anyio.to_thread.run_sync(src.view)

    def nothing(request: Request, lang: str) -> HTMLResponse:
        from exam_server.demo import being_prepared

        title = t("results", lang)
        # The demo publishes its finished exam a few seconds after it serves.
        exam = being_prepared(getattr(request.app.state, "settings", None))
        if exam is not None:
            text = t("preparing", lang).format(exam=exam)
            page = _render(request, "message.html", lang, title, None, 503, message=text)
            page.headers["Retry-After"] = "5"
            return page
        return _render(request, "message.html", lang, title, None, 404, message=t("none", lang))

    async def index(request: Request) -> Response:
        lang, view = await need(request)
        if view is None:
            return nothing(request, lang)
        rows = []
        for key, doc in view.docs.items():
            stage, fid = key.split("/", 1)
            f = doc["formation"]
            extra = (
                f"{t('cut', lang).format(m=view.policy.cut_multiple)}: {doc['cut']}"
                if stage == "skd"
                else f"{t('vacant', lang)}: {doc['vacant']}"
            )
            rows.append(
                {
                    "id": fid,
                    "name": f["name"],
                    "stage": stage,
                    "openings": f["openings"],
                    "candidates": len(doc["entries"]),
                    "extra": extra,
                    "link": _url(request, "results_formation", lang, stage=stage, formation=fid),
                    "csv": str(request.url_for("results_file", path=f"{key}.csv")),
                }
            )
        files = [
            (p, str(request.url_for("results_file", path=p)))
            for p in (pubm.MANIFEST, pubm.SIGNATURE, pubm.PUBLIC_KEY, pubm.POLICY)
        ]
        return _render(
            request,
            "index.html",
            lang,
            t("results", lang),
            view,
            rows=rows,
            files=files,
            how_steps=[t(k, lang) for k in HOW_STEPS],
        )

    async def formation_page(request: Request) -> Response:
        lang, view = await need(request)
        if view is None:
            return nothing(request, lang)
        stage, fid = request.path_params["stage"], request.path_params["formation"]
        doc = view.docs.get(f"{stage}/{fid}")
        if doc is None:
            return _render(
                request, "message.html", lang, t("results", lang), view, 404, message=f"{fid}?"
            )
        summary = f"{t('openings', lang)}: {doc['formation']['openings']}"
        if stage == "skd":
            cut_label = t("cut", lang).format(m=view.policy.cut_multiple)
            summary += f" · {cut_label}: {doc['cut']}"
        else:
            summary += f" · {t('vacant', lang)}: {doc['vacant']}"
        subs = view.policy.subtest_codes
        columns = [t("rank", lang), t("regno", lang), t("name", lang), t("category", lang), *subs]
        if stage == "skd":
            columns += [t("total", lang)]
        else:
            columns += ["SKD", t("skb", lang), t("final_score", lang)]
        columns += [t("code", lang), t("reason", lang)]
        meanings = SKD_MEANINGS if stage == "skd" else FINAL_MEANINGS
        legend = [(view.policy.code(m).code, view.policy.code(m).text(lang), m) for m in meanings]
        return _render(
            request,
            "formation.html",
            lang,
            f"{t('results', lang)} · {fid}",
            view,
            stage=stage,
            fid=fid,
            doc=doc,
            hit=request.query_params.get("regno", ""),
            summary=summary,
            columns=columns,
            subtests=subs,
            legend=legend,
            back_url=_url(request, "results_index", lang),
            csv_url=str(request.url_for("results_file", path=f"{stage}/{fid}.csv")),
            json_url=str(request.url_for("results_file", path=f"{stage}/{fid}.json")),
            **_helpers(view.policy, lang),
        )

    def search_page(
        request: Request,
        lang: str,
        view: View,
        regno: str,
        finding: ReceiptFinding | None,
        *,
        can_follow: bool = True,
    ) -> HTMLResponse:
        found = []
        for key, e in view.by_regno.get(regno, []) if regno else []:
            stage, fid = key.split("/", 1)
            link = _url(request, "results_formation", lang, stage=stage, formation=fid)
            sep = "&" if "?" in link else "?"
            found.append(
                {
                    "stage": stage,
                    "fid": fid,
                    "entry": e,
                    "link": f"{link}{sep}{urllib.parse.urlencode({'regno': regno})}",
                    "score": e["total"] if stage == "skd" else e["final"],
                }
            )
        proof_url = str(request.url_for("results_proof", regno=regno)) if found else ""
        return _render(
            request,
            "search.html",
            lang,
            t("search", lang),
            view,
            regno=regno,
            found=found,
            proof_url=proof_url,
            finding=finding,
            can_follow=can_follow,
            **_helpers(view.policy, lang),
        )

    async def search(request: Request) -> Response:
        lang, view = await need(request)
        if view is None:
            return nothing(request, lang)
        regno = request.query_params.get("regno", "").strip()
        return search_page(request, lang, view, regno, None)

    async def receipt(request: Request) -> Response:
        lang, view = await need(request)
        if view is None:
            return nothing(request, lang)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_RECEIPT_FORM_BYTES:
                return Response("receipt form too large\n", status_code=413)
        # A urlencoded form, parsed here (Starlette's form parser needs python-multipart).
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        text = (form.get("receipt") or [""])[0]
        docs = list(view.docs.items())
        if not view.report.ok:
            # A MATCH against files that do not verify would vouch for them
            # (as `seleksi results prove --receipt`, which exits 3 here).
            finding = ReceiptFinding("unverified", details=view.report.problems[:3])
        else:
            finding = await anyio.to_thread.run_sync(
                functools.partial(
                    check_receipt_text, view.files, text, docs=docs, policy=view.policy
                )
            )
        return search_page(
            request, lang, view, finding.registration_number, finding, can_follow=False
        )

    async def proof(request: Request) -> Response:
        _, view = await need(request)
        if view is None:
            return JSONResponse({"error": "no publication"}, status_code=404)
        proofs = view.proofs.prove(request.path_params["regno"])
        if not proofs:
            return JSONResponse({"error": "not found"}, status_code=404)
        return JSONResponse({"proofs": proofs})

    async def verifier(request: Request) -> Response:
        _, view = await need(request)
        exam = "" if view is None else str(view.manifest["exam"]["id"])
        return HTMLResponse(verifier_html(exam), headers={"Content-Security-Policy": VERIFIER_CSP})

    async def receipt_keys(request: Request) -> Response:
        # Inside the exam server: every key it has held (current and retired),
        # from its key list, and at a centre the keys registered for its sites
        # (each limited to its site's candidates). Serving a publication on its
        # own: the keys its signed manifest lists. Either way, anyone can check
        # a receipt with it.
        ctx = getattr(request.app.state, "context", None)
        holder = getattr(ctx, "checkpoints", None)
        if ctx is not None and holder is not None:

            def held() -> list[receipts.ReceiptKey]:
                from exam_server.sites.receipt_keys import receipt_keys_for

                with ctx.engine.connect() as conn:
                    return receipt_keys_for(conn, receipts.server_keys(holder))

            keys = await anyio.to_thread.run_sync(held)
            doc = receipts.key_list_document(keys, source="server")
        else:
            _, view = await need(request)
            if view is None:
                return JSONResponse({"error": "no publication"}, status_code=404)
            doc = receipts.key_list_document(
                pubm.receipt_keys_of(view.manifest), source="publication"
            )
        return JSONResponse(doc, headers={"Cache-Control": "no-cache"})

    async def css(request: Request) -> Response:
        # The shared look, read from the installed proctor_ui package (also
        # under `seleksi results serve`, which serves no other static file).
        return Response(
            _shared_css(), media_type="text/css", headers={"Cache-Control": "max-age=300"}
        )

    async def file(request: Request) -> Response:
        _, view = await need(request)
        path = request.path_params["path"]
        # Only the publication's own files, by exact name: no path is ever joined.
        if view is None or path not in view.files:
            return Response("not found\n", status_code=404, media_type="text/plain")
        media = {
            ".csv": "text/csv; charset=utf-8",
            ".json": "application/json",
            ".pem": "application/x-pem-file",
            ".sig": "text/plain; charset=utf-8",
        }.get(Path(path).suffix, "application/octet-stream")
        headers = {}
        if path.endswith(".csv"):
            headers["Content-Disposition"] = f'attachment; filename="{path.replace("/", "-")}"'
        return Response(view.files[path], media_type=media, headers=headers)

    return [
        Mount(
            "/results",
            routes=[
                Route("/", index, name="results_index"),
                Route("/formation/{stage}/{formation}", formation_page, name="results_formation"),
                Route("/search", search, name="results_search"),
                Route("/receipt", receipt, methods=["POST"], name="results_receipt"),
                Route("/proof/{regno}", proof, name="results_proof"),
                Route("/verifier.html", verifier, name="results_verifier"),
                Route("/receipt-keys.json", receipt_keys, name="results_receipt_keys"),
                Route("/seleksi.css", css, name="results_css"),
                Route("/files/{path:path}", file, name="results_file"),
            ],
        )
    ]
