"""``seleksi audit verify``: recompute the audit hash chain, the answer chains
and every finished attempt's score; check the signed checkpoints.

    seleksi audit verify [--db FILE|URL] [--checkpoints FILE [--key PEM]]
                         [--expect FINGERPRINT ...] [--no-checkpoints] [--no-scores]

Exits 0 when the chain of audit events, every attempt's chain of responses,
every finished attempt's recorded response head, its score (recomputed from
its chained answers and the exam's frozen bank) and its pass/fail (the
exam's ranking policy) all check out, and, with ``--checkpoints``, the
checkpoint file's lines are intact and the database still holds every head
they recorded; 1 with one line per problem otherwise.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from seleksi.cli import CommandError, examples
from seleksi.database import add_db_argument, require_database, url_of


def register(sub: Any) -> None:
    p = sub.add_parser(
        "audit",
        help="verify the exam server's tamper-evident audit log",
        description="Check the exam server's hash-chained audit log and answer chains "
        "(one action: verify).",
        epilog=examples("seleksi audit verify --db seleksi-data/seleksi.db"),
    )
    asub = p.add_subparsers(dest="audit_command", metavar="ACTION")
    asub.required = True
    v = asub.add_parser(
        "verify",
        help="recompute every hash chain and score; exit 1 on any problem",
        description=(
            "Recompute the audit chain, every attempt's answer chain and every finished "
            "attempt's score and pass/fail; with --checkpoints, check the signed checkpoint "
            "file and that no chain lost its tail. Exits 0 when everything verifies, 1 with "
            "one line per problem. Reads only: the database is never created or changed."
        ),
        epilog=examples(
            "seleksi audit verify",
            "seleksi audit verify --db exam.db --expect 9c1f…   # a fingerprint from a report",
            "seleksi audit verify --db postgresql+psycopg://seleksi@db/exam "
            "--checkpoints /var/lib/seleksi/checkpoints.jsonl --key checkpoint-key.pub.pem",
        ),
    )
    add_db_argument(v)
    v.add_argument(
        "--checkpoints",
        metavar="FILE",
        help="the server's checkpoint file (default for SQLite: DB.checkpoints.jsonl if present)",
    )
    v.add_argument(
        "--key",
        metavar="PEM",
        help="the checkpoint public key (default for SQLite: DB.checkpoint-key.pub.pem)",
    )
    v.add_argument(
        "--replaced-key",
        metavar="PEM",
        action="append",
        default=[],
        help="the public key of a checkpoint key replaced at a site (seleksi site replace-key; "
        "repeatable; default: every *.replaced-*.pub.pem beside --key)",
    )
    v.add_argument(
        "--expect",
        metavar="FINGERPRINT",
        action="append",
        default=[],
        help="a checkpoint fingerprint from a session report, which the file must still hold "
        "(repeatable)",
    )
    v.add_argument(
        "--no-checkpoints",
        action="store_true",
        help="verify without the checkpoint file even where the server keeps one (a removed "
        "tail with a rewound head then goes unseen)",
    )
    v.add_argument(
        "--no-scores",
        action="store_true",
        help="skip recomputing scores (only the hash chains)",
    )
    v.set_defaults(func=verify)


def _checkpoint_paths(args: argparse.Namespace, url: str) -> tuple[Path | None, Path | None]:
    """The checkpoint file and public key to check: as given, else where the
    server keeps them by default (beside a SQLite file) if a file is there."""
    from exam_server.checkpoints import paths_for, public_key_path

    default_file, default_key = paths_for(url)
    file = Path(args.checkpoints) if args.checkpoints else None
    if args.no_checkpoints:
        if file is not None or args.expect:
            raise CommandError("--no-checkpoints goes with neither --checkpoints nor --expect")
        return None, None
    if file is None and url.startswith("sqlite") and default_file.exists():
        file = default_file
    if file is None and url.startswith("sqlite") and public_key_path(default_key).exists():
        # The server that used this database signs checkpoints (its key is
        # here) and writes the file at every start: a file gone is what
        # someone who cut a chain's tail and rewound its head would remove.
        raise CommandError(
            f"no checkpoint file {default_file}, though this database's server signs "
            f"checkpoints (its key {public_key_path(default_key)} is there): a removed "
            "file hides a removed chain tail; give it with --checkpoints FILE, or verify "
            "without it with --no-checkpoints"
        )
    if file is None:
        if args.expect:
            raise CommandError("--expect needs the checkpoint file (--checkpoints FILE)")
        return None, None
    if not file.exists():
        raise CommandError(f"no checkpoint file {file}")
    key = Path(args.key) if args.key else public_key_path(default_key)
    if not key.exists():
        raise CommandError(
            f"no checkpoint public key {key}: give it with --key PEM (the server writes it "
            "beside its private key as *.pub.pem)"
        )
    return file, key


def verify(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from exam_server.audit import verify as verify_chain
    from exam_server.checkpoints import load_public_key
    from exam_server.db import make_engine

    url = url_of(args.db)
    require_database(url, tables=("exam_audit",))
    file, key_path = _checkpoint_paths(args, url)
    public_key = None
    replaced = []
    if key_path is not None:
        given = [Path(p) for p in args.replaced_key]
        if not given:  # kept beside the current key by seleksi site replace-key
            given = sorted(key_path.parent.glob("*.replaced-*.pub.pem"))
        try:
            public_key = load_public_key(key_path)
            replaced = [load_public_key(p) for p in given]
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from None
    engine = make_engine(url)
    try:
        report = verify_chain(
            engine,
            checkpoint_file=file,
            public_key=public_key,
            expect=tuple(args.expect),
            scores=not args.no_scores,
            other_keys=replaced,
        )
    except SQLAlchemyError as exc:
        raise CommandError(f"cannot read the audit tables: {exc.__class__.__name__}") from None
    finally:
        engine.dispose()
    print(
        f"audit events: {report.events}, attempts: {report.attempts}, responses: {report.responses}"
        f", scores recomputed: {report.scores}"
        + (f", checkpoints: {report.checkpoints} ({file})" if file is not None else "")
    )
    if report.sites is not None:
        s = report.sites
        print(
            f"sites' copies: {s.sites} site(s), audit events: {s.events}, attempts: {s.attempts}"
            f", responses: {s.responses}, scores recomputed: {s.scores}"
            f", signed checkpoint lines: {s.checkpoints}"
        )
    if file is None:
        print("no checkpoint file given: a removed tail with a rewound head is not detectable")
    for note in report.notes:
        print(f"NOTE: {note}")
    if report.ok:
        print("OK: every chain verifies")
        return 0
    for problem in report.problems:
        print(f"PROBLEM: {problem}")
    return 1
