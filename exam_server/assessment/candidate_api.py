"""The SKB candidate page's endpoints: a candidate reads their interview
and, once final, their SKB breakdown, and moves their interview, with their
registration number and their signed SKD receipt (never the date of birth:
the results publication lists it), under the login back-off."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio.to_thread
from pydantic import Field
from sqlmodel import Session, select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from exam_server import receipts
from exam_server.assessment import service as svc
from exam_server.assessment.api_common import M, _Body, _engine, _now, _run, _validated
from exam_server.context import context
from exam_server.http import ApiError, read_json
from exam_server.limits import Throttled, request_source, throttled_response
from exam_server.models import Candidate
from exam_server.receipts.at_server import verify_at_server


class CandidateBody(_Body):
    """The SKB candidate page's proof: the registration number and the
    candidate's signed receipt (``SELEKSI-R1:…``, shown at the end of the SKD
    test; about 280 characters)."""

    registration_number: str = Field(min_length=1, max_length=40)
    receipt: str = Field(min_length=1, max_length=4000)


class RescheduleBody(CandidateBody):
    slot: int = Field(ge=1)


#: Why a body with a date of birth is refused (the SKB candidate page's old proof).
NO_BIRTH_DATE = (
    "receipt: the date of birth is no longer accepted (the results publication lists it); "
    "send the receipt code shown at the end of the SKD test (SELEKSI-R1:…)"
)


async def _candidate_body(request: Request, model: type[M]) -> M:
    """A candidate page's body; one that still sends ``birth_date`` is told
    the receipt replaced it (422, field ``receipt``)."""
    data = await read_json(request)
    if isinstance(data, dict) and "birth_date" in data:
        errors = [{"field": "receipt", "message": NO_BIRTH_DATE.split(": ", 1)[1]}]
        raise ApiError(422, "bad_field", NO_BIRTH_DATE, errors)
    return _validated(model, data)


def _check_candidate(
    engine: Any, holder: receipts.KeyHolder, registration_number: str, receipt: str
) -> None:
    """Refused (401) unless ``receipt`` verifies at this server (a key it holds
    or has held, or a registered site key: the after-test pages' check,
    :func:`exam_server.receipts.at_server.verify_at_server`; any exam, as the
    SKB follows the candidate's SKD) and names ``registration_number``, a
    candidate of this server. Nothing published (a birth date, a name) is a
    proof."""
    why = ""
    try:
        r = verify_at_server(engine, holder, receipt).receipt
    except receipts.ReceiptRefused as exc:
        why = str(exc)
    else:
        if r.registration_number != registration_number:
            why = "the receipt is another registration number's"
        else:
            with Session(engine) as s:
                cand = s.exec(
                    select(Candidate).where(Candidate.registration_number == registration_number)
                ).first()
            if cand is None:
                why = "no candidate has this registration number"
    if why:
        raise svc.Refused(
            401,
            "bad_credentials",
            f"the receipt is not a valid receipt of this registration number ({why})",
        )


async def _as_candidate(
    request: Request, b: CandidateBody, then: Callable[[], dict[str, Any]]
) -> Response:
    """Run ``then`` for the candidate ``b`` names once their receipt proves it
    (:func:`_check_candidate`), under the login back-off (``exam_server.limits``,
    scope ``skb``): refused receipts (forged, altered, another candidate's)
    count like wrong PINs, per (number, address) and per address.

    No count per number over every address: the receipt cannot be guessed
    (it is signed), so such a count only let anyone who knew a registration
    number keep its owner out, from addresses of their own (found in a
    review: about 14 forged tries, then one each time the wait ran out)."""
    ctx = context(request.app)
    source = request_source(request)
    reg = b.registration_number
    engine = _engine(request)
    try:
        # Check and count as one step (LoginLimiter.trying): a concurrent
        # burst is not checked in full before its first failure is counted.
        async with ctx.limits.trying("skb", reg, source) as had_failures:
            try:
                await anyio.to_thread.run_sync(
                    _check_candidate, engine, ctx.checkpoints, reg, b.receipt
                )
            except svc.Refused as exc:
                await ctx.limits.failed("skb", reg, source)
                raise ApiError(exc.status, exc.code, exc.message) from None
    except Throttled as exc:
        return throttled_response(exc)
    if had_failures:
        await ctx.limits.succeeded("skb", reg, source)
    return JSONResponse(await _run(then))


def _published_line(request: Request, registration_number: str) -> dict[str, Any] | None:
    """The candidate's line in the signed final ranking the server publishes, if any."""
    from exam_server import results_api as ra
    from exam_server.results import publication as pubm

    folder, _ = ra._setup(request)
    if folder is None or not (folder / pubm.MANIFEST).is_file():
        return None
    try:
        docs = pubm.formation_docs(pubm.read_publication(folder))
    except (pubm.PublicationError, OSError):
        return None
    for _, doc in docs:
        if doc.get("stage") == "final":
            for e in doc.get("entries", []):
                if e.get("registration_number") == registration_number:
                    return dict(e)
    return None


async def candidate_page(request: Request) -> Response:
    b = await _candidate_body(request, CandidateBody)
    engine, now = _engine(request), _now(request)

    def work() -> dict[str, Any]:
        line = _published_line(request, b.registration_number)
        return svc.candidate_view(engine, b.registration_number, now, line)

    return await _as_candidate(request, b, work)


async def reschedule(request: Request) -> Response:
    b = await _candidate_body(request, RescheduleBody)
    engine, now = _engine(request), _now(request)

    def work() -> dict[str, Any]:
        svc.reschedule(engine, b.registration_number, b.slot, now)
        line = _published_line(request, b.registration_number)
        return svc.candidate_view(engine, b.registration_number, now, line)

    return await _as_candidate(request, b, work)
