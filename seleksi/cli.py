"""The ``seleksi`` command: one entry point, one module per subcommand.

Each module in :mod:`seleksi.commands` exposes ``register(subparsers)``, which
adds its subcommand and sets ``func`` (``(args) -> int`` exit code) on its
parser. Bad arguments exit with code 2 and a one-line message (argparse's
behaviour); a :class:`CommandError` raised by a command exits with code 1 and
its message, without a traceback. So does an ``OSError`` no command caught (a
file that vanished or a disk that filled during the work: the user's
environment, said in one line with the file's name), and a reader that closes
the pipe (``seleksi bank stats | head``) ends the command quietly.
"""

from __future__ import annotations

import argparse
import importlib
import os
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
    "seleksi.commands.staff",
    "seleksi.commands.terminal",
    "seleksi.commands.audit",
    "seleksi.commands.db",
    "seleksi.commands.loadtest",
    "seleksi.commands.site",
    "seleksi.commands.recruitment",
    "seleksi.commands.after",
    "seleksi.commands.forensics",
    "seleksi.commands.skb",
)


# One line per command for the overview (``seleksi --help``, no or an unknown
# command), so that it imports no command module: their imports (NumPy, SciPy,
# SQLAlchemy, the web stack) made it take 0.65 s (issue 17). Each module's
# register() gives its command the same help (tests/calibration/test_cli_help.py).
SUMMARIES: dict[str, str] = {
    "demo": "a demo exam day on SQLite (bank, exam, session, 50 candidates), then serve it",
    "bank": "item bank: import, export, statistics, demo bank",
    "calibrate": "estimate IRT item parameters (MML-EM) from responses",
    "simulate": "simulate candidates through a test design and report precision and exposure",
    "results": "rank per formation, publish signed results, verify and prove them",
    "serve": "run the exam server (terminals, proctors, live board, admin API)",
    "audit": "verify the exam server's tamper-evident audit log",
    "db": "create or migrate the database schema",
    "loadtest": "drive simulated terminals against a running server and report latency",
    "staff": "administrator and proctor accounts: create, reset a password, list, disable",
    "terminal": "terminal passes: one code per candidate terminal, issue, list, revoke",
    "site": "exam sites and the centre: signed packages, key release, status, sync",
    "recruitment": "recruitment before the test: periods, agency accounts, sessions, outbox",
    "after": "after the results: publish accepted appeals as a new version; the policy",
    "forensics": "rank a session's candidates for review; watch items for leaks",
    "skb": "SKB with several assessors: interview reminders, panel agreement and severity",
}


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit code 1."""


class HelpFormatter(argparse.HelpFormatter):
    """The help of every command: descriptions wrapped by paragraph, examples
    (lines indented by two spaces) kept as written, and each option's default
    stated unless its help already says it."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        out: list[str] = []
        for block in text.strip("\n").split("\n\n"):
            lines = block.splitlines()
            if not lines:
                continue
            rest_indented = all(line.startswith("  ") or not line.strip() for line in lines[1:])
            heading = lines[0].startswith("  ") or (len(lines) > 1 and lines[0].endswith(":"))
            if rest_indented and heading:
                out.append("\n".join(indent + line for line in lines))
                continue
            out.append(super()._fill_text(" ".join(lines), width, indent))
        return "\n\n".join(out)

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help
        if (
            text
            and "default" not in text
            and action.option_strings
            and action.default not in (None, False, True, [], argparse.SUPPRESS)
        ):
            text += " (default: %(default)s)"
        return text


def examples(*lines: str) -> str:
    """An epilog of example command lines (``seleksi ...``), for ``--help``."""
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def _use_formatter(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = HelpFormatter
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _use_formatter(child)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; given ``argv`` naming a command, only that command's module is imported.

    Each command module is named after its command. Importing only the one
    needed keeps ``seleksi results verify`` free of the database and web
    stacks other commands import (an outsider installs and runs the verifier
    alone); ``seleksi --help`` and an unknown command import none (the
    overview's lines are :data:`SUMMARIES`).
    """
    parser = argparse.ArgumentParser(
        prog="seleksi",
        description="Seleksi: computer-based and adaptive selection tests. Every command "
        "that uses the database takes --db FILE|URL (a SQLite file, or a URL such as "
        "postgresql+psycopg://user@host/name); without it, $SELEKSI_DATABASE_URL, else "
        "seleksi-data/seleksi.db, the folder `seleksi demo` makes.",
        epilog=examples(
            "seleksi demo                      # a demo exam day on SQLite, served on :8000",
            "seleksi bank stats                # the bank in seleksi-data/seleksi.db",
            "seleksi COMMAND --help            # each command's options and examples",
        ),
    )
    parser.add_argument("--version", action="version", version=f"seleksi {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    first = next((a for a in argv or () if not a.startswith("-")), None)
    wanted = [m for m in COMMAND_MODULES if m.rsplit(".", 1)[1] == first]
    if wanted:
        for name in wanted:
            importlib.import_module(name).register(sub)
    else:
        for name in COMMAND_MODULES:
            command = name.rsplit(".", 1)[1]
            if command in SUMMARIES:
                sub.add_parser(command, help=SUMMARIES[command])
            else:  # a command added without its line here: slower, still right
                importlib.import_module(name).register(sub)
    _use_formatter(parser)
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
    except BrokenPipeError:
        # The reader left (`| head`): point stdout at /dev/null so the
        # interpreter's final flush does not raise again (Python's signal docs).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"seleksi: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    return code
