"""Public results pages, served from a publication directory (read only).

``routes(publication_dir)`` returns one :class:`~starlette.routing.Mount` at
``/results`` that the server includes in its route list:

* ``/results/`` — the exam, the signing key's fingerprint (to compare with the
  one the agency announced elsewhere), the Merkle root, the formations, how to
  check everything without trusting this server, a search box, a receipt box;
* ``/results/formation/{stage}/{formation}`` — one formation's ranking
  (``stage`` = ``skd`` or ``final``), every code explained, printable;
* ``/results/search?regno=…`` — one candidate's entries and inclusion proofs;
* ``/results/receipt`` (POST ``receipt=``) — a candidate's signed receipt held
  against the published line: matches, differs or missing;
* ``/results/proof/{regno}`` — the inclusion proofs as JSON;
* ``/results/verifier.html`` — the offline verifier: one self-contained HTML
  file (no external load) that checks the manifest's signature against the
  announced key, a proof, a formation file and a receipt in the browser;
* ``/results/files/{path}`` — the published files themselves (CSV, JSON,
  manifest, signature, public key);
* ``/results/receipt-keys.json`` — the receipt keys, current and retired, with
  when each was in use: the exam server's key list when served by it, else the
  keys the publication's signed manifest lists.

What the server itself checked is shown as the server's own statement, never
as a verdict to trust: a forgery re-signed with another key is consistent
with itself. The key's fingerprint is shown for comparison with the announced
one, and the verifier page is how a person checks without the server.

Text is in Bahasa Indonesia by default and in English with ``?lang=en``; a
page asked for without ``?lang=`` follows the language the reader chose on
any Seleksi page (remembered in the browser as ``seleksi.lang``, as
``proctor_ui/static/js/i18n.js`` does), and the policy's title is shown in
that language (:meth:`RankingPolicy.title`). The pages use the look of the
other pages: ``/results/seleksi.css`` is ``proctor_ui/static/css/seleksi.css``. The
publication is read and verified when first needed and again whenever its
manifest changes; pages only ever show published bytes. HTML is rendered by
Jinja2 templates (``templates/``) with autoescaping.
"""

from __future__ import annotations

import functools
import json
import os
import threading
import urllib.parse
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio.to_thread
import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from exam_server import receipts
from exam_server.results import publication as pubm
from exam_server.results.receipt_check import ReceiptFinding, check_receipt_text
from exam_server.results.rules import FINAL_MEANINGS, SKD_MEANINGS, RankingPolicy, fmt

