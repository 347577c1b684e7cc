"""Public results pages, served from a publication directory (read only).

``routes(publication_dir)`` returns one :class:`~starlette.routing.Mount` at
``/results`` that the server includes in its route list:

* ``/results/`` — the exam, the Merkle root, the signing key's fingerprint,
  the verification status, the formations, a search box;
* ``/results/formation/{stage}/{formation}`` — one formation's ranking
  (``stage`` = ``skd`` or ``final``), every code explained, printable;
* ``/results/search?regno=…`` — one candidate's entries and inclusion proofs;
* ``/results/proof/{regno}`` — the inclusion proofs as JSON;
* ``/results/files/{path}`` — the published files themselves (CSV, JSON,
  manifest, signature, public key).

Text is in Bahasa Indonesia by default and in English with ``?lang=en``. The
publication is read and verified when first needed and again whenever its
manifest changes; pages only ever show published bytes.
"""

from __future__ import annotations

import html
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from exam_server.results import publication as pubm
from exam_server.results.rules import FINAL_MEANINGS, SKD_MEANINGS, RankingPolicy, fmt

# User-facing text: Bahasa Indonesia first, English second.
TEXT: dict[str, tuple[str, str]] = {
    "results": ("Hasil Seleksi", "Selection results"),
    "published": ("Diumumkan", "Published"),
    "root": ("Akar Merkle", "Merkle root"),
    "key": ("Sidik kunci penanda tangan", "Signing key fingerprint"),
    "verified": (
        "Terverifikasi: tanda tangan, hash berkas, dan aturan pemeringkatan cocok",
        "Verified: signature, file hashes and ranking rules all match",
    ),
    "not_verified": (
        "PERINGATAN: publikasi ini tidak lolos verifikasi",
        "WARNING: this publication does not verify",
    ),
    "formations": ("Formasi", "Formations"),
    "formation": ("Formasi", "Formation"),
    "openings": ("Jumlah formasi", "Openings"),
    "candidates": ("Peserta", "Candidates"),
    "skd": ("SKD", "SKD"),
    "final": ("Hasil akhir (SKD + SKB)", "Final (SKD + SKB)"),
    "search": ("Cari nomor peserta", "Find a registration number"),
    "search_button": ("Cari", "Search"),
    "not_found": (
        "Nomor peserta tidak ditemukan dalam publikasi ini.",
        "This registration number is not in this publication.",
    ),
    "rank": ("Peringkat", "Rank"),
    "regno": ("Nomor peserta", "Registration number"),
    "name": ("Nama", "Name"),
    "category": ("Kategori", "Category"),
    "total": ("Total", "Total"),
    "skb": ("SKB", "SKB"),
    "final_score": ("Nilai akhir", "Final score"),
    "code": ("Kode", "Code"),
    "reason": ("Alasan", "Reason"),
    "codes": ("Keterangan kode", "What the codes mean"),
    "print": ("Cetak", "Print"),
    "csv": ("Unduh CSV", "Download CSV"),
    "json": ("JSON", "JSON"),
    "files": ("Berkas publikasi", "Published files"),
    "policy": ("Aturan pemeringkatan", "Ranking rules"),
    "proof": ("Bukti inklusi (JSON)", "Inclusion proof (JSON)"),
    "how": ("Cara memeriksa", "How to check"),
    "how_text": (
        "Unduh publikasi, lalu jalankan <code>seleksi results verify DIREKTORI "
        "--public-key KUNCI.pem</code>. Untuk entri Anda sendiri: <code>seleksi results "
        "prove NOMOR --publication DIREKTORI</code> lalu <code>seleksi results check-proof "
        "BUKTI.json --root AKAR</code>, dengan akar Merkle yang tertera di halaman ini.",
        "Download the publication and run <code>seleksi results verify DIR "
        "--public-key KEY.pem</code>. For your own entry: <code>seleksi results prove "
        "REGNO --publication DIR</code>, then <code>seleksi results check-proof "
        "PROOF.json --root ROOT</code> with the Merkle root shown on this page.",
    ),
    "cut": ("Batas {m} × formasi", "Cut ({m} × openings)"),
    "vacant": ("Formasi kosong", "Vacant"),
    "optimised_from": ("dari formasi", "from formation"),
    "none": ("Belum ada publikasi hasil.", "No results have been published yet."),
    "back": ("Kembali ke daftar formasi", "Back to the formations"),
    "lang": ("English", "Bahasa Indonesia"),
}


