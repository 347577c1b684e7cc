"""Logins: staff (admin or proctor) and candidates, the failed-login back-off
an admin reads and clears, the terminal passes that key a terminal's
back-off (``exam_server.admin.passes``), and the candidate's signed receipt."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any

import anyio.to_thread
from sqlalchemy import select
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from exam_server import audit, receipts
from exam_server.admin import passes
from exam_server.admin.common import _actor, _svc
from exam_server.admin.scope import staff_rooms
from exam_server.attempts import LoginError
from exam_server.auth import verify_password
from exam_server.context import context
from exam_server.http import (
    INT,
    STR,
    ApiError,
    Endpoint,
    candidate_of,
    field_str,
    obj,
    read_json,
)
from exam_server.limits import SCOPES, Throttled, request_source, throttled_response
from exam_server.models import Staff


async def staff_login(request: Request) -> Response:
    d = await read_json(request)
    username, password = field_str(d, "username", max_len=80), field_str(d, "password", max_len=200)
    app = request.app
    ctx = context(app)
    # Back-off per (username, source address): wrong passwords from one
    # address never hold the account up for anyone at another address.
    source = request_source(request)

    def lookup() -> tuple[Staff | None, tuple[int, ...]]:
        with Session(context(app).engine) as s:
            st = s.execute(select(Staff).where(Staff.username == username)).scalars().first()  # type: ignore[arg-type]
        if st is None or st.id is None:
            return None, ()
        return st, staff_rooms(context(app).engine, st.id)

    try:
        # Check and count as one step (LoginLimiter.trying): a concurrent
        # burst is not checked in full before its first failure is counted.
        async with ctx.limits.trying("staff", username, source) as had_failures:
            staff, rooms = await anyio.to_thread.run_sync(lookup)
            stored = staff.password_hash if staff is not None else context(app).dummy_hash
            # scrypt is slow on purpose: off the loop, and a bounded number at once.
            ok = await anyio.to_thread.run_sync(
                verify_password, password, stored, limiter=context(app).hash_limiter
            )
            if staff is None or not ok:
                failure = await ctx.limits.failed("staff", username, source)
                if failure.locked_now:
                    await _audit_lockout(
                        ctx, username, source, failure.failures, failure.wait_seconds
                    )
                raise ApiError(401, "bad_credentials", "wrong username or password")
    except Throttled as exc:
        return throttled_response(exc)
    if staff.disabled:  # said only to someone who knows the password (seleksi staff enable)
        raise ApiError(403, "account_disabled", "this account is disabled")
    if had_failures:
        await ctx.limits.succeeded("staff", username, source)
    from exam_server.auth import StaffClaims as Claims

    assert staff.id is not None
    token = context(app).signer.staff_token(Claims(staff.id, staff.username, staff.role, rooms))
    return JSONResponse(
        {"token": token, "role": staff.role, "name": staff.name, "room_ids": list(rooms)}
    )


async def _audit_lockout(
    ctx: Any, username: str, source: str, failures: int, wait_seconds: float
) -> None:
    """A staff account's first wait from one source goes into the audit chain."""
    data = {
        "username": username,
        "source": source,
        "failures": failures,
        "wait_seconds": wait_seconds,
    }
    await ctx.committer.submit(
        lambda conn: audit.append(conn, "staff_lockout", f"source:{source}", data=data)
    )


async def login_limits(request: Request) -> Response:
    """The failed-login keys still remembered (``LoginLimiter.entries``); a
    key counted under a terminal pass names the pass (``pass``: id, status,
    label, room, site)."""
    ctx = context(request.app)
    rows = await ctx.limits.entries()
    if any(r["pass_id"] is not None for r in rows):
        await passes.refreshed(ctx)
    for r in rows:
        r["pass"] = passes.describe_pass(ctx, r["pass_id"])
    return JSONResponse(rows)


