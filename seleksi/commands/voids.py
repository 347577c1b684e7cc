"""``seleksi recruitment void|grant``: a fraudulent registration voided, and the
late registration it gives the NIK's owner changed.

    seleksi recruitment void NUMBER --as USERNAME --reason TEXT
        [--owner-email EMAIL] [--late-until YYYY-MM-DD] [--db URL]
    seleksi recruitment grant NUMBER --as USERNAME --reason TEXT
        [--owner-email EMAIL] [--late-until YYYY-MM-DD] [--db URL]

What the staff page's void and grant forms do (``exam_server.recruitment.voids``),
audited as ``rec_void`` and ``rec_grant_change``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import time
from collections.abc import Callable
from typing import Any

from seleksi.cli import CommandError, examples
from seleksi.database import add_db_argument


def add_parser(ssub: Any, engine_of: Callable[[argparse.Namespace], Any]) -> None:
    """The two subcommands under ``seleksi recruitment`` (engine_of: its database opener)."""
    v = ssub.add_parser(
        "void",
        help="void a submitted registration found fraudulent (frees its NIK)",
        description="Void a submitted registration the committee found fraudulent, e.g. made "
        "with someone else's NIK: it leaves the queues, and its NIK is free again for the "
        "person it belongs to, who can then submit their own. --as: the staff account "
        "acting (a verifier of the registration's agency, or an admin; a national admin for "
        "any agency). Audited as rec_void with the reason. The NIK gets a late registration "
        "until --late-until (default: the period's default) for the account of --owner-email "
        "alone (the person the NIK belongs to, as the committee found them), or, without "
        "it, for the accounts whose draft holds the NIK; each is told by e-mail, and nobody "
        "else may use it (`seleksi recruitment grant` changes it). A "
        "scheduled registration leaves its session, unless its exam has begun for it (an "
        "attempt or a PIN) or its session went to an exam site. Verifiers also find it on "
        "the registration's staff page.",
        epilog=examples(
            "seleksi recruitment void CASN-2024-0000042 --as admin-bkn "
            "--reason 'NIK milik orang lain (laporan pemilik, surat 12/2024)' "
            "--owner-email pemilik@contoh.id --late-until 2024-09-30"
        ),
    )
    v.add_argument("number", metavar="NUMBER", help="the registration number")
    _grant_arguments(v)
    v.set_defaults(func=functools.partial(_void, engine_of=engine_of))

    g = ssub.add_parser(
        "grant",
        help="change the late registration a void gave (its account or last day)",
        description="Put right the late registration a void gave its NIK: for the account "
        "of --owner-email alone, or, without it, for the accounts whose draft holds the NIK "
        "now; until --late-until (default: the period's default). For staff who named the "
        "wrong account, or an owner who needs more days. Audited as rec_grant_change with "
        "the reason; each account it is now for is told by e-mail. --as: who may void.",
        epilog=examples(
            "seleksi recruitment grant CASN-2024-0000042 --as admin-bkn "
            "--reason 'email pemilik salah ketik' --owner-email pemilik@contoh.id"
        ),
    )
    g.add_argument("number", metavar="NUMBER", help="the voided registration's number")
    _grant_arguments(g)
    g.set_defaults(func=functools.partial(_grant, engine_of=engine_of))


def _grant_arguments(p: Any) -> None:
    """Who acts, why, and the late registration's account and last day: the
    same for a void and a grant change (the staff page's two forms)."""
    p.add_argument("--as", dest="staff", required=True, metavar="USERNAME")
    p.add_argument("--reason", required=True)
    p.add_argument(
        "--owner-email",
        default="",
        metavar="EMAIL",
        help="the account of the NIK's owner: the late registration is for it alone",
    )
    p.add_argument(
        "--late-until",
        type=date_arg,
        metavar="YYYY-MM-DD",
        help="the late registration's last day (not in the past)",
    )
    add_db_argument(p)


def date_arg(text: str) -> dt.date:
    """A YYYY-MM-DD argument (argparse names the option when it is not)."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _registration_id(engine: Any, number: str) -> int:
    from sqlalchemy import select
    from sqlmodel import Session, col

    from recruitment.models import RecRegistration

    with Session(engine) as s:
        rid = s.execute(
            select(col(RecRegistration.id)).where(
                col(RecRegistration.registration_number) == number
            )
        ).scalar()
    if rid is None:
        raise CommandError(f"no registration {number}")
    return int(rid)


def _act(
    args: argparse.Namespace,
    engine_of: Callable[[argparse.Namespace], Any],
    act: Callable[..., Any],
) -> list[str]:
    """Run ``act`` (void or grant change) on the registration ``args.number``
    with the command's arguments; the e-mails its late registration is now
    for. Refusals become one line (:class:`CommandError`)."""
    from exam_server.recruitment import service as svc
    from recruitment.states import TransitionError

    engine = engine_of(args)
    try:
        rid = _registration_id(engine, args.number)
        try:
            act(
                engine,
                rid,
                args.staff,
                args.reason,
                time.time(),
                args.late_until,
                args.owner_email,
            )
        except svc.NotFound:
            raise CommandError(f"no registration {args.number} for {args.staff}") from None
        except (svc.Refused, TransitionError) as exc:
            raise CommandError(f"{args.number}: {exc}") from None
        granted: list[str] = svc.granted_to(engine, rid)
        return granted
    finally:
        engine.dispose()


def _grant(args: argparse.Namespace, engine_of: Callable[[argparse.Namespace], Any]) -> int:
    from exam_server.recruitment import service as svc

    granted = _act(args, engine_of, svc.change_grant)
    if granted:
        print(f"late registration for the NIK of {args.number} only for: {', '.join(granted)}")
    else:
        print(f"late registration for the NIK of {args.number}: {svc.GRANT_NOBODY[1]}")
    return 0


def _void(args: argparse.Namespace, engine_of: Callable[[argparse.Namespace], Any]) -> int:
    from exam_server.recruitment import service as svc

    granted = _act(args, engine_of, svc.void_registration)
    print(f"voided {args.number}; its NIK is free in its period")
    if granted:
        print(f"late registration for its NIK only for: {', '.join(granted)} (told by e-mail)")
    else:
        print(f"late registration for its NIK: {svc.GRANT_NOBODY[1]}")
    return 0
