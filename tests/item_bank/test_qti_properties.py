"""Property tests of the QTI reader and the HTML sanitiser: whatever arrives — random bytes,
random zips, random QTI-like XML, mutilated real packages — the reader returns items or
clear problems and never raises; sanitised HTML is safe and a fixed point."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from item_bank.html import sanitise_html
from item_bank.io_qti import Placement, parse_qti
from item_bank.parsed import ParsedFile
from item_bank.records import ContentAreaSpec, ScoringMode, SubtestSpec

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "qti" / "samples"
PLACE = {"*": Placement("TWK", "pilar_negara")}
SUBTESTS = {
    "TWK": SubtestSpec(
        "TWK", "TWK", ScoringMode.DICHOTOMOUS, content_areas=(ContentAreaSpec("pilar_negara", "P"),)
    )
}
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _read(data: bytes) -> ParsedFile:
    """The reader and the check against subtests, as an import runs them."""
    parsed = parse_qti(data, name="fuzz", mapping=PLACE)
    parsed.to_document(SUBTESTS)
    for problem in parsed.problems:
        assert problem.message and str(problem)
    return parsed


@SETTINGS
@given(st.binary(max_size=2000))
def test_random_bytes_never_crash(data: bytes) -> None:
    _read(data)
    _read(b"PK\x03\x04" + data)


names = st.sampled_from(
    ["imsmanifest.xml", "items/a.xml", "a.xml", "../a.xml", "/abs.xml", "img/x.png", "dir/"]
) | st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=20)


@SETTINGS
@given(st.dictionaries(names, st.binary(max_size=500), max_size=5))
def test_random_zips_never_crash(members: dict[str, bytes]) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    _read(out.getvalue())


QTI22 = "http://www.imsglobal.org/xsd/imsqti_v2p2"
tags = st.sampled_from(
    [
        "assessmentItem",
        "itemBody",
        "responseDeclaration",
        "correctResponse",
        "value",
        "mapping",
        "mapEntry",
        "choiceInteraction",
        "simpleChoice",
        "prompt",
        "p",
        "div",
        "img",
        "br",
        "script",
        "math",
        "textEntryInteraction",
        "feedbackInline",
        "templateDeclaration",
        "qti-choice-interaction",
        "qti-simple-choice",
    ]
)
attrs = st.dictionaries(
    st.sampled_from(
        [
            "identifier",
            "responseIdentifier",
            "maxChoices",
            "mapKey",
            "mappedValue",
            "src",
            "cardinality",
            "onclick",
            "defaultValue",
            "adaptive",
        ]
    ),
    st.sampled_from(
        ["RESPONSE", "A", "B", "1", "2", "x", "../x.png", "http://e/x.png", "multiple"]
    ),
    max_size=3,
)
texts = st.text(st.characters(codec="utf-8", categories=["L", "N", "P", "Zs"]), max_size=12)


def _xml(tree: object) -> str:
    if isinstance(tree, str):
        return tree.replace("&", "&amp;").replace("<", "&lt;")
    assert isinstance(tree, tuple)
    tag: str = tree[0]
    attributes: dict[str, str] = tree[1]
    children: list[object] = tree[2]
    a = "".join(f' {k}="{v}"' for k, v in attributes.items())
    return f"<{tag}{a}>{''.join(_xml(c) for c in children)}</{tag}>"


trees = st.recursive(
    texts,
    lambda kids: st.tuples(tags, attrs, st.lists(kids, max_size=4)),
    max_leaves=25,
)


@SETTINGS
@given(st.lists(trees, max_size=4), attrs)
def test_random_qti_like_items_never_crash(
    children: list[object], root_attrs: dict[str, str]
) -> None:
    body = "".join(_xml(c) for c in children)
    a = "".join(f' {k}="{v}"' for k, v in root_attrs.items())
    item = f'<assessmentItem xmlns="{QTI22}"{a}>{body}</assessmentItem>'
    parsed = _read(item.encode())
    assert parsed.raw_items or parsed.problems


@SETTINGS
@given(st.data())
def test_mutilated_real_packages_never_crash(data: st.DataObject) -> None:
    package = bytearray((SAMPLES / "tao-qti21-unattended-luggage.zip").read_bytes())
    for _ in range(data.draw(st.integers(1, 8))):
        i = data.draw(st.integers(0, len(package) - 1))
        package[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(len(package) // 2, len(package)))
    _read(bytes(package[:cut]))


html_bits = st.lists(
    st.sampled_from(
        [
            "<p>",
            "</p>",
            "<script>alert(1)</script>",
            '<img src="x" onerror="a()">',
            "<b>",
            "</b>",
            '<a href="javascript:x">',
            "</a>",
            "<style>*{}</style>",
            "<iframe src=//e>",
            "&amp;",
            "&nbsp;",
            "<",
            ">",
            '"',
            "text",
            " ",
            "\n",
            "<table><tr><td>1",
            "<!-- c -->",
            '<img src="media/' + "a" * 64 + '.png">',
            "<svg onload=x>",
            "<math><mi>x</mi></math>",
        ]
    ),
    max_size=20,
).map("".join)


@SETTINGS
@given(html_bits)
def test_sanitised_html_is_safe_and_a_fixed_point(fragment: str) -> None:
    clean = sanitise_html(fragment)
    assert sanitise_html(clean) == clean
    lowered = clean.lower()
    for bad in ("<script", "<iframe", "<style", "<svg", "<math", "javascript:", "<a "):
        assert bad not in lowered
    assert not re.search(r"\son[a-z]+\s*=", lowered)
    for src in re.findall(r'src="([^"]*)"', clean):
        assert src.startswith("media/")