async def clear_login_limits(request: Request) -> Response:
    """Forget the keys matching ``scope`` and ``account`` (and ``source`` if
    given); audited with the admin's reason."""
    d = await read_json(request)
    scope = field_str(d, "scope", max_len=10)
    if scope not in SCOPES:
        raise ApiError(
            422,
            "bad_field",
            f"'scope' must be one of {', '.join(SCOPES)}",
            [{"field": "scope", "message": "unknown scope"}],
        )
    account = d.get("account")
    if not isinstance(account, str) or len(account) > 200:
        raise ApiError(
            422,
            "bad_field",
            "'account' must be a string ('' = the every-account key of a source)",
            [{"field": "account", "message": "required string"}],
        )
    source = field_str(d, "source", max_len=64, required=False) or None
    reason = field_str(d, "reason", max_len=2000)
    ctx = context(request.app)
    cleared = await ctx.limits.clear(scope, account.strip(), source)
    data = {"scope": scope, "account": account.strip(), "source": source, "cleared": cleared}
    await ctx.committer.submit(
        lambda conn: audit.append(
            conn, "login_limit_cleared", _actor(request), reason=reason, data=data
        )
    )
    return JSONResponse({"cleared": cleared})


async def candidate_login(request: Request) -> Response:
    d = await read_json(request, 4096)
    reg = field_str(d, "registration_number", max_len=40)
    pin = field_str(d, "pin", max_len=20)
    token = field_str(d, "session_token", max_len=20)
    terminal = field_str(d, "terminal_id", max_len=80)
    # Optional; anything but a valid, unexpired pass (missing, malformed,
    # forged, expired) counts as no pass, and the answer says nothing of it.
    terminal_pass, registry = passes.pass_of_login(request, d.get("terminal_pass"))
    try:
        signed, la, formation = await _svc(request).login(
            reg,
            pin,
            token,
            terminal,
            request_source(request),
            terminal_pass,
            registry,
        )
    except Throttled as exc:
        return throttled_response(exc)
    except LoginError as exc:
        raise ApiError(exc.status, exc.code, str(exc)) from None
    return JSONResponse(
        {
            "token": signed,
            "attempt_id": la.id,
            "name": la.name,
            "registration_number": la.registration_number,
            "category": la.category,
            "formation": formation,
            "exam": la.exam.name,
            "mode": la.exam.mode,
            "ws_path": "/ws/candidate",
        }
    )


