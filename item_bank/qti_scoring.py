"""An item's key and option points from its QTI response declaration."""

from __future__ import annotations

from collections.abc import Mapping

from lxml import etree

from item_bank.qti_xml import attr, name_of
from item_bank.records import OPTION_LETTERS


def _scoring(
    declaration: etree._Element | None,
    choices: list[etree._Element],
    letters: Mapping[str, str],
) -> tuple[str | None, list[str] | None, list[tuple[str, str]]]:
    """(key letter, points per option, problems) from a response declaration."""
    if declaration is None:
        return None, None, [("responseDeclaration", "the interaction's response is not declared")]
    fails: list[tuple[str, str]] = []
    cardinality = attr(declaration, "cardinality") or "single"
    if cardinality != "single":
        fails.append(
            ("responseDeclaration", f"cardinality {cardinality}; Seleksi takes one answer")
        )
    key: str | None = None
    correct = next((c for c in declaration if name_of(c) == "correctResponse"), None)
    if correct is not None:
        values = [(v.text or "").strip() for v in correct if name_of(v) == "value"]
        if len(values) > 1:
            fails.append(
                ("correctResponse", f"{len(values)} correct responses; an item has one key")
            )
        elif values:
            key = letters.get(values[0])
            if key is None:
                fails.append(
                    (
                        "correctResponse",
                        f"the correct response {values[0]!r} is not one of the choices",
                    )
                )
    points: list[str] | None = None
    mapping = next((c for c in declaration if name_of(c) == "mapping"), None)
    if mapping is not None:
        default = attr(mapping, "defaultValue") or "0"
        by_choice = {
            (attr(e, "mapKey") or ""): (attr(e, "mappedValue") or "")
            for e in mapping
            if name_of(e) == "mapEntry"
        }
        unknown = sorted(set(by_choice) - set(letters))
        if unknown:
            fails.append(("mapping", f"points for {', '.join(unknown)}, which is not a choice"))
        points = [_whole(by_choice.get(attr(c, "identifier") or "", default)) for c in choices]
    if key is None and points is not None:
        # A dichotomous item written as a mapping only: the one option worth most.
        worth = [_number(p) for p in points]
        top = max((v for v in worth if v is not None), default=None)
        if top is not None and top > 0 and worth.count(top) == 1:
            key = OPTION_LETTERS[worth.index(top)]
    return key, points, fails


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _whole(text: str) -> str:
    """'4.0' → '4' (QTI maps to floats; Seleksi points are whole and checked as such)."""
    num = _number(text.strip())
    return str(int(num)) if num is not None and num.is_integer() else text.strip()
