"""Both languages complete, and no hard-coded bilingual labels on the terminal.

Reads ``proctor_ui/static/js/i18n.js`` as text (no JavaScript engine needed):
every key of one language must be in the other, none twice (a JavaScript
object silently keeps the last); every key the pages name in their HTML
(``data-i18n``, ``-placeholder``, ``-aria``, ``-title``) or as a literal in
their scripts (``S.t("…")``) must exist in both. The terminal's HTML
carries no text of its own outside a ``data-i18n`` element and no
"Indonesian / English" label.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from tests.proctor_ui.texts import I18N, STATIC, all_keys, page_blocks, scripts, shared_blocks

_blocks = shared_blocks


def test_parser_reads_the_blocks() -> None:
    """The reader itself: a key missing in one block is seen (guards the regexes)."""
    sample = 'const SELEKSI_TEXTS = {\n  id: {\n    "a.b": "x",\n    "c": "y",\n  },\n'
    sample += '  en: {\n    "a.b": "x",\n  },\n};\n'
    assert _blocks(sample) == {"id": ["a.b", "c"], "en": ["a.b"]}


def test_every_key_is_in_both_languages_once() -> None:
    blocks = _blocks(I18N.read_text())
    ids, ens = blocks["id"], blocks["en"]
    assert len(ids) > 100 and len(ens) > 100
    only_id = sorted(set(ids) - set(ens))
    only_en = sorted(set(ens) - set(ids))
    assert not only_id and not only_en, f"only Indonesian: {only_id}; only English: {only_en}"
    for lang, keys in blocks.items():
        twice = sorted({k for k in keys if keys.count(k) > 1})
        assert not twice, f"{lang}: keys given twice (the last one silently wins): {twice}"


class _Keys(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.keys: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name.startswith("data-i18n") and value:
                self.keys.add(value)


def test_each_pages_own_texts_are_in_both_languages_once() -> None:
    """A page's own table (its script's ``Object.assign(SELEKSI_TEXTS.xx, …)``):
    the same keys in both languages, none twice, none replacing a shared text."""
    shared = set(_blocks(I18N.read_text())["id"])
    seen = 0
    for script in scripts():
        blocks = page_blocks(script.read_text())
        if not blocks:
            continue
        seen += 1
        assert set(blocks) == {"id", "en"}, f"{script.name}: languages {sorted(blocks)}"
        ids, ens = blocks["id"], blocks["en"]
        assert set(ids) == set(ens), f"{script.name}: {sorted(set(ids) ^ set(ens))}"
        for keys in (ids, ens):
            assert len(keys) == len(set(keys)), f"{script.name}: a key given twice"
        assert not set(ids) & shared, f"{script.name} replaces {sorted(set(ids) & shared)}"
    assert seen >= 1


def test_the_page_table_reader_sees_what_it_must() -> None:
    sample = 'Object.assign(SELEKSI_TEXTS.id, {\n  "p.a": "x",\n  "p.b": "y",\n});\n'
    sample += 'Object.assign(SELEKSI_TEXTS.en, {\n  "p.a": "x",\n});\n'
    assert page_blocks(sample) == {"id": ["p.a", "p.b"], "en": ["p.a"]}


def test_every_key_the_pages_use_exists_in_both_languages() -> None:
    tables = all_keys()
    known = tables["id"] & tables["en"]
    used: dict[str, set[str]] = {}
    for html in sorted(STATIC.glob("*.html")):
        parser = _Keys()
        parser.feed(html.read_text())
        used[html.name] = parser.keys
    for js in sorted((STATIC / "js").glob("*.js")):
        # Literal keys only: S.t("status." + code) is built at run time.
        literal = r'\b(?:S|Seleksi)\.t\(\s*"([^"]+)"\s*[,)]'
        used[js.name] = set(re.findall(literal, js.read_text()))
    assert used["terminal.html"] and used["terminal.js"]
    missing = {page: sorted(keys - known) for page, keys in used.items() if keys - known}
    assert not missing, f"keys used but not in both languages: {missing}"


class _OwnText(HTMLParser):
    """Text of a page that no data-i18n element stands for, and bilingual labels."""

    SKIP = frozenset({"script", "style", "title"})
    VOID = frozenset({"meta", "link", "input", "img", "br", "hr", "source", "area", "col", "wbr"})
    LABELS = ("aria-label", "title", "placeholder", "alt")

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, bool]] = []
        self.untranslated: list[str] = []
        self.bilingual: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        for label in self.LABELS:
            value = names.get(label) or ""
            if re.search(r"[A-Za-z]", value) and f"data-i18n-{label.split('-')[-1]}" not in names:
                self.untranslated.append(f"<{tag} {label}={value!r}>")
            if _bilingual(value):
                self.bilingual.append(value)
        if tag not in self.VOID:
            self.stack.append((tag, "data-i18n" in names))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        text = data.strip()
        if not text or any(t in self.SKIP for t, _ in self.stack):
            return
        if _bilingual(text):
            self.bilingual.append(text)
        translated = bool(self.stack) and self.stack[-1][1]
        if re.search(r"[A-Za-z]", text) and not translated:
            self.untranslated.append(text)


def _bilingual(text: str) -> bool:
    """ "Kode / Code": words on both sides of a slash."""
    return re.search(r"[A-Za-z]{2,}\s*/\s*[A-Za-z]{2,}", text) is not None


def test_the_terminal_has_no_hard_coded_or_bilingual_labels() -> None:
    parser = _OwnText()
    parser.feed((STATIC / "terminal.html").read_text())
    assert parser.bilingual == []
    assert parser.untranslated == [], "text on the terminal that the language switch misses"


def test_the_checker_sees_what_it_must() -> None:
    parser = _OwnText()
    parser.feed(
        '<p data-i18n="a">Nomor</p><label>Kode / Code</label><b>Nama</b>'
        '<input aria-label="Cari"><span data-i18n="b">x</span>: --:--'
    )
    assert parser.bilingual == ["Kode / Code"]
    assert parser.untranslated == ["Kode / Code", "Nama", "<input aria-label='Cari'>"]