# User-facing text: Bahasa Indonesia first, English second.
TEXT: dict[str, tuple[str, str]] = {
    "results": ("Hasil Seleksi", "Selection results"),
    "published": ("Diumumkan", "Published"),
    "root": ("Akar Merkle", "Merkle root"),
    "key": (
        "Sidik kunci penanda tangan publikasi ini",
        "This publication's signing key fingerprint",
    ),
    "compare_fp": (
        "Bandingkan sidik ini dengan sidik kunci yang diumumkan instansi melalui saluran resmi "
        "lain (surat pengumuman, situs resmi, media). Jika berbeda, publikasi ini bukan yang "
        "ditandatangani instansi. Halaman ini tidak dapat membuktikannya sendiri: server yang "
        "menampilkan publikasi palsu juga akan menampilkan sidiknya.",
        "Compare this fingerprint with the key fingerprint the agency announced through another "
        "official channel (announcement letter, official site, press). If they differ, this "
        "publication is not the one the agency signed. This page cannot prove it by itself: a "
        "server showing a forged publication would show its fingerprint too.",
    ),
    "server_check": ("Pemeriksaan oleh server ini", "This server's own check"),
    "server_check_ok": (
        "berkas-berkas publikasi ini konsisten dengan tanda tangannya dan dengan aturan "
        "pemeringkatan yang diterbitkan. Ini belum bukti bagi Anda: periksa sendiri dengan "
        "pemeriksa offline dan sidik kunci yang diumumkan.",
        "the files of this publication are consistent with their signature and with the "
        "published ranking rules. That is not proof for you: check for yourself with the "
        "offline verifier and the announced key fingerprint.",
    ),
    "not_verified": (
        "PERINGATAN: publikasi ini tidak lolos verifikasi",
        "WARNING: this publication does not verify",
    ),
    "verifier_link": (
        "Unduh pemeriksa offline (satu berkas HTML, bekerja tanpa internet)",
        "Download the offline verifier (one HTML file, works without internet)",
    ),
    "formations": ("Formasi", "Formations"),
    "formation": ("Formasi", "Formation"),
    "stage": ("Tahap", "Stage"),
    "openings": ("Jumlah formasi", "Openings"),
    "candidates": ("Peserta", "Candidates"),
    "cut_or_vacant": ("Batas / formasi kosong", "Cut / vacant"),
    "download": ("Unduh", "Download"),
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
    "proof_hint": (
        "simpan berkas ini dan periksa dengan pemeriksa offline",
        "save this file and check it with the offline verifier",
    ),
    "how": (
        "Cara memeriksa tanpa mempercayai server ini",
        "How to check without trusting this server",
    ),
    "how_1": (
        "Ambil sidik kunci penanda tangan dari pengumuman resmi instansi, bukan dari halaman ini.",
        "Take the signing key's fingerprint from the agency's official announcement, not from "
        "this page.",
    ),
    "how_2": (
        "Unduh pemeriksa offline di bawah (satu berkas HTML). Simpan, putuskan internet, lalu "
        "buka berkas itu di peramban.",
        "Download the offline verifier below (one HTML file). Save it, disconnect from the "
        "internet, then open that file in a browser.",
    ),
    "how_3": (
        "Unduh manifest.json, manifest.sig dan public_key.pem dari daftar berkas di bawah, "
        "serta bukti inklusi Anda (cari nomor peserta Anda) atau berkas formasi Anda "
        "(skd/KODE.json).",
        "Download manifest.json, manifest.sig and public_key.pem from the file list below, "
        "and your inclusion proof (search your registration number) or your formation's file "
        "(skd/CODE.json).",
    ),
    "how_4": (
        "Masukkan semuanya ke pemeriksa bersama sidik yang diumumkan. \u201cSAH\u201d berarti "
        "entri Anda ada dalam publikasi yang ditandatangani kunci instansi.",
        "Enter them in the verifier with the announced fingerprint. \u201cVALID\u201d means "
        "your entry is in the publication signed by the agency's key.",
    ),
    "how_5": (
        "Punya tanda terima dari terminal (kode SELEKSI-R1:…)? Masukkan juga: pemeriksa "
        "mengatakan apakah baris Anda cocok, berbeda, atau tidak ada.",
        "Have a receipt from the terminal (code SELEKSI-R1:…)? Enter it too: the verifier says "
        "whether your line matches, differs, or is missing.",
    ),
    "cli": ("Dengan baris perintah", "With the command line"),
    "receipt_h": ("Periksa tanda terima Anda", "Check your receipt"),
    "receipt_intro": (
        "Tempel kode teks tanda terima yang ditampilkan terminal saat Anda selesai. Hasilnya "
        "adalah pemeriksaan oleh server ini; untuk bukti yang tidak bergantung pada server ini, "
        "gunakan pemeriksa offline.",
        "Paste the receipt's text code the terminal showed when you finished. The answer is "
        "this server's own check; for proof that does not depend on this server, use the "
        "offline verifier.",
    ),
    "receipt_label": ("Kode tanda terima (SELEKSI-R1:…)", "Receipt code (SELEKSI-R1:…)"),
    "receipt_button": ("Periksa tanda terima", "Check the receipt"),
    "receipt_key": (
        "Ditandatangani kunci tanda terima {fp} (dipakai {period}){retired}.",
        "Signed by the receipt key {fp} (in use {period}){retired}.",
    ),
    "receipt_key_retired": (", kunci yang sudah diganti", ", a key since replaced"),
    "receipt_offline": (
        "Simpan kode tanda terima, manifest.json dan manifest.sig: dengan pemeriksa offline, "
        "siapa pun dapat memeriksa hal yang sama tanpa server ini.",
        "Keep the receipt code, manifest.json and manifest.sig: with the offline verifier, "
        "anyone can check the same without this server.",
    ),
    "cut": ("Batas {m} × formasi", "Cut ({m} × openings)"),
    "vacant": ("Formasi kosong", "Vacant"),
    "optimised_from": ("dari formasi", "from formation"),
    "none": ("Belum ada publikasi hasil.", "No results have been published yet."),
    "preparing": (
        "Hasil ujian yang sudah selesai dalam demo ini ({exam}) sedang disiapkan di latar "
        "belakang dan akan diumumkan di sini. Muat ulang halaman ini dalam beberapa detik.",
        "The results of the demo's finished exam ({exam}) are being prepared in the background "
        "and will be published here. Reload this page in a few seconds.",
    ),
    "back": ("Kembali ke daftar formasi", "Back to the formations"),
    "lang": ("English", "Bahasa Indonesia"),
}
HOW_STEPS = ("how_1", "how_2", "how_3", "how_4", "how_5")


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


# The receipt box posts a form; a receipt code is a few hundred characters.
MAX_RECEIPT_FORM_BYTES = 8192
# Pages only ever serve published files; the verifier forbids itself any load.
VERIFIER_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"
)


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
        finding = await anyio.to_thread.run_sync(
            functools.partial(check_receipt_text, view.files, text, docs=docs, policy=view.policy)
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
