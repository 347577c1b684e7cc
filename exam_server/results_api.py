"""Publish and verify an exam's results from the admin page.

The same functions as ``seleksi results publish --db … --exam …`` and
``seleksi results verify DIR --db … --exam …`` (the command line stays an
equal alternative): the outcomes are read from the server's database in one
read snapshot (:func:`~exam_server.results.from_db.read_engine`), ranked under
the policy the exam stores, signed with the key at ``Settings.results_key_path``
(made by ``seleksi results keygen``) and written to ``Settings.results_dir``,
which the public pages at ``/results`` serve. The receipt key listed in the
manifest is the server's checkpoint key, which signs the candidates' receipts.

* ``GET /api/admin/results``: what is set up (key, folder) and what is published;
* ``POST /api/admin/results/publish`` ``{"exam_code", "published_at"[, "title"]}``;
* ``POST /api/admin/results/verify``: the publication against the signing key's
  public half and recomputed from the database.

SKB scores and optimisation (``--skb``, ``--optimise``) stay on the command line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from exam_server import audit, receipts
from exam_server.context import context
from exam_server.http import STR, ApiError, Endpoint, field_str, obj, read_json
from exam_server.results import publication as pubm
from exam_server.results.from_db import SourceError, exam_document, load_outcomes, read_engine
from exam_server.results.ranking import rank_skd
from exam_server.results.rules import PolicyError, RankingPolicy
from exam_server.sites.receipt_keys import receipt_keys_on


def _actor(request: Request) -> str:
    st = request.state.staff
    return f"{st.role}:{st.username}"


def _setup(request: Request) -> tuple[Path | None, Path | None]:
    """The publication folder and the signing key's path (None: not set)."""
    settings = context(request.app).settings
    folder = getattr(request.app.state, "results_publication_dir", None) or settings.results_dir
    key = settings.results_key_path
    return (Path(folder) if folder else None, Path(key) if key else None)


def _private_key(path: Path) -> Any:
    try:
        return pubm.load_private_key(path.read_bytes())
    except OSError as exc:
        raise ApiError(409, "no_results_key", f"{path}: {exc.strerror}") from None
    except (pubm.PublicationError, ValueError) as exc:
        raise ApiError(409, "no_results_key", f"{path}: {exc}") from None


def _published(folder: Path | None) -> dict[str, Any] | None:
    """The manifest's summary of what the folder holds (None: nothing published)."""
    if folder is None or not (folder / pubm.MANIFEST).is_file():
        return None
    manifest = json.loads((folder / pubm.MANIFEST).read_bytes())
    return {
        "exam": manifest["exam"],
        "root": manifest["merkle"]["root"],
        "entries": manifest["merkle"]["leaves"],
        "key_fingerprint": manifest["signature"]["public_key_sha256"],
        "counts": manifest.get("counts"),
    }


async def results_status(request: Request) -> Response:
    folder, key = _setup(request)

    def q() -> dict[str, Any]:
        fingerprint = None
        if key is not None and key.is_file():
            fingerprint = pubm.public_key_fingerprint(_private_key(key).public_key())
        return {
            "results_dir": str(folder) if folder else None,
            "key_configured": key is not None,
            "key_fingerprint": fingerprint,
            "published": _published(folder),
            "public_url": "/results/",
        }

    return JSONResponse(await anyio.to_thread.run_sync(q))


def _source(database_url: str, exam_code: str) -> tuple[dict[str, Any], list[Any], list[Any]]:
    engine = read_engine(database_url)
    try:
        exam = exam_document(engine, exam_code)
        formations, outcomes = load_outcomes(engine, exam_code)
    except SourceError as exc:
        # Not ready (a session still open, a candidate without formation …):
        # the message names the record, as the command line says it.
        raise ApiError(409, "results_not_ready", str(exc)) from None
    finally:
        engine.dispose()
    return exam, formations, outcomes


