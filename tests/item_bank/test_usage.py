"""Usage counts (exposure) add up per item id, across calls and repeats."""

from __future__ import annotations

from item_bank.records import BankDocument
from item_bank.store import ItemStore


def test_usage_accumulates(store: ItemStore, small_demo: BankDocument) -> None:
    store.import_document(small_demo)
    a, b, c = (i.item_id for i in small_demo.items[:3])
    store.add_usage([a, b, a])
    store.add_usage([a], count=3)
    store.add_usage([])
    assert store.usage() == {a: 5, b: 1}
    assert store.usage([b, c]) == {b: 1}
