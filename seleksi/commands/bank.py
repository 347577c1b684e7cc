"""``seleksi bank``: import, export, stats and demo for the item bank.

The database is ``--db FILE|URL`` (``--database-url`` is the same option),
else ``$SELEKSI_DATABASE_URL``, else ``seleksi-data/seleksi.db``
(:mod:`seleksi.database`). ``stats`` and ``export`` only read: they never
create a database. ``import`` writes into an existing one, or makes a new one
with ``--create``; ``demo`` makes one if missing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from item_bank.database import open_engine
from item_bank.demo import DEFAULT_PER_SUBTEST, DEFAULT_SEED, describe_item, generate_demo_bank
from item_bank.io_csv import write_csv
from item_bank.io_json import write_json
from item_bank.io_qti import read_mapping
from item_bank.records import BankImportError, ImportSummary, ItemStatus
from item_bank.stats import bank_stats, format_stats
from item_bank.store import QTI_EXPORT_FORMATS, ItemStore, detect_format
from seleksi.cli import CommandError, examples
from seleksi.database import (
    DEFAULT_DATA_DIR,
    DEFAULT_DB_PATH,
    ENV_DATABASE_URL,
    add_db_argument,
    one_line,
    require_database,
    require_reachable,
    shown,
    sqlite_path,
    url_of,
)
from seleksi.outputs import check_output, write_output

# Kept for the modules that import them from here (seleksi.commands.demo).
DEFAULT_DB_NAME = DEFAULT_DB_PATH.name
__all__ = ["DEFAULT_DATA_DIR", "DEFAULT_DB_NAME", "ENV_DATABASE_URL", "database_url", "register"]


def add_database_arguments(parser: argparse.ArgumentParser) -> None:
    """``--db FILE|URL`` (``--database-url`` is the same option)."""
    add_db_argument(parser, "--database-url")


def database_url(args: argparse.Namespace) -> str:
    """The database URL the arguments (or the environment, or the default) name."""
    return url_of(getattr(args, "db", None))


def read_store(args: argparse.Namespace) -> ItemStore:
    """The item store of an existing database (nothing is created)."""
    url = database_url(args)
    require_database(url, tables=("bank_item", "bank_subtest"))
    return ItemStore(open_engine(url))


def open_store(args: argparse.Namespace, *, create: bool = True) -> ItemStore:
    """The item store of the chosen database, its schema brought to head (this is
    the server's database too). ``create``: a new SQLite file may be made (in an
    existing folder); else the database must exist."""
    from exam_server.db import create_schema

    url = database_url(args)
    path = sqlite_path(url)
    if path is not None and not path.exists() and not create:
        raise CommandError(
            f"no database at {path}; to start a new bank there, add --create "
            f"(or use the default, {DEFAULT_DB_PATH}, which seleksi demo makes)"
        )
    require_reachable(url)
    try:
        store = ItemStore(open_engine(url))
        create_schema(store.engine)
    except Exception as exc:  # the driver's own failure, said in one line
        raise CommandError(f"cannot open the database {shown(url)}: {one_line(exc)}") from None
    return store


def _print_summary(summary: ImportSummary, *, dry_run: bool) -> None:
    prefix = "Checked (dry run, nothing written): " if dry_run else "Imported: "
    print(prefix + summary.describe() + ".")


def cmd_import(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if path.is_dir():
        raise CommandError(f"{path} is a folder; give a .csv or .json file")
    if not path.is_file():
        raise CommandError(f"no such file: {path}")
    try:
        fmt = detect_format(path, args.format)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    mapping = None
    if args.mapping:
        if fmt != "qti":
            raise CommandError(f"--mapping places the items of a QTI package; {path} is {fmt}")
        mapping_path = Path(args.mapping)
        if not mapping_path.is_file():
            raise CommandError(f"no such file: {mapping_path}")
        try:
            mapping_text = mapping_path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise CommandError(f"{mapping_path}: not UTF-8 text (byte {exc.start})") from None
        mapping, problems = read_mapping(mapping_text)
        if problems:
            lines = [f"{len(problems)} problem(s) in {mapping_path}; nothing was imported:"]
            raise CommandError("\n".join(lines + [f"  {p}" for p in problems]))
    store = open_store(args, create=args.create)
    try:
        summary = store.import_file(path, fmt, dry_run=args.dry_run, mapping=mapping)
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
    items = len(summary.created) + len(summary.new_versions) + len(summary.unchanged)
    if not items and not summary.subtests_created and not summary.content_areas_created:
        raise CommandError(f"{path} holds no items (only a header?); nothing was imported")
    _print_summary(summary, dry_run=args.dry_run)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    to_stdout = args.file == "-"
    try:
        fmt = args.format or ("json" if to_stdout else detect_format(args.file))
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    if fmt == "qti":
        fmt = "qti3"
    if fmt in QTI_EXPORT_FORMATS:
        return _export_qti(args, fmt, to_stdout=to_stdout)
    if args.item:
        raise CommandError("--item selects items of a QTI export (--format qti3 or qti22)")
    if not to_stdout:
        check_output(args.file)
    store = read_store(args)
    try:
        doc = store.export_document(subtests=args.subtest, statuses=args.status)
    except KeyError as exc:
        raise CommandError(str(exc.args[0])) from exc
    text = write_csv(doc.items) if fmt == "csv" else write_json(doc)
    if to_stdout:
        sys.stdout.write(text)
    else:
        write_output(args.file, text)
        print(f"Exported {len(doc.items)} item(s) to {args.file} ({fmt}).")
    return 0


def _export_qti(args: argparse.Namespace, fmt: str, *, to_stdout: bool) -> int:
    if to_stdout:
        raise CommandError("a QTI package is a zip file; give a file name, not -")
    check_output(args.file)
    store = read_store(args)
    version = QTI_EXPORT_FORMATS[fmt]
    try:
        data, n = store.export_qti(
            version, subtests=args.subtest, statuses=args.status, ids=args.item
        )
    except KeyError as exc:
        raise CommandError(str(exc.args[0])) from exc
    write_output(args.file, data)
    print(f"Exported {n} item(s) to {args.file} (QTI {version} package).")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    store = read_store(args)
    print(format_stats(bank_stats(store)))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    if args.per_subtest < 1:
        raise CommandError("--per-subtest must be at least 1")
    # Where it goes is checked before the bank is generated.
    out = check_output(args.out, "--out") if args.out else None
    fmt = "json"
    if out is not None:
        try:
            fmt = detect_format(out, args.format)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
    store = None if out is not None else open_store(args)
    try:
        doc = generate_demo_bank(seed=args.seed, per_subtest=args.per_subtest)
    except RuntimeError as exc:
        raise CommandError(str(exc)) from exc
    if out is not None:
        write_output(out, write_csv(doc.items) if fmt == "csv" else write_json(doc))
        print(f"Wrote the demo bank ({len(doc.items)} items, seed {args.seed}) to {out}.")
    else:
        assert store is not None
        summary = store.import_document(doc)
        print(f"Demo SKD bank (seed {args.seed}) in {shown(database_url(args))}:")
        _print_summary(summary, dry_run=False)
    for item in doc.items[: args.show]:
        print()
        print(describe_item(item))
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bank = subparsers.add_parser(
        "bank",
        help="item bank: import, export, statistics, demo bank",
        description="Manage the item bank: import items from CSV or JSON (all or nothing), "
        "export them, print statistics, or generate the demo SKD bank. File formats: "
        "docs/item-format.md.",
        epilog=examples(
            "seleksi bank stats --db seleksi-data/seleksi.db",
            "seleksi bank import items.json --db exam.db --create",
            "seleksi bank export bank.csv --subtest TWK",
        ),
    )
    sub = bank.add_subparsers(dest="bank_command", metavar="ACTION")
    sub.required = True

    p = sub.add_parser(
        "import",
        help="import items from CSV, JSON or QTI (all or nothing)",
        description="Import items (and, from JSON or a Seleksi QTI package, subtests). A QTI "
        "content package (.zip with imsmanifest.xml) or item (.xml) may be QTI 2.1, 2.2 or "
        "3.0; give --mapping for packages from other tools. Every fault is listed by row "
        "and field; if there is any, nothing is imported. An item id already in the bank "
        "gets a new version when its content changed. A CSV file holds items only: the "
        "subtests they belong to must be in the bank already (import a JSON file first).",
        epilog=examples(
            "seleksi bank import items.json --db bank.db --create   # a new bank",
            "seleksi bank import new-items.csv --dry-run           # check only",
        ),
    )
    p.add_argument(
        "file", metavar="FILE", help="a .csv, .json, .zip (QTI package) or .xml (QTI item) file"
    )
    p.add_argument("--format", choices=("csv", "json", "qti"), help="override the file extension")
    p.add_argument(
        "--mapping",
        metavar="CSV",
        help="QTI: subtest and content area of items without Seleksi metadata (columns "
        "id,subtest,content_area[,status]; the id * places every other item)",
    )
    p.add_argument("--dry-run", action="store_true", help="check only; write nothing")
    p.add_argument(
        "--create",
        action="store_true",
        help="make the SQLite database if it does not exist (its folder must exist)",
    )
    add_database_arguments(p)
    p.set_defaults(func=cmd_import)

    p = sub.add_parser(
        "export",
        help="export the current items to CSV, JSON or a QTI package",
        description="Export the current version of each item (JSON also holds the subtests, "
        "so it can be imported into an empty bank or given to seleksi simulate --bank). "
        "A .zip is a QTI 3.0 content package (--format qti22 for QTI 2.2) with the "
        "subtests, keys, option points, images and IRT parameters.",
        epilog=examples(
            "seleksi bank export bank.json",
            "seleksi bank export - --format csv --status operational | head",
            "seleksi bank export twk.zip --subtest TWK          # QTI 3.0",
            "seleksi bank export some.zip --format qti22 --item TWK-0001 --item TWK-0002",
        ),
    )
    p.add_argument(
        "file",
        metavar="FILE",
        help="output .csv, .json or .zip (QTI) file, or - for standard output (CSV/JSON)",
    )
    p.add_argument(
        "--format",
        choices=("csv", "json", "qti3", "qti22"),
        help="override the file extension (a .zip is qti3)",
    )
    p.add_argument("--item", action="append", metavar="ID", help="QTI: only this item (repeatable)")
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
        description="Print counts of current items per subtest, content area and status, "
        "how many have IRT parameters, and the distributions of those parameters.",
        epilog=examples("seleksi bank stats", "seleksi bank stats --db exam.db"),
    )
    add_database_arguments(p)
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser(
        "demo",
        help="generate the SKD demo bank (into the database or a file)",
        description="Generate a realistic SKD bank (TWK, TIU, TKP) with 3PL/GPCM parameters "
        "from a seed, and import it into the database (made if missing), or write it to "
        "a file with --out.",
        epilog=examples(
            "seleksi bank demo --db bank.db",
            "seleksi bank demo --out demo.json --per-subtest 50",
        ),
    )
    p.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, metavar="N", help="random seed of the bank"
    )
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
