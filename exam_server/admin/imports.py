"""Admin imports, each all or nothing with errors by row and field:
formations, candidates (CSV) and items into the bank."""

from __future__ import annotations

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from exam_server import scheduling as sch
from exam_server.admin.common import _actor, _run
from exam_server.context import context
from exam_server.db import writer
from exam_server.http import INT, STR, ApiError, Endpoint, obj, read_body, read_json


async def create_formations(request: Request) -> Response:
    d = await read_json(request)
    rows = d.get("formations")
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ApiError(422, "invalid", "'formations' must be a list of objects")
    n = await _run(sch.create_formations, context(request.app).engine, rows, _actor(request))
    return JSONResponse({"imported": n}, status_code=201)


async def import_candidates(request: Request) -> Response:
    raw = await read_body(request, 20 * 1024 * 1024)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(
            422,
            "invalid",
            "the CSV must be UTF-8",
            [{"row": 1, "field": "-", "message": "not UTF-8"}],
        ) from None
    n = await _run(sch.import_candidates_csv, context(request.app).engine, text)
    return JSONResponse({"imported": n}, status_code=201)


async def import_bank(request: Request) -> Response:
    """Items from the admin page: a QTI package or item, CSV or JSON (all or nothing)."""
    from item_bank.io_qti import MAX_PACKAGE_BYTES, Placement
    from item_bank.records import BankImportError
    from item_bank.store import ItemStore

    q = request.query_params
    raw = await read_body(request, MAX_PACKAGE_BYTES)
    place = {"*": Placement(q["subtest"], q.get("content_area", ""))} if q.get("subtest") else None
    # Reads the bank, then writes: the write lock at BEGIN (exam_server.db.writer).
    store = ItemStore(writer(context(request.app).engine))
    name, dry = q.get("filename") or "upload", q.get("dry_run") == "1"
    try:
        summary = await anyio.to_thread.run_sync(
            lambda: store.import_bytes(raw, q.get("format"), name=name, dry_run=dry, mapping=place)
        )
    except ValueError as exc:  # the file's kind cannot be told from its name
        raise ApiError(422, "invalid", str(exc)) from None
    except BankImportError as exc:
        errors = [vars(p) for p in exc.problems[:500]]
        message = f"{len(exc.problems)} problem(s); nothing imported"
        raise ApiError(422, "invalid", message, errors) from None
    return JSONResponse({"dry_run": dry, "summary": summary.describe(), "created": summary.created})


ENDPOINTS: list[Endpoint] = [
    Endpoint(
        "POST",
        "/api/admin/formations",
        create_formations,
        "create formations (all or none)",
        ("admin",),
        obj(
            ["formations"],
            formations={
                "type": "array",
                "items": obj(
                    ["code"], code=STR, agency=STR, position=STR, location=STR, openings=INT
                ),
            },
        ),
        responses={"422": "errors by row and field"},
    ),
    Endpoint(
        "POST",
        "/api/admin/candidates/import",
        import_candidates,
        "import candidates from CSV (all rows or none; errors by row and field)",
        ("admin",),
        {"type": "string"},
        "text/csv",
        responses={"422": "errors by row and field"},
    ),
    Endpoint(
        "POST",
        "/api/admin/bank/import",
        import_bank,
        "import items into the bank: a QTI 2.1/2.2/3.0 package (.zip) or item (.xml), CSV or "
        "JSON (query: filename, format, subtest and content_area for QTI items without "
        "Seleksi metadata, dry_run=1); all or nothing, errors by row and field",
        ("admin",),
        {"type": "string", "format": "binary"},
        "application/octet-stream",
        responses={"413": "too large", "422": "errors by row and field"},
    ),
]
