"""Property tests for the parsers: any valid item survives CSV and JSON exactly,
and no input text, however broken, makes a parser crash."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from item_bank.html import sanitise_html
from item_bank.io_csv import parse_csv, write_csv
from item_bank.io_json import parse_json, write_json
from item_bank.markdown import normalise_text, sanitise_markdown
from item_bank.records import (
    ContentAreaSpec,
    IrtRecord,
    ItemRecord,
    ItemStatus,
    ScoringMode,
    StemFormat,
    SubtestSpec,
)

SUBTESTS = {
    "TWK": SubtestSpec(
        "TWK", "TWK", ScoringMode.DICHOTOMOUS, content_areas=(ContentAreaSpec("nas", "N"),)
    ),
    "TKP": SubtestSpec(
        "TKP",
        "TKP",
        ScoringMode.OPTION_SCORED,
        min_points=1,
        max_points=5,
        content_areas=(ContentAreaSpec("tik", "T"),),
    ),
}

# Text as people type it: letters, punctuation, quotes, commas, semicolons,
# newlines, non-Latin letters; normalised as the importer normalises it.
raw_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=40,
)
clean_text = raw_text.map(normalise_text).filter(bool)
codes = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,12}", fullmatch=True)
finite = st.floats(-5, 5, allow_nan=False, allow_infinity=False)
positive = st.floats(0.05, 5, allow_nan=False, allow_infinity=False)
se = st.none() | st.floats(0, 2, allow_nan=False, allow_infinity=False)
dates = st.none() | st.dates(dt.date(2000, 1, 1), dt.date(2100, 1, 1))


@st.composite
def items(draw: st.DrawFn) -> ItemRecord:
    n = draw(st.integers(2, 6))
    options = tuple(draw(st.lists(clean_text, min_size=n, max_size=n, unique=True)))
    stem_format = draw(st.sampled_from(StemFormat))
    stem = draw(clean_text)
    if stem_format is StemFormat.MARKDOWN:
        stem = sanitise_markdown(stem)
    if stem_format is StemFormat.HTML:  # stored as the sanitiser leaves it (a fixed point)
        stem = sanitise_html(stem)
        options = tuple(sanitise_html(o) for o in options)
        assume(stem and all(options) and len(set(options)) == len(options))
    meta = {
        "sample_size": draw(st.none() | st.integers(0, 10**6)),
        "scale": draw(codes),
        "run": draw(clean_text.filter(lambda t: len(t) <= 128)),
        "calibrated_at": draw(dates),
    }
    if draw(st.booleans()):
        irt = None
        if draw(st.booleans()):
            model = draw(st.sampled_from(["1PL", "2PL", "3PL", "4PL"]))
            c = draw(st.floats(0, 0.5)) if model in ("3PL", "4PL") else None
            irt = IrtRecord(
                model=model,
                a=draw(positive) if model != "1PL" or draw(st.booleans()) else None,
                b=draw(finite),
                c=c,
                d=draw(st.floats(0.6, 1.0)) if model == "4PL" else None,
                se_b=draw(se),
                **meta,
            )
        return ItemRecord(
            item_id=draw(codes),
            subtest="TWK",
            content_area="nas",
            stem=stem,
            options=options,
            key=draw(st.integers(0, n - 1)),
            status=draw(st.sampled_from(ItemStatus)),
            stem_format=stem_format,
            enemy_group=draw(st.none() | codes),
            source=draw(st.none() | clean_text),
            version=draw(st.none() | st.integers(1, 50)),
            irt=irt,
        )
    steps = tuple(draw(st.lists(finite, min_size=4, max_size=4)))
    se_steps = tuple(draw(st.lists(se, max_size=4)))
    while se_steps and se_steps[-1] is None:
        se_steps = se_steps[:-1]
    irt = IrtRecord(
        model="GPCM", a=draw(positive), thresholds=steps, se_thresholds=se_steps, **meta
    )
    return ItemRecord(
        item_id=draw(codes),
        subtest="TKP",
        content_area="tik",
        stem=stem,
        options=options,
        points=tuple(draw(st.lists(st.integers(1, 5), min_size=n, max_size=n))),
        status=draw(st.sampled_from(ItemStatus)),
        stem_format=stem_format,
        irt=irt if draw(st.booleans()) else None,
    )


def _unique(batch: list[ItemRecord]) -> list[ItemRecord]:
    seen: dict[str, ItemRecord] = {}
    for item in batch:
        seen.setdefault(item.item_id, item)
    return list(seen.values())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(items(), min_size=1, max_size=5).map(_unique))
def test_csv_round_trip_is_exact(batch: list[ItemRecord]) -> None:
    doc, _, problems = parse_csv(write_csv(batch)).to_document(SUBTESTS)
    assert problems == []
    assert list(doc.items) == batch


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(items(), min_size=1, max_size=5).map(_unique))
def test_json_round_trip_is_exact(batch: list[ItemRecord]) -> None:
    doc, _, problems = parse_json(write_json(items=batch)).to_document(SUBTESTS)
    assert problems == []
    assert list(doc.items) == batch


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=400))
def test_parsers_never_crash_on_garbage(text: str) -> None:
    for parse in (parse_csv, parse_json):
        doc, _, problems = parse(text).to_document(SUBTESTS)
        assert problems or doc.items is not None


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.sampled_from(["id", "subtest", "content_area", "stem", "option_a", "option_b", "key"])
        | st.text(max_size=8),
        max_size=8,
    ),
    st.lists(st.lists(st.text(max_size=12), max_size=9), max_size=5),
)
def test_csv_shaped_garbage_gives_problems_with_rows(
    header: list[str], rows: list[list[str]]
) -> None:
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    doc, _, problems = parse_csv(buf.getvalue()).to_document(SUBTESTS)
    for p in problems:
        assert p.row >= 0 and p.field and p.message
    assert problems or all(i.subtest in SUBTESTS for i in doc.items)


@settings(deadline=None)
@given(st.text(max_size=200))
def test_markdown_sanitising_is_idempotent_and_leaves_no_tags(text: str) -> None:
    once = sanitise_markdown(text)
    assert sanitise_markdown(once) == once
    assert "<" not in once and ">" not in once


def test_markdown_drops_script_links() -> None:
    out = sanitise_markdown("[klik](javascript:alert(1)) <script>x</script> ![](https://a/b.png)")
    assert "javascript:" not in out and "<script>" not in out
    assert "](https://a/b.png)" in out


@settings(max_examples=200, deadline=None)
@given(
    st.text(max_size=30),
    st.sampled_from(["javascript:", "JaVaScRiPt:", "vbscript:", "data:text/html,"]),
)
def test_no_unsafe_link_target_survives(prefix: str, scheme: str) -> None:
    out = sanitise_markdown(f"[klik]({scheme}{prefix})")
    assert f"]({scheme}" not in out
    assert sanitise_markdown(out) == out
