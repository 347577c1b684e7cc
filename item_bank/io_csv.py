"""Items as CSV: one row per item, fixed column names (see docs/item-format.md).

Reading accepts UTF-8 with or without a byte-order mark and a comma or
semicolon delimiter (spreadsheets in the Indonesian locale save with ``;``);
numbers always use a decimal point. Writing uses UTF-8, commas and every
column, with floats in their shortest exact form, so reading back what was
written gives the same records.

CSV holds items only; subtests are defined by a JSON import or by the demo.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from typing import IO

from item_bank.parsed import ParsedFile
from item_bank.records import (
    MAX_OPTIONS,
    MAX_THRESHOLDS,
    OPTION_LETTERS,
    IrtRecord,
    ItemRecord,
    Problem,
)

_LETTERS = OPTION_LETTERS.lower()
OPTION_COLUMNS = tuple(f"option_{x}" for x in _LETTERS[:MAX_OPTIONS])
POINTS_COLUMNS = tuple(f"points_{x}" for x in _LETTERS[:MAX_OPTIONS])
THRESHOLD_COLUMNS = tuple(f"irt_t{k}" for k in range(1, MAX_THRESHOLDS + 1))
THRESHOLD_SE_COLUMNS = tuple(f"irt_se_t{k}" for k in range(1, MAX_THRESHOLDS + 1))
IRT_SCALAR_COLUMNS = ("irt_model", "irt_a", "irt_b", "irt_c", "irt_d")
IRT_SE_COLUMNS = ("irt_se_a", "irt_se_b", "irt_se_c", "irt_se_d")
IRT_META_COLUMNS = ("irt_sample_size", "irt_scale", "irt_run", "irt_calibrated_at")

COLUMNS: tuple[str, ...] = (
    "id",
    "version",
    "subtest",
    "content_area",
    "status",
    "stem_format",
    "stem",
    *OPTION_COLUMNS,
    "key",
    *POINTS_COLUMNS,
    "enemy_group",
    "source",
    *IRT_SCALAR_COLUMNS,
    *THRESHOLD_COLUMNS,
    *IRT_SE_COLUMNS,
    *THRESHOLD_SE_COLUMNS,
    *IRT_META_COLUMNS,
)
REQUIRED_COLUMNS = ("id", "subtest", "content_area", "stem", "option_a", "option_b")
IRT_COLUMNS = tuple(c for c in COLUMNS if c.startswith("irt_"))


def csv_field_name(name: str) -> str:
    """Canonical field name → CSV column name (``options[2]`` → ``option_c``)."""
    if name.startswith("options[") or name.startswith("points["):
        k = int(name[name.index("[") + 1 : -1])
        prefix = "option" if name.startswith("options") else "points"
        return f"{prefix}_{_LETTERS[k]}" if k < MAX_OPTIONS else f"{prefix}_{k + 1}"
    if name in ("options", "points"):
        prefix = "option" if name == "options" else "points"
        return f"{prefix}_a…{prefix}_{_LETTERS[MAX_OPTIONS - 1]}"
    if name.startswith("irt.thresholds[") or name.startswith("irt.se_thresholds["):
        k = int(name[name.index("[") + 1 : -1])
        return f"irt_{'se_' if 'se_' in name else ''}t{k + 1}"
    if name in ("irt.thresholds", "irt.se_thresholds"):
        se = "se_" if "se_" in name else ""
        return f"irt_{se}t1…irt_{se}t{MAX_THRESHOLDS}"
    if name.startswith("irt."):
        return "irt_" + name[4:]
    if name == "irt":
        return "irt_*"
    return name


def parse_csv(text: str) -> ParsedFile:
    """Read CSV text into raw items (row numbers as a spreadsheet shows them)."""
    parsed = ParsedFile(field_name=csv_field_name)
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        parsed.problems.append(Problem(0, "header", "the file is empty"))
        return parsed
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        rows = list(reader)
    except csv.Error as exc:
        parsed.problems.append(Problem(reader.line_num, "row", f"unreadable CSV: {exc}"))
        return parsed
    header = [h.strip().lower() for h in rows[0]]
    known = set(COLUMNS)
    for col in header:
        if col not in known:
            parsed.problems.append(Problem(1, col or "(blank)", "unknown column"))
    dupes = {c or "(blank)" for c in header if header.count(c) > 1}
    for col in sorted(dupes):
        parsed.problems.append(Problem(1, col, "column appears more than once"))
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    for col in missing:
        parsed.problems.append(Problem(1, col, "required column is missing"))
    if missing or dupes:
        return parsed
    position = {col: i for i, col in enumerate(header)}
    for n, cells in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in cells):
            continue  # blank lines, e.g. at the end of a spreadsheet export
        if len(cells) > len(header):
            extra = cells[len(header) :]
            if any(c.strip() for c in extra):
                parsed.problems.append(
                    Problem(n, "row", f"{len(cells)} cells but {len(header)} columns")
                )

        def cell(col: str, _cells: list[str] = cells) -> str | None:
            i = position.get(col)
            return _cells[i] if i is not None and i < len(_cells) else None

        parsed.raw_items.append((n, _raw_item(cell)))
    return parsed


def _raw_item(get: Callable[[str], str | None]) -> dict[str, object]:
    options = [get(c) for c in OPTION_COLUMNS]
    last = max((k for k, v in enumerate(options) if v and v.strip()), default=-1)
    raw: dict[str, object] = {
        name: get(name)
        for name in (
            "id",
            "version",
            "subtest",
            "content_area",
            "status",
            "stem_format",
            "stem",
            "key",
            "enemy_group",
            "source",
        )
    }
    raw["options"] = options[: last + 1]
    points = [get(c) for c in POINTS_COLUMNS]
    raw["points"] = points if any(p and p.strip() for p in points) else None
    irt_cells = {c: get(c) for c in IRT_COLUMNS}
    if any(v and v.strip() for v in irt_cells.values()):
        raw["irt"] = {
            "model": irt_cells["irt_model"],
            "a": irt_cells["irt_a"],
            "b": irt_cells["irt_b"],
            "c": irt_cells["irt_c"],
            "d": irt_cells["irt_d"],
            "thresholds": [irt_cells[c] for c in THRESHOLD_COLUMNS],
            "se_a": irt_cells["irt_se_a"],
            "se_b": irt_cells["irt_se_b"],
            "se_c": irt_cells["irt_se_c"],
            "se_d": irt_cells["irt_se_d"],
            "se_thresholds": [irt_cells[c] for c in THRESHOLD_SE_COLUMNS],
            "sample_size": irt_cells["irt_sample_size"],
            "scale": irt_cells["irt_scale"],
            "run": irt_cells["irt_run"],
            "calibrated_at": irt_cells["irt_calibrated_at"],
        }
    else:
        raw["irt"] = None
    return raw


def _num(value: float | int | None) -> str:
    # repr() of a float is the shortest string that reads back to the same float.
    return "" if value is None else repr(value)


def item_row(item: ItemRecord) -> dict[str, str]:
    """One item as CSV cells, by column name."""
    row = dict.fromkeys(COLUMNS, "")
    row.update(
        id=item.item_id,
        version="" if item.version is None else str(item.version),
        subtest=item.subtest,
        content_area=item.content_area,
        status=item.status.value,
        stem_format=item.stem_format.value,
        stem=item.stem,
        key="" if item.key is None else OPTION_LETTERS[item.key],
        enemy_group=item.enemy_group or "",
        source=item.source or "",
    )
    for col, text in zip(OPTION_COLUMNS, item.options, strict=False):
        row[col] = text
    for col, pts in zip(POINTS_COLUMNS, item.points or (), strict=False):
        row[col] = str(pts)
    if item.irt is not None:
        _irt_cells(row, item.irt)
    return row


def _irt_cells(row: dict[str, str], irt: IrtRecord) -> None:
    row.update(
        irt_model=irt.model,
        irt_a=_num(irt.a),
        irt_b=_num(irt.b),
        irt_c=_num(irt.c),
        irt_d=_num(irt.d),
        irt_se_a=_num(irt.se_a),
        irt_se_b=_num(irt.se_b),
        irt_se_c=_num(irt.se_c),
        irt_se_d=_num(irt.se_d),
        irt_sample_size=_num(irt.sample_size),
        irt_scale=irt.scale,
        irt_run=irt.run,
        irt_calibrated_at="" if irt.calibrated_at is None else irt.calibrated_at.isoformat(),
    )
    for col, t in zip(THRESHOLD_COLUMNS, irt.thresholds, strict=False):
        row[col] = _num(t)
    for col, s in zip(THRESHOLD_SE_COLUMNS, irt.se_thresholds, strict=False):
        row[col] = _num(s)


def write_csv(items: Iterable[ItemRecord], out: IO[str] | None = None) -> str:
    """Items as CSV text (also written to ``out`` when given)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for item in items:
        writer.writerow(item_row(item))
    text = buf.getvalue()
    if out is not None:
        out.write(text)
    return text
