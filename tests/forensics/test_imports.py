"""The numeric package imports neither the web nor the database."""

from __future__ import annotations

import subprocess
import sys


def test_forensics_loads_without_web_or_database() -> None:
    code = (
        "import sys, pkgutil, importlib, forensics, calibration.rt\n"
        "for m in pkgutil.iter_modules(forensics.__path__):\n"
        "    importlib.import_module('forensics.' + m.name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('sqlalchemy', 'sqlmodel', 'starlette', 'exam_server', 'jinja2')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
