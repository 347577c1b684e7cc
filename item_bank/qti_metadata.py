"""What an imported item records besides its content: Seleksi's metadata
(placement, status, IRT parameters) or, from another tool, its provenance.
"""

from __future__ import annotations

from lxml import etree

from item_bank.markdown import normalise_text
from item_bank.qti_xml import SELEKSI_NS, XML_NS, attr


def _seleksi_fields(el: etree._Element, raw: dict[str, object]) -> None:
    for name, key in (
        ("subtest", "subtest"),
        ("content-area", "content_area"),
        ("status", "status"),
        ("version", "version"),
        ("enemy-group", "enemy_group"),
        ("source", "source"),
    ):
        raw[key] = el.get(name)
    irt = el.find(f"{{{SELEKSI_NS}}}irt")
    if irt is not None:
        out: dict[str, object] = {}
        for name in (
            "model",
            "a",
            "b",
            "c",
            "d",
            "se-a",
            "se-b",
            "se-c",
            "se-d",
            "sample-size",
            "scale",
            "run",
            "calibrated-at",
        ):
            out[name.replace("-", "_")] = irt.get(name)
        for name in ("thresholds", "se-thresholds"):
            value = irt.get(name)
            out[name.replace("-", "_")] = (
                [None if v == "-" else v for v in value.split()] if value is not None else None
            )
        raw["irt"] = out


def _provenance(root: etree._Element, package: str) -> str:
    """The source of an item from another tool: its title, language and tool."""
    title = normalise_text(attr(root, "title") or "")
    lang = root.get(f"{{{XML_NS}}}lang") or attr(root, "language") or ""
    tool = " ".join(x for x in (attr(root, "toolName"), attr(root, "toolVersion")) if x)
    parts = [f"QTI {package}"]
    if tool:
        parts.append(tool)
    described = f"{title} ({lang})" if lang and title else title or lang
    if described:
        parts.append(described)
    return ": ".join(parts)[:1000]