def t(key: str, lang: str) -> str:
    id_, en = TEXT[key]
    return en if lang == "en" else id_


# -- the publication as the pages see it --------------------------------------------------


@dataclass
class View:
    """A loaded, verified publication with an index by registration number."""

    files: dict[str, bytes]
    manifest: dict[str, Any]
    policy: RankingPolicy
    report: pubm.VerifyReport
    docs: dict[str, dict[str, Any]]  # "skd/F1" → formation document
    proofs: pubm.ProofIndex
    by_regno: dict[str, list[tuple[str, dict[str, Any]]]] = field(default_factory=dict)


class PublicationSource:
    """Loads a publication directory once, and again when its manifest changes."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self._stamp: tuple[int, int] | None = None
        self._view: View | None = None
        self._lock = threading.Lock()

    def view(self) -> View | None:
        """The current view; blocking (reads and verifies), so call it from a worker thread."""
        manifest = self.directory / pubm.MANIFEST
        try:
            st = manifest.stat()
        except OSError:
            return None
        stamp = (st.st_mtime_ns, st.st_size)
        with self._lock:  # one load at a time; the others wait and reuse it
            if self._view is None or stamp != self._stamp:
                self._view = load_view(pubm.read_publication(self.directory))
                self._stamp = stamp
            return self._view


def load_view(files: dict[str, bytes]) -> View:
    report = pubm.verify_publication(files)
    manifest = json.loads(files[pubm.MANIFEST])
    policy = RankingPolicy.from_json(files[pubm.POLICY].decode("utf-8"))
    docs: dict[str, dict[str, Any]] = {}
    by_regno: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for stage in pubm.STAGES:
        for path in sorted(p for p in files if p.startswith(f"{stage}/") and p.endswith(".json")):
            doc = json.loads(files[path], parse_float=Decimal)
            key = f"{stage}/{doc['formation']['id']}"
            docs[key] = doc
            for e in doc["entries"]:
                by_regno.setdefault(e["registration_number"], []).append((key, e))
    return View(files, manifest, policy, report, docs, pubm.ProofIndex.build(files), by_regno)


# -- HTML -----------------------------------------------------------------------------------

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1b1f24;
background:#f6f7f9}
header{background:#0b3d62;color:#fff;padding:14px 24px}
header h1{margin:0;font-size:1.35rem}
header .sub{opacity:.85;font-size:.9rem;margin-top:4px}
header a{color:#fff}
main{padding:16px 24px;max-width:1200px}
.card{background:#fff;border:1px solid #d8dde3;border-radius:6px;padding:12px 16px;margin:12px 0}
.ok{border-left:6px solid #1a7f37}.bad{border-left:6px solid #cf222e;color:#82071e}
.regno{font-family:ui-monospace,Menlo,Consolas,monospace;white-space:nowrap}
code,.hash{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.82rem;word-break:break-all}
table{border-collapse:collapse;width:100%;background:#fff;font-size:.88rem}
th,td{border:1px solid #d8dde3;padding:5px 7px;text-align:left;vertical-align:top}
th{background:#eef1f4}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.code{font-weight:700;white-space:nowrap}
.c-in_cut,.c-appointed,.c-appointed_optimised{color:#1a7f37}
.c-outside_cut{color:#9a6700}.c-below_threshold,.c-not_appointed{color:#57606a}
.c-absent,.c-disqualified{color:#cf222e}
.reason{font-size:.8rem;color:#424a53}
tr.hit{background:#fff8c5}
nav a,.actions a,.actions button{margin-right:12px}
.actions button{font:inherit;padding:3px 10px}
form input{font:inherit;padding:4px 8px;width:16em}
dl.codes dt{font-weight:700;float:left;width:5.5em;clear:left}
dl.codes dd{margin:0 0 4px 5.5em}
@media print{nav,.actions,form,.noprint{display:none!important}
body{background:#fff}header{background:#fff;color:#000;border-bottom:2px solid #000}
header a{color:#000}.card{border:none;padding:0}table{font-size:9pt}
tr{page-break-inside:avoid}}
"""


