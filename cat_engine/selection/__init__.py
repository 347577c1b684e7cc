"""Item selectors: each ranks a section's pool for m candidates at once.

A selector has one method, ``rank(ctx) -> (m, n)``: higher is better and
``-inf`` marks an item the candidate may not get. The exposure control (see
:mod:`cat_engine.exposure`) then turns the ranks into one item per candidate.
"""

from __future__ import annotations

from typing import Any

from cat_engine.selection.base import Pool, SelectionContext, Selector
from cat_engine.selection.kl import KullbackLeibler
from cat_engine.selection.max_info import MaxInfo, Randomesque
from cat_engine.selection.shadow import ShadowTest
from cat_engine.selection.stratified import AStratified

SELECTORS: dict[str, Any] = {
    "max_info": MaxInfo,
    "kl": KullbackLeibler,
    "a_stratified": AStratified,
    "randomesque": Randomesque,
    "shadow": ShadowTest,
}

__all__ = [
    "SELECTORS",
    "AStratified",
    "KullbackLeibler",
    "MaxInfo",
    "Pool",
    "Randomesque",
    "SelectionContext",
    "Selector",
    "ShadowTest",
]
