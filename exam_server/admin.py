"""The REST API: staff login, admin setup and reports, proctor actions, candidate login.

Every endpoint is declared in :data:`ENDPOINTS` (router and OpenAPI schema
come from that list). Roles are separate: ``admin`` sets up exams and reads
results; ``proctor`` runs sessions (check-in PINs, pause, extend, release,
void, notes). Opening and closing a session is open to both. Every proctor
action needs a ``reason`` and lands in the audit chain.

A proctor acts only on the sessions held in the rooms they supervise
(``exam_staff_room``, carried in the signed staff token from login); any other
session or attempt gets 403 ``forbidden``. Admins are unrestricted.
"""

from __future__ import annotations

import json
import time
from typing import Any

import anyio.to_thread
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlmodel import Session, col
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from exam_server import audit, receipts
from exam_server import scheduling as sch
from exam_server.attempts import ActionError, AttemptService, LoginError
from exam_server.auth import StaffClaims, verify_password
from exam_server.clock import remaining_seconds
from exam_server.context import context
from exam_server.db import writer
from exam_server.exam_options import ExamOptions
from exam_server.http import (
    INT,
    NUM,
    STR,
    ApiError,
    Endpoint,
    candidate_of,
    field_num,
    field_str,
    obj,
    read_body,
    read_json,
)
from exam_server.limits import SCOPES, Throttled, request_source, throttled_response
from exam_server.models import (
    Attempt,
    AuditEvent,
    Candidate,
    ExamSession,
    Room,
    Staff,
    StaffRoom,
)
from exam_server.presence import seen_alive
from exam_server.results.outcomes import absent_now
from exam_server.results.rules import PolicyError, RankingPolicy

ACTIONS = ("pause", "resume", "extend", "release", "void", "note")


def _svc(request: Request) -> AttemptService:
    return context(request.app).attempts


def _staff(request: Request) -> StaffClaims:
    return request.state.staff


def _actor(request: Request) -> str:
    st = _staff(request)
    return f"{st.role}:{st.username}"


def _int_param(request: Request, name: str) -> int:
    try:
        value = int(request.path_params[name])
    except (KeyError, ValueError):
        raise ApiError(404, "not_found", f"bad {name}") from None
    # Ids are 64-bit signed integers in both databases; a larger number names
    # nothing (and would overflow the driver).
    if not 0 <= value < 2**63:
        raise ApiError(404, "not_found", f"no such {name}")
    return value


# --- proctor scope ------------------------------------------------------------------


def staff_rooms(engine: Any, staff_id: int) -> tuple[int, ...]:
    """Ids of the rooms a staff member supervises, ascending."""
    with Session(engine) as s:
        rows = s.execute(
            select(col(StaffRoom.room_id))
            .where(col(StaffRoom.staff_id) == staff_id)
            .order_by(col(StaffRoom.room_id))
        ).scalars()
        return tuple(int(r) for r in rows)


def assign_rooms(engine: Any, staff_id: int, room_ids: list[int]) -> tuple[int, ...]:
    """Make ``room_ids`` the rooms a staff member supervises (replacing any before).

    Raises :class:`~exam_server.scheduling.SetupError` (404) for an unknown staff
    member and (422) for a room id that names no room."""
    wanted = sorted(set(room_ids))
    check_rooms(engine, room_ids)
    with Session(writer(engine)) as s:
        if s.get(Staff, staff_id) is None:
            raise sch.SetupError("no such staff member", [], 404)
        for old in s.execute(
            select(StaffRoom).where(col(StaffRoom.staff_id) == staff_id)
        ).scalars():
            s.delete(old)
        s.flush()
        for rid in wanted:
            s.add(StaffRoom(staff_id=staff_id, room_id=rid))
        s.commit()
    return tuple(wanted)


def check_rooms(engine: Any, room_ids: list[int]) -> None:
    """SetupError (422) naming the first id in ``room_ids`` that names no room."""
    with Session(engine) as s:
        for i, rid in enumerate(room_ids):
            if s.get(Room, rid) is None:
                raise sch.SetupError(
                    f"room_ids[{i}]: no room {rid}",
                    [{"field": f"room_ids[{i}]", "message": f"no room {rid}"}],
                )


