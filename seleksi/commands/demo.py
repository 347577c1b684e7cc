"""``seleksi demo``: from nothing to a demo database in ``./seleksi-data/``.

Steps are small functions so that later commands can reuse them: the server
adds its own seeding (an exam, a session, candidates) after
:func:`seed_demo_bank` and then serves. Running it again is safe: the demo
bank is found unchanged, and the PINs and staff passwords printed before
still work (they are kept in ``demo-credentials.json`` beside the database);
``--reset`` deletes what the demo made in the data folder and starts over.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from item_bank.database import open_engine, sqlite_url
from item_bank.demo import DEFAULT_PER_SUBTEST, DEFAULT_SEED, DemoSummary, seed_demo_bank
from seleksi.cli import CommandError, examples
from seleksi.commands.bank import DEFAULT_DATA_DIR, DEFAULT_DB_NAME

__all__ = ["DemoSummary", "prepare_database", "register", "run_demo", "seed_demo_bank"]


def prepare_database(data_dir: Path) -> tuple[str, Engine]:
    """Create ``data_dir`` and open (creating if needed) its SQLite database."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CommandError(f"cannot create the data folder {data_dir}: {exc}") from exc
    url = sqlite_url(data_dir / DEFAULT_DB_NAME)
    engine = open_engine(url)

    # Demo only: seeding commits a few hundred small transactions (each PIN,
    # each recruitment step), and with synchronous=NORMAL they skip an fsync
    # each (about 0.5 s of the demo's start). In WAL mode a commit then still
    # survives a crash of the process; a power cut may lose the last ones, and
    # ``seleksi demo --reset`` makes the demo again. The served demo's engine
    # keeps the server's setting (FULL).
    @event.listens_for(engine, "connect")
    def _no_fsync_per_commit(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA synchronous=NORMAL")

    return url, engine


def demo_files(data_dir: Path) -> list[Path]:
    """What the demo writes in ``data_dir`` (and ``--reset`` deletes): the
    database with its SQLite side files and checkpoints, the server key and
    its receipt key list, the kept credentials (the SKB's too), the published
    results and the marker of the after-the-test part being prepared."""
    from exam_server.assessment.demo import DEMO_FILE as SKB_DEMO_FILE
    from exam_server.checkpoints import paths_for, public_key_path
    from exam_server.demo import CREDENTIALS_FILE, PREPARING_FILE
    from exam_server.receipts import key_list_path
    from exam_server.recruitment.demo import demo_files as recruitment_demo_files

    db = data_dir / DEFAULT_DB_NAME
    checkpoints, key = paths_for(sqlite_url(db))
    return [
        db,
        db.with_name(db.name + "-wal"),
        db.with_name(db.name + "-shm"),
        db.with_name(db.name + "-journal"),
        checkpoints,
        key,
        public_key_path(key),
        key_list_path(key),
        data_dir / "server-secret.key",
        data_dir / PREPARING_FILE,
        data_dir / CREDENTIALS_FILE,
        data_dir / SKB_DEMO_FILE,
        data_dir / "results",
        *recruitment_demo_files(data_dir),
    ]


def reset_demo(data_dir: Path) -> None:
    """Delete the demo's files in ``data_dir`` (nothing else in it)."""
    for path in demo_files(data_dir):
        try:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        except OSError as exc:
            raise CommandError(f"cannot delete {path}: {exc}") from exc


def run_demo(args: argparse.Namespace) -> int:
    if args.per_subtest < 1:
        raise CommandError("--per-subtest must be at least 1")
    data_dir = Path(args.data_dir)
    if getattr(args, "reset", False):
        reset_demo(data_dir)
        print(f"Seleksi demo: started over in {data_dir}")
    _url, engine = prepare_database(data_dir)
    # The whole schema through the migrations first: a database holding only the
    # bank's tables would be taken for one made before Alembic.
    from exam_server.db import create_schema

    create_schema(engine)
    summary = seed_demo_bank(engine, seed=args.seed, per_subtest=args.per_subtest)
    print(f"Seleksi demo database: {data_dir / DEFAULT_DB_NAME}")
    for line in summary.lines():
        print(line)
    print()
    print(f"Look inside:  seleksi bank stats --db {data_dir / DEFAULT_DB_NAME}")
    print(f"Export it:    seleksi bank export bank.csv --db {data_dir / DEFAULT_DB_NAME}")
    # The exam server's part (exam_server.demo): an exam day on this bank, then serve it.
    from exam_server.demo import CREDENTIALS_FILE, demo_secret, seed_demo_exam, serve_demo
    from exam_server.scheduling import SetupError

    secret = demo_secret(data_dir)
    try:
        exam_day = seed_demo_exam(engine, secret, credentials=data_dir / CREDENTIALS_FILE)
    except SetupError as exc:
        raise CommandError(
            f"the demo in {data_dir} cannot go on ({exc}); `seleksi demo --reset` starts over"
        ) from exc
    finally:
        engine.dispose()
    print()
    print(exam_day.to_text())
    _print_results_steps(data_dir)
    if getattr(args, "no_serve", False):
        return 0
    serve_demo(_url, secret, host=args.host, port=args.port, results_dir=str(data_dir / "results"))
    return 0


def _print_results_steps(data_dir: Path) -> None:
    """How to see /results/ in the demo: publish into the folder the demo serves."""
    db = data_dir / DEFAULT_DB_NAME
    keys = data_dir / "keys"
    print()
    print("Published results (/results/): when the candidates are done, close the session")
    print("in the proctor console, then publish into the folder this demo serves:")
    print(f"  seleksi results keygen --out {keys}")
    print(
        f"  seleksi results publish --db {db} --exam SKD-DEMO "
        f"--key {keys / 'results-signing.key'} --out {data_dir / 'results'} "
        "--published-at 2025-01-31"
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "demo",
        help="a demo exam day on SQLite (bank, exam, session, 50 candidates), then serve it",
        description="Create ./seleksi-data/ (or --data-dir) with a SQLite database holding "
        "the SKD demo bank (1,800 items, 1,736 with IRT parameters) and a demo exam day: a "
        "site, a room, an open session, 50 candidates in five formations, a proctor and an "
        "admin. Print the session token, every candidate's registration number and PIN, the "
        "staff passwords and how to publish the results; then serve it on "
        "http://127.0.0.1:8000/ until stopped (Ctrl+C; --no-serve stops after seeding). "
        "Running it again prints the same PINs and passwords.",
        epilog=examples(
            "seleksi demo",
            "seleksi demo --no-serve --data-dir /tmp/demo",
            "seleksi demo --reset --port 8080",
        ),
    )
    p.add_argument(
        "--data-dir",
        default=str(DEFAULT_DATA_DIR),
        metavar="DIR",
        help=f"folder for the database (default ./{DEFAULT_DATA_DIR})",
    )
    p.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, metavar="N", help="random seed of the demo bank"
    )
    p.add_argument(
        "--per-subtest",
        type=int,
        default=DEFAULT_PER_SUBTEST,
        metavar="N",
        help=f"demo items per subtest (default {DEFAULT_PER_SUBTEST})",
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        metavar="ADDRESS",
        help="address to serve on (default 127.0.0.1)",
    )
    p.add_argument(
        "--port", type=int, default=8000, metavar="PORT", help="port to serve on (default 8000)"
    )
    p.add_argument("--no-serve", action="store_true", help="seed the demo exam, do not serve")
    p.add_argument(
        "--reset",
        action="store_true",
        help="delete the demo's database, keys, credentials and results in the data folder "
        "and start over (new PINs and passwords); without it a second run prints the same ones",
    )
    p.set_defaults(func=run_demo)
