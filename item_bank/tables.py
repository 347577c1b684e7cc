"""The bank's table handles, and the chunking of long parameter lists.

Core-level handles on the tables that :mod:`item_bank.models` defines, shared
by the store's reading, writing and queries (and by :mod:`item_bank.arrays`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Table
from sqlmodel import SQLModel

# Imported for its side effect: it defines the bank's tables in SQLModel.metadata.
from item_bank import models  # noqa: F401

T_SUBTEST: Table = SQLModel.metadata.tables["bank_subtest"]
T_AREA: Table = SQLModel.metadata.tables["bank_content_area"]
T_ITEM: Table = SQLModel.metadata.tables["bank_item"]
T_OPTION: Table = SQLModel.metadata.tables["bank_item_option"]
T_RUN: Table = SQLModel.metadata.tables["bank_calibration_run"]
T_CAL: Table = SQLModel.metadata.tables["bank_item_calibration"]
T_USAGE: Table = SQLModel.metadata.tables["bank_item_usage"]
T_MEDIA: Table = SQLModel.metadata.tables["bank_item_media"]

# SQLite allows 32,766 bound parameters per statement (999 before 3.32);
# IN lists and multi-row inserts are chunked well below that.
CHUNK = 500


def _chunks(seq: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]
