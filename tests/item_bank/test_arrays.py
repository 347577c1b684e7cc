"""Rows → BankArrays: every entry matches the stored item, on both backends."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from cat_engine.irt import Model, category_probabilities
from item_bank.arrays import load_bank, load_bank_arrays
from item_bank.records import BankDocument, ItemRecord, ItemStatus
from item_bank.store import ItemStore


def _loaded_items(doc: BankDocument, statuses: tuple[str, ...]) -> list[ItemRecord]:
    return [i for i in doc.items if i.status.value in statuses and i.irt is not None]


def test_arrays_match_the_items(store: ItemStore, demo_bank: BankDocument) -> None:
    store.import_document(demo_bank)
    bank = load_bank_arrays(store)
    expected = _loaded_items(demo_bank, ("operational", "pretest"))
    assert bank.n_items == len(expected)
    assert bank.subtest_codes == ("TWK", "TIU", "TKP")
    assert set(bank.item_ids) == {i.item_id for i in expected}
    areas = [ca.code for s in demo_bank.subtests for ca in s.content_areas]
    assert bank.content_codes == tuple(areas)

    # Checked item by item, in plain Python, against the records.
    for item in expected:
        i = bank.index_of(item.item_id)
        assert item.irt is not None
        assert bank.subtest_codes[bank.subtest[i]] == item.subtest
        assert bank.content_codes[bank.content_area[i]] == item.content_area
        assert bank.n_options[i] == len(item.options)
        assert bank.pretest[i] == (item.status.value == "pretest")
        assert Model(bank.params.model[i]).label == item.irt.model
        assert bank.params.a[i] == item.irt.a
        n = len(item.options)
        if item.key is not None:
            want_points = [5.0 if k == item.key else 0.0 for k in range(n)]
            want_cat = [1 if k == item.key else 0 for k in range(n)]
            assert bank.params.b[i] == item.irt.b and bank.params.c[i] == item.irt.c
        else:
            assert item.points is not None
            want_points = [float(p) for p in item.points]
            want_cat = [p - 1 for p in item.points]  # TKP: 1 point is category 0
            assert list(bank.params.thresholds[i, :4]) == list(item.irt.thresholds)
        assert list(bank.option_points[i, :n]) == want_points
        assert list(bank.option_category[i, :n]) == want_cat
        assert np.all(np.isnan(bank.option_points[i, n:]))

    # Items of one enemy group share one code; items outside groups have −1.
    groups: dict[str, set[int]] = {}
    for item in expected:
        groups.setdefault(item.enemy_group or "", set()).add(
            int(bank.enemy_group[bank.index_of(item.item_id)])
        )
    assert groups.pop("") == {-1}
    assert all(len(codes) == 1 for codes in groups.values())
    assert len({next(iter(c)) for c in groups.values()}) == len(groups)

    # The engine's models accept the parameters as they are.
    p = category_probabilities(np.array([-1.0, 0.0, 1.0]), bank.params)
    assert np.allclose(p.sum(axis=2), 1.0)


def test_filters_and_uncalibrated_items(sqlite_store: ItemStore, small_demo: BankDocument) -> None:
    sqlite_store.import_document(small_demo)
    tkp = load_bank_arrays(sqlite_store, subtests=["TKP"], statuses=["operational"])
    assert set(tkp.subtest_codes[s] for s in tkp.subtest) == {"TKP"}
    assert not tkp.pretest.any()

    drafts = [i for i in small_demo.items if i.status.value == "draft"]
    assert drafts and all(i.irt is None for i in drafts)
    with_drafts = load_bank(sqlite_store, statuses=["draft"], include_uncalibrated=True)
    assert with_drafts.arrays.n_items == len(drafts)
    assert load_bank_arrays(sqlite_store, statuses=["draft"]).n_items == 0
    # Placeholders: 1PL b = 0 for dichotomous items, GPCM steps 0 for TKP.
    params = with_drafts.arrays.params
    poly = params.model == Model.GPCM
    assert np.all(params.b[~poly] == 0.0)
    assert np.all(params.thresholds[poly][:, :4] == 0.0)

    with pytest.raises(KeyError):
        load_bank_arrays(sqlite_store, subtests=["SKB"])


def test_empty_bank_gives_empty_arrays(sqlite_store: ItemStore) -> None:
    bank = load_bank_arrays(sqlite_store)
    assert bank.n_items == 0


def test_order_does_not_depend_on_the_backend(store: ItemStore, small_demo: BankDocument) -> None:
    # PostgreSQL collations ignore punctuation and case where SQLite compares bytes.
    ids = ["b.1", "Z9", "a-2", "a1", "B_3", "a_1"]
    template = next(i for i in small_demo.items if i.subtest == "TWK" and i.irt is not None)
    store.define_subtests(small_demo.subtests)
    store.import_document(
        BankDocument(
            items=tuple(replace(template, item_id=i, status=ItemStatus.OPERATIONAL) for i in ids)
        )
    )
    assert load_bank_arrays(store).item_ids == tuple(sorted(ids))
    assert [i.item_id for i in store.export_document().items] == sorted(ids)


def test_loads_from_a_session_an_engine_or_a_connection(
    sqlite_store: ItemStore, small_demo: BankDocument
) -> None:
    from sqlmodel import Session

    sqlite_store.import_document(small_demo)
    expected = load_bank_arrays(sqlite_store).item_ids
    with Session(sqlite_store.engine) as session:
        assert load_bank_arrays(session).item_ids == expected
    with sqlite_store.engine.connect() as conn:
        assert load_bank_arrays(conn).item_ids == expected
    assert load_bank_arrays(sqlite_store.engine).item_ids == expected
