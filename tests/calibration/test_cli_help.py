"""``seleksi --help`` lists every command from cli.SUMMARIES without importing
the command modules; each line must be the help the module itself registers."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys

import pytest

from seleksi.cli import COMMAND_MODULES, SUMMARIES, main


@pytest.mark.parametrize("module", COMMAND_MODULES)
def test_overview_line_is_the_commands_own_help(module: str) -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    importlib.import_module(module).register(sub)
    command = module.rsplit(".", 1)[1]
    helps = {a.dest: a.help for a in sub._choices_actions}
    assert helps[command] == SUMMARIES[command]


def test_every_command_has_its_overview_line() -> None:
    # (a command without one still works, but makes the overview import it)
    assert {m.rsplit(".", 1)[1] for m in COMMAND_MODULES} == set(SUMMARIES)


def test_help_imports_no_command_module(capsys: pytest.CaptureFixture[str]) -> None:
    # a fresh interpreter: which modules did `seleksi --help` import?
    code = (
        "import sys\n"
        "from seleksi.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('seleksi.commands.')"
        " or m.split('.')[0] in ('numpy', 'sqlalchemy', 'scipy', 'starlette')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
    shown = " ".join(out.stdout.split())  # argparse wraps the lines
    assert all(line in shown for line in SUMMARIES.values())
    # and a named command still gets its full parser
    with pytest.raises(SystemExit):
        main(["calibrate", "--help"])
    assert "--quadrature" in capsys.readouterr().out
