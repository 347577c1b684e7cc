"""What the SKB's REST endpoints share (:mod:`exam_server.assessment.api`,
:mod:`exam_server.assessment.candidate_api`): strict pydantic bodies,
refusals as API errors, the acting staff member, the clock and the engine."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.requests import Request

from exam_server.assessment import service as svc
from exam_server.context import context
from exam_server.http import ApiError, read_json

M = TypeVar("M", bound=BaseModel)
TAG = "skb"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


async def _body(request: Request, model: type[M]) -> M:
    return _validated(model, await read_json(request))


def _validated(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]}
            for e in exc.errors()
        ]
        first = errors[0]
        raise ApiError(422, "bad_field", f"{first['field']}: {first['message']}", errors) from None


async def _run(fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return await anyio.to_thread.run_sync(fn, *args)
    except svc.Refused as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None


def _actor(request: Request) -> str:
    st = request.state.staff
    return f"{st.role}:{st.username}"


def _now(request: Request) -> float:
    return context(request.app).clock.now()


def _engine(request: Request) -> Any:
    return context(request.app).engine
