"""Stems and options as stored: normalised text, sanitised Markdown."""

from __future__ import annotations

import json

from item_bank.records import BankDocument
from item_bank.store import ItemStore


def test_markdown_stems_are_sanitised_and_text_is_normalised(
    sqlite_store: ItemStore, small_demo: BankDocument
) -> None:
    sqlite_store.define_subtests(small_demo.subtests)
    doc = {
        "items": [
            {
                "id": "MD-1",
                "subtest": "TWK",
                "content_area": "integritas",
                "stem_format": "markdown",
                "stem": "  **Perhatikan** <img src=x onerror=alert(1)>\r\n"
                "[tautan](javascript:alert(1))  ",
                "options": [" Ya ", "Tidak\r\n"],
                "key": "A",
            },
            {
                "id": "TX-1",
                "subtest": "TWK",
                "content_area": "integritas",
                "stem": "Tanda <b> pada teks biasa tetap apa adanya",
                "options": ["a", "b"],
                "key": "B",
            },
        ]
    }
    sqlite_store.import_text(json.dumps(doc), "json")
    md = sqlite_store.item("MD-1")
    assert md.stem == "**Perhatikan** &lt;img src=x onerror=alert(1)&gt;\n[tautan](#)"
    assert md.options == ("Ya", "Tidak")
    # Plain text is stored as typed; terminals show it as text, never as HTML.
    assert sqlite_store.item("TX-1").stem == "Tanda <b> pada teks biasa tetap apa adanya"
    # Importing the export again finds nothing changed (sanitising is idempotent).
    summary = sqlite_store.import_text(sqlite_store.export_text("json"), "json")
    assert set(summary.unchanged) == {"MD-1", "TX-1"}
