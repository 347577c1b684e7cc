"""The item bank as JSON: subtest definitions and items in one document.

See docs/item-format.md for the fields. Reading reports every fault by item
position (1-based over ``items``) and field; unknown fields are faults too,
so a misspelt field name is never silently ignored. Writing omits fields
that are None and keeps floats exact.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from item_bank.parsed import ParsedFile
from item_bank.records import (
    OPTION_LETTERS,
    BankDocument,
    ContentAreaSpec,
    IrtRecord,
    ItemRecord,
    Problem,
    ScoringMode,
    SubtestSpec,
)

FORMAT_NAME = "seleksi-item-bank"
FORMAT_VERSION = 1

ITEM_FIELDS = frozenset(
    {
        "id",
        "version",
        "subtest",
        "content_area",
        "status",
        "stem_format",
        "stem",
        "options",
        "key",
        "points",
        "enemy_group",
        "source",
        "irt",
    }
)
IRT_FIELDS = frozenset(
    {
        "model",
        "a",
        "b",
        "c",
        "d",
        "thresholds",
        "se_a",
        "se_b",
        "se_c",
        "se_d",
        "se_thresholds",
        "sample_size",
        "scale",
        "run",
        "calibrated_at",
    }
)
TOP_FIELDS = frozenset({"format", "format_version", "subtests", "items"})
SUBTEST_FIELDS = frozenset(
    {"code", "name", "scoring", "points_correct", "min_points", "max_points", "content_areas"}
)


def parse_json(text: str) -> ParsedFile:
    """Read a JSON document into declared subtests and raw items."""
    parsed = ParsedFile()
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        parsed.problems.append(
            Problem(0, "document", f"not valid JSON (line {exc.lineno}, column {exc.colno})")
        )
        return parsed
    except RecursionError:
        parsed.problems.append(Problem(0, "document", "not valid JSON (nested too deeply)"))
        return parsed
    except ValueError:  # Python's limit on integer digits (4,300)
        parsed.problems.append(
            Problem(0, "document", "not valid JSON (a number with thousands of digits)")
        )
        return parsed
    if not isinstance(doc, dict):
        parsed.problems.append(Problem(0, "document", "expected a JSON object"))
        return parsed
    for key in sorted(set(doc) - TOP_FIELDS):
        parsed.problems.append(Problem(0, key, "unknown field"))
    if doc.get("format", FORMAT_NAME) != FORMAT_NAME:
        parsed.problems.append(Problem(0, "format", f"expected {FORMAT_NAME!r}"))
    if doc.get("format_version", FORMAT_VERSION) != FORMAT_VERSION:
        parsed.problems.append(
            Problem(0, "format_version", f"this Seleksi reads version {FORMAT_VERSION}")
        )
    subtests = doc.get("subtests", [])
    if not isinstance(subtests, list):
        parsed.problems.append(Problem(0, "subtests", "expected a list"))
        subtests = []
    for i, raw in enumerate(subtests):
        spec = _subtest(raw, i, parsed.problems)
        if spec is not None:
            parsed.subtests.append((i, spec))
    items = doc.get("items", [])
    if not isinstance(items, list):
        parsed.problems.append(Problem(0, "items", "expected a list"))
        items = []
    for row, raw in enumerate(items, start=1):
        if not isinstance(raw, dict):
            parsed.problems.append(Problem(row, "item", "expected an object"))
            continue
        item_id = raw.get("id") if isinstance(raw.get("id"), str) else None
        for key in sorted(set(raw) - ITEM_FIELDS):
            parsed.problems.append(Problem(row, key, "unknown field", item_id))
        irt = raw.get("irt")
        if isinstance(irt, dict):
            for key in sorted(set(irt) - IRT_FIELDS):
                parsed.problems.append(Problem(row, f"irt.{key}", "unknown field", item_id))
        parsed.raw_items.append((row, dict(raw)))
    return parsed


def _subtest(raw: object, i: int, problems: list[Problem]) -> SubtestSpec | None:
    where = f"subtests[{i}]"
    if not isinstance(raw, dict):
        problems.append(Problem(0, where, "expected an object"))
        return None
    bad = False

    def fail(name: str, message: str) -> None:
        nonlocal bad
        bad = True
        problems.append(Problem(0, f"{where}.{name}", message))

    for key in sorted(set(raw) - SUBTEST_FIELDS):
        fail(key, "unknown field")
    code, name = raw.get("code"), raw.get("name")
    if not isinstance(code, str) or not code.strip():
        fail("code", "missing")
    if not isinstance(name, str) or not name.strip():
        fail("name", "missing")
    scoring_raw = raw.get("scoring")
    try:
        scoring = ScoringMode(str(scoring_raw))
    except ValueError:
        fail("scoring", f"{scoring_raw!r} is not one of dichotomous, option_scored")
        scoring = ScoringMode.DICHOTOMOUS
    points_correct = raw.get("points_correct", 5.0)
    if isinstance(points_correct, bool) or not isinstance(points_correct, int | float):
        fail("points_correct", "expected a number")
        points_correct = 5.0
    limits: dict[str, int] = {}
    for key, default in (("min_points", 1), ("max_points", 5)):
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            fail(key, "expected a whole number")
            value = default
        limits[key] = value
    areas: list[ContentAreaSpec] = []
    raw_areas = raw.get("content_areas", [])
    if not isinstance(raw_areas, list):
        fail("content_areas", "expected a list")
        raw_areas = []
    for j, area in enumerate(raw_areas):
        if not (
            isinstance(area, dict)
            and isinstance(area.get("code"), str)
            and isinstance(area.get("name"), str)
            and set(area) <= {"code", "name"}
        ):
            fail(f"content_areas[{j}]", 'expected {"code": ..., "name": ...}')
            continue
        areas.append(ContentAreaSpec(code=area["code"].strip(), name=area["name"].strip()))
    if bad:
        return None
    assert isinstance(code, str) and isinstance(name, str)
    return SubtestSpec(
        code=code.strip(),
        name=name.strip(),
        scoring=scoring,
        points_correct=float(points_correct),
        min_points=limits["min_points"],
        max_points=limits["max_points"],
        content_areas=tuple(areas),
    )


def subtest_to_json(spec: SubtestSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"code": spec.code, "name": spec.name, "scoring": spec.scoring.value}
    if spec.scoring is ScoringMode.DICHOTOMOUS:
        out["points_correct"] = spec.points_correct
    else:
        out["min_points"] = spec.min_points
        out["max_points"] = spec.max_points
    out["content_areas"] = [{"code": ca.code, "name": ca.name} for ca in spec.content_areas]
    return out


def _drop_none(d: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def irt_to_json(irt: IrtRecord) -> dict[str, Any]:
    return _drop_none(
        {
            "model": irt.model,
            "a": irt.a,
            "b": irt.b,
            "c": irt.c,
            "d": irt.d,
            "thresholds": list(irt.thresholds) or None,
            "se_a": irt.se_a,
            "se_b": irt.se_b,
            "se_c": irt.se_c,
            "se_d": irt.se_d,
            "se_thresholds": list(irt.se_thresholds) or None,
            "sample_size": irt.sample_size,
            "scale": irt.scale,
            "run": irt.run,
            "calibrated_at": None if irt.calibrated_at is None else irt.calibrated_at.isoformat(),
        }
    )


def item_to_json(item: ItemRecord) -> dict[str, Any]:
    return _drop_none(
        {
            "id": item.item_id,
            "version": item.version,
            "subtest": item.subtest,
            "content_area": item.content_area,
            "status": item.status.value,
            "stem_format": item.stem_format.value,
            "stem": item.stem,
            "options": list(item.options),
            "key": None if item.key is None else OPTION_LETTERS[item.key],
            "points": None if item.points is None else list(item.points),
            "enemy_group": item.enemy_group,
            "source": item.source,
            "irt": None if item.irt is None else irt_to_json(item.irt),
        }
    )


def write_json(
    doc: BankDocument | None = None,
    *,
    subtests: Iterable[SubtestSpec] = (),
    items: Iterable[ItemRecord] = (),
) -> str:
    """A JSON document (UTF-8 text, indented) of subtests and items."""
    if doc is not None:
        subtests, items = doc.subtests, doc.items
    out = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "subtests": [subtest_to_json(s) for s in subtests],
        "items": [item_to_json(i) for i in items],
    }
    return json.dumps(out, ensure_ascii=False, indent=1) + "\n"
