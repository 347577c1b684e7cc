"""Checking imported items: every fault found, by row and field, none skipped.

Both file formats are first turned into *raw items*: plain mappings with the
canonical field names below (values are strings from CSV cells or JSON
values). :func:`validate_items` checks them all against the subtests and
returns the records and the list of problems; the caller imports nothing
unless that list is empty.

Canonical fields: ``id, version, subtest, content_area, status,
stem_format, stem, options`` (list), ``key`` (a letter), ``points`` (list or
None), ``enemy_group, source`` and ``irt`` (None or a mapping with ``model,
a, b, c, d, thresholds`` (list), ``se_a, se_b, se_c, se_d, se_thresholds``
(list), ``sample_size, scale, run, calibrated_at``). Problems name fields
through ``field_name`` so that each format reports its own column names
(``options[2]`` is ``option_c`` in CSV).
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field

from cat_engine.irt import Model
from item_bank.html import MEDIA_HREF, image_sources, sanitise_html
from item_bank.markdown import normalise_text, sanitise_markdown
from item_bank.records import (
    MAX_OPTIONS,
    MAX_THRESHOLDS,
    MIN_OPTIONS,
    OPTION_LETTERS,
    ContentAreaSpec,
    IrtRecord,
    ItemRecord,
    ItemStatus,
    Problem,
    ScoringMode,
    StemFormat,
    SubtestSpec,
)

RawItem = Mapping[str, object]
FieldName = Callable[[str], str]

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MAX_STEM_CHARS = 20_000
MAX_OPTION_CHARS = 4_000
MAX_SOURCE_CHARS = 1_000
# Parameters beyond these are not on a logit scale anyone calibrates to; they
# are refused as typos (e.g. a sample size pasted into the b column).
MAX_A = 20.0
MAX_ABS_LOCATION = 20.0

DICHOTOMOUS_MODELS = ("1PL", "2PL", "3PL", "4PL")
POLYTOMOUS_MODELS = ("GRM", "GPCM")


def identity(name: str) -> str:
    return name


def is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


@dataclass
class _Row:
    """Collects the problems of one row."""

    row: int
    field_name: FieldName
    item_id: str | None = None
    problems: list[Problem] = field(default_factory=list)

    def fail(self, name: str, message: str) -> None:
        self.problems.append(Problem(self.row, self.field_name(name), message, self.item_id))

    def text(self, value: object, name: str, *, required: bool, max_chars: int) -> str | None:
        if is_blank(value):
            if required:
                self.fail(name, "missing")
            return None
        if not isinstance(value, str):
            self.fail(name, f"expected text, got {type(value).__name__}")
            return None
        out = normalise_text(value)
        if len(out) > max_chars:
            self.fail(name, f"longer than {max_chars} characters ({len(out)})")
            return None
        return out

    def code(self, value: object, name: str, *, required: bool) -> str | None:
        out = self.text(value, name, required=required, max_chars=64)
        if out is not None and not ID_PATTERN.match(out):
            self.fail(name, f"{out!r} is not a valid code (letters, digits, '.', '_', '-')")
            return None
        return out

    def number(self, value: object, name: str) -> float | None:
        if is_blank(value):
            return None
        if isinstance(value, bool):
            self.fail(name, "expected a number, got true/false")
            return None
        if isinstance(value, int | float):
            out = float(value)
        elif isinstance(value, str):
            try:
                out = float(value.strip())
            except ValueError:
                self.fail(name, f"{value.strip()!r} is not a number")
                return None
        else:
            self.fail(name, f"expected a number, got {type(value).__name__}")
            return None
        if not math.isfinite(out):
            self.fail(name, f"{value!r} is not a finite number")
            return None
        return out

    def integer(self, value: object, name: str, *, minimum: int) -> int | None:
        num = self.number(value, name)
        if num is None:
            return None
        if not num.is_integer():
            self.fail(name, f"{value!r} is not a whole number")
            return None
        if num < minimum:
            self.fail(name, f"{int(num)} is below the minimum {minimum}")
            return None
        return int(num)

    def choice(self, value: object, name: str, choices: Sequence[str], default: str) -> str:
        if is_blank(value):
            return default
        if not isinstance(value, str) or value.strip().lower() not in choices:
            self.fail(name, f"{value!r} is not one of {', '.join(choices)}")
            return default
        return value.strip().lower()

    def sequence(self, value: object, name: str) -> list[object] | None:
        if value is None:
            return None
        if not isinstance(value, list | tuple):
            self.fail(name, f"expected a list, got {type(value).__name__}")
            return None
        return list(value)


def validate_subtests(
    declared: Sequence[tuple[int, SubtestSpec]], existing: Mapping[str, SubtestSpec]
) -> tuple[dict[str, SubtestSpec], list[Problem]]:
    """Merge subtests declared in a file with those in the bank.

    A declared subtest may rename itself and add content areas; it may not
    change the scoring of an existing one (its items depend on it). Returns
    the merged subtests by code and the problems (row 0, field
    ``subtests[i].…``; ``declared`` pairs each spec with its position i).
    """
    problems: list[Problem] = []
    merged = dict(existing)
    area_owner = {ca.code: st.code for st in existing.values() for ca in st.content_areas}
    seen: set[str] = set()
    for i, spec in declared:
        where = f"subtests[{i}]"

        def fail(name: str, message: str, _where: str = where) -> None:
            problems.append(Problem(0, f"{_where}.{name}", message))

        if not ID_PATTERN.match(spec.code):
            fail("code", f"{spec.code!r} is not a valid code")
            continue
        if spec.code in seen:
            fail("code", f"subtest {spec.code} is declared twice")
            continue
        seen.add(spec.code)
        if spec.scoring is ScoringMode.DICHOTOMOUS:
            if not (math.isfinite(spec.points_correct) and spec.points_correct > 0):
                fail("points_correct", "must be a positive number")
        else:
            if not 1 <= spec.max_points - spec.min_points <= MAX_THRESHOLDS:
                fail(
                    "max_points",
                    f"the point range {spec.min_points}–{spec.max_points} must span 2 to "
                    f"{MAX_THRESHOLDS + 1} values",
                )
        old = existing.get(spec.code)
        if old is not None and (
            old.scoring,
            old.points_correct,
            old.min_points,
            old.max_points,
        ) != (spec.scoring, spec.points_correct, spec.min_points, spec.max_points):
            fail("scoring", f"subtest {spec.code} exists with a different scoring rule")
            continue
        areas: dict[str, ContentAreaSpec] = {
            ca.code: ca for ca in (old.content_areas if old else ())
        }
        for j, area in enumerate(spec.content_areas):
            if not ID_PATTERN.match(area.code):
                fail(f"content_areas[{j}].code", f"{area.code!r} is not a valid code")
                continue
            owner = area_owner.get(area.code)
            if owner is not None and owner != spec.code:
                fail(
                    f"content_areas[{j}].code",
                    f"content area {area.code} already belongs to subtest {owner}",
                )
                continue
            area_owner[area.code] = spec.code
            areas[area.code] = area
        merged[spec.code] = SubtestSpec(
            code=spec.code,
            name=spec.name,
            scoring=spec.scoring,
            points_correct=spec.points_correct,
            min_points=spec.min_points,
            max_points=spec.max_points,
            content_areas=tuple(areas.values()),
        )
    return merged, problems


def validate_items(
    raw_items: Sequence[tuple[int, RawItem]],
    subtests: Mapping[str, SubtestSpec],
    field_name: FieldName = identity,
    *,
    media: Collection[str] = (),
) -> tuple[list[ItemRecord], list[Problem]]:
    """Check every raw item; return the valid records and all problems.

    ``raw_items`` pairs each raw item with its row number. Duplicate ids are
    reported on every repeat, naming the first row. ``media``: SHA-256
    digests of the images HTML items may show (the bank's and the file's).
    """
    records: list[ItemRecord] = []
    problems: list[Problem] = []
    first_row: dict[str, int] = {}
    for row, raw in raw_items:
        record, row_problems = _validate_item(row, raw, subtests, field_name, media)
        raw_id = raw.get("id")
        item_id = normalise_text(raw_id) if isinstance(raw_id, str) else None
        if item_id:
            if item_id in first_row:
                row_problems.append(
                    Problem(
                        row,
                        field_name("id"),
                        f"duplicate id, first given in row {first_row[item_id]}",
                        item_id,
                    )
                )
            else:
                first_row[item_id] = row
        problems.extend(row_problems)
        if record is not None and not row_problems:
            records.append(record)
    return records, problems


def _validate_item(
    row: int,
    raw: RawItem,
    subtests: Mapping[str, SubtestSpec],
    field_name: FieldName,
    media: Collection[str],
) -> tuple[ItemRecord | None, list[Problem]]:
    chk = _Row(row, field_name)
    item_id = chk.code(raw.get("id"), "id", required=True)
    chk.item_id = item_id
    version = chk.integer(raw.get("version"), "version", minimum=1)
    subtest_code = chk.text(raw.get("subtest"), "subtest", required=True, max_chars=64)
    subtest = subtests.get(subtest_code) if subtest_code else None
    if subtest_code and subtest is None:
        known = ", ".join(sorted(subtests)) or "none defined"
        chk.fail("subtest", f"unknown subtest {subtest_code!r} (known: {known})")
    area = chk.text(raw.get("content_area"), "content_area", required=True, max_chars=64)
    if subtest is not None and area is not None:
        codes = [ca.code for ca in subtest.content_areas]
        if area not in codes:
            chk.fail(
                "content_area",
                f"unknown content area {area!r} of subtest {subtest.code} "
                f"(known: {', '.join(codes) or 'none defined'})",
            )
    status = chk.choice(raw.get("status"), "status", [s.value for s in ItemStatus], "draft")
    stem_format = chk.choice(
        raw.get("stem_format"), "stem_format", [f.value for f in StemFormat], "text"
    )
    stem = chk.text(raw.get("stem"), "stem", required=True, max_chars=MAX_STEM_CHARS)
    if stem is not None and stem_format == StemFormat.MARKDOWN:
        stem = sanitise_markdown(stem)
    is_html = stem_format == StemFormat.HTML
    if stem is not None and is_html:
        stem = _html(chk, stem, "stem", media)
    options = _options(chk, raw.get("options"), html_media=media if is_html else None)
    key = _key(chk, raw.get("key"), subtest, len(options))
    points = _points(chk, raw.get("points"), subtest, len(options))
    enemy = chk.code(raw.get("enemy_group"), "enemy_group", required=False)
    source = chk.text(raw.get("source"), "source", required=False, max_chars=MAX_SOURCE_CHARS)
    irt = _irt(chk, raw.get("irt"), subtest)
    if chk.problems or item_id is None or subtest is None or area is None or stem is None:
        return None, chk.problems
    return (
        ItemRecord(
            item_id=item_id,
            subtest=subtest.code,
            content_area=area,
            stem=stem,
            options=tuple(options),
            key=key,
            points=points,
            status=ItemStatus(status),
            stem_format=StemFormat(stem_format),
            enemy_group=enemy,
            source=source,
            version=version,
            irt=irt,
        ),
        chk.problems,
    )


def _html(chk: _Row, fragment: str, name: str, media: Collection[str]) -> str | None:
    """The sanitised fragment; every image must be one the bank holds (or the file brings)."""
    for src in image_sources(fragment):
        found = MEDIA_HREF.match(src)
        if found is None:
            chk.fail(
                name,
                f"image {src[:80]!r} is not a picture stored in the bank (media/<sha256>.<ext>); "
                "terminals load nothing from elsewhere",
            )
        elif found.group(1) not in media:
            chk.fail(name, f"image {src} is not in the bank (import the QTI package that has it)")
    clean = sanitise_html(fragment)
    if not clean:
        chk.fail(name, "nothing is left after removing unsafe HTML")
        return None
    return clean


def _options(chk: _Row, value: object, *, html_media: Collection[str] | None = None) -> list[str]:
    raw = chk.sequence(value, "options")
    if raw is None:
        chk.fail("options", f"missing (an item needs {MIN_OPTIONS} to {MAX_OPTIONS} options)")
        return []
    out: list[str] = []
    for k, opt in enumerate(raw):
        text = chk.text(opt, f"options[{k}]", required=True, max_chars=MAX_OPTION_CHARS)
        if text is not None and html_media is not None:
            text = _html(chk, text, f"options[{k}]", html_media)
        out.append(text if text is not None else "")
    if not MIN_OPTIONS <= len(raw) <= MAX_OPTIONS:
        chk.fail("options", f"{len(raw)} options; an item needs {MIN_OPTIONS} to {MAX_OPTIONS}")
    seen: dict[str, int] = {}
    for k, text in enumerate(out):
        if text and text in seen:
            chk.fail(f"options[{k}]", f"same text as option {OPTION_LETTERS[seen[text]]}")
        seen.setdefault(text, k)
    return out


def _key(chk: _Row, value: object, subtest: SubtestSpec | None, n_options: int) -> int | None:
    if subtest is None:
        return None
    if subtest.scoring is ScoringMode.OPTION_SCORED:
        if not is_blank(value):
            chk.fail("key", f"subtest {subtest.code} scores every option; give points, not a key")
        return None
    if is_blank(value):
        chk.fail("key", "missing key")
        return None
    letters = OPTION_LETTERS[: max(n_options, 0)]
    if not isinstance(value, str) or value.strip().upper() not in letters or not letters:
        span = f"A–{letters[-1]}" if letters else "an option letter"
        chk.fail("key", f"{value!r} is not one of the item's options ({span})")
        return None
    return OPTION_LETTERS.index(value.strip().upper())


def _points(
    chk: _Row, value: object, subtest: SubtestSpec | None, n_options: int
) -> tuple[int, ...] | None:
    raw = chk.sequence(value, "points")
    if subtest is None:
        return None
    if subtest.scoring is ScoringMode.DICHOTOMOUS:
        if raw is not None and any(not is_blank(v) for v in raw):
            chk.fail(
                "points",
                f"subtest {subtest.code} scores the key only; give a key, not option points",
            )
        return None
    raw = raw or []
    out: list[int] = []
    for k in range(max(n_options, len(raw))):
        name = f"points[{k}]"
        v = raw[k] if k < len(raw) else None
        if k >= n_options:
            if not is_blank(v):
                chk.fail(name, f"points given for option {OPTION_LETTERS[k]}, which has no text")
            continue
        if is_blank(v):
            chk.fail(name, f"missing points for option {OPTION_LETTERS[k]}")
            continue
        p = chk.integer(v, name, minimum=-(10**9))
        if p is None:
            continue
        if not subtest.min_points <= p <= subtest.max_points:
            chk.fail(
                name,
                f"{p} points is outside subtest {subtest.code}'s range "
                f"{subtest.min_points}–{subtest.max_points}",
            )
            continue
        out.append(p)
    return tuple(out) if len(out) == n_options else None


def _irt(chk: _Row, value: object, subtest: SubtestSpec | None) -> IrtRecord | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        chk.fail("irt", f"expected an object, got {type(value).__name__}")
        return None
    model_raw = value.get("model")
    if is_blank(model_raw):
        chk.fail("irt.model", "missing (other IRT fields are given)")
        return None
    try:
        model = Model.parse(str(model_raw)).label
    except ValueError:
        chk.fail("irt.model", f"{model_raw!r} is not one of 1PL, 2PL, 3PL, 4PL, GRM, GPCM")
        return None
    if subtest is not None:
        allowed = (
            DICHOTOMOUS_MODELS if subtest.scoring is ScoringMode.DICHOTOMOUS else POLYTOMOUS_MODELS
        )
        if model not in allowed:
            chk.fail(
                "irt.model",
                f"{model} does not fit subtest {subtest.code} ({subtest.scoring.value}); "
                f"use {' or '.join(allowed)}",
            )
            return None

    nums = {k: chk.number(value.get(k), f"irt.{k}") for k in ("a", "b", "c", "d")}
    ses = {k: chk.number(value.get(f"se_{k}"), f"irt.se_{k}") for k in ("a", "b", "c", "d")}
    thresholds_raw = chk.sequence(value.get("thresholds"), "irt.thresholds") or []
    se_thr_raw = chk.sequence(value.get("se_thresholds"), "irt.se_thresholds") or []
    # Trailing blanks are unused columns (CSV has irt_t1..irt_t5 for every item).
    while thresholds_raw and is_blank(thresholds_raw[-1]):
        thresholds_raw.pop()
    while se_thr_raw and is_blank(se_thr_raw[-1]):
        se_thr_raw.pop()
    thresholds: list[float] = []
    for k, t in enumerate(thresholds_raw):
        num = chk.number(t, f"irt.thresholds[{k}]")
        if num is None:
            if is_blank(t):
                chk.fail(f"irt.thresholds[{k}]", "missing (a later threshold is given)")
            continue
        if abs(num) > MAX_ABS_LOCATION:
            chk.fail(f"irt.thresholds[{k}]", f"{num} is outside ±{MAX_ABS_LOCATION:g}")
        thresholds.append(num)
    se_thresholds: list[float | None] = []
    for k, s in enumerate(se_thr_raw):
        num = chk.number(s, f"irt.se_thresholds[{k}]")
        if num is not None and num < 0:
            chk.fail(f"irt.se_thresholds[{k}]", "a standard error cannot be negative")
        if k >= len(thresholds_raw) and num is not None:
            chk.fail(f"irt.se_thresholds[{k}]", "standard error of a threshold that is not given")
        se_thresholds.append(num)

    needs: dict[str, tuple[str, ...]] = {
        "1PL": ("b",),
        "2PL": ("a", "b"),
        "3PL": ("a", "b", "c"),
        "4PL": ("a", "b", "c", "d"),
        "GRM": ("a",),
        "GPCM": ("a",),
    }
    allowed_params = set(needs[model]) | ({"a"} if model == "1PL" else set())
    for name in ("a", "b", "c", "d"):
        given = not is_blank(value.get(name))
        if name in needs[model] and not given:
            chk.fail(f"irt.{name}", f"missing ({model} needs {', '.join(needs[model])})")
        elif given and name not in allowed_params:
            chk.fail(f"irt.{name}", f"not a parameter of the {model} model")
        if ses[name] is not None:
            if not given or name not in allowed_params:
                chk.fail(f"irt.se_{name}", f"standard error of a parameter {model} does not have")
            elif ses[name] < 0:  # type: ignore[operator]
                chk.fail(f"irt.se_{name}", "a standard error cannot be negative")
    a, b, c, d = nums["a"], nums["b"], nums["c"], nums["d"]
    if a is not None and not 0 < a <= MAX_A:
        chk.fail("irt.a", f"discrimination {a} must be in (0, {MAX_A:g}]")
    if b is not None and abs(b) > MAX_ABS_LOCATION:
        chk.fail("irt.b", f"difficulty {b} is outside ±{MAX_ABS_LOCATION:g}")
    if c is not None and not 0.0 <= c < 1.0:
        chk.fail("irt.c", f"guessing parameter {c} must be in [0, 1)")
    if d is not None and not ((c if c is not None else 0.0) < d <= 1.0):
        chk.fail("irt.d", f"upper asymptote {d} must be in (c, 1]")
    if model in POLYTOMOUS_MODELS:
        if subtest is not None and len(thresholds_raw) != subtest.n_thresholds:
            chk.fail(
                "irt.thresholds",
                f"{len(thresholds_raw)} threshold(s); subtest {subtest.code} scores "
                f"{subtest.min_points}–{subtest.max_points}, so {model} needs "
                f"{subtest.n_thresholds}",
            )
        if model == "GRM" and any(x >= y for x, y in itertools.pairwise(thresholds)):
            chk.fail("irt.thresholds", "GRM thresholds must increase strictly")
    elif thresholds_raw or se_thr_raw:
        chk.fail("irt.thresholds", f"the {model} model has no thresholds")

    sample_size = chk.integer(value.get("sample_size"), "irt.sample_size", minimum=0)
    scale = chk.code(value.get("scale"), "irt.scale", required=False) or "default"
    run = chk.text(value.get("run"), "irt.run", required=False, max_chars=128) or "import"
    calibrated_at = _date(chk, value.get("calibrated_at"), "irt.calibrated_at")
    return IrtRecord(
        model=model,
        a=a,
        b=b,
        c=c,
        d=d,
        thresholds=tuple(thresholds),
        se_a=ses["a"],
        se_b=ses["b"],
        se_c=ses["c"],
        se_d=ses["d"],
        se_thresholds=tuple(se_thresholds),
        sample_size=sample_size,
        scale=scale,
        run=run,
        calibrated_at=calibrated_at,
    )


def _date(chk: _Row, value: object, name: str) -> dt.date | None:
    if is_blank(value):
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        chk.fail(name, f"{value!r} is not a date (YYYY-MM-DD)")
        return None
