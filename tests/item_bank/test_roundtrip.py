"""Import → export → import of the demo bank loses nothing (CSV and JSON, both backends)."""

from __future__ import annotations

from pathlib import Path

import pytest

from item_bank.database import open_engine, sqlite_url
from item_bank.records import BankDocument
from item_bank.store import ItemStore


def test_demo_bank_survives_export_and_reimport(
    store: ItemStore, demo_bank: BankDocument, tmp_path: Path
) -> None:
    first = store.import_document(demo_bank)
    assert len(first.created) == len(demo_bank.items) == 1800

    exported = store.export_document()
    # Exactly what went in: every stem, option, key, point, status and parameter.
    assert exported == demo_bank

    csv_text = store.export_text("csv")
    json_text = store.export_text("json")
    for fmt, text in (("csv", csv_text), ("json", json_text)):
        fresh = ItemStore(open_engine(sqlite_url(tmp_path / f"fresh-{fmt}.db")))
        fresh.create_tables()
        if fmt == "csv":  # CSV holds items only: the subtests come first, from JSON
            fresh.define_subtests(demo_bank.subtests)
        fresh.import_text(text, fmt)
        assert fresh.export_document() == exported, fmt
        # And the file written again is byte-for-byte the same file.
        assert fresh.export_text(fmt) == text, fmt
        fresh.engine.dispose()


def test_reimporting_the_export_changes_nothing(store: ItemStore, small_demo: BankDocument) -> None:
    store.import_document(small_demo)
    before = store.counts()
    for fmt in ("csv", "json"):
        summary = store.import_text(store.export_text(fmt), fmt)
        assert summary.created == summary.new_versions == summary.recalibrated == ()
        assert len(summary.unchanged) == len(small_demo.items)
    assert store.counts() == before


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_file_round_trip_through_disk(
    sqlite_store: ItemStore, small_demo: BankDocument, tmp_path: Path, fmt: str
) -> None:
    sqlite_store.import_document(small_demo)
    path = tmp_path / f"bank.{fmt}"
    path.write_text(sqlite_store.export_text(fmt), encoding="utf-8")
    other = ItemStore(open_engine(sqlite_url(tmp_path / "other.db")))
    other.create_tables()
    other.define_subtests(small_demo.subtests)
    other.import_file(path)
    assert other.export_document() == sqlite_store.export_document()
