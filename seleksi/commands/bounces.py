"""``seleksi recruitment bounces``: read the bounce mailbox into the outbox.

    seleksi recruitment bounces (--maildir DIR | --mbox FILE) [--db URL]

Every delivery status notification (RFC 3464) in the mailbox that reports a
permanent failure of an outbox message marks that message failed, with the
remote server's words, on the staff page and in ``seleksi recruitment
status`` (``recruitment.bounces``, ``exam_server.recruitment.outbox``). The
mailbox is only read: run it again after new mail, nothing is marked twice.
"""

from __future__ import annotations

import argparse
import mailbox
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from seleksi.cli import CommandError, examples
from seleksi.database import add_db_argument


def add_parser(ssub: Any, engine_of: Any) -> None:
    """The subcommand under ``seleksi recruitment`` (engine_of: its database opener)."""
    b = ssub.add_parser(
        "bounces",
        help="mark outbox messages that bounced, from the bounce mailbox",
        description="Read a Maildir folder or an mbox file where bounces arrive (the "
        "envelope sender's mailbox) and mark every outbox message that a delivery status "
        "notification reports as permanently undeliverable (Action: failed, Status 5.x.x) "
        "as failed, with the remote server's words: staff see the address to correct. "
        "Delay warnings, receipts, other mail and unreadable messages are counted and "
        "left alone. The mailbox is not changed; a second run marks nothing twice.",
        epilog=examples(
            "seleksi recruitment bounces --maildir /var/mail/seleksi/Maildir",
            "seleksi recruitment bounces --mbox /var/mail/seleksi",
        ),
    )
    where = b.add_mutually_exclusive_group(required=True)
    where.add_argument("--maildir", metavar="DIR")
    where.add_argument("--mbox", metavar="FILE")
    add_db_argument(b)
    b.set_defaults(func=lambda args: run(args, engine_of))


def _messages(args: argparse.Namespace) -> Iterator[bytes]:
    if args.maildir is not None:
        path = Path(args.maildir)
        if not (path / "cur").is_dir() or not (path / "new").is_dir():
            raise CommandError(f"--maildir {path}: not a Maildir folder (no cur/ and new/)")
        box: Any = mailbox.Maildir(path, factory=None, create=False)
    else:
        path = Path(args.mbox)
        if not path.is_file():
            raise CommandError(f"--mbox {path}: no such file")
        box = mailbox.mbox(path, factory=None, create=False)
    for key in box.iterkeys():
        try:
            yield box.get_bytes(key)
        except (OSError, KeyError):
            continue  # removed while we read: the next run sees what is left


def run(args: argparse.Namespace, engine_of: Any) -> int:
    from exam_server.recruitment.outbox import record_bounces
    from recruitment.bounces import read_report

    bounces = []
    read = reports = 0
    for data in _messages(args):
        read += 1
        found = read_report(data)
        reports += bool(found)
        bounces += found
    engine = engine_of(args)
    try:
        result = record_bounces(engine, bounces, "cli", time.time())
    finally:
        engine.dispose()
    print(
        f"{read} messages read, {reports} bounce reports about the outbox: "
        f"{len(result.marked)} messages marked failed, {result.already} already marked, "
        f"{result.unknown} naming no message of this outbox"
    )
    return 0
