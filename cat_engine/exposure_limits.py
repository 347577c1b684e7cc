"""The hard limits on which bank items a test may show: the design's maximum
exposure rate and withdrawn items, read from the bank usage so far
(:class:`~cat_engine.exposure.ExposureUsage`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from cat_engine.bank import BankArrays
from cat_engine.design import TestDesign
from cat_engine.errors import EngineError
from cat_engine.exposure import ExposureUsage


def _limits_apply(design: TestDesign, usage: ExposureUsage | None) -> bool:
    """Whether ``usage`` can make an item ineligible: a hard maximum rate or withdrawn items."""
    return usage is not None and (
        design.exposure.max_rate is not None or usage.withdrawn is not None
    )


def _allowed(
    design: TestDesign, bank: BankArrays, usage: ExposureUsage | None
) -> NDArray[np.bool_] | None:
    """Items under the design's hard maximum exposure rate and not withdrawn
    (None: no limit, nothing withdrawn or no usage)."""
    if usage is None or not _limits_apply(design, usage):
        return None
    if usage.counts.shape[0] != bank.n_items:
        raise EngineError(
            "usage_mismatch",
            f"exposure usage counts {usage.counts.shape[0]} items, the bank has {bank.n_items}",
        )
    return usage.allowed(design.exposure.max_rate, design.exposure.warmup)
