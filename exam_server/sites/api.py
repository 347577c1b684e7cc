"""The sites' REST endpoints, by role (``Settings.role``).

Centre: ``GET /api/centre/v1/positions``, ``POST /api/centre/v1/batches``
and ``POST /api/centre/v1/keys`` for sites (``Authorization: Bearer
<site token>``), and ``GET /api/centre/sites`` for administrators (the
centre page). Site, for its staff (the site page ``/site.html``): ``GET
/api/site/status``, ``POST /api/site/keys`` (release a session's key from
the centre, or from a sealed key typed in) and ``POST /api/site/sync``
(sync now). Each calls the function ``seleksi site`` calls
(``exam_server.sites.operator``, ``client``).
"""

from __future__ import annotations

import base64
from typing import Any

import anyio.to_thread
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from exam_server.context import context
from exam_server.http import STR, ApiError, Endpoint, _bearer, field_str, obj, read_body, read_json
from exam_server.settings import Settings
from exam_server.sites import intake, keys, link, operator
from exam_server.sites.client import CentreClient, CentreUnreachable, sync_state
from exam_server.sites.package import PackageError
from exam_server.sites.service import SiteSyncer, site_checkpoints
from exam_server.sites.wire import Batch

#: A batch of 2,000 records is about 1 MB of JSON; room for larger ones.
MAX_BATCH_BYTES = 32 * 1024 * 1024


async def _site_of(request: Request) -> int:
    engine = context(request.app).engine
    try:
        return await anyio.to_thread.run_sync(
            link.authenticate, engine, _bearer(request, "site token")
        )
    except link.LinkError as exc:
        raise ApiError(exc.status, exc.code, str(exc)) from None


# -- centre ------------------------------------------------------------------------


async def centre_positions(request: Request) -> Response:
    """How far each of the calling site's chains has arrived."""
    site_id = await _site_of(request)
    ctx = context(request.app)
    pos = await anyio.to_thread.run_sync(
        intake.read_positions, ctx.engine, site_id, ctx.clock.now()
    )
    return JSONResponse(pos.model_dump(mode="json"))


async def centre_batch(request: Request) -> Response:
    """Store and verify one batch; 409 with the positions when it has a gap."""
    site_id = await _site_of(request)
    raw = await read_body(request, MAX_BATCH_BYTES)
    try:
        batch = Batch.model_validate_json(raw)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(x) for x in e["loc"]), "message": e["msg"]}
            for e in exc.errors()[:20]
        ]
        raise ApiError(422, "bad_batch", "the batch is not a valid sync batch", errors) from None
    ctx = context(request.app)
    try:
        result = await anyio.to_thread.run_sync(
            intake.apply_batch, ctx.engine, site_id, batch, ctx.clock.now()
        )
    except intake.Gap as gap:
        return JSONResponse(
            {
                "error": "gap",
                "message": str(gap),
                "positions": gap.positions.model_dump(mode="json"),
            },
            status_code=409,
        )
    return JSONResponse(result.model_dump(mode="json"))


async def centre_key(request: Request) -> Response:
    """A session's item key, to the site holding the session, at its start."""
    site_id = await _site_of(request)
    code = field_str(await read_json(request), "session_code", max_len=60)
    ctx = context(request.app)
    try:
        key = await anyio.to_thread.run_sync(
            link.release_key,
            ctx.engine,
            site_id,
            code,
            ctx.clock.now(),
            ctx.settings.site_key_lead_seconds,
        )
    except link.LinkError as exc:
        raise ApiError(exc.status, exc.code, str(exc)) from None
    return JSONResponse({"session_code": code, "key": base64.b64encode(key).decode()})


async def centre_sites(request: Request) -> Response:
    """Every site: link status, sync lag, pending, sessions running, problems."""
    ctx = context(request.app)
    online = 3 * ctx.settings.site_sync_seconds
    sites = await anyio.to_thread.run_sync(link.overview, ctx.engine, ctx.clock.now(), online)
    return JSONResponse({"now": ctx.clock.now(), "online_seconds": online, "sites": sites})


# -- site --------------------------------------------------------------------------


