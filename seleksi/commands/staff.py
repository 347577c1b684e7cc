"""``seleksi staff``: administrator and proctor accounts, from the command line.

    seleksi staff create USERNAME --role admin|proctor [--name NAME] [--password-file FILE]
    seleksi staff reset-password USERNAME [--password-file FILE]
    seleksi staff list
    seleksi staff disable USERNAME | enable USERNAME

The first administrator of a new database (PostgreSQL or SQLite) is made here:
the admin pages and API need one to log in. Passwords are typed at a hidden
prompt (twice), or read from the first line of a file (``-``: standard input)
for scripts; they are never echoed, printed or taken as an argument (which
the shell history and ``ps`` would show). A disabled account cannot log in,
and a token it already holds is refused within ``SELEKSI_STAFF_REFRESH_SECONDS``
by every running server; the last enabled administrator cannot be disabled.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any

from seleksi.cli import CommandError, examples
from seleksi.database import add_db_argument, require_database, url_of


def register(sub: Any) -> None:
    p = sub.add_parser(
        "staff",
        help="administrator and proctor accounts: create, reset a password, list, disable",
        description="Manage the staff accounts of the exam server's database: create an "
        "administrator or a proctor (the first administrator of a new database is made "
        "this way), reset a password, list the accounts, disable or enable one. Passwords "
        "are prompted (hidden, twice) or read from a file, never echoed.",
        epilog=examples(
            "seleksi staff create admin --role admin --name 'Admin Panitia'",
            "seleksi staff create pengawas1 --role proctor --password-file pw.txt "
            "--db postgresql+psycopg://seleksi@127.0.0.1/exam",
            "seleksi staff list",
        ),
    )
    ssub = p.add_subparsers(dest="staff_command", metavar="ACTION")
    ssub.required = True

    c = ssub.add_parser(
        "create",
        help="create an administrator or a proctor",
        description="Create a staff account. The password is prompted twice (hidden), or "
        "read from --password-file; at least 8 characters. A proctor is then given rooms "
        "in the admin pages.",
        epilog=examples(
            "seleksi staff create admin --role admin",
            "printf '%s\\n' \"$PW\" | seleksi staff create p1 --role proctor --password-file -",
        ),
    )
    c.add_argument("username", metavar="USERNAME", help="the login name")
    c.add_argument(
        "--role", required=True, choices=("admin", "proctor"), help="what the account may do"
    )
    c.add_argument("--name", default="", metavar="NAME", help="the person's name, as shown")
    _password_arg(c)
    add_db_argument(c)
    c.set_defaults(func=_create)

    r = ssub.add_parser(
        "reset-password",
        help="set a new password for an account",
        description="Replace an account's password (prompted twice, or from --password-file). "
        "Tokens already issued stay valid until they expire.",
        epilog=examples("seleksi staff reset-password pengawas1"),
    )
    r.add_argument("username", metavar="USERNAME", help="the login name")
    _password_arg(r)
    add_db_argument(r)
    r.set_defaults(func=_reset)

    ls = ssub.add_parser(
        "list",
        help="list the accounts",
        description="List every staff account: login name, role, name, status.",
        epilog=examples("seleksi staff list --db exam.db"),
    )
    add_db_argument(ls)
    ls.set_defaults(func=_list)

    for action, verb in (("disable", "refuse"), ("enable", "allow again")):
        d = ssub.add_parser(
            action,
            help=f"{verb} an account's logins",
            description=f"{verb.capitalize()} the account's logins (the account and its "
            "history are kept). A token it already holds stays valid until it expires "
            "(SELEKSI_STAFF_TOKEN_SECONDS).",
            epilog=examples(f"seleksi staff {action} pengawas1"),
        )
        d.add_argument("username", metavar="USERNAME", help="the login name")
        add_db_argument(d)
        d.set_defaults(func=_set_disabled, disabled=action == "disable")


def _password_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--password-file",
        metavar="FILE",
        help="read the password from the first line of FILE (- for standard input) instead "
        "of prompting",
    )


def read_password(path: str | None, *, confirm: bool = True) -> str:
    """The new password: the first line of ``path`` (``-``: standard input), else
    typed twice at a hidden prompt. Never echoed; refused when empty."""
    if path is not None:
        try:
            text = sys.stdin.readline() if path == "-" else Path(path).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise CommandError(f"--password-file {path}: not UTF-8 text") from None
        except OSError as exc:
            raise CommandError(f"--password-file {path}: {exc.strerror or exc}") from None
        password = text.splitlines()[0] if text.strip() else ""
        if not password:
            raise CommandError(f"--password-file {path}: the first line is empty")
        return password
    if not sys.stdin.isatty():
        raise CommandError(
            "no terminal to type the password at: give --password-file FILE (- for standard input)"
        )
    try:
        password = getpass.getpass("New password: ")
        if confirm and getpass.getpass("Again: ") != password:
            raise CommandError("the two passwords differ; nothing was changed")
    except EOFError:
        raise CommandError("no password typed; nothing was changed") from None
    return password


def _engine(args: argparse.Namespace) -> Any:
    from exam_server.db import make_engine

    url = url_of(args.db)
    require_database(url, tables=("exam_staff",))
    return make_engine(url, pool_size=1)


def _setup_error(exc: Any) -> CommandError:
    return CommandError(str(getattr(exc, "message", exc)))


def _create(args: argparse.Namespace) -> int:
    from exam_server.scheduling import SetupError, check_staff_password, create_staff

    engine = _engine(args)
    try:
        password = read_password(args.password_file)
        check_staff_password(password)  # before the slow hash, and before anything is written
        staff_id = create_staff(engine, args.username, args.name, args.role, password)
    except SetupError as exc:
        raise _setup_error(exc) from None
    finally:
        engine.dispose()
    print(f"created {args.role} {args.username} (id {staff_id})")
    return 0


def _reset(args: argparse.Namespace) -> int:
    from exam_server.scheduling import SetupError, set_staff_password

    engine = _engine(args)
    try:
        _account(engine, args.username)  # an unknown name is said before the prompt
        set_staff_password(engine, args.username, read_password(args.password_file))
    except SetupError as exc:
        raise _setup_error(exc) from None
    finally:
        engine.dispose()
    print(f"new password set for {args.username}")
    return 0


def _account(engine: Any, username: str) -> Any:
    from sqlalchemy import select
    from sqlmodel import Session, col

    from exam_server.models import Staff

    with Session(engine) as s:
        st = s.execute(select(Staff).where(col(Staff.username) == username)).scalars().first()
    if st is None:
        raise CommandError(f"no staff account {username!r} (seleksi staff list shows them)")
    return st


def _list(args: argparse.Namespace) -> int:
    from sqlalchemy import select
    from sqlmodel import Session, col

    from exam_server.models import Staff

    engine = _engine(args)
    try:
        with Session(engine) as s:
            rows = list(s.execute(select(Staff).order_by(col(Staff.username))).scalars())
    finally:
        engine.dispose()
    if not rows:
        print("no staff accounts; create the first administrator with:")
        print("  seleksi staff create admin --role admin")
        return 0
    width = max(len("username"), *(len(r.username) for r in rows))
    print(f"{'id':>4}  {'username':<{width}}  role     status    name")
    for r in rows:
        status = "disabled" if r.disabled else "active"
        print(f"{r.id:>4}  {r.username:<{width}}  {r.role:<7}  {status:<8}  {r.name}")
    return 0


def _set_disabled(args: argparse.Namespace) -> int:
    from exam_server.scheduling import SetupError, set_staff_disabled

    engine = _engine(args)
    try:
        _account(engine, args.username)
        set_staff_disabled(engine, args.username, args.disabled)
    except SetupError as exc:
        raise _setup_error(exc) from None
    finally:
        engine.dispose()
    print(f"{args.username}: {'disabled' if args.disabled else 'enabled'}")
    return 0
