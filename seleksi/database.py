"""The one database option of every command, its one default, and opening it.

Every command that uses the database takes ``--db FILE|URL``: a SQLite file,
or a SQLAlchemy URL (``postgresql+psycopg://user@host/name``). Without it,
the environment variable ``SELEKSI_DATABASE_URL``, else
``seleksi-data/seleksi.db`` (the folder ``seleksi demo`` makes). The help of
every command states this with the same sentence, :data:`DB_HELP`.

Commands that only read (``bank stats``, ``audit verify``, ``results export``,
``staff list`` ...) open the database with :func:`require_database`, which
never creates one: a missing SQLite file, a text file, an unreachable server,
a database without Seleksi's tables or behind the code's schema revision each
end in one line saying what to do. Only ``seleksi demo``, ``bank demo``,
``bank import --create`` and ``db migrate`` make a database.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seleksi.cli import CommandError

ENV_DATABASE_URL = "SELEKSI_DATABASE_URL"
DEFAULT_DATA_DIR = Path("seleksi-data")
DEFAULT_DB_PATH = DEFAULT_DATA_DIR / "seleksi.db"
DB_METAVAR = "FILE|URL"
DB_HELP = (
    "the database: a SQLite file, or a URL such as postgresql+psycopg://user@host/name "
    f"(default: ${ENV_DATABASE_URL}, else {DEFAULT_DB_PATH})"
)
#: How long a command waits for a PostgreSQL server before saying it is unreachable.
CONNECT_TIMEOUT_SECONDS = 5
_SQLITE_HEADER = b"SQLite format 3\x00"


def add_db_argument(
    parser: argparse.ArgumentParser | Any,
    *aliases: str,
    required: bool = False,
    help: str = DB_HELP,
) -> None:
    """``--db FILE|URL`` on ``parser``; ``aliases`` (older spellings, e.g.
    ``--database-url``) are accepted but left out of the help."""
    parser.add_argument("--db", dest="db", metavar=DB_METAVAR, required=required, help=help)
    for alias in aliases:
        parser.add_argument(alias, dest="db", metavar=DB_METAVAR, help=argparse.SUPPRESS)


def url_of(value: str | None) -> str:
    """The URL ``--db`` names: a URL as given, a file path as SQLite; without
    one, ``$SELEKSI_DATABASE_URL``, else the default file. No side effects."""
    if not value:
        value = os.environ.get(ENV_DATABASE_URL) or str(DEFAULT_DB_PATH)
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser()}"


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL (None: another database, or in memory)."""
    if not url.startswith("sqlite"):
        return None
    rest = url.split("://", 1)[1].removeprefix("/").split("?", 1)[0]
    return Path(rest) if rest and rest != ":memory:" else None


def shown(url: str) -> str:
    """``url`` as printed: a SQLite file's path, a server URL without its password."""
    path = sqlite_path(url)
    if path is not None:
        return str(path)
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is printed as given (it holds no parsed password)
        return url


def _hint_create(url: str) -> str:
    return f"make one with: seleksi demo, or seleksi db migrate --db {shown(url)}"


def check_sqlite_file(url: str) -> None:
    """A ``sqlite:`` URL must name an existing SQLite file (never created here)."""
    path = sqlite_path(url)
    if path is None:
        return
    if not path.exists():
        where = "" if path.parent.is_dir() else f" (the folder {path.parent} does not exist)"
        raise CommandError(f"no database at {path}{where}; {_hint_create(url)}")
    if path.is_dir():
        raise CommandError(f"{path} is a folder, not a database file")
    try:
        with path.open("rb") as fh:
            header = fh.read(len(_SQLITE_HEADER))
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None
    if header and header != _SQLITE_HEADER:
        raise CommandError(f"{path} is not a SQLite database")


