"""Reading QTI 2.1, 2.2 and 3.0: content packages (zip + imsmanifest.xml) and single item files.

See docs/item-format.md ("QTI") for the mapping. In short: one
``choiceInteraction`` per item becomes a Seleksi item; its choices are the
options in document order; ``correctResponse`` gives the key (dichotomous
subtests, TWK/TIU) and a ``mapping`` the points of every option
(option-scored subtests, TKP 1–5) — the subtest's scoring decides which is
used. The stem is the item body without the interaction, plus its prompt.
Stems and choices that are plain paragraphs become ``text`` items; anything
richer (emphasis, tables, images) an ``html`` item, sanitised by
:mod:`item_bank.html`, its images stored in the bank. Subtest, content area,
status, version and IRT parameters come from Seleksi's metadata in the
manifest (packages Seleksi wrote) or from a mapping file (any package).

A package is untrusted input: it is read in memory with limits on its size,
its number of files, each file's size and the compression ratio (zip
bombs), member names that leave the package (``../``, absolute paths) refuse
it, and XML goes through :func:`item_bank.qti_xml.parse_xml` (no DTD, no
entities, no network). Every fault is a :class:`Problem`: by row (the
item's position among the manifest's item resources, from 1) when it
concerns one item, row 0 for the package as a whole.

The reading lives in modules by content, re-exported here (callers import
from ``item_bank.io_qti``): ``qti_package`` (the zip, its limits,
:class:`PackageError`), ``qti_mapping`` (mapping files), ``qti_reader``
(manifest and items), ``qti_scoring`` (key and points), ``qti_metadata``
(Seleksi metadata, provenance) and ``qti_content`` (XHTML as text or
HTML). :func:`parse_qti`, the entry point, is here.
"""

from __future__ import annotations

from collections.abc import Mapping

from item_bank.html import image_sources
from item_bank.parsed import ParsedFile
from item_bank.qti_content import STEM_WRAPPER_CLASS, html_fragments, text_content  # noqa: F401
from item_bank.qti_mapping import Placement, read_mapping
from item_bank.qti_package import (  # noqa: F401
    MAX_MEMBER_BYTES,
    MAX_PACKAGE_BYTES,
    MAX_RATIO,
    PackageError,
    _Package,
)
from item_bank.qti_reader import _Reader
from item_bank.qti_xml import UnsafeXmlError
from item_bank.records import Problem


def parse_qti(
    data: bytes, *, name: str = "package", mapping: Mapping[str, Placement] | None = None
) -> ParsedFile:
    """Read a QTI content package (zip) or a single item file (XML) into a :class:`ParsedFile`.

    ``mapping`` places items by id (``*``: every other item) in a subtest
    and content area; an item with Seleksi metadata keeps its own placement.
    """
    parsed = ParsedFile()
    reader = _Reader(parsed, mapping or {}, name)
    try:
        if data[:4] == b"PK\x03\x04" or data[:4] == b"PK\x05\x06":
            reader.read_package(_Package(data))
        else:
            reader.read_single(data)
    except PackageError as exc:
        parsed.raw_items.clear()
        parsed.media.clear()
        parsed.problems.append(Problem(0, "package", str(exc)))
    except UnsafeXmlError as exc:
        parsed.raw_items.clear()
        parsed.media.clear()
        parsed.problems.append(Problem(0, "package", str(exc)))
    parsed.finish = reader.finish
    return parsed


__all__ = [
    "MAX_MEMBER_BYTES",
    "MAX_RATIO",
    "PackageError",
    "Placement",
    "html_fragments",
    "image_sources",
    "parse_qti",
    "read_mapping",
    "text_content",
]