def _e(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, Decimal):
        return fmt(v)
    return html.escape(str(v))


def _page(request: Request, lang: str, title: str, body: str, view: View | None) -> HTMLResponse:
    other = "en" if lang != "en" else "id"
    url = request.url.include_query_params(lang=other)
    exam = view.manifest["exam"] if view else {}
    sub = ""
    if view:
        sub = (
            f"{_e(exam.get('title'))} · {t('published', lang)} {_e(exam.get('published_at'))}"
            f" · {_e(view.policy.name)} ({_e(view.policy.version)})"
        )
    doc = f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{_e(title)}</title><style>{CSS}</style></head>
<body><header><h1>{_e(title)}</h1><div class="sub">{sub}</div>
<div class="sub noprint"><a href="{_e(str(url))}">{t("lang", lang)}</a></div></header>
<main>{body}</main></body></html>"""
    return HTMLResponse(doc)


def _lang(request: Request) -> str:
    return "en" if request.query_params.get("lang") == "en" else "id"


def _source(request: Request, fixed: PublicationSource | None) -> PublicationSource | None:
    if fixed is not None:
        return fixed
    directory = getattr(request.app.state, "results_publication_dir", None)
    if not directory:
        return None
    # One loaded publication per directory, kept on the app's state.
    cache: dict[str, PublicationSource] | None = getattr(request.app.state, "results_sources", None)
    if cache is None:
        cache = {}
        request.app.state.results_sources = cache
    if str(directory) not in cache:
        cache[str(directory)] = PublicationSource(directory)
    return cache[str(directory)]


def _url(request: Request, name: str, lang: str, **params: str) -> str:
    u = str(request.url_for(name, **params))
    return f"{u}?lang=en" if lang == "en" else u


def _search_form(request: Request, lang: str, value: str = "") -> str:
    action = request.url_for("results_search")
    hidden = '<input type="hidden" name="lang" value="en">' if lang == "en" else ""
    return (
        f'<form method="get" action="{_e(str(action))}" class="card" role="search">'
        f'<label>{t("search", lang)}: <input name="regno" value="{_e(value)}" '
        f'inputmode="numeric" autocomplete="off"></label> {hidden}'
        f'<button type="submit">{t("search_button", lang)}</button></form>'
    )


def _codes_legend(policy: RankingPolicy, stage: str, lang: str) -> str:
    meanings = SKD_MEANINGS if stage == "skd" else FINAL_MEANINGS
    items = "".join(
        f'<dt class="c-{m}">{_e(policy.code(m).code)}</dt><dd>{_e(policy.code(m).text(lang))}</dd>'
        for m in meanings
    )
    return f'<div class="card"><h3>{t("codes", lang)}</h3><dl class="codes">{items}</dl></div>'


def _status_card(view: View, lang: str) -> str:
    cls = "ok" if view.report.ok else "bad"
    head = t("verified", lang) if view.report.ok else t("not_verified", lang)
    problems = "".join(f"<li>{_e(p)}</li>" for p in view.report.problems[:10])
    m = view.manifest
    return (
        f'<div class="card {cls}"><strong>{head}</strong>'
        f"{'<ul>' + problems + '</ul>' if problems else ''}"
        f'<div>{t("root", lang)}: <span class="hash" id="merkle-root">'
        f"{_e(m['merkle']['root'])}</span></div>"
        f'<div>{t("key", lang)}: <span class="hash">'
        f"{_e(m['signature']['public_key_sha256'])}</span></div></div>"
    )


def _category(policy: RankingPolicy, cid: str, lang: str) -> str:
    c = policy.categories.get(cid)
    return _e(c.name(lang) if c else cid)


def _reason(e: Mapping[str, Any], lang: str) -> str:
    return _e(e["reason_en"] if lang == "en" else e["reason_id"])


def _table(view: View, stage: str, doc: Mapping[str, Any], lang: str, hit: str = "") -> str:
    subs = view.policy.subtest_codes
    cols = [t("rank", lang), t("regno", lang), t("name", lang), t("category", lang), *subs]
    if stage == "skd":
        cols += [t("total", lang)]
    else:
        cols += ["SKD", t("skb", lang), t("final_score", lang)]
    cols += [t("code", lang), t("reason", lang)]
    head = "".join(f"<th>{c}</th>" for c in cols)
    rows = []
    for e in doc["entries"]:
        scores = e["scores"] or {}
        cells = [
            f'<td class="num">{_e(e["rank"])}</td>',
            f'<td class="regno">{_e(e["registration_number"])}</td>',
            f"<td>{_e(e['name'])}</td>",
            f"<td>{_category(view.policy, e['category'], lang)}</td>",
            *[f'<td class="num">{_e(scores.get(s))}</td>' for s in subs],
        ]
        if stage == "skd":
            cells.append(f'<td class="num">{_e(e["total"])}</td>')
        else:
            cells += [f'<td class="num">{_e(e[k])}</td>' for k in ("skd_total", "skb", "final")]
        text = (
            view.policy.code(e["meaning"]).text(lang) if e["meaning"] in view.policy.codes else ""
        )
        cells += [
            f'<td class="code c-{_e(e["meaning"])}" title="{_e(text)}">{_e(e["code"])}</td>',
            f'<td class="reason">{_reason(e, lang)}</td>',
        ]
        cls = ' class="hit"' if e["registration_number"] == hit else ""
        rows.append(f"<tr{cls}>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


# -- endpoints ------------------------------------------------------------------------------


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
        r = _page(request, lang, t("results", lang), f"<p>{t('none', lang)}</p>", None)
        r.status_code = 404
        return r

    async def index(request: Request) -> Response:
        lang, view = await need(request)
        if view is None:
            return nothing(request, lang)
        rows = []
        for key, doc in view.docs.items():
            stage, fid = key.split("/", 1)
            f = doc["formation"]
            n = len(doc["entries"])
            link = _url(request, "results_formation", lang, stage=stage, formation=fid)
            csv_url = request.url_for("results_file", path=f"{key}.csv")
            extra = (
                f"{t('cut', lang).format(m=view.policy.cut_multiple)}: {doc['cut']}"
                if stage == "skd"
                else f"{t('vacant', lang)}: {doc['vacant']}"
            )
            rows.append(
                f'<tr><td><a href="{_e(link)}">{_e(fid)}</a></td><td>{_e(f["name"])}</td>'
                f'<td>{t(stage, lang)}</td><td class="num">{f["openings"]}</td>'
                f'<td class="num">{n}</td><td>{extra}</td>'
                f'<td><a href="{_e(str(csv_url))}">CSV</a></td></tr>'
            )
        table = (
            f"<table><thead><tr><th>{t('formation', lang)}</th><th>{t('name', lang)}</th>"
            f"<th></th><th>{t('openings', lang)}</th><th>{t('candidates', lang)}</th><th></th>"
            f"<th></th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )
        files = "".join(
            f'<a href="{_e(str(request.url_for("results_file", path=p)))}">{_e(p)}</a> '
            for p in (pubm.MANIFEST, pubm.SIGNATURE, pubm.PUBLIC_KEY, pubm.POLICY)
        )
        body = (
            _status_card(view, lang)
            + _search_form(request, lang)
            + f"<h2>{t('formations', lang)}</h2>{table}"
            + f'<div class="card noprint"><h3>{t("files", lang)}</h3>{files}'
            + f"<h3>{t('how', lang)}</h3><p>{TEXT['how_text'][1 if lang == 'en' else 0]}</p>"
            + "</div>"
        )
        return _page(request, lang, t("results", lang), body, view)

    async def formation_page(request: Request) -> Response:
        lang, view = await need(request)
        if view is None:
            return nothing(request, lang)
        stage, fid = request.path_params["stage"], request.path_params["formation"]
        doc = view.docs.get(f"{stage}/{fid}")
        if doc is None:
            r = _page(request, lang, t("results", lang), f"<p>{_e(fid)}?</p>", view)
            r.status_code = 404
            return r
        hit = request.query_params.get("regno", "")
        f = doc["formation"]
        csv_url = request.url_for("results_file", path=f"{stage}/{fid}.csv")
        json_url = request.url_for("results_file", path=f"{stage}/{fid}.json")
        summary = f"{t('openings', lang)}: {f['openings']}"
        if stage == "skd":
            cut_label = t("cut", lang).format(m=view.policy.cut_multiple)
            summary += f" · {cut_label}: {doc['cut']}"
        else:
            summary += f" · {t('vacant', lang)}: {doc['vacant']}"
        body = (
            f'<nav><a href="{_e(_url(request, "results_index", lang))}">← {t("back", lang)}</a>'
            f"</nav><h2>{_e(fid)} — {_e(f['name'])} · {t(stage, lang)}</h2><p>{summary}</p>"
            f'<div class="actions"><button onclick="window.print()">{t("print", lang)}</button>'
            f'<a href="{_e(str(csv_url))}" download>{t("csv", lang)}</a>'
            f'<a href="{_e(str(json_url))}">{t("json", lang)}</a></div>'
            + _table(view, stage, doc, lang, hit)
            + _codes_legend(view.policy, stage, lang)
            + _status_card(view, lang)
        )
        return _page(request, lang, f"{t('results', lang)} · {fid}", body, view)

    async def search(request: Request) -> Response:
        lang, view = await need(request)
        if view is None:
            return nothing(request, lang)
        regno = request.query_params.get("regno", "").strip()
        found = view.by_regno.get(regno, []) if regno else []
        parts = [_search_form(request, lang, regno)]
        if regno and not found:
            parts.append(f'<p class="card bad">{t("not_found", lang)}</p>')
        for key, e in found:
            stage, fid = key.split("/", 1)
            link = _url(request, "results_formation", lang, stage=stage, formation=fid)
            sep = "&" if "?" in link else "?"
            origin = (
                f" ({t('optimised_from', lang)} {_e(e['origin_formation'])})"
                if e.get("origin_formation")
                else ""
            )
            score = e["total"] if stage == "skd" else e["final"]
            parts.append(
                f'<div class="card"><h3>{t(stage, lang)} · {t("formation", lang)} '
                f'<a href="{_e(link)}{sep}regno={_e(regno)}">{_e(fid)}</a>{origin}</h3>'
                f"<p><strong>{_e(e['registration_number'])}</strong> {_e(e['name'])} · "
                f"{_category(view.policy, e['category'], lang)}</p>"
                f'<p>{t("code", lang)}: <span class="code c-{_e(e["meaning"])}">'
                f"{_e(e['code'])}</span> — {_e(view.policy.code(e['meaning']).text(lang))}</p>"
                f"<p>{t('rank', lang)}: {_e(e['rank'])} · "
                f"{t('total' if stage == 'skd' else 'final_score', lang)}: {_e(score)}</p>"
                f'<p class="reason">{_reason(e, lang)}</p></div>'
            )
        if found:
            proof = request.url_for("results_proof", regno=regno)
            parts.append(
                f'<p class="noprint"><a href="{_e(str(proof))}">{t("proof", lang)}</a></p>'
            )
        parts.append(_status_card(view, lang))
        return _page(request, lang, t("search", lang), "".join(parts), view)

    async def proof(request: Request) -> Response:
        _, view = await need(request)
        if view is None:
            return JSONResponse({"error": "no publication"}, status_code=404)
        proofs = view.proofs.prove(request.path_params["regno"])
        if not proofs:
            return JSONResponse({"error": "not found"}, status_code=404)
        return JSONResponse({"proofs": proofs})

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
                Route("/proof/{regno}", proof, name="results_proof"),
                Route("/files/{path:path}", file, name="results_file"),
            ],
        )
    ]