def check_sqlite_folder(url: str) -> None:
    """For a command that may create the SQLite file: its folder must exist
    (the default ``seleksi-data/`` is made), so a mistyped folder is not made."""
    path = sqlite_path(url)
    if path is None or path.parent.is_dir():
        return
    if path.parent == DEFAULT_DATA_DIR:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CommandError(f"cannot make the folder {path.parent}: {exc.strerror}") from None
        return
    raise CommandError(f"the folder {path.parent} does not exist (for the database {path})")


def one_line(exc: BaseException) -> str:
    """The first line of a driver's own message (not SQLAlchemy's wrapping of it)."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def probe_engine(url: str) -> Any:
    """A throwaway engine that fails fast (a short connect timeout on a server)."""
    from sqlalchemy import create_engine

    args: dict[str, Any] = {}
    if url.startswith("postgresql"):
        args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
    elif not url.startswith("sqlite"):
        raise CommandError(
            f"--db {shown(url)}: Seleksi uses SQLite files and postgresql+psycopg:// URLs"
        )
    try:
        return create_engine(url, connect_args=args, poolclass=_null_pool())
    except ModuleNotFoundError as exc:
        raise CommandError(
            f"--db {shown(url)}: the driver is not installed ({exc.name}); for PostgreSQL: "
            "pip install 'seleksi[postgres]'"
        ) from None
    except Exception as exc:  # sqlalchemy.exc.ArgumentError: an unparsable URL
        raise CommandError(f"--db {shown(url)}: {one_line(exc)}") from None


def _null_pool() -> Any:
    from sqlalchemy.pool import NullPool

    return NullPool


@dataclass(frozen=True)
class DatabaseState:
    """What :func:`require_database` found: the revision recorded (None: none)
    and the head this code needs; ``tables``: this project's tables present."""

    revision: str | None
    head: str
    tables: frozenset[str]


def require_database(url: str, *, schema: bool = True, tables: tuple[str, ...] = ()) -> Any:
    """Check that ``url`` is a database this command can use, creating nothing.

    A SQLite file must exist and be SQLite; a server must answer (within
    :data:`CONNECT_TIMEOUT_SECONDS`). With ``schema``: it must hold Seleksi's
    tables (``tables``, if given, each of them) and, if it records a schema
    revision, be at this code's head. Raises :class:`CommandError` in one line;
    returns the :class:`DatabaseState`.
    """
    from sqlalchemy import inspect

    check_sqlite_file(url)
    engine = probe_engine(url)
    try:
        with engine.connect() as conn:
            if not schema:
                return DatabaseState(None, "", frozenset())
            from exam_server.migrations import current_revision, head_revision, our_tables

            revision = current_revision(conn)
            present = frozenset(our_tables(inspect(conn).get_table_names()))
    except CommandError:
        raise
    except Exception as exc:  # the driver's errors: unreachable, no such database, auth
        raise CommandError(f"cannot open the database {shown(url)}: {one_line(exc)}") from None
    finally:
        engine.dispose()
    head = head_revision()
    if not present:
        raise CommandError(
            f"{shown(url)} holds no Seleksi tables; make them with: "
            f"seleksi db migrate --db {shown(url)}"
        )
    if revision is not None and revision != head:
        raise CommandError(
            f"{shown(url)} is at schema revision {revision}, this seleksi needs {head}: "
            f"back it up, then run seleksi db migrate --db {shown(url)}"
        )
    missing = [t for t in tables if t not in present]
    if missing:
        raise CommandError(f"{shown(url)} has no table {missing[0]}: is it a Seleksi database?")
    return DatabaseState(revision, head, present)


def require_reachable(url: str) -> None:
    """A database a command may create tables in: a SQLite file in an existing
    folder (made if missing), or a server that answers."""
    path = sqlite_path(url)
    if path is not None:
        check_sqlite_folder(url)
        if path.exists():
            check_sqlite_file(url)
        return
    engine = probe_engine(url)
    try:
        with engine.connect():
            pass
    except Exception as exc:
        raise CommandError(f"cannot open the database {shown(url)}: {one_line(exc)}") from None
    finally:
        engine.dispose()