def session_room(engine: Any, session_id: int) -> int | None:
    """The room a session is held in (None: no such session)."""
    with Session(engine) as s:
        sess = s.get(ExamSession, session_id)
        return None if sess is None else sess.room_id


def attempt_room(engine: Any, attempt_id: int) -> int | None:
    """The room of the session an attempt belongs to (None: no such attempt)."""
    with Session(engine) as s:
        row = s.execute(
            select(col(ExamSession.room_id))
            .join(Attempt, col(Attempt.session_id) == col(ExamSession.id))
            .where(col(Attempt.id) == attempt_id)
        ).first()
        return None if row is None else int(row[0])


async def _guard(request: Request, kind: str, ident: int) -> None:
    """403 ``forbidden`` unless the caller may act on session/attempt ``ident``.

    Admins pass without a lookup. For a proctor an unknown id is 404, as the
    endpoint itself would answer."""
    st = _staff(request)
    if st.role == "admin":
        return
    lookup = session_room if kind == "session" else attempt_room
    room = await anyio.to_thread.run_sync(lookup, context(request.app).engine, ident)
    if room is None:
        raise ApiError(404, "not_found", f"no such {kind}")
    if not st.may_supervise(room):
        raise ApiError(403, "forbidden", f"this {kind} is not in a room you supervise")


async def _run(fn: Any, *args: Any) -> Any:
    try:
        return await anyio.to_thread.run_sync(fn, *args)
    except sch.SetupError as exc:
        raise ApiError(
            exc.status,
            "invalid" if exc.status == 422 else "conflict" if exc.status == 409 else "not_found",
            exc.message,
            exc.errors,
        ) from None


# --- logins ----------------------------------------------------------------------