def _replace_publication(folder: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` into ``folder``; files of an earlier publication that the
    new one does not have are removed (a stale formation file would make the
    folder fail verification)."""
    if (folder / pubm.MANIFEST).is_file():
        for rel in pubm.read_publication(folder):
            if rel not in files:
                (folder / rel).unlink()
    folder.mkdir(parents=True, exist_ok=True)
    pubm.write_publication(folder, files)


async def publish_results(request: Request) -> Response:
    d = await read_json(request)
    exam_code = field_str(d, "exam_code", max_len=40)
    published_at = field_str(d, "published_at", max_len=80)
    title = field_str(d, "title", max_len=200, required=False)
    folder, key_path = _setup(request)
    if folder is None:
        raise ApiError(409, "no_results_dir", "the server has no results_dir (SELEKSI_RESULTS_DIR)")
    if key_path is None:
        raise ApiError(
            409, "no_results_key", "the server has no results_key_path (SELEKSI_RESULTS_KEY_PATH)"
        )
    ctx = context(request.app)
    # Every key this server has held, retired ones too: receipts outlive a replaced key.
    receipt_keys = receipts.server_keys(ctx.checkpoints)

    def work() -> dict[str, Any]:
        key = _private_key(key_path)
        exam_doc, formations, outcomes = _source(ctx.settings.database_url, exam_code)
        try:
            policy = RankingPolicy.from_dict(exam_doc["policy"])
            skd = rank_skd(policy, formations, outcomes)
        except (PolicyError, ValueError) as exc:
            raise ApiError(409, "results_not_ready", str(exc)) from None
        exam = pubm.ExamInfo(
            id=exam_code, title=title or str(exam_doc["title"]), published_at=published_at
        )
        # With the keys registered for the sites holding its sessions (site candidates' receipts).
        keys = receipt_keys_on(ctx.engine, receipt_keys, exam_code)
        publication = pubm.publish(exam, policy, skd, key, receipt_keys=keys)
        _replace_publication(folder, dict(publication.files))
        return {
            "exam_code": exam_code,
            "candidates": len(outcomes),
            "formations": len(formations),
            "root": publication.root,
            "key_fingerprint": publication.manifest["signature"]["public_key_sha256"],
            "counts": publication.manifest.get("counts"),
            "public_url": "/results/",
        }

    body = await anyio.to_thread.run_sync(work)
    data = {k: body[k] for k in ("exam_code", "candidates", "formations", "root")}
    await ctx.committer.submit(
        lambda conn: audit.append(conn, "results_published", _actor(request), data=data)
    )
    return JSONResponse(body, status_code=201)


async def verify_results(request: Request) -> Response:
    folder, key_path = _setup(request)
    ctx = context(request.app)

    def work() -> dict[str, Any]:
        if folder is None or not (folder / pubm.MANIFEST).is_file():
            raise ApiError(404, "not_published", "nothing is published in the results folder")
        files = pubm.read_publication(folder)
        key = _private_key(key_path).public_key() if key_path is not None else None
        report = pubm.verify_publication(files, key)
        exam_code = str(json.loads(files[pubm.MANIFEST])["exam"]["id"])
        _, formations, outcomes = _source(ctx.settings.database_url, exam_code)
        diffs = pubm.recompute(files, formations, outcomes)
        report.problems.extend(f"source: {d}" for d in diffs)
        if not diffs:
            report.checks.append(
                "recomputing from the database reproduces the publication byte for byte "
                f"({len(outcomes)} candidates)"
            )
        return {
            "ok": report.ok,
            "exam_code": exam_code,
            "checks": report.checks,
            "problems": report.problems,
            "warnings": report.warnings,
            "root": report.root,
            "key_fingerprint": report.key_fingerprint,
        }

    return JSONResponse(await anyio.to_thread.run_sync(work))


ENDPOINTS: list[Endpoint] = [
    Endpoint(
        "GET",
        "/api/admin/results",
        results_status,
        "results set-up (folder, signing key fingerprint) and what is published",
        ("admin",),
        tag="results",
    ),
    Endpoint(
        "POST",
        "/api/admin/results/publish",
        publish_results,
        "rank an exam from the database and publish it signed to the results folder "
        "(as `seleksi results publish --db --exam`); audited",
        ("admin",),
        obj(["exam_code", "published_at"], exam_code=STR, published_at=STR, title=STR),
        tag="results",
        responses={
            "409": "no results folder or key, or not ready (a session open, an attempt running)",
            "422": "missing field",
        },
    ),
    Endpoint(
        "POST",
        "/api/admin/results/verify",
        verify_results,
        "verify the publication against the signing key and recompute it from the database "
        "(as `seleksi results verify DIR --db --exam`)",
        ("admin",),
        tag="results",
        responses={"404": "nothing published"},
    ),
]
