"""Write one benchmark's section into ``docs/benchmarks.md``.

Each benchmark script owns one section between ``<!-- BEGIN name -->`` and
``<!-- END name -->`` markers, so scripts run separately never overwrite each
other's figures. The section should hold the table, the machine, the date and
the command that reproduces it (see :func:`machine_line`).
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import re
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"

HEADER = """# Benchmarks

Every figure here comes from a script in `benchmarks/`, run on the machine it
names, with Seleksi and its peers interleaved in the same run (see
`../shared/design/benchmarking.md` for the method). `python -m benchmarks.run_all`
reruns all of them; each section names its own command.
"""


def machine_line() -> str:
    """One line describing this machine and the date, for a section's header."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"Machine: {os.cpu_count()} cores, {cpu}; Python {platform.python_version()}; "
        f"run {_dt.datetime.now(_dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}."
    )


def write_section(name: str, markdown: str, doc: Path = DOC) -> None:
    """Replace (or append) the section ``name`` of ``doc`` with ``markdown``."""
    text = doc.read_text(encoding="utf-8") if doc.exists() else HEADER
    block = f"<!-- BEGIN {name} -->\n{markdown.rstrip()}\n<!-- END {name} -->"
    pattern = re.compile(
        rf"<!-- BEGIN {re.escape(name)} -->.*?<!-- END {re.escape(name)} -->", re.DOTALL
    )
    text = (
        pattern.sub(lambda _m: block, text)
        if pattern.search(text)
        else (text.rstrip() + "\n\n" + block + "\n")
    )
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text, encoding="utf-8")
