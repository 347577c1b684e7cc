"""An exam's frozen copy of the bank: engine arrays and public item content.

An exam keeps the items it may give as they were when it was created, so a
later edit of the bank never changes a test in progress or its scoring.
``bank_to_json``/``bank_from_json`` round-trip a :class:`BankArrays`
exactly (NaN kept as ``null``). Public items carry no key and no points.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from cat_engine.bank import BankArrays
from cat_engine.irt import ItemParameters


@dataclass(frozen=True)
class PublicItemContent:
    """What a terminal may see of an item: stem and option texts only."""

    item_id: str
    subtest: str
    stem: str
    options: tuple[str, ...]
    # "text", "markdown" (sanitised by the item bank) or "html": a sanitised
    # fragment, options too, with pictures inlined (exam_server.bank_source).
    stem_format: str = "text"

    def to_dict(self) -> dict[str, Any]:
        return {
            "item_id": self.item_id,
            "subtest": self.subtest,
            "stem": self.stem,
            "options": list(self.options),
            "stem_format": self.stem_format,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PublicItemContent:
        return cls(
            str(d["item_id"]),
            str(d["subtest"]),
            str(d["stem"]),
            tuple(d["options"]),
            str(d.get("stem_format", "text")),
        )


def _floats(arr: np.ndarray) -> list[Any]:
    return [
        None if (isinstance(v, float) and np.isnan(v)) else v
        for v in np.asarray(arr, dtype=np.float64).ravel().tolist()
    ]


def _unfloats(values: list[Any], shape: tuple[int, ...]) -> np.ndarray:
    out = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    return out.reshape(shape)


def bank_to_dict(bank: BankArrays) -> dict[str, Any]:
    p = bank.params
    return {
        "item_ids": list(bank.item_ids),
        "subtest_codes": list(bank.subtest_codes),
        "content_codes": list(bank.content_codes),
        "subtest": bank.subtest.tolist(),
        "content_area": bank.content_area.tolist(),
        "n_options": bank.n_options.tolist(),
        "option_points": {
            "shape": list(bank.option_points.shape),
            "v": _floats(bank.option_points),
        },
        "option_category": {
            "shape": list(bank.option_category.shape),
            "v": bank.option_category.ravel().tolist(),
        },
        "enemy_group": bank.enemy_group.tolist(),
        "pretest": bank.pretest.tolist(),
        "params": {
            "model": p.model.tolist(),
            "a": _floats(p.a),
            "b": _floats(p.b),
            "c": _floats(p.c),
            "d": _floats(p.d),
            "thresholds": {"shape": list(p.thresholds.shape), "v": _floats(p.thresholds)},
        },
    }


#: The one field of the placeholder an exam site stores as an exam's bank
#: until its scoring is unsealed (``exam_server.sites.package.sealed_bank_json``).
SEALED_FIELD = "sealed"


class SealedBankError(ValueError):
    """The exam's bank (its scoring keys) is still sealed at this exam site:
    nothing can score against it until one of its sessions' keys is released
    (docs/sites.md). The message says which exam."""


def bank_from_dict(d: dict[str, Any]) -> BankArrays:
    if SEALED_FIELD in d:
        raise SealedBankError(str(d[SEALED_FIELD]))
    n = len(d["item_ids"])
    pd = d["params"]
    params = ItemParameters(
        model=np.asarray(pd["model"], dtype=np.int8).reshape(n),
        a=_unfloats(pd["a"], (n,)),
        b=_unfloats(pd["b"], (n,)),
        c=_unfloats(pd["c"], (n,)),
        d=_unfloats(pd["d"], (n,)),
        thresholds=_unfloats(pd["thresholds"]["v"], tuple(pd["thresholds"]["shape"])),
    )
    op = d["option_points"]
    oc = d["option_category"]
    return BankArrays(
        item_ids=tuple(d["item_ids"]),
        params=params,
        subtest=np.asarray(d["subtest"], dtype=np.int64).reshape(n),
        subtest_codes=tuple(d["subtest_codes"]),
        content_area=np.asarray(d["content_area"], dtype=np.int64).reshape(n),
        content_codes=tuple(d["content_codes"]),
        n_options=np.asarray(d["n_options"], dtype=np.int64).reshape(n),
        option_points=_unfloats(op["v"], tuple(op["shape"])),
        option_category=np.asarray(oc["v"], dtype=np.int64).reshape(tuple(oc["shape"])),
        enemy_group=np.asarray(d["enemy_group"], dtype=np.int64).reshape(n),
        pretest=np.asarray(d["pretest"], dtype=np.bool_).reshape(n),
    )


def bank_to_json(bank: BankArrays) -> str:
    return json.dumps(bank_to_dict(bank), separators=(",", ":"))


def bank_from_json(text: str) -> BankArrays:
    return bank_from_dict(json.loads(text))


def items_to_json(items: list[PublicItemContent]) -> str:
    return json.dumps([it.to_dict() for it in items], separators=(",", ":"), ensure_ascii=False)


def items_from_json(text: str) -> list[PublicItemContent]:
    return [PublicItemContent.from_dict(d) for d in json.loads(text)]