def _site_report(request: Request) -> dict[str, Any]:
    ctx = context(request.app)
    s = ctx.settings
    return {
        "now": ctx.clock.now(),
        **operator.report(
            ctx.engine,
            lead_seconds=s.site_key_lead_seconds,
            centre_url=s.centre_url,
            checkpoints=site_checkpoints(s),
        ),
    }


async def site_status(request: Request) -> Response:
    """The installed packages, each session's key, the sync (the site page)."""
    return JSONResponse(await anyio.to_thread.run_sync(_site_report, request))


async def site_release_key(request: Request) -> Response:
    """``{"session_code", "sealed_key"?}``: open the session's items with the
    key from the centre, or (the link down) with the sealed key typed in."""
    d = await read_json(request)
    code = field_str(d, "session_code", max_len=60)
    sealed = field_str(d, "sealed_key", max_len=120, required=False)
    ctx = context(request.app)
    s = ctx.settings
    centre = (
        (lambda: CentreClient(s.centre_url or "", s.site_token or ""))
        if s.centre_url and s.site_token
        else None
    )
    try:
        n, how = await anyio.to_thread.run_sync(
            operator.release_session_key, ctx.engine, code, sealed or None, centre
        )
    except keys.SealedKeyError as exc:
        raise ApiError(
            422, exc.code, str(exc), [{"field": "sealed_key", "message": str(exc), **exc.params}]
        ) from None
    except CentreUnreachable as exc:
        raise ApiError(503, "centre_unreachable", f"{exc}; type the sealed key") from None
    except (ValueError, PackageError) as exc:
        raise ApiError(422, "bad_key", str(exc)) from None
    return JSONResponse({"session_code": code, "items": n, "how": how})


async def site_sync_now(request: Request) -> Response:
    """One sync run now (the same run the server makes every
    ``site_sync_seconds``); answers the sync state after it."""
    syncer: SiteSyncer | None = getattr(request.app.state, "site_syncer", None)
    if syncer is None:
        raise ApiError(
            409, "no_centre", "this site has no centre configured (centre_url, site_token)"
        )
    rep = await syncer.now()
    engine = context(request.app).engine
    state = await anyio.to_thread.run_sync(sync_state, engine)
    return JSONResponse(
        {
            "reached": rep is not None,
            "stored": rep.stored if rep else 0,
            "problems": rep.problems if rep else [],
            "sync": state,
        }
    )


def endpoints(settings: Settings) -> list[Endpoint]:
    """The endpoints of ``settings.role`` (none for a standalone server)."""
    if settings.role == "centre":
        return [
            Endpoint(
                "GET",
                "/api/centre/v1/positions",
                centre_positions,
                "a site: how far its chains have arrived at the centre",
                tag="sites",
            ),
            Endpoint(
                "POST",
                "/api/centre/v1/batches",
                centre_batch,
                "a site: a batch of records after the positions",
                tag="sites",
                body={"type": "object"},
                responses={
                    "409": "a gap: resend from the positions given",
                    "422": "not a valid batch",
                },
            ),
            Endpoint(
                "POST",
                "/api/centre/v1/keys",
                centre_key,
                "a site: a session's item key at its start",
                tag="sites",
                body=obj(["session_code"], session_code=STR),
                responses={"403": "too early", "404": "not this site's session"},
            ),
            Endpoint(
                "GET",
                "/api/centre/sites",
                centre_sites,
                "every site: link, sync lag, pending records, sessions, problems",
                ("admin",),
                tag="sites",
            ),
        ]
    if settings.role == "site":
        return [
            Endpoint(
                "GET",
                "/api/site/status",
                site_status,
                "this site: its packages, its sessions' keys, the sync",
                ("admin", "proctor"),
                tag="sites",
            ),
            Endpoint(
                "POST",
                "/api/site/sync",
                site_sync_now,
                "sync with the centre now",
                ("admin",),
                tag="sites",
                responses={"409": "no centre configured"},
            ),
            Endpoint(
                "POST",
                "/api/site/keys",
                site_release_key,
                "open a session's items: key from the centre, or the sealed key",
                ("admin",),
                tag="sites",
                body=obj(["session_code"], session_code=STR, sealed_key=STR),
                responses={
                    "422": "a wrong key (sealed_chars, sealed_length, sealed_last, sealed_check,"
                    " bad_key)",
                    "503": "the centre cannot be reached",
                },
            ),
        ]
    return []
