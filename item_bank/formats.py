"""Bank file formats: their names, telling them apart, and parsing a file's bytes.

Import and export accept CSV, JSON and QTI; this module picks the parser.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from item_bank.io_csv import parse_csv
from item_bank.io_json import parse_json
from item_bank.io_qti import Placement, parse_qti
from item_bank.parsed import ParsedFile
from item_bank.records import Problem

FORMATS = ("csv", "json", "qti")
QTI_EXPORT_FORMATS = {"qti3": "3.0", "qti22": "2.2"}


def detect_format(path: str | Path, fmt: str | None = None) -> str:
    """``csv``, ``json`` or ``qti`` (a ``.zip`` package or an ``.xml`` item), from ``fmt`` or
    the file name's extension."""
    if fmt:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}; expected {', '.join(FORMATS)}")
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix in (".csv", ".json"):
        return suffix[1:]
    if suffix in (".zip", ".xml"):
        return "qti"
    raise ValueError(
        f"cannot tell the format of {str(path)!r}; name it .csv, .json, or .zip/.xml (QTI)"
    )


def parse_text(text: str, fmt: str) -> ParsedFile:
    """Parse CSV or JSON text (``fmt``) into a :class:`ParsedFile`."""
    return parse_csv(text) if fmt == "csv" else parse_json(text)


def parse_bytes(
    data: bytes, fmt: str, *, name: str = "upload", mapping: Mapping[str, Placement] | None = None
) -> ParsedFile:
    """Parse a file's bytes: QTI as a package or item, CSV/JSON as UTF-8 text."""
    if fmt == "qti":
        return parse_qti(data, name=name, mapping=mapping)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        parsed = ParsedFile()
        parsed.problems.append(Problem(0, "file", f"not UTF-8 text (byte {exc.start})"))
        return parsed
    return parse_text(text, fmt)
