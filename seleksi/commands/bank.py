"""``seleksi bank``: import, export, stats and demo for the item bank.

The database is chosen by ``--database-url URL``, else ``--db PATH`` (a
SQLite file), else the environment variable ``SELEKSI_DATABASE_URL``, else
``./seleksi-data/seleksi.db`` (the folder ``seleksi demo`` creates).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from exam_server.db import create_schema
from item_bank.database import open_engine, sqlite_url
from item_bank.demo import DEFAULT_PER_SUBTEST, DEFAULT_SEED, describe_item, generate_demo_bank
from item_bank.io_csv import write_csv
from item_bank.io_json import write_json
from item_bank.records import BankImportError, ImportSummary, ItemStatus
from item_bank.stats import bank_stats, format_stats
from item_bank.store import ItemStore, detect_format
from seleksi.cli import CommandError

DEFAULT_DATA_DIR = Path("seleksi-data")
DEFAULT_DB_NAME = "seleksi.db"
ENV_DATABASE_URL = "SELEKSI_DATABASE_URL"


def add_database_arguments(parser: argparse.ArgumentParser) -> None:
    """``--db`` / ``--database-url`` (shared by the commands that open the database)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--db",
        metavar="PATH",
        help=f"SQLite database file (default: {DEFAULT_DATA_DIR / DEFAULT_DB_NAME})",
    )
    group.add_argument(
        "--database-url",
        metavar="URL",
        help=f"SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db (env {ENV_DATABASE_URL})",
    )


def database_url(args: argparse.Namespace) -> str:
    """The database URL the arguments (or the environment, or the default) name."""
    if getattr(args, "database_url", None):
        return str(args.database_url)
    if getattr(args, "db", None):
        return sqlite_url(args.db)
    env = os.environ.get(ENV_DATABASE_URL)
    if env:
        return env
    return sqlite_url(DEFAULT_DATA_DIR / DEFAULT_DB_NAME)


def open_store(args: argparse.Namespace) -> ItemStore:
    """The item store of the chosen database, its tables created if missing."""
    url = database_url(args)
    try:
        store = ItemStore(open_engine(url))
        # The whole schema through the migrations (this is the server's database too).
        create_schema(store.engine)
    except Exception as exc:  # a bad URL, a missing driver, an unreachable server
        raise CommandError(f"cannot open the database {url}: {exc}") from exc
    return store


def _print_summary(summary: ImportSummary, *, dry_run: bool) -> None:
    prefix = "Checked (dry run, nothing written): " if dry_run else "Imported: "
    print(prefix + summary.describe() + ".")


def cmd_import(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        raise CommandError(f"no such file: {path}")
    try:
        fmt = detect_format(path, args.format)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    store = open_store(args)
    try:
        summary = store.import_file(path, fmt, dry_run=args.dry_run)
    except BankImportError as exc:
        lines = [f"{len(exc.problems)} problem(s) in {path}; nothing was imported:"]
        lines += [f"  {p}" for p in exc.problems]
        if not store.subtests() and fmt == "csv":
            lines.append(
                "hint: the bank has no subtests yet; a CSV file holds items only. Define "
                'them first by importing a JSON file with a "subtests" section '
                "(see docs/item-format.md) or with: seleksi bank demo"
            )
        raise CommandError("\n".join(lines)) from exc
    _print_summary(summary, dry_run=args.dry_run)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    to_stdout = args.file == "-"
    try:
        fmt = args.format or ("json" if to_stdout else detect_format(args.file))
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    store = open_store(args)
    try:
        text = store.export_text(fmt, subtests=args.subtest, statuses=args.status)
    except KeyError as exc:
        raise CommandError(str(exc.args[0])) from exc
    if to_stdout:
        sys.stdout.write(text)
    else:
        Path(args.file).write_text(text, encoding="utf-8")
        n = text.count("\n") - 1 if fmt == "csv" else len(store.export_document().items)
        print(f"Exported {n} item(s) to {args.file} ({fmt}).")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    store = open_store(args)
    print(format_stats(bank_stats(store)))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    if args.per_subtest < 1:
        raise CommandError("--per-subtest must be at least 1")
    try:
        doc = generate_demo_bank(seed=args.seed, per_subtest=args.per_subtest)
    except RuntimeError as exc:
        raise CommandError(str(exc)) from exc
    if args.out:
        out = Path(args.out)
        try:
            fmt = detect_format(out, args.format)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        text = write_csv(doc.items) if fmt == "csv" else write_json(doc)
        out.write_text(text, encoding="utf-8")
        print(f"Wrote the demo bank ({len(doc.items)} items, seed {args.seed}) to {out}.")
    else:
        store = open_store(args)
        summary = store.import_document(doc)
        print(f"Demo SKD bank (seed {args.seed}) in {database_url(args)}:")
        _print_summary(summary, dry_run=False)
    for item in doc.items[: args.show]:
        print()
        print(describe_item(item))
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bank = subparsers.add_parser(
        "bank",
        help="item bank: import, export, statistics, demo bank",
        description="Manage the item bank (see docs/item-format.md for the file formats).",
    )
    sub = bank.add_subparsers(dest="bank_command", metavar="ACTION")
    sub.required = True

    p = sub.add_parser(
        "import",
        help="import items from CSV or JSON (all or nothing)",
        description="Import items (and, from JSON, subtests). Every fault is listed by row "
        "and field; if there is any, nothing is imported. An item id already in the bank "
        "gets a new version when its content changed.",
    )
    p.add_argument("file", help="a .csv or .json file")
    p.add_argument("--format", choices=("csv", "json"), help="override the file extension")
    p.add_argument("--dry-run", action="store_true", help="check only; write nothing")
    add_database_arguments(p)
    p.set_defaults(func=cmd_import)

    p = sub.add_parser(
        "export",
        help="export the current items to CSV or JSON",
        description="Export the current version of each item (JSON also holds the subtests).",
    )
    p.add_argument("file", help="output .csv or .json file, or - for standard output")
    p.add_argument("--format", choices=("csv", "json"), help="override the file extension")
    p.add_argument("--subtest", action="append", metavar="CODE", help="only this subtest")
    p.add_argument(
        "--status",
        action="append",
        choices=[s.value for s in ItemStatus],
        help="only items with this status (repeatable)",
    )
    add_database_arguments(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "stats",
        help="items per subtest, content area and status; parameter distributions",
        description="Print counts of current items and the distributions of their IRT parameters.",
    )
    add_database_arguments(p)
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser(
        "demo",
        help="generate the SKD demo bank (into the database or a file)",
        description="Generate a realistic SKD bank (TWK, TIU, TKP) with 3PL/GPCM parameters "
        "from a seed, and import it (or write it with --out).",
    )
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"default {DEFAULT_SEED}")
    p.add_argument(
        "--per-subtest",
        type=int,
        default=DEFAULT_PER_SUBTEST,
        metavar="N",
        help=f"items per subtest (default {DEFAULT_PER_SUBTEST})",
    )
    p.add_argument("--out", metavar="FILE", help="write a .csv or .json file instead")
    p.add_argument("--format", choices=("csv", "json"), help="format of --out")
    p.add_argument("--show", type=int, default=0, metavar="N", help="print the first N items")
    add_database_arguments(p)
    p.set_defaults(func=cmd_demo)
