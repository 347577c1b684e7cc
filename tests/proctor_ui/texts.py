"""The pages' texts as the browser gets them, read as text (no JavaScript engine).

``i18n.js`` holds the shared table (``const SELEKSI_TEXTS = {id: {…}, en: {…}}``);
a page with many texts of its own adds them from its script, before the page is
translated, with ``Object.assign(SELEKSI_TEXTS.id, {…})`` and the same for
``en`` (forensics, SKB, the centre): one file per page instead of every page's
texts in one shared file. The tests of both languages read both kinds.
"""

from __future__ import annotations

import re
from pathlib import Path

import proctor_ui

STATIC = Path(proctor_ui.__file__).parent / "static"
I18N = STATIC / "js" / "i18n.js"
KEY = re.compile(r'^\s+"([^"\\]+)"\s*:', re.MULTILINE)
PAGE_TABLE = re.compile(r"Object\.assign\(SELEKSI_TEXTS\.(\w+), \{\n(.*?)\n\}\);", re.DOTALL)


def shared_blocks(source: str) -> dict[str, list[str]]:
    """The keys of each language block of i18n.js's SELEKSI_TEXTS, in order (repeats kept)."""
    body = source[source.index("const SELEKSI_TEXTS = {") :]
    body = body[: body.index("\n};")]
    starts = list(re.finditer(r"^  (\w+): \{$", body, re.MULTILINE))
    assert [m.group(1) for m in starts] == ["id", "en"], "expected the id block, then en"
    out: dict[str, list[str]] = {}
    for i, m in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(body)
        out[m.group(1)] = KEY.findall(body[m.end() : end])
    return out


def page_blocks(source: str) -> dict[str, list[str]]:
    """The keys a script adds to each language (``Object.assign(SELEKSI_TEXTS.xx, {…})``)."""
    out: dict[str, list[str]] = {}
    for lang, body in PAGE_TABLE.findall(source):
        out.setdefault(lang, []).extend(KEY.findall(body))
    return out


def scripts() -> list[Path]:
    return sorted((STATIC / "js").glob("*.js"))


def all_keys() -> dict[str, set[str]]:
    """Every key of each language: the shared table and every page's own."""
    tables = {lang: set(keys) for lang, keys in shared_blocks(I18N.read_text("utf-8")).items()}
    for script in scripts():
        for lang, keys in page_blocks(script.read_text("utf-8")).items():
            tables.setdefault(lang, set()).update(keys)
    return tables
