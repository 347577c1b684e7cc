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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seleksi",
        description="Seleksi: computer-based and adaptive selection tests.",
    )
    parser.add_argument("--version", action="version", version=f"seleksi {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except CommandError as exc:
        print(f"seleksi: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code
