"""Mapping files: where the items of a QTI package without Seleksi metadata go in the bank.

A CSV of ``id, subtest, content_area`` (and optional ``status``) rows, read by
:func:`read_mapping` and given to :func:`item_bank.io_qti.parse_qti`.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from item_bank.records import Problem


@dataclass(frozen=True)
class Placement:
    """Where an item goes in the bank, from a mapping file (see :func:`read_mapping`)."""

    subtest: str
    content_area: str
    status: str | None = None


def read_mapping(text: str) -> tuple[dict[str, Placement], list[Problem]]:
    """A mapping file: CSV with columns ``id, subtest, content_area`` (and optional ``status``).

    The id ``*`` gives the placement of every item the file does not name.
    Rows are numbered as a spreadsheet shows them.
    """
    problems: list[Problem] = []
    out: dict[str, Placement] = {}
    if text.startswith("\ufeff"):
        text = text[1:]
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        return {}, [Problem(0, "mapping", f"unreadable CSV: {exc}")]
    if not rows:
        return {}, [Problem(0, "mapping", "the mapping file is empty")]
    header = [h.strip().lower() for h in rows[0]]
    for col in ("id", "subtest", "content_area"):
        if col not in header:
            problems.append(Problem(1, f"mapping.{col}", "required column is missing"))
    unknown = [h for h in header if h not in ("id", "subtest", "content_area", "status")]
    for col in unknown:
        problems.append(Problem(1, f"mapping.{col or '(blank)'}", "unknown column"))
    if problems:
        return {}, problems
    at = {h: i for i, h in enumerate(header)}
    for n, cells in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in cells):
            continue

        def cell(col: str, _cells: list[str] = cells) -> str:
            i = at.get(col)
            return _cells[i].strip() if i is not None and i < len(_cells) else ""

        item_id = cell("id")
        if not item_id or not cell("subtest") or not cell("content_area"):
            problems.append(Problem(n, "mapping", "id, subtest and content_area are required"))
            continue
        if item_id in out:
            problems.append(Problem(n, "mapping.id", f"{item_id} is mapped twice"))
            continue
        out[item_id] = Placement(cell("subtest"), cell("content_area"), cell("status") or None)
    return out, problems
