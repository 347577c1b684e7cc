"""The ``seleksi`` command: one entry point, one module per subcommand.

Each module in :mod:`seleksi.commands` exposes ``register(subparsers)``, which
adds its subcommand and sets ``func`` (``(args) -> int`` exit code) on its
parser. Bad arguments exit with code 2 and a one-line message (argparse's
behaviour); a :class:`CommandError` raised by a command exits with code 1 and
its message, without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from seleksi import __version__

# The order is the order of ``seleksi --help``.
COMMAND_MODULES: tuple[str, ...] = (
    "seleksi.commands.demo",
    "seleksi.commands.bank",
    "seleksi.commands.calibrate",
    "seleksi.commands.simulate",
    "seleksi.commands.results",
    "seleksi.commands.serve",
    "seleksi.commands.audit",
    "seleksi.commands.db",
    "seleksi.commands.loadtest",
)


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit code 1."""


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; given ``argv`` naming a command, only that command's module is imported.

    Each command module is named after its command. Importing only the one
    needed keeps ``seleksi results verify`` free of the database and web
    stacks other commands import (an outsider installs and runs the verifier
    alone); ``seleksi --help`` and an unknown command import them all.
    """
    parser = argparse.ArgumentParser(
        prog="seleksi",
        description="Seleksi: computer-based and adaptive selection tests.",
    )
    parser.add_argument("--version", action="version", version=f"seleksi {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    first = next((a for a in argv or () if not a.startswith("-")), None)
    wanted = [m for m in COMMAND_MODULES if m.rsplit(".", 1)[1] == first]
    for name in wanted or COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except CommandError as exc:
        print(f"seleksi: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code
