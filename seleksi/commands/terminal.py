"""``seleksi terminal``: terminal passes, from the command line.

    seleksi terminal issue --room SITE/ROOM [--count N] [--days D] [--label TEXT]
    seleksi terminal issue --site SITE ...
    seleksi terminal list [--all]
    seleksi terminal revoke PASS_ID --reason TEXT

A terminal pass is the code a technician enters once into a candidate
terminal (the "Pengaturan terminal" box under the login form): the
terminal's failed logins then count against its own pass instead of the
whole room's shared address (docs/reliability.md, "Terminal passes"). The
codes are signed with the server's key, so ``issue`` needs the same
``SELEKSI_SECRET_KEY`` as ``seleksi serve`` (or ``--key-file``, e.g. the
demo's ``seleksi-data/server-secret.key``); they are printed once and never
stored, only their ids (audit event ``terminal_pass_issued``, actor
``cli:<user>``). A revocation (``terminal_pass_revoked``) counts on every
running server within ``SELEKSI_STAFF_REFRESH_SECONDS``.
"""

from __future__ import annotations

import argparse
import getpass
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from seleksi.cli import CommandError, examples
from seleksi.database import add_db_argument, require_database, url_of

SUMMARY = "terminal passes: one code per candidate terminal, issue, list, revoke"


def register(sub: Any) -> None:
    p = sub.add_parser(
        "terminal",
        help=SUMMARY,
        description="Terminal passes: one code per candidate terminal, entered once by a "
        "technician, so that one person typing wrong PINs does not slow down every terminal "
        "behind the same address. Issue them for a room or a site, list them, revoke one.",
        epilog=examples(
            "SELEKSI_SECRET_KEY=... seleksi terminal issue --room TILOK-01/R1 --count 40",
            "seleksi terminal list",
            "seleksi terminal revoke ABCDEFGHJK --reason 'terminal R1-07 stolen'",
        ),
    )
    tsub = p.add_subparsers(dest="terminal_command", metavar="ACTION")
    tsub.required = True

    i = tsub.add_parser(
        "issue",
        help="issue passes for a room or a site and print their codes",
        description="Issue COUNT passes for a room (--room SITE/ROOM) or a whole site "
        "(--site SITE), valid for DAYS days, and print their codes, one a line. Give one "
        "pass to each terminal: terminals that share a pass share its back-off. The codes "
        "are not stored (only their ids): print or hand them out now. Needs the server's "
        "key: $SELEKSI_SECRET_KEY, or --key-file.",
        epilog=examples(
            "SELEKSI_SECRET_KEY=... seleksi terminal issue --room TILOK-01/R1 --count 40",
            "seleksi terminal issue --site TILOK-01 --count 200 --days 7 "
            "--key-file seleksi-data/server-secret.key",
        ),
    )
    where = i.add_mutually_exclusive_group(required=True)
    where.add_argument("--room", metavar="SITE/ROOM", help="the room, by its site's and its code")
    where.add_argument("--site", metavar="SITE", help="every room of a site, by its code")
    i.add_argument("--count", type=int, default=1, metavar="N", help="how many passes (1-500)")
    i.add_argument("--days", type=int, default=30, metavar="D", help="days valid (1-366)")
    i.add_argument("--label", default="", metavar="TEXT", help="a note kept with the passes")
    i.add_argument("--reason", default="", metavar="TEXT", help="why, for the audit log")
    i.add_argument(
        "--key-file",
        metavar="FILE",
        help="read the server's key from FILE instead of $SELEKSI_SECRET_KEY",
    )
    add_db_argument(i)
    i.set_defaults(func=_issue)

    ls = tsub.add_parser(
        "list",
        help="list the passes",
        description="List the passes issued (id, status, expiry, room or site, label, who "
        "issued them); expired ones only with --all. Never the codes.",
        epilog=examples("seleksi terminal list --all"),
    )
    ls.add_argument("--all", action="store_true", help="also the expired passes")
    add_db_argument(ls)
    ls.set_defaults(func=_list)

    r = tsub.add_parser(
        "revoke",
        help="revoke a pass",
        description="Revoke a pass: logins that bring it count as logins without a pass "
        "(against the terminal's address). Audited with the reason.",
        epilog=examples("seleksi terminal revoke ABCDEFGHJK --reason 'lost with the laptop'"),
    )
    r.add_argument("pass_id", metavar="PASS_ID", help="the pass's id (seleksi terminal list)")
    r.add_argument("--reason", required=True, metavar="TEXT", help="why, for the audit log")
    add_db_argument(r)
    r.set_defaults(func=_revoke)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in this environment
        return "cli"


