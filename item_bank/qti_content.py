"""The XHTML content of QTI items: which elements an item's text may hold, and
that content as plain text (``text`` items) or as an HTML fragment
(``html`` items, sanitised later by :mod:`item_bank.html`).
"""

from __future__ import annotations

import re

from lxml import etree
from lxml import html as lxml_html

from item_bank.html import ALLOWED_TAGS
from item_bank.markdown import normalise_text
from item_bank.qti_xml import local_name, name_of

# Only plain text and these block wrappers make a text item; anything else html.
_TEXT_BLOCKS = frozenset({"p", "div", "pre"})
_TEXT_INLINE = frozenset({"span", "br"})
# XHTML the importer accepts in an item's text: what the bank keeps
# (item_bank.html.ALLOWED_TAGS) and what it unwraps to its text.
_XHTML_ALLOWED_IN_HTML = ALLOWED_TAGS | frozenset(
    {
        "small",
        "big",
        "tt",
        "abbr",
        "acronym",
        "cite",
        "dfn",
        "kbd",
        "q",
        "samp",
        "var",
        "address",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "dl",
        "dt",
        "dd",
        "col",
        "colgroup",
        "label",
        "u",
        "s",
        "mark",
        "bdo",
        "bdi",
        "ruby",
        "rt",
        "rp",
        "figure",
        "figcaption",
        "section",
        "article",
        "aside",
        "header",
        "footer",
        "nav",
    }
)
# Shown only after an answer or to scorers: Seleksi shows no feedback, so dropped.
_DROPPED = frozenset(
    {"feedbackBlock", "feedbackInline", "modalFeedback", "rubricBlock", "stylesheet"}
)
_MEDIA_ELEMENTS = frozenset({"object", "audio", "video", "embed", "iframe", "source", "track"})
_WS = re.compile(r"[ \t\r\n]+")
STEM_WRAPPER_CLASS = "seleksi-stem"


def _copy(el: etree._Element) -> etree._Element:
    out = etree.fromstring(etree.tostring(el, with_tail=False))
    return out


def _remove_keep_tail(el: etree._Element) -> None:
    parent = el.getparent()
    if parent is None:
        return
    tail = el.tail or ""
    prev = el.getprevious()
    if prev is not None:
        prev.tail = (prev.tail or "") + tail
    else:
        parent.text = (parent.text or "") + tail
    parent.remove(el)


def _is_rich(node: etree._Element) -> bool:
    """True if a node holds markup beyond paragraphs and line breaks."""
    for el in node.iter():
        if el is node or not isinstance(el.tag, str):
            continue
        n = name_of(el)
        if n in _TEXT_BLOCKS or n in _TEXT_INLINE or n in _DROPPED:
            continue
        return True
    return False


def text_content(node: etree._Element) -> str:
    """Plain text of a node's content: paragraphs apart by a blank line, ``br`` a line end.

    Whitespace is collapsed as a browser shows it, except inside ``pre``,
    whose text is kept exactly (Seleksi writes text that would not survive
    collapsing in ``pre``).
    """
    blocks: list[str] = []
    line: list[str] = []

    def flush() -> None:
        text = "".join(line)
        line.clear()
        text = "\n".join(part.strip(" ") for part in text.split("\n")).strip()
        if text:
            blocks.append(text)

    def inline_text(text: str | None) -> None:
        if text:
            line.append(_WS.sub(" ", text))

    def walk(el: etree._Element) -> None:
        inline_text(el.text)
        for child in el:
            if not isinstance(child.tag, str):
                inline_text(child.tail)
                continue
            n = name_of(child)
            if n == "br":
                line.append("\n")
            elif n == "pre":
                flush()
                exact = "".join(child.itertext())
                if exact.strip():
                    blocks.append(normalise_text(exact))
            elif n in _TEXT_BLOCKS:
                flush()
                walk(child)
                flush()
            else:
                walk(child)
            inline_text(child.tail)

    walk(node)
    flush()
    return "\n\n".join(blocks)


def _unwrap_stem(body: etree._Element) -> etree._Element:
    """The body, or Seleksi's stem wrapper in it (``div class="seleksi-stem"``)."""
    kids = [c for c in body if isinstance(c.tag, str)]
    if (
        len(kids) == 1
        and name_of(kids[0]) == "div"
        and kids[0].get("class") == STEM_WRAPPER_CLASS
        and not (body.text or "").strip()
        and not (kids[0].tail or "").strip()
    ):
        return kids[0]
    return body


def _html_content(node: etree._Element) -> str:
    """A node's content (text and children) as an HTML fragment, namespaces removed."""
    copy = _copy(node)
    for el in copy.iter():
        if isinstance(el.tag, str):
            el.tag = local_name(el)
            for key in list(el.attrib):
                if key.startswith("{"):
                    del el.attrib[key]
    etree.cleanup_namespaces(copy)
    parts = [_escape(copy.text or "")]
    for child in copy:
        parts.append(etree.tostring(child, method="html", encoding="unicode", with_tail=False))
        parts.append(_escape(child.tail or ""))
    return "".join(parts)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def html_fragments(fragment: str) -> list[str | lxml_html.HtmlElement]:
    """A stored HTML fragment as lxml nodes (text pieces and elements)."""
    return list(lxml_html.fragments_fromstring(fragment)) if fragment.strip() else []
