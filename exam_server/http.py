"""HTTP plumbing shared by the REST endpoints: JSON bodies, errors, roles, the
declared endpoint list that both the router and the OpenAPI schema read."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import OperationalError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from exam_server.auth import CandidateClaims, StaffClaims, TokenError
from exam_server.context import NotStarted, context

log = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]
MAX_JSON_BYTES = 256 * 1024


class ApiError(Exception):
    """An error answered as ``{"error": code, "message": ..., "errors": [...]}``."""

    def __init__(
        self, status: int, code: str, message: str, errors: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors


def error_response(exc: ApiError) -> JSONResponse:
    body: dict[str, Any] = {"error": exc.code, "message": exc.message}
    if exc.errors is not None:
        body["errors"] = exc.errors
    return JSONResponse(body, status_code=exc.status)


async def read_json(request: Request, max_bytes: int = MAX_JSON_BYTES) -> dict[str, Any]:
    raw = await read_body(request, max_bytes)
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, RecursionError):
        raise ApiError(400, "bad_json", "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "bad_json", "the body must be a JSON object")
    return data


async def read_body(request: Request, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                raise ApiError(413, "too_large", f"the body is limited to {max_bytes} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        # The client went (or was closed at a deadline: exam_server.connection_gate)
        # before its body came: nobody reads an answer, and a traceback each
        # filled the log with 19,500 of them under a review's flood.
        raise ApiError(400, "client_disconnected", "the body did not arrive") from None
    return b"".join(chunks)


def field_str(d: dict[str, Any], name: str, *, max_len: int = 200, required: bool = True) -> str:
    v = d.get(name)
    if v is None and not required:
        return ""
    if not isinstance(v, str) or not v.strip() or len(v) > max_len:
        raise ApiError(
            422,
            "bad_field",
            f"'{name}' must be a non-empty string of at most {max_len} characters",
            [{"field": name, "message": "required string"}],
        )
    return v.strip()


def field_num(
    d: dict[str, Any], name: str, lo: float, hi: float, default: float | None = None
) -> float:
    v = d.get(name, default)
    if isinstance(v, bool) or not isinstance(v, int | float) or not lo <= v <= hi:
        raise ApiError(
            422,
            "bad_field",
            f"'{name}' must be a number between {lo} and {hi}",
            [{"field": name, "message": "out of range"}],
        )
    return float(v)


def _bearer(request: Request, who: str) -> str:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer "):
        raise ApiError(401, "not_authenticated", f"send Authorization: Bearer <{who}>")
    return header[7:].strip()


def candidate_of(request: Request) -> CandidateClaims:
    """The claims of the candidate token the request carries (401 otherwise)."""
    try:
        return context(request.app).signer.read_candidate(_bearer(request, "candidate token"))
    except TokenError as exc:
        raise ApiError(401, exc.code, str(exc)) from None


def staff_of(request: Request, roles: tuple[str, ...]) -> StaffClaims:
    try:
        claims = context(request.app).signer.read_staff(_bearer(request, "token"))
    except TokenError as exc:
        raise ApiError(401, exc.code, str(exc)) from None
    if claims.role not in roles:
        raise ApiError(403, "forbidden", f"this needs the role {' or '.join(roles)}")
    return claims


@dataclass(frozen=True)
class Endpoint:
    """One REST endpoint: the router and the OpenAPI schema are built from these."""

    method: str
    path: str
    handler: Handler
    summary: str
    roles: tuple[str, ...] = ()
    body: dict[str, Any] | None = None
    body_type: str = "application/json"
    tag: str = "admin"
    responses: dict[str, str] = field(default_factory=dict)

    def route(self) -> Route:
        handler = self.handler

        async def wrapped(request: Request) -> Response:
            try:
                if self.roles:
                    request.state.staff = staff_of(request, self.roles)
                return await handler(request)
            except ApiError as exc:
                return error_response(exc)
            except OperationalError as exc:
                # The database is unreachable or busy (a PostgreSQL restart, a
                # locked SQLite file, no connection slot left): the request can
                # be retried, it is not a server fault. Its cause goes to the log
                # and /healthz, so an operator can tell which.
                _note_outage(request, f"{self.method} {self.path}", exc)
                response = error_response(
                    ApiError(503, "unavailable", "the database is unavailable; try again")
                )
                response.headers["Retry-After"] = "2"
                return response

        wrapped.__name__ = handler.__name__
        return Route(self.path, wrapped, methods=[self.method])


def _note_outage(request: Request, where: str, exc: BaseException) -> None:
    try:
        context(request.app).monitor.note_outage(where, exc)
    except NotStarted:  # an app without the lifespan (a test's bare router)
        log.warning("%s: database unavailable: %s", where, exc)


def openapi(endpoints: list[Endpoint], title: str, version: str) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for ep in endpoints:
        op: dict[str, Any] = {
            "summary": ep.summary,
            "operationId": ep.handler.__name__,
            "tags": [ep.tag],
            "responses": {
                "200": {"description": "OK"},
                **{code: {"description": text} for code, text in ep.responses.items()},
            },
        }
        params = [seg[1:-1].split(":")[0] for seg in ep.path.split("/") if seg.startswith("{")]
        if params:
            op["parameters"] = [
                {"name": n, "in": "path", "required": True, "schema": {"type": "integer"}}
                for n in params
            ]
        if ep.roles:
            op["security"] = [{"bearer": []}]
            op["responses"]["401"] = {"description": "no or invalid staff token"}
            op["responses"]["403"] = {"description": f"role must be {' or '.join(ep.roles)}"}
        if ep.body is not None:
            op["requestBody"] = {"required": True, "content": {ep.body_type: {"schema": ep.body}}}
        path = "/".join(
            "{" + seg[1:-1].split(":")[0] + "}" if seg.startswith("{") else seg
            for seg in ep.path.split("/")
        )
        paths.setdefault(path, {})[ep.method.lower()] = op
    return {
        "openapi": "3.0.3",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def obj(required: list[str], **props: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema object (OpenAPI 3.0)."""
    return {"type": "object", "required": required, "properties": props}


STR = {"type": "string"}
INT = {"type": "integer"}
NUM = {"type": "number"}