class ReceiptQr:
    """QR codes of receipts, drawn once each (about 15 ms of a worker thread):
    a receipt never changes, and a finished candidate who asked for theirs a
    hundred times at once held the shared threads long enough to slow every
    other candidate's acknowledgements from 3 to 170 ms (found by a review).
    Concurrent asks of one code wait for the same drawing; at most
    ``size`` codes are kept, the oldest dropped first."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._done: OrderedDict[str, str] = OrderedDict()
        self._drawing: dict[str, asyncio.Future[str]] = {}

    async def svg(self, code: str) -> str:
        if code in self._done:
            return self._done[code]
        pending = self._drawing.get(code)
        if pending is not None:
            return await asyncio.shield(pending)
        fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._drawing[code] = fut
        try:
            svg = await anyio.to_thread.run_sync(receipts.qr_svg, receipts.decode(code))
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()  # retrieved: nobody else may be waiting
            raise
        finally:
            self._drawing.pop(code, None)
        fut.set_result(svg)
        self._done[code] = svg
        while len(self._done) > self.size:
            self._done.popitem(last=False)
        return svg


async def candidate_receipt(request: Request) -> Response:
    """The signed receipt of the candidate's finished attempt, with its QR code
    (drawn once, :class:`ReceiptQr`; the ``final`` frame carries the text)."""
    claims = candidate_of(request)
    la = await _svc(request).get(claims.attempt_id)
    final = la.finish or {}
    receipt = final.get("receipt")
    if receipt is None:
        raise ApiError(404, "no_receipt", "the attempt has not finished (or receipts are off)")
    qrs = context(request.app).extras.setdefault("receipt_qr", ReceiptQr())
    return JSONResponse({**receipt, "qr_svg": await qrs.svg(receipt["code"])})


ENDPOINTS: list[Endpoint] = [
    Endpoint(
        "POST",
        "/api/auth/login",
        staff_login,
        "staff (admin or proctor) login → bearer token",
        body=obj(["username", "password"], username=STR, password=STR),
        tag="auth",
        responses={
            "401": "bad credentials",
            "429": "too many failures from this address: wait `retry_after` seconds "
            "(body; also the Retry-After header)",
        },
    ),
    Endpoint(
        "GET",
        "/api/admin/login-limits",
        login_limits,
        "failed-login back-off keys still remembered (scope, account, source, failures, "
        "retry_after seconds)",
        ("admin",),
        tag="auth",
    ),
    Endpoint(
        "POST",
        "/api/admin/login-limits/clear",
        clear_login_limits,
        "clear the back-off of an account (every source, or one source); audited",
        ("admin",),
        obj(["scope", "account", "reason"], scope=STR, account=STR, source=STR, reason=STR),
        tag="auth",
        responses={"422": "bad scope or account"},
    ),
    Endpoint(
        "POST",
        "/api/terminal-passes",
        passes.issue_passes,
        "issue terminal passes for a room (admin, or a proctor of the room) or a site "
        "(admin): the codes, answered once; audited (`terminal_pass_issued`, ids only)",
        ("admin", "proctor"),
        obj([], room_id=INT, site_code=STR, count=INT, days=INT, label=STR, reason=STR),
        tag="auth",
        responses={
            "201": "`passes` [{id, code}], `expires_at`, room and site",
            "403": "a room the proctor does not supervise, or a site (admins only)",
            "404": "no such room or site",
            "422": "neither or both of room_id and site_code; count or days out of range",
        },
    ),
    Endpoint(
        "GET",
        "/api/admin/terminal-passes",
        passes.list_passes,
        "every terminal pass (id, status active/expired/revoked, expiry, who issued it for "
        "which room or site, revocation); never the codes",
        ("admin",),
        tag="auth",
    ),
    Endpoint(
        "POST",
        "/api/admin/terminal-passes/{pass_id}/revoke",
        passes.revoke_pass,
        "revoke a terminal pass: its logins count as without a pass (every worker within "
        "SELEKSI_STAFF_REFRESH_SECONDS); audited (`terminal_pass_revoked`)",
        ("admin",),
        obj(["reason"], reason=STR),
        tag="auth",
        responses={"404": "no such pass", "409": "already revoked"},
    ),
    Endpoint(
        "POST",
        "/api/candidate/terminal-pass",
        passes.check_pass,
        "the terminal's setup form: is this code a usable terminal pass? "
        '`{"valid": true, "id", "expires_at"}` or `{"valid": false}`',
        body=obj(["terminal_pass"], terminal_pass=STR),
        tag="candidate",
    ),
    Endpoint(
        "GET",
        "/api/candidate/receipt",
        candidate_receipt,
        "the candidate's signed receipt of the finished attempt (text code, short code, QR as SVG)",
        tag="candidate",
        responses={"401": "no candidate token", "404": "not finished or no receipts"},
    ),
    Endpoint(
        "POST",
        "/api/candidate/login",
        candidate_login,
        "candidate login: registration number + check-in PIN + session token → candidate token",
        body=obj(
            ["registration_number", "pin", "session_token", "terminal_id"],
            registration_number=STR,
            pin=STR,
            session_token=STR,
            terminal_id=STR,
            terminal_pass=STR,
        ),
        tag="candidate",
        responses={
            "401": "bad credentials (unknown number, wrong PIN or token: the same answer)",
            "403": "session not open (only with the right PIN)",
            "409": "attempt bound to another terminal",
            "429": "too many wrong PINs for this number from this address, or from this "
            "terminal pass at this address (from this address without a pass): wait "
            "`retry_after` seconds (body; also the Retry-After header)",
        },
    ),
]