def _engine(args: argparse.Namespace) -> Any:
    from exam_server.db import make_engine

    url = url_of(args.db)
    require_database(url, tables=("exam_audit", "exam_room"))
    return make_engine(url, pool_size=1)


def _secret(args: argparse.Namespace) -> str:
    if args.key_file:
        try:
            key = Path(args.key_file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"--key-file {args.key_file}: {exc}") from None
    else:
        key = os.environ.get("SELEKSI_SECRET_KEY", "")
    if len(key) < 32:
        raise CommandError(
            "the server's key is needed to sign passes: set SELEKSI_SECRET_KEY (as for "
            "seleksi serve) or give --key-file"
        )
    return key


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _where(engine: Any, room: str | None, site: str | None) -> dict[str, Any]:
    from sqlalchemy import select
    from sqlmodel import Session, col

    from exam_server.models import Room, Site

    with Session(engine) as s:
        if room is not None:
            site_code, sep, room_code = room.partition("/")
            if not sep or not site_code or not room_code:
                raise CommandError(f"--room {room!r}: give it as SITE/ROOM, e.g. TILOK-01/R1")
            row = s.execute(
                select(col(Room.id), col(Room.code), col(Site.code))
                .join(Site, col(Site.id) == col(Room.site_id))
                .where(col(Site.code) == site_code, col(Room.code) == room_code)
            ).first()
            if row is None:
                raise CommandError(f"no room {room_code!r} at site {site_code!r}")
            return {"room_id": int(row[0]), "room_code": row[1], "site_code": row[2]}
        found = s.execute(select(col(Site.code)).where(col(Site.code) == site)).first()
        if found is None:
            raise CommandError(f"no site {site!r}")
        return {"room_id": None, "room_code": None, "site_code": found[0]}


def _issue(args: argparse.Namespace) -> int:
    from exam_server import terminal_passes as tp
    from exam_server.db import writer

    if not 1 <= args.count <= tp.MAX_COUNT:
        raise CommandError(f"--count must be between 1 and {tp.MAX_COUNT}")
    if not 1 <= args.days <= tp.MAX_DAYS:
        raise CommandError(f"--days must be between 1 and {tp.MAX_DAYS}")
    secret = _secret(args)
    engine = _engine(args)
    try:
        where = _where(engine, args.room, args.site)
        now = time.time()
        expires_at = int(now + args.days * 86400)
        with writer(engine).begin() as conn:
            made = tp.issue(
                conn,
                secret,
                count=args.count,
                expires_at=expires_at,
                actor=_actor(),
                at=now,
                label=args.label,
                reason=args.reason,
                **where,
            )
    finally:
        engine.dispose()
    place = where["site_code"] + ("/" + where["room_code"] if where["room_code"] else "")
    print(f"# {len(made)} terminal pass(es) for {place}, valid until {_when(expires_at)}")
    print("# one a terminal; enter it under 'Pengaturan terminal' on the login page")
    for n, (p, code) in enumerate(made, 1):
        print(f"{n:>3}  {code}  (id {p.id})")
    return 0


def _records(engine: Any) -> Any:
    from exam_server.terminal_passes import PassRegistry

    reg = PassRegistry()
    with engine.connect() as conn:
        reg.refresh_on(conn)
    return reg


def _list(args: argparse.Namespace) -> int:
    engine = _engine(args)
    try:
        reg = _records(engine)
    finally:
        engine.dispose()
    now = time.time()
    rows = [r for r in reg.records() if args.all or r.status(now) != "expired"]
    if not rows:
        print("no terminal passes" + ("" if args.all else " (expired ones: --all)"))
        return 0
    print(f"{'id':<10}  {'status':<8}  {'expires':<20}  {'where':<20}  label")
    for r in rows:
        place = (r.site_code or "-") + ("/" + r.room_code if r.room_code else "")
        print(f"{r.id:<10}  {r.status(now):<8}  {_when(r.expires_at):<20}  {place:<20}  {r.label}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from exam_server import terminal_passes as tp
    from exam_server.db import writer

    pass_id = args.pass_id.strip().upper()
    if not args.reason.strip():
        raise CommandError("--reason must not be empty")
    engine = _engine(args)
    try:
        record = _records(engine).record(pass_id) if tp.valid_id(pass_id) else None
        if record is None or record.issued_at is None:
            raise CommandError(f"no terminal pass {args.pass_id!r} (seleksi terminal list)")
        if record.revoked_at is not None:
            raise CommandError(f"terminal pass {pass_id} is already revoked")
        with writer(engine).begin() as conn:
            tp.revoke(conn, pass_id, actor=_actor(), reason=args.reason.strip(), at=time.time())
    finally:
        engine.dispose()
    print(f"{pass_id}: revoked")
    return 0
