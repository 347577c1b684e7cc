"""Where an exam's items come from: the item bank (``item_bank`` package).

:func:`load_from_item_bank` returns the engine arrays of the bank's active
items for the design's subtests and their public content (no keys).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from cat_engine.bank import BankArrays
from cat_engine.design import TestDesign
from exam_server.snapshot import PublicItemContent
from item_bank.arrays import load_bank_arrays
from item_bank.store import ItemStore


def load_from_item_bank(
    engine: Engine, design: TestDesign
) -> tuple[BankArrays, list[PublicItemContent]]:
    """The bank's items for ``design`` as (arrays, public items); ``LookupError``
    if the item bank holds no usable items."""
    store = ItemStore(engine)
    bank: BankArrays = load_bank_arrays(store)
    if bank.n_items == 0:
        raise LookupError("the item bank is empty (import items first: seleksi bank import)")
    public: list[Any] = store.public_items(list(bank.item_ids))
    by_id = {str(getattr(it, "item_id", getattr(it, "id", ""))): it for it in public}
    items = []
    for iid in bank.item_ids:
        it = by_id.get(iid)
        if it is None:
            raise LookupError(f"item {iid} has no public content")
        items.append(
            PublicItemContent(
                item_id=iid,
                subtest=str(getattr(it, "subtest", "")),
                stem=str(getattr(it, "stem", "")),
                options=tuple(
                    str(getattr(o, "text", o))
                    for o in sorted(
                        getattr(it, "options", ()), key=lambda o: getattr(o, "position", 0)
                    )
                ),
                stem_format=str(getattr(it, "stem_format", "text") or "text"),
            )
        )
    return bank, items
