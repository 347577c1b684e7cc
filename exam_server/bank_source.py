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
from item_bank.html import inline_media, media_digests
from item_bank.records import StemFormat
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
    media = _media_of(store, public)
    items = []
    for iid in bank.item_ids:
        it = by_id.get(iid)
        if it is None:
            raise LookupError(f"item {iid} has no public content")
        stem_format = str(getattr(it, "stem_format", "text") or "text")
        stem = str(getattr(it, "stem", ""))
        options = tuple(
            str(getattr(o, "text", o))
            for o in sorted(getattr(it, "options", ()), key=lambda o: getattr(o, "position", 0))
        )
        if stem_format == StemFormat.HTML.value:
            # Self-contained and sanitised again for the terminal (item_bank.html).
            stem = inline_media(stem, media)
            options = tuple(inline_media(o, media) for o in options)
        items.append(
            PublicItemContent(
                item_id=iid,
                subtest=str(getattr(it, "subtest", "")),
                stem=stem,
                options=options,
                stem_format=stem_format,
            )
        )
    return bank, items


def _media_of(store: ItemStore, public: list[Any]) -> dict[str, tuple[str, bytes]]:
    """The images the HTML items among ``public`` show: sha256 → (MIME type, bytes)."""
    wanted: set[str] = set()
    for it in public:
        if str(getattr(it, "stem_format", "text")) == StemFormat.HTML.value:
            wanted.update(media_digests(str(getattr(it, "stem", ""))))
            for o in getattr(it, "options", ()):
                wanted.update(media_digests(str(getattr(o, "text", o))))
    if not wanted:
        return {}
    return {sha: (f.mime_type, f.data) for sha, f in store.media(wanted).items()}
