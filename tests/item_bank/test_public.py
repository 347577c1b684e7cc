"""What a terminal receives carries no key, no points and no parameters."""

from __future__ import annotations

import pytest

from item_bank.models import ItemPublic, OptionPublic
from item_bank.records import BankDocument
from item_bank.store import ItemStore


def test_public_models_have_no_secret_fields() -> None:
    secret = {"key", "points", "status", "irt", "a", "b", "c", "enemy_group", "source"}
    assert not secret & set(ItemPublic.model_fields)
    assert not secret & set(OptionPublic.model_fields)


def test_public_items_show_stem_and_options_only(
    store: ItemStore, small_demo: BankDocument
) -> None:
    store.import_document(small_demo)
    twk = next(i for i in small_demo.items if i.subtest == "TWK")
    tkp = next(i for i in small_demo.items if i.subtest == "TKP")
    public = store.public_items([tkp.item_id, twk.item_id])
    assert [p.item_id for p in public] == [tkp.item_id, twk.item_id]  # order kept
    assert public[1].stem == twk.stem
    assert [o.text for o in public[1].options] == list(twk.options)
    for item in public:
        wire = item.model_dump_json()
        assert '"key"' not in wire and '"points"' not in wire and "3PL" not in wire
    assert set(public[0].model_dump()) == {
        "item_id",
        "version",
        "stem",
        "stem_format",
        "subtest",
        "options",
    }


def test_unknown_ids_are_named(store: ItemStore, small_demo: BankDocument) -> None:
    store.import_document(small_demo)
    with pytest.raises(KeyError, match="NOPE-1"):
        store.public_items([small_demo.items[0].item_id, "NOPE-1"])
