"""Re-importing an item id: new versions for changes, old versions kept for audit."""

from __future__ import annotations

from dataclasses import replace

from item_bank.arrays import load_bank
from item_bank.records import BankDocument, ItemRecord
from item_bank.store import ItemStore


def _first(doc: BankDocument, subtest: str) -> ItemRecord:
    return next(
        i
        for i in doc.items
        if i.subtest == subtest and i.irt is not None and i.status.value == "operational"
    )


def test_changed_item_gets_a_new_version_and_the_old_one_stays(
    store: ItemStore, small_demo: BankDocument
) -> None:
    store.import_document(small_demo)
    old = _first(small_demo, "TWK")
    changed = replace(old, stem=old.stem + " (diperbaiki)", key=((old.key or 0) + 1) % 5)

    summary = store.import_document(BankDocument(items=(changed,)))

    assert summary.new_versions == (old.item_id,)
    assert store.item(old.item_id).version == 2
    assert store.item(old.item_id).stem.endswith("(diperbaiki)")
    history = store.history(old.item_id)
    assert [h.version for h in history] == [1, 2]
    assert history[0] == old  # the audit copy is exactly what was first imported
    # Exports and the engine's arrays see the current version only.
    assert [i.item_id for i in store.export_document().items].count(old.item_id) == 1
    loaded = load_bank(store)
    i = loaded.arrays.index_of(old.item_id)
    assert loaded.versions[i] == 2
    assert loaded.arrays.option_points[i, changed.key] == 5.0


def test_unchanged_reimport_adds_no_version(store: ItemStore, small_demo: BankDocument) -> None:
    store.import_document(small_demo)
    item = _first(small_demo, "TIU")
    summary = store.import_document(BankDocument(items=(item,)))
    assert summary.unchanged == (item.item_id,)
    assert len(store.history(item.item_id)) == 1


def test_new_parameters_alone_are_a_recalibration_not_a_version(
    store: ItemStore, small_demo: BankDocument
) -> None:
    store.import_document(small_demo)
    item = _first(small_demo, "TKP")
    assert item.irt is not None
    recalibrated = replace(item, irt=replace(item.irt, a=1.5, run="kalibrasi-2025"))
    summary = store.import_document(BankDocument(items=(recalibrated,)))
    assert summary.recalibrated == (item.item_id,)
    assert len(store.history(item.item_id)) == 1
    current = store.item(item.item_id)
    assert current.irt is not None and current.irt.a == 1.5
    assert current.irt.run == "kalibrasi-2025"


def test_record_calibration_stores_a_run_for_current_items(
    store: ItemStore, small_demo: BankDocument
) -> None:
    store.import_document(small_demo)
    item = _first(small_demo, "TWK")
    assert item.irt is not None
    run_id = store.record_calibration(
        {item.item_id: replace(item.irt, b=0.75)}, run="online-2025", scale="skd-demo"
    )
    assert run_id > 0
    stored = store.item(item.item_id).irt
    assert stored is not None and stored.b == 0.75 and stored.run == "online-2025"


def test_version_from_the_file_is_kept_for_a_new_item(
    store: ItemStore, small_demo: BankDocument
) -> None:
    store.define_subtests(small_demo.subtests)
    item = replace(small_demo.items[0], version=7)
    store.import_document(BankDocument(items=(item,)))
    assert store.item(item.item_id).version == 7
    store.import_document(BankDocument(items=(replace(item, stem="Baru"),)))
    assert store.item(item.item_id).version == 8


def test_status_change_moves_the_current_version(
    store: ItemStore, small_demo: BankDocument
) -> None:
    store.import_document(small_demo)
    item = _first(small_demo, "TWK")
    assert store.set_status([item.item_id], "retired") == 1
    assert store.item(item.item_id).status.value == "retired"
    assert item.item_id not in load_bank(store).arrays.item_ids
