"""An import succeeds while another connection keeps writing to the same SQLite file."""

from __future__ import annotations

import threading
from pathlib import Path

from item_bank.database import open_engine, sqlite_url
from item_bank.demo import generate_demo_bank
from item_bank.records import BankDocument
from item_bank.store import ItemStore


def test_import_while_another_connection_writes(tmp_path: Path, small_demo: BankDocument) -> None:
    url = sqlite_url(tmp_path / "shared.db")
    store = ItemStore(open_engine(url))
    store.create_tables()
    store.import_document(small_demo)
    other = ItemStore(open_engine(url))  # a second engine, as the server would have
    ids = [i.item_id for i in small_demo.items[:10]]
    stop = threading.Event()
    writes = 0

    def keep_writing() -> None:
        nonlocal writes
        while not stop.is_set():
            other.add_usage(ids)
            writes += 1

    worker = threading.Thread(target=keep_writing)
    worker.start()
    try:
        # Reads then writes in one transaction, over and over, against the writer.
        for seed in (8, 9, 10):
            summary = store.import_document(generate_demo_bank(seed=seed, per_subtest=30))
            assert summary.new_versions
    finally:
        stop.set()
        worker.join()
    assert writes > 0
    assert store.usage(ids[:1]) == {ids[0]: writes}
