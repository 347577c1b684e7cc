"""What QTI 2.1, 2.2 and 3.0 share, for reading and writing: names, namespaces, safe parsing.

QTI 3.0 renamed every element and attribute (``choiceInteraction`` became
``qti-choice-interaction``, ``maxChoices`` became ``max-choices``); the
reader works on the 2.x names and :func:`qti_name` maps 3.0 names to them.
XHTML elements inside items (``p``, ``img`` …) have the same names in both
and live in the item's namespace.

Parsing untrusted XML: no DTD at all (QTI needs none; a DOCTYPE is how
entity-expansion attacks and external entities get in), no entity
resolution, no network, libxml2's default limits on depth and text size.
"""

from __future__ import annotations

import re

from lxml import etree

QTI_NS: dict[str, str] = {
    "2.1": "http://www.imsglobal.org/xsd/imsqti_v2p1",
    "2.2": "http://www.imsglobal.org/xsd/imsqti_v2p2",
    "3.0": "http://www.imsglobal.org/xsd/imsqtiasi_v3p0",
}
QTI_VERSION_OF_NS = {ns: version for version, ns in QTI_NS.items()}
CP_NS: dict[str, str] = {
    "2.1": "http://www.imsglobal.org/xsd/imscp_v1p1",
    "2.2": "http://www.imsglobal.org/xsd/imscp_v1p1",
    "3.0": "http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1",
}
LOM_NS = "http://ltsc.ieee.org/xsd/LOM"
XML_NS = "http://www.w3.org/XML/1998/namespace"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
# Seleksi's own metadata (subtest, status, IRT parameters …) travels inside
# the LOM record of each resource, which admits elements of other namespaces.
SELEKSI_NS = "urn:seleksi:item-bank:qti:1"

_DOCTYPE = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)


class UnsafeXmlError(ValueError):
    """A document refused before or while parsing (DTD, entities, not well-formed)."""


def parse_xml(data: bytes, where: str) -> etree._Element:
    """The root element of an XML document from an untrusted package.

    Raises :class:`UnsafeXmlError` with a message naming ``where`` for a
    document with a DOCTYPE or entity declaration (refused outright: QTI has
    no use for them, and they carry entity-expansion and external-entity
    attacks) or one that is not well-formed.
    """
    if _DOCTYPE.search(data):
        raise UnsafeXmlError(
            f"{where}: has a DOCTYPE/ENTITY declaration; QTI files need none and they are "
            "refused (entity expansion, external entities)"
        )
    parser = etree.XMLParser(
        resolve_entities=False,
        load_dtd=False,
        dtd_validation=False,
        no_network=True,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise UnsafeXmlError(f"{where}: not well-formed XML ({exc.msg})") from exc
    except ValueError as exc:  # e.g. a document lxml cannot decode
        raise UnsafeXmlError(f"{where}: not readable XML ({exc})") from exc
    if root is None:
        raise UnsafeXmlError(f"{where}: empty document")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise UnsafeXmlError(f"{where}: has a DOCTYPE; refused (entity expansion)")
    return root


def local_name(el: etree._Element) -> str:
    """An element's name without its namespace ('' for comments and the like)."""
    tag = el.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def namespace(el: etree._Element) -> str:
    tag = el.tag
    return tag[1 : tag.index("}")] if isinstance(tag, str) and tag.startswith("{") else ""


def qti_name(name: str) -> str:
    """A QTI 3.0 element/attribute name in its 2.x spelling (others unchanged).

    ``qti-choice-interaction`` → ``choiceInteraction``; ``max-choices`` → ``maxChoices``.
    """
    if name.startswith("qti-"):
        name = name[4:]
    if "-" not in name:
        return name
    head, *rest = name.split("-")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def qti3_name(name: str, *, element: bool) -> str:
    """A 2.x QTI name in its 3.0 spelling: ``choiceInteraction`` → ``qti-choice-interaction``."""
    kebab = re.sub(r"(?<!^)([A-Z])", r"-\1", name).lower()
    return f"qti-{kebab}" if element else kebab


def name_of(el: etree._Element) -> str:
    """The 2.x name of a QTI element, or the plain name of an XHTML one."""
    return qti_name(local_name(el))


def attr(el: etree._Element, name: str) -> str | None:
    """An attribute by its 2.x name, whichever spelling the document uses."""
    value = el.get(name)
    if value is None:
        value = el.get(qti3_name(name, element=False))
    return value