async def staff_login(request: Request) -> Response:
    d = await read_json(request)
    username, password = field_str(d, "username", max_len=80), field_str(d, "password", max_len=200)
    app = request.app
    ctx = context(app)
    # Back-off per (username, source address): wrong passwords from one
    # address never hold the account up for anyone at another address.
    source = request_source(request)
    try:
        had_failures = await ctx.limits.check("staff", username, source)
    except Throttled as exc:
        return throttled_response(exc)

    def lookup() -> tuple[Staff | None, tuple[int, ...]]:
        with Session(context(app).engine) as s:
            st = s.execute(select(Staff).where(Staff.username == username)).scalars().first()  # type: ignore[arg-type]
        if st is None or st.id is None:
            return None, ()
        return st, staff_rooms(context(app).engine, st.id)

    staff, rooms = await anyio.to_thread.run_sync(lookup)
    stored = staff.password_hash if staff is not None else context(app).dummy_hash
    # scrypt is slow on purpose: off the loop, and a bounded number at once.
    ok = await anyio.to_thread.run_sync(
        verify_password, password, stored, limiter=context(app).hash_limiter
    )
    if staff is None or not ok:
        failure = await ctx.limits.failed("staff", username, source)
        if failure.locked_now:
            await _audit_lockout(ctx, username, source, failure.failures, failure.wait_seconds)
        raise ApiError(401, "bad_credentials", "wrong username or password")
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
    """The failed-login keys still remembered (``LoginLimiter.entries``)."""
    return JSONResponse(await context(request.app).limits.entries())


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
    try:
        signed, la, formation = await _svc(request).login(
            reg, pin, token, terminal, request_source(request)
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


async def candidate_receipt(request: Request) -> Response:
    """The signed receipt of the candidate's finished attempt, with its QR code
    drawn here in a worker thread (the ``final`` frame carries the text)."""
    claims = candidate_of(request)
    la = await _svc(request).get(claims.attempt_id)
    final = la.finish or {}
    receipt = final.get("receipt")
    if receipt is None:
        raise ApiError(404, "no_receipt", "the attempt has not finished (or receipts are off)")
    qr = await anyio.to_thread.run_sync(receipts.qr_svg, receipts.decode(receipt["code"]))
    return JSONResponse({**receipt, "qr_svg": qr})


# --- admin -------------------------------------------------------------------------


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


async def create_session(request: Request) -> Response:
    d = await read_json(request)
    sid = await _run(
        sch.create_session,
        context(request.app).engine,
        field_str(d, "code", max_len=60),
        field_str(d, "exam_code", max_len=40),
        field_str(d, "site_code", max_len=40),
        field_str(d, "room_code", max_len=40),
        field_num(d, "starts_at", 0, 1e11, time.time()),
    )
    return JSONResponse({"id": sid}, status_code=201)


async def prepare_session(request: Request) -> Response:
    sid = _int_param(request, "session_id")

    def exists() -> bool:
        with Session(context(request.app).engine) as s:
            return s.get(ExamSession, sid) is not None

    if not await anyio.to_thread.run_sync(exists):
        raise ApiError(404, "not_found", "no such session")
    _svc(request).spawn_prepare(sid)
    return JSONResponse({"session_id": sid, "preparing": True}, status_code=202)


async def list_sessions(request: Request) -> Response:
    def q() -> list[dict[str, Any]]:
        with Session(context(request.app).engine) as s:
            counts: dict[int | None, int] = {
                sid: int(n)
                for sid, n in s.execute(
                    select(col(Candidate.session_id), func.count()).group_by(
                        col(Candidate.session_id)
                    )
                ).all()
            }
            prepared: dict[int, int] = {
                int(sid): int(n)
                for sid, n in s.execute(
                    select(col(Attempt.session_id), func.count()).group_by(col(Attempt.session_id))
                ).all()
            }
            return [
                {
                    "id": x.id,
                    "code": x.code,
                    "exam_id": x.exam_id,
                    "room_id": x.room_id,
                    "starts_at": x.starts_at,
                    "status": x.status,
                    "candidates": counts.get(x.id, 0),
                    "prepared": prepared.get(x.id or 0, 0),
                }
                for x in s.execute(select(ExamSession).order_by(ExamSession.id)).scalars()  # type: ignore[arg-type]
            ]

    return JSONResponse(await anyio.to_thread.run_sync(q))


async def create_formations(request: Request) -> Response:
    d = await read_json(request)
    rows = d.get("formations")
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ApiError(422, "invalid", "'formations' must be a list of objects")
    n = await _run(sch.create_formations, context(request.app).engine, rows)
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
    store = ItemStore(context(request.app).engine)
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


async def create_staff(request: Request) -> Response:
    d = await read_json(request)
    settings = context(request.app).settings
    room_ids = _room_ids(d)  # checked before the account exists
    await _run(check_rooms, context(request.app).engine, room_ids)
    sid = await _run(
        sch.create_staff,
        context(request.app).engine,
        field_str(d, "username", max_len=80),
        field_str(d, "name", required=False),
        field_str(d, "role", max_len=16),
        field_str(d, "password", max_len=200),
        settings.scrypt_n,
    )
    rooms = await _run(assign_rooms, context(request.app).engine, sid, room_ids)
    return JSONResponse({"id": sid, "room_ids": list(rooms)}, status_code=201)


def _room_ids(d: dict[str, Any]) -> list[int]:
    raw = d.get("room_ids", [])
    if not isinstance(raw, list) or not all(
        isinstance(r, int) and not isinstance(r, bool) and 0 <= r < 2**63 for r in raw
    ):
        raise ApiError(
            422,
            "invalid",
            "room_ids must be a list of room ids",
            [{"field": "room_ids", "message": "a list of room ids"}],
        )
    return list(raw)


async def set_staff_rooms(request: Request) -> Response:
    sid = _int_param(request, "staff_id")
    d = await read_json(request)
    rooms = await _run(assign_rooms, context(request.app).engine, sid, _room_ids(d))
    return JSONResponse({"id": sid, "room_ids": list(rooms)})


async def set_staff_access(request: Request) -> Response:
    """Disable or enable a staff account (``/disable``, ``/enable``): its logins
    and the tokens it holds (within ``staff_refresh_seconds``)."""
    sid = _int_param(request, "staff_id")
    d = await read_json(request)
    disabled = request.url.path.endswith("/disable")
    me = _staff(request)
    engine = context(request.app).engine
    username = await _run(sch.staff_username, engine, sid)
    await _run(
        sch.set_staff_disabled,
        engine,
        username,
        disabled,
        _actor(request),
        me.staff_id,
        field_str(d, "reason", max_len=500, required=False),
    )
    return JSONResponse({"id": sid, "username": username, "disabled": disabled})


async def set_staff_password(request: Request) -> Response:
    """A new password for a staff account, set by an administrator (the person
    is told it in person; it is never sent anywhere by the server)."""
    sid = _int_param(request, "staff_id")
    d = await read_json(request)
    ctx = context(request.app)
    username = await _run(sch.staff_username, ctx.engine, sid)
    password = field_str(d, "password", max_len=200)
    async with ctx.hash_limiter:  # scrypt: at most a few at once
        await _run(
            sch.set_staff_password,
            ctx.engine,
            username,
            password,
            ctx.settings.scrypt_n,
            _actor(request),
        )
    return JSONResponse({"id": sid, "username": username})


def _now(request: Request) -> float:
    return context(request.app).clock.now()


def _attempt_rows(
    engine: Any, session_id: int, with_scores: bool, now: float
) -> list[dict[str, Any]]:
    """The session's attempts as the API shows them (``now``: the server's time).

    ``status`` is the stored one, except ``absent`` for a candidate who never
    came (:func:`exam_server.results.outcomes.never_taken`) once the session
    is closed or closing it finished the attempt: TH on the board, in the
    proctor grid and in the published results too."""
    with Session(engine) as s:
        sess = s.get(ExamSession, session_id)
        closed = sess is not None and sess.status == "closed"
        rows = s.execute(
            select(Attempt, Candidate)
            .join(Candidate, col(Candidate.id) == col(Attempt.candidate_id))
            .where(col(Attempt.session_id) == session_id)
            .order_by(col(Candidate.registration_number))
        ).all()
        seen = seen_alive(s, [a for a, _ in rows])
    out = []
    for a, c in rows:
        row = {
            "attempt_id": a.id,
            "registration_number": c.registration_number,
            "name": c.name,
            "category": c.category,
            "status": "absent"
            if absent_now(a.status, a.terminal_id, a.last_seq, closed)
            else a.status,
            "terminal_id": a.terminal_id,
            "terminal_released": a.terminal_released,
            "remaining_seconds": remaining_seconds(a.remaining_at_start, a.running_since, now),
            "deadline": a.deadline_at,
            "last_seq": a.last_seq,
            "last_seen_at": seen.get(a.id or 0, a.last_seen_at),
            "finish_reason": a.finish_reason,
        }
        if with_scores:
            row.update(
                {
                    "total": a.total_points,
                    "passed": a.passed,
                    "pass_reason": a.pass_reason,
                    "score": json.loads(a.score_json) if a.score_json else None,
                }
            )
        out.append(row)
    return out


async def session_attempts(request: Request) -> Response:
    sid = _int_param(request, "session_id")
    rows = await anyio.to_thread.run_sync(
        _attempt_rows, context(request.app).engine, sid, True, _now(request)
    )
    return JSONResponse(rows)


async def attempt_detail(request: Request) -> Response:
    aid = _int_param(request, "attempt_id")

    def q() -> dict[str, Any] | None:
        from exam_server.models import Response as Resp

        with Session(context(request.app).engine) as s:
            a = s.get(Attempt, aid)
            if a is None:
                return None
            c = s.get(Candidate, a.candidate_id)
            n = s.execute(
                select(func.count()).select_from(Resp).where(col(Resp.attempt_id) == aid)
            ).scalar()
            return {
                "attempt_id": a.id,
                "session_id": a.session_id,
                "registration_number": c.registration_number if c else None,
                "status": a.status,
                "finish_reason": a.finish_reason,
                "total": a.total_points,
                "passed": a.passed,
                "pass_reason": a.pass_reason,
                "responses": n,
                "score": json.loads(a.score_json) if a.score_json else None,
                "started_at": a.started_at,
                "finished_at": a.finished_at,
            }

    d = await anyio.to_thread.run_sync(q)
    if d is None:
        raise ApiError(404, "not_found", "no such attempt")
    return JSONResponse(d)


# --- proctor -------------------------------------------------------------------------


async def open_session(request: Request) -> Response:
    sid = _int_param(request, "session_id")
    await _guard(request, "session", sid)
    token = await _run(sch.open_session, context(request.app).engine, sid, _actor(request))
    _svc(request).spawn_prepare(sid)
    return JSONResponse({"session_id": sid, "status": "open", "token": token})


async def close_session(request: Request) -> Response:
    sid = _int_param(request, "session_id")
    await _guard(request, "session", sid)
    d = await read_json(request)
    reason = field_str(d, "reason", max_len=2000)
    actor = _actor(request)
    pending = await _run(sch.mark_session_closed, context(request.app).engine, sid, actor, reason)
    svc = _svc(request)
    for aid in pending:  # the session is over: unfinished attempts are scored as they stand
        la = await svc.get(aid)
        await svc.finish(la, "session_closed", actor)
    # Sign the heads as the session ends: the proctor copies this fingerprint
    # into the session report (exam_server.checkpoints).
    cps = context(request.app).checkpoints
    fingerprint = await cps.close_session(sid)
    return JSONResponse(
        {
            "session_id": sid,
            "status": "closed",
            "finished": len(pending),
            "checkpoint": fingerprint,
        }
    )


async def checkin(request: Request) -> Response:
    sid = _int_param(request, "session_id")
    await _guard(request, "session", sid)
    d = await read_json(request)
    reg = field_str(d, "registration_number", max_len=40)
    pin = await _run(
        sch.issue_pin,
        context(request.app).engine,
        context(request.app).settings.secret_key,
        sid,
        reg,
        _actor(request),
    )
    # The proctor has checked the candidate's identity: the new PIN starts
    # without the wrong ones typed before it, from any address.
    await context(request.app).limits.clear("pin", reg)
    return JSONResponse({"registration_number": reg, "pin": pin})


async def proctor_attempts(request: Request) -> Response:
    sid = _int_param(request, "session_id")
    await _guard(request, "session", sid)
    rows = await anyio.to_thread.run_sync(
        _attempt_rows, context(request.app).engine, sid, False, _now(request)
    )
    svc = _svc(request)
    for r in rows:  # live facts only this process knows
        la = svc.live.get(r["attempt_id"])
        if la is not None:
            r["connected"] = la.conn is not None
            r["answered"] = len(la.answers)
            r["flagged"] = sum(1 for v in la.flags.values() if v)
    return JSONResponse(rows)


async def attempt_action(request: Request) -> Response:
    aid = _int_param(request, "attempt_id")
    await _guard(request, "attempt", aid)
    action = request.path_params["action"]
    if action not in ACTIONS:
        raise ApiError(404, "not_found", f"unknown action {action}")
    d = await read_json(request)
    reason = field_str(d, "reason", max_len=2000)
    seconds = field_num(d, "seconds", 1, 14400) if action == "extend" else 0.0
    try:
        result = await _svc(request).act(aid, action, _actor(request), reason, seconds)
    except KeyError:
        raise ApiError(404, "not_found", "no such attempt") from None
    except ActionError as exc:
        raise ApiError(409, exc.code, str(exc)) from None
    return JSONResponse(result)


async def session_action(request: Request) -> Response:
    sid = _int_param(request, "session_id")
    await _guard(request, "session", sid)
    action = request.path_params["action"]
    if action not in ("pause", "resume", "extend", "note"):
        raise ApiError(404, "not_found", f"unknown session action {action}")
    d = await read_json(request)
    reason = field_str(d, "reason", max_len=2000)
    seconds = field_num(d, "seconds", 1, 14400) if action == "extend" else 0.0
    rows = await anyio.to_thread.run_sync(
        _attempt_rows, context(request.app).engine, sid, False, _now(request)
    )
    done, skipped = [], []
    for r in rows:
        try:
            await _svc(request).act(r["attempt_id"], action, _actor(request), reason, seconds)
            done.append(r["attempt_id"])
        except ActionError:
            skipped.append(r["attempt_id"])
    return JSONResponse({"session_id": sid, "action": action, "applied": done, "skipped": skipped})


async def session_audit(request: Request) -> Response:
    sid = _int_param(request, "session_id")
    await _guard(request, "session", sid)

    def q() -> list[dict[str, Any]]:
        with Session(context(request.app).engine) as s:
            rows = s.execute(
                select(AuditEvent).where(AuditEvent.session_id == sid).order_by(AuditEvent.id)  # type: ignore[arg-type]
            ).scalars()
            return [
                {
                    "id": e.id,
                    "at": e.at,
                    "kind": e.kind,
                    "actor": e.actor,
                    "attempt_id": e.attempt_id,
                    "reason": e.reason,
                    "data": _public_data(e.kind, e.data_json),
                }
                for e in rows
            ]

    return JSONResponse(await anyio.to_thread.run_sync(q))


def _public_data(kind: str, data_json: str) -> dict[str, Any]:
    d: dict[str, Any] = json.loads(data_json)
    d.pop("seed", None)  # the seed would let anyone replay form assembly
    return d


async def openapi_schema(request: Request) -> Response:
    return JSONResponse(request.app.state.openapi)


async def healthz(request: Request) -> Response:
    """Liveness, the commit counters and, over the last minute (``?seconds=``
    up to 300), event-loop lag, GC pauses and group-commit batch times: the
    figures that tell why acknowledgements got slow (docs/operations.md)."""
    raw = request.query_params.get("seconds", "60")
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 1.0 <= seconds <= 300.0:
        raise ApiError(422, "bad_field", "'seconds' must be a number between 1 and 300")
    committer = context(request.app).committer
    body: dict[str, Any] = {
        "status": "ok",
        "commits": committer.transactions,
        "writes": committer.writes,
        "window_seconds": seconds,
        "commit_batches": committer.report(seconds),
        "live_attempts": len(context(request.app).attempts.live),
    }
    body.update(context(request.app).monitor.report(seconds))
    checkpointer = context(request.app).wal_checkpointer
    if checkpointer is not None:
        body["wal_checkpoint"] = {"checkpoints": checkpointer.checkpoints, **checkpointer.last}
    freezer = context(request.app).gc_freezer
    if freezer is not None:
        body["gc_freezer"] = {
            "freezes": freezer.freezes,
            "maintenances": freezer.maintenances,
            "frozen_objects_last_counted": freezer.frozen,
        }
    return JSONResponse(body)


REASON = obj(["reason"], reason=STR)
ENDPOINTS: list[Endpoint] = [
    Endpoint(
        "GET",
        "/healthz",
        healthz,
        "liveness, commit counters, event-loop lag and GC pauses",
        tag="ops",
        responses={"422": "seconds out of range"},
    ),
    Endpoint("GET", "/api/openapi.json", openapi_schema, "this schema", tag="ops"),
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
        ),
        tag="candidate",
        responses={
            "401": "bad credentials (unknown number, wrong PIN or token: the same answer)",
            "403": "session not open (only with the right PIN)",
            "409": "attempt bound to another terminal",
            "429": "too many wrong PINs for this number from this address: wait "
            "`retry_after` seconds (body; also the Retry-After header)",
        },
    ),
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
    Endpoint(
        "POST",
        "/api/admin/sessions",
        create_session,
        "schedule a session",
        ("admin",),
        obj(
            ["code", "exam_code", "site_code", "room_code"],
            code=STR,
            exam_code=STR,
            site_code=STR,
            room_code=STR,
            starts_at=NUM,
        ),
        responses={"409": "exists", "422": "invalid"},
    ),
    Endpoint(
        "GET",
        "/api/admin/sessions",
        list_sessions,
        "list sessions (with candidates and prepared attempts counted)",
        ("admin",),
    ),
    Endpoint(
        "POST",
        "/api/admin/sessions/{session_id:int}/prepare",
        prepare_session,
        "assemble every candidate's test now, in the background (opening a session does it too)",
        ("admin",),
        responses={"202": "started", "404": "no such session"},
    ),
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
    Endpoint(
        "POST",
        "/api/admin/staff",
        create_staff,
        "create a proctor or admin account",
        ("admin",),
        obj(
            ["username", "role", "password"],
            username=STR,
            name=STR,
            role=STR,
            password=STR,
            room_ids={"type": "array", "items": INT},
        ),
        responses={"409": "exists", "422": "invalid"},
    ),
    Endpoint(
        "PUT",
        "/api/admin/staff/{staff_id:int}/rooms",
        set_staff_rooms,
        "set the rooms a proctor supervises (takes effect at their next login)",
        ("admin",),
        obj(["room_ids"], room_ids={"type": "array", "items": INT}),
        responses={"404": "no such staff member", "422": "unknown room"},
    ),
    Endpoint(
        "POST",
        "/api/admin/staff/{staff_id:int}/disable",
        set_staff_access,
        "disable a staff account: its logins and the tokens it holds are refused",
        ("admin",),
        obj([], reason=STR),
        responses={
            "404": "no such staff member",
            "409": "own_account (your own) or last_admin (the last enabled administrator)",
        },
    ),
    Endpoint(
        "POST",
        "/api/admin/staff/{staff_id:int}/enable",
        set_staff_access,
        "enable a disabled staff account again",
        ("admin",),
        obj([], reason=STR),
        responses={"404": "no such staff member"},
    ),
    Endpoint(
        "PUT",
        "/api/admin/staff/{staff_id:int}/password",
        set_staff_password,
        "set a new password for a staff account (at least 8 characters)",
        ("admin",),
        obj(["password"], password=STR),
        responses={"404": "no such staff member", "422": "password too short"},
    ),
    Endpoint(
        "GET",
        "/api/admin/sessions/{session_id:int}/attempts",
        session_attempts,
        "attempts of a session with scores and pass/fail",
        ("admin",),
    ),
    Endpoint(
        "GET",
        "/api/admin/attempts/{attempt_id:int}",
        attempt_detail,
        "one attempt with its score",
        ("admin",),
        responses={"404": "no such attempt"},
    ),
    Endpoint(
        "POST",
        "/api/sessions/{session_id:int}/open",
        open_session,
        "open a session for logins; returns the session token",
        ("admin", "proctor"),
        tag="proctor",
        responses={"404": "no such session", "409": "closed"},
    ),
    Endpoint(
        "POST",
        "/api/sessions/{session_id:int}/close",
        close_session,
        "close a session; unfinished attempts are scored as they stand",
        ("admin", "proctor"),
        REASON,
        tag="proctor",
    ),
    Endpoint(
        "POST",
        "/api/proctor/sessions/{session_id:int}/checkin",
        checkin,
        "issue a candidate's check-in PIN after the identity check",
        ("proctor",),
        obj(["registration_number"], registration_number=STR),
        tag="proctor",
        responses={"404": "candidate not in this session"},
    ),
    Endpoint(
        "GET",
        "/api/proctor/sessions/{session_id:int}/attempts",
        proctor_attempts,
        "the terminals of a session (no scores)",
        ("proctor",),
        tag="proctor",
    ),
    Endpoint(
        "POST",
        "/api/proctor/attempts/{attempt_id:int}/{action}",
        attempt_action,
        "pause | resume | extend (seconds) | release | void | note one attempt, with a reason",
        ("proctor",),
        obj(["reason"], reason=STR, seconds=NUM),
        tag="proctor",
        responses={
            "404": "no such attempt or action",
            "409": "not possible in this state",
            "422": "missing reason",
        },
    ),
    Endpoint(
        "POST",
        "/api/proctor/sessions/{session_id:int}/{action}",
        session_action,
        "pause | resume | extend | note every attempt of the session, with a reason",
        ("proctor",),
        obj(["reason"], reason=STR, seconds=NUM),
        tag="proctor",
    ),
    Endpoint(
        "GET",
        "/api/proctor/sessions/{session_id:int}/audit",
        session_audit,
        "the session's audit log (incidents, actions)",
        ("proctor",),
        tag="proctor",
    ),
]
