"""Admin setup of an exam: sites, rooms, the exam itself (item bank and test
design) and its documents (ranking policy and options)."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from exam_server import scheduling as sch
from exam_server.admin.common import _actor, _run
from exam_server.context import context
from exam_server.exam_options import ExamOptions
from exam_server.http import INT, STR, ApiError, Endpoint, field_num, field_str, obj, read_json
from exam_server.results.rules import PolicyError, RankingPolicy


async def create_site(request: Request) -> Response:
    d = await read_json(request)
    sid = await _run(
        sch.create_site,
        context(request.app).engine,
        field_str(d, "code", max_len=40),
        field_str(d, "name"),
    )
    return JSONResponse({"id": sid}, status_code=201)


async def create_room(request: Request) -> Response:
    d = await read_json(request)
    rid = await _run(
        sch.create_room,
        context(request.app).engine,
        field_str(d, "site_code", max_len=40),
        field_str(d, "code", max_len=40),
        field_str(d, "name"),
        int(field_num(d, "capacity", 0, 100000, 0)),
    )
    return JSONResponse({"id": rid}, status_code=201)


async def create_exam(request: Request) -> Response:
    d = await read_json(request)
    code, name = field_str(d, "code", max_len=40), field_str(d, "name")
    from cat_engine.design import TestDesign, skd_design

    raw = d.get("design", "skd_linear")
    try:
        if raw in ("skd_linear", "skd_adaptive"):
            design = skd_design(mode=str(raw).split("_")[1])
        elif isinstance(raw, dict):
            design = TestDesign.from_dict(raw)
        else:
            raise ValueError("design must be 'skd_linear', 'skd_adaptive' or a design object")
    except ValueError as exc:
        raise ApiError(
            422, "invalid", f"design: {exc}", [{"field": "design", "message": str(exc)}]
        ) from None
    policy, options = _exam_documents(d)
    from exam_server.bank_source import load_from_item_bank

    engine = context(request.app).engine
    try:
        bank, items = await anyio.to_thread.run_sync(load_from_item_bank, engine, design)
    except (LookupError, ValueError) as exc:
        raise ApiError(
            422, "invalid", f"bank: {exc}", [{"field": "bank", "message": str(exc)}]
        ) from None
    eid = await _run(sch.create_exam, engine, code, name, design, bank, items, policy, options)
    return JSONResponse(
        {"id": eid, "n_items": bank.n_items, "warnings": (options or ExamOptions()).warnings()},
        status_code=201,
    )


def _exam_documents(d: dict[str, Any]) -> tuple[RankingPolicy | None, ExamOptions | None]:
    """The ranking policy (``"policy"``: a policy document, or ``"2024"`` for
    the 2024 rules) and options (``"options"``) of a request body, validated
    with errors that name the field."""
    policy: RankingPolicy | None = None
    options: ExamOptions | None = None
    raw = d.get("policy")
    try:
        if raw == "2024":
            policy = RankingPolicy.default_2024()
        elif isinstance(raw, dict):
            policy = RankingPolicy.from_dict(raw)
        elif raw is not None:
            raise PolicyError("policy must be '2024' or a ranking policy document")
    except PolicyError as exc:
        raise ApiError(
            422, "invalid", f"policy: {exc}", [{"field": "policy", "message": str(exc)}]
        ) from None
    if d.get("options") is not None:
        try:
            options = ExamOptions.model_validate(d["options"])
        except ValidationError as exc:
            errors = [
                {"field": "options." + ".".join(str(x) for x in e["loc"]), "message": e["msg"]}
                for e in exc.errors()
            ]
            raise ApiError(422, "invalid", "options are invalid", errors) from None
    return policy, options


async def set_exam_documents(request: Request) -> Response:
    d = await read_json(request)
    policy, options = _exam_documents(d)
    if policy is None and options is None:
        raise ApiError(422, "invalid", "give 'policy' and/or 'options'")
    body = await _run(
        sch.set_exam_documents,
        context(request.app).engine,
        request.path_params["code"],
        policy,
        options,
        _actor(request),
    )
    return JSONResponse(body)


async def list_exams(request: Request) -> Response:
    return JSONResponse(await _run(sch.exam_summary, context(request.app).engine))


ENDPOINTS: list[Endpoint] = [
    Endpoint(
        "POST",
        "/api/admin/sites",
        create_site,
        "create a test site",
        ("admin",),
        obj(["code", "name"], code=STR, name=STR),
        responses={"409": "exists", "422": "invalid"},
    ),
    Endpoint(
        "POST",
        "/api/admin/rooms",
        create_room,
        "create a room at a site",
        ("admin",),
        obj(["site_code", "code", "name"], site_code=STR, code=STR, name=STR, capacity=INT),
        responses={"409": "exists", "422": "invalid"},
    ),
    Endpoint(
        "POST",
        "/api/admin/exams",
        create_exam,
        "create an exam from the item bank and a design "
        "('skd_linear', 'skd_adaptive' or a design object)",
        ("admin",),
        obj(["code", "name"], code=STR, name=STR, design={}, policy={}, options={}),
        responses={"409": "exists", "422": "invalid design, policy, options or bank"},
    ),
    Endpoint("GET", "/api/admin/exams", list_exams, "list exams with their documents", ("admin",)),
    Endpoint(
        "PUT",
        "/api/admin/exams/{code}/documents",
        set_exam_documents,
        "replace an exam's ranking policy and/or options (refused once a session has opened)",
        ("admin",),
        obj([], policy={}, options={}),
        responses={"404": "no such exam", "409": "a session has opened", "422": "invalid"},
    ),
]
