"""Sanitising HTML stems and options (items imported from QTI) before they are stored.

QTI items carry XHTML: emphasis, tables, images. Seleksi keeps it as an
``html`` item, and a terminal will put it into its page, so nothing that
could run code or load anything from elsewhere may survive:

* only the elements in :data:`ALLOWED_TAGS` are kept (others are unwrapped:
  their text stays); ``script``, ``style``, ``iframe``, ``object`` … go with
  their content;
* no attribute survives except ``img src/alt`` and table cell spans: no
  ``on*`` event handlers, no ``style``, no ``class`` or ``id``;
* an image's ``src`` must be a picture stored in the bank
  (``media/<sha256>.<ext>``, see :func:`media_href`); any absolute URL
  (``http:``, ``data:``, ``javascript:`` …) is removed, so a terminal never
  loads anything from outside the exam server.

The work is done by ``nh3`` (Python bindings of the Rust ``ammonia``
sanitiser, which parses with the html5ever HTML5 parser, the same algorithm a
browser uses): hand-written regular expressions cannot follow how browsers
repair broken markup, which is where sanitiser bypasses live. The result is
re-serialised by lxml with an ``alt`` on every image (QTI requires one), and
is a fixed point: sanitising it again changes nothing, which the round trip
Seleksi → QTI → Seleksi relies on.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping

import nh3
from lxml import etree
from lxml import html as lxml_html

from item_bank.markdown import normalise_text

# Elements QTI 2.2 and 3.0 both allow in item bodies and choices, minus
# anything that loads or runs something (object, a, audio …).
ALLOWED_TAGS: frozenset[str] = frozenset(
    {
        "p",
        "br",
        "div",
        "span",
        "strong",
        "em",
        "b",
        "i",
        "sub",
        "sup",
        "code",
        "pre",
        "blockquote",
        "ul",
        "ol",
        "li",
        "table",
        "caption",
        "thead",
        "tbody",
        "tfoot",
        "tr",
        "th",
        "td",
        "img",
        "hr",
    }
)
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "img": {"src", "alt"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}
# Removed together with their content (their text is code or another document).
DROPPED_WITH_CONTENT = frozenset(
    {"script", "style", "iframe", "object", "embed", "noscript", "template", "math", "svg"}
)

# Images the bank stores, by what their bytes say (not by the file's extension).
MEDIA_TYPES: dict[str, str] = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
}
MEDIA_HREF = re.compile(r"^media/([0-9a-f]{64})\.(png|jpg|gif|webp)$")
_SPAN = re.compile(r"^[1-9][0-9]{0,2}$")


def _keep_attribute(tag: str, attr: str, value: str) -> str | None:
    if tag == "img" and attr == "src":
        return value if MEDIA_HREF.match(value) else None
    if attr in ("colspan", "rowspan"):
        return value if _SPAN.match(value) else None
    return value


def sanitise_html(fragment: str) -> str:
    """A safe HTML fragment (see the module docstring); idempotent."""
    clean = nh3.clean(
        normalise_text(fragment),
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_keep_attribute,
        url_schemes=set(),
        strip_comments=True,
        link_rel=None,
    )
    if not clean.strip():
        return ""
    parts = lxml_html.fragments_fromstring(clean)
    out: list[str] = []
    for part in parts:
        if isinstance(part, str):
            out.append(_escape_text(part))
            continue
        for img in part.iter("img"):
            if img.get("alt") is None:
                img.set("alt", "")
        out.append(lxml_html.tostring(part, encoding="unicode", with_tail=True))
    return normalise_text("".join(out))


def _escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def image_sources(fragment: str) -> list[str]:
    """The ``src`` of every ``img`` in an HTML fragment, as written (before sanitising)."""
    if "<" not in fragment:
        return []
    try:
        parts = lxml_html.fragments_fromstring(fragment)
    except (etree.ParserError, ValueError):
        return []
    return [
        str(img.get("src") or "")
        for part in parts
        if not isinstance(part, str)
        for img in part.iter("img")
    ]


def sniff_image_type(data: bytes) -> str | None:
    """The MIME type of a PNG, JPEG, GIF or WebP image from its first bytes, else None.

    SVG is not accepted: it is a document that can hold script.
    """
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def media_href(data: bytes, mime_type: str) -> tuple[str, str]:
    """``(sha256, "media/<sha256>.<ext>")`` of an image's bytes."""
    digest = hashlib.sha256(data).hexdigest()
    return digest, f"media/{digest}.{MEDIA_TYPES[mime_type]}"


def media_digests(fragment: str) -> list[str]:
    """The SHA-256 of every bank image (``media/<sha256>.<ext>``) an HTML fragment shows."""
    return [m.group(1) for src in image_sources(fragment) if (m := MEDIA_HREF.match(src))]


def inline_media(fragment: str, media: Mapping[str, tuple[str, bytes]]) -> str:
    """A sanitised fragment made self-contained for a terminal: each bank image
    (``media/<sha256>.<ext>``) becomes a ``data:`` URI of its bytes.

    media: sha256 → (MIME type, bytes), from :meth:`item_bank.store.ItemStore.media`.
    The fragment is sanitised first (:func:`sanitise_html`: a row changed in the
    database behind the importer's back gets the same treatment); an image
    whose bytes the bank does not hold, or whose type is not a picture type,
    loses its ``src`` and keeps its ``alt`` text. Why inline: the terminal
    then needs no media URL that anyone could fetch (items are confidential
    until the session) and loads nothing after the item arrives.
    """
    clean = sanitise_html(fragment)
    if "<img" not in clean:
        return clean
    parts = lxml_html.fragments_fromstring(clean)
    out: list[str] = []
    for part in parts:
        if isinstance(part, str):
            out.append(_escape_text(part))
            continue
        for img in part.iter("img"):
            m = MEDIA_HREF.match(str(img.get("src") or ""))
            found = media.get(m.group(1)) if m else None
            if found is None or found[0] not in MEDIA_TYPES:
                img.attrib.pop("src", None)
                continue
            mime, data = found
            img.set("src", f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}")
        out.append(lxml_html.tostring(part, encoding="unicode", with_tail=True))
    return "".join(out)
