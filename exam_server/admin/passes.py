"""Terminal passes over the API: issued by staff for a room (an admin also for
a whole site), listed and revoked by admins, checked by the terminal's setup
form. The passes themselves are :mod:`exam_server.terminal_passes`; the
endpoints are declared in ``exam_server.admin.logins`` with the logins they
serve."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from sqlalchemy import select
from sqlmodel import Session, col
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from exam_server import terminal_passes as tp
from exam_server.admin.common import _actor, _staff
from exam_server.context import AppContext, context
from exam_server.http import ApiError, field_str, read_json
from exam_server.models import Room, Site

DEFAULT_DAYS = 30


def _int_field(d: dict[str, Any], name: str, lo: int, hi: int, default: int | None) -> int:
    v = d.get(name, default)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ApiError(
            422,
            "bad_field",
            f"'{name}' must be a whole number between {lo} and {hi}",
            [{"field": name, "message": "out of range"}],
        )
    return v


def _where(engine: Any, room_id: int | None, site_code: str | None) -> dict[str, Any] | None:
    """The room (with its site's code) or the site a pass is issued for; None
    if there is no such room or site."""
    with Session(engine) as s:
        if room_id is not None:
            row = s.execute(
                select(col(Room.id), col(Room.code), col(Site.code))
                .join(Site, col(Site.id) == col(Room.site_id))
                .where(col(Room.id) == room_id)
            ).first()
            if row is None:
                return None
            return {"room_id": int(row[0]), "room_code": row[1], "site_code": row[2]}
        site = s.execute(select(Site).where(col(Site.code) == site_code)).scalars().first()
        if site is None:
            return None
        return {"room_id": None, "room_code": None, "site_code": site.code}


async def issue_passes(request: Request) -> Response:
    """Issue ``count`` passes for a room (admin, or a proctor of that room) or
    a site (admin); the codes are answered once and never stored."""
    d = await read_json(request)
    st = _staff(request)
    room_id = d.get("room_id")
    site_code = d.get("site_code")
    if (room_id is None) == (site_code is None):
        raise ApiError(
            422,
            "bad_field",
            "give either 'room_id' or 'site_code'",
            [{"field": "room_id", "message": "room_id or site_code"}],
        )
    if room_id is not None:
        room_id = _int_field(d, "room_id", 1, 2**63 - 1, None)
    else:
        site_code = field_str(d, "site_code", max_len=40)
        if st.role != "admin":
            raise ApiError(403, "forbidden", "only an administrator issues passes for a site")
    count = _int_field(d, "count", 1, tp.MAX_COUNT, 1)
    days = _int_field(d, "days", 1, tp.MAX_DAYS, DEFAULT_DAYS)
    label = field_str(d, "label", max_len=80, required=False)
    reason = field_str(d, "reason", max_len=2000, required=False)
    if room_id is not None and not st.may_supervise(room_id):
        # Before the room is looked up: a proctor learns nothing of other rooms.
        raise ApiError(403, "forbidden", "this room is not one you supervise")
    ctx = context(request.app)
    where = await anyio.to_thread.run_sync(_where, ctx.engine, room_id, site_code)
    if where is None:
        raise ApiError(404, "not_found", "no such room" if room_id is not None else "no such site")
    now = ctx.clock.now()
    expires_at = int(now + days * 86400)
    actor = _actor(request)
    secret = ctx.settings.secret_key

    def write(conn: Any) -> list[tuple[tp.TerminalPass, str]]:
        return tp.issue(
            conn,
            secret,
            count=count,
            expires_at=expires_at,
            actor=actor,
            at=now,
            label=label,
            reason=reason,
            **where,
        )

    made = await ctx.committer.submit(write)
    ctx.passes.note(
        tp.ISSUED,
        actor,
        now,
        reason,
        {"pass_ids": [p.id for p, _ in made], "expires_at": expires_at, "label": label, **where},
    )
    return JSONResponse(
        {
            "passes": [{"id": p.id, "code": code} for p, code in made],
            "expires_at": expires_at,
            "label": label,
            **where,
        },
        status_code=201,
    )


async def refreshed(ctx: AppContext) -> tp.PassRegistry:
    """The app's pass registry with the audit rows added since its last read
    (read now, in a worker thread: an admin's page shows what is in force)."""
    reg = ctx.passes

    def read() -> None:
        with ctx.engine.connect() as conn:
            reg.refresh_on(conn)

    await anyio.to_thread.run_sync(read)
    return reg


async def list_passes(request: Request) -> Response:
    """Every pass the audit chain knows, the most recently issued first."""
    ctx = context(request.app)
    reg = await refreshed(ctx)
    now = ctx.clock.now()
    return JSONResponse([r.as_json(now) for r in reg.records()])


async def revoke_pass(request: Request) -> Response:
    """Revoke a pass (audited with the reason): its logins count as without a
    pass, on every worker within ``SELEKSI_STAFF_REFRESH_SECONDS``."""
    pass_id = str(request.path_params.get("pass_id", "")).upper()
    if not tp.valid_id(pass_id):
        raise ApiError(404, "not_found", "no such pass")
    d = await read_json(request)
    reason = field_str(d, "reason", max_len=2000)
    ctx = context(request.app)
    reg = await refreshed(ctx)
    record = reg.record(pass_id)
    if record is None or record.issued_at is None:
        raise ApiError(404, "not_found", "no such pass")
    if record.revoked_at is not None:
        raise ApiError(409, "already_revoked", "this pass is already revoked")
    now = ctx.clock.now()
    actor = _actor(request)
    await ctx.committer.submit(
        lambda conn: tp.revoke(conn, pass_id, actor=actor, reason=reason, at=now)
    )
    reg.note(tp.REVOKED, actor, now, reason, {"pass_id": pass_id})
    revoked = reg.record(pass_id)
    assert revoked is not None
    return JSONResponse(revoked.as_json(now))


async def check_pass(request: Request) -> Response:
    """Whether a code is a pass this server would count (the terminal's setup
    form asks before keeping it): ``{"valid": true, "id", "expires_at"}`` or
    ``{"valid": false}``. Says nothing a login does not act on, and nothing
    of why a code is refused."""
    d = await read_json(request, 4096)
    ctx = context(request.app)
    p = tp.verify(ctx.settings.secret_key, d.get("terminal_pass"), ctx.clock.now())
    if p is not None:
        reg = ctx.passes

        def usable() -> tp.TerminalPass | None:
            with ctx.engine.connect() as conn:
                return reg.usable_on(conn, p)

        p = await anyio.to_thread.run_sync(usable)
    if p is None:
        return JSONResponse({"valid": False})
    return JSONResponse({"valid": True, "id": p.id, "expires_at": p.expires_at})


def pass_of_login(request: Request, raw: object) -> tuple[tp.TerminalPass | None, Any]:
    """The verified pass a login body brings (None for none, a malformed, a
    forged or an expired one: all count as no pass) and the app's registry."""
    ctx = context(request.app)
    p = tp.verify(ctx.settings.secret_key, raw, ctx.clock.now())
    return p, (ctx.passes if p is not None else None)


def describe_pass(ctx: Any, pass_id: str | None) -> dict[str, Any] | None:
    """What the registry knows of a pass named by a limit key (for the
    admin's list of limits): id, label, room, site, status."""
    if pass_id is None:
        return None
    record = ctx.passes.record(pass_id)
    if record is None:
        return {"id": pass_id, "status": "unknown"}
    full = record.as_json(ctx.clock.now())
    return {k: full[k] for k in ("id", "status", "label", "room_id", "room_code", "site_code")}
