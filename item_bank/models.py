"""SQLModel tables of the item bank, on the shared ``SQLModel.metadata``.

Each entity that reaches a terminal is split the SQLModel way into a *base*
(fields that may be shown), a *table* (base + secrets and bookkeeping) and a
*public* model (what is sent out). Keys and option points live only in the
table models, so :class:`ItemPublic` cannot carry them by construction.

Versioning: an item is identified by its external ``item_id``; each import
that changes it adds a row with ``version + 1`` and clears ``is_current`` on
the previous row, which stays for audit. Options and IRT parameters belong
to one version (``item_pk``). Usage counts belong to the external id: a
corrected version is still the same item to a candidate who has seen it.

All table names start with ``bank_`` so they never clash with the server's.
Only portable column types are used (SQLite and PostgreSQL).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from item_bank.records import MAX_THRESHOLDS


def utcnow() -> dt.datetime:
    """Aware UTC timestamp (SQLModel stores datetimes in UTC and needs the zone)."""
    return dt.datetime.now(dt.UTC)


class Subtest(SQLModel, table=True):
    """A subtest and its scoring rule (see :class:`item_bank.records.SubtestSpec`)."""

    __tablename__ = "bank_subtest"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, index=True, max_length=32)
    name: str
    scoring: str  # ScoringMode value
    points_correct: float = 5.0
    min_points: int = 1
    max_points: int = 5
    position: int = 0  # display and array order


class ContentArea(SQLModel, table=True):
    """A content area; its code is unique across the bank (blueprints name it alone)."""

    __tablename__ = "bank_content_area"

    id: int | None = Field(default=None, primary_key=True)
    subtest_id: int = Field(foreign_key="bank_subtest.id", index=True)
    code: str = Field(unique=True, index=True, max_length=64)
    name: str
    position: int = 0


class ItemBase(SQLModel):
    """Fields of an item a candidate may see."""

    item_id: str = Field(index=True, max_length=64)
    stem: str
    stem_format: str = "text"  # StemFormat value; Markdown is sanitised on import


class Item(ItemBase, table=True):
    """One version of an item, with its key (dichotomous subtests)."""

    __tablename__ = "bank_item"
    __table_args__ = (UniqueConstraint("item_id", "version", name="uq_bank_item_version"),)

    id: int | None = Field(default=None, primary_key=True)
    version: int = 1
    # No index on is_current/status: nearly every row matches them, and SQLite
    # would rather use a useless index than scan (the bank loader reads all).
    is_current: bool = True
    subtest_id: int = Field(foreign_key="bank_subtest.id", index=True)
    content_area_id: int = Field(foreign_key="bank_content_area.id")
    status: str = "draft"  # ItemStatus value
    n_options: int
    key: int | None = None  # 0-based option index; None for option-scored items
    # Option-scored items: points per option in option order, e.g. "5,4,1,2,3".
    # Kept here, beside the key, so that the options table holds no secret and
    # the loader reads every item's scoring from one row.
    points: str | None = Field(default=None, max_length=64)
    enemy_group: str | None = Field(default=None, max_length=64)
    source: str | None = None
    created_at: dt.datetime = Field(default_factory=utcnow)


class ItemOptionBase(SQLModel):
    """An answer option as a candidate sees it."""

    position: int  # 0-based; shown as A, B, C, ...
    text: str


class ItemOption(ItemOptionBase, table=True):
    __tablename__ = "bank_item_option"
    __table_args__ = (UniqueConstraint("item_pk", "position", name="uq_bank_option_position"),)

    id: int | None = Field(default=None, primary_key=True)
    item_pk: int = Field(foreign_key="bank_item.id", index=True)


class OptionPublic(ItemOptionBase):
    """An option as a terminal receives it (points live on the item row)."""


class ItemPublic(ItemBase):
    """What a terminal may receive: no key, no points, no parameters, no status."""

    version: int
    subtest: str
    options: list[OptionPublic]


class CalibrationRun(SQLModel, table=True):
    """One calibration (or import) that produced item parameters on one scale."""

    __tablename__ = "bank_calibration_run"

    id: int | None = Field(default=None, primary_key=True)
    label: str = Field(max_length=128)
    scale: str = Field(default="default", max_length=64, index=True)
    calibrated_at: dt.date | None = None
    created_at: dt.datetime = Field(default_factory=utcnow)


class ItemCalibration(SQLModel, table=True):
    """IRT parameters of one item version from one calibration run.

    Dichotomous models fill ``a, b, c, d``; GRM/GPCM fill ``a`` and
    ``t1..t5`` (thresholds/steps, unused ones NULL). ``se_*`` are standard
    errors; ``sample_size`` the number of responses behind the estimate.
    """

    __tablename__ = "bank_item_calibration"

    id: int | None = Field(default=None, primary_key=True)
    item_pk: int = Field(foreign_key="bank_item.id", index=True)
    run_id: int = Field(foreign_key="bank_calibration_run.id", index=True)
    model: str = Field(max_length=8)  # cat_engine.irt.Model label
    a: float | None = None
    b: float | None = None
    c: float | None = None
    d: float | None = None
    t1: float | None = None
    t2: float | None = None
    t3: float | None = None
    t4: float | None = None
    t5: float | None = None
    se_a: float | None = None
    se_b: float | None = None
    se_c: float | None = None
    se_d: float | None = None
    se_t1: float | None = None
    se_t2: float | None = None
    se_t3: float | None = None
    se_t4: float | None = None
    se_t5: float | None = None
    sample_size: int | None = None


class ItemMedia(SQLModel, table=True):
    """An image shown by HTML items (QTI imports), stored once by content hash.

    Items refer to it in their HTML as ``media/<sha256>.<ext>``; the row is
    never changed or deleted by an import (old item versions may show it).
    """

    __tablename__ = "bank_item_media"

    sha256: str = Field(primary_key=True, max_length=64)
    mime_type: str = Field(max_length=64)
    size: int  # bytes
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    name: str | None = Field(default=None, max_length=255)  # as it came in the package
    created_at: dt.datetime = Field(default_factory=utcnow)


THRESHOLD_FIELDS: tuple[str, ...] = tuple(f"t{k}" for k in range(1, MAX_THRESHOLDS + 1))
THRESHOLD_SE_FIELDS: tuple[str, ...] = tuple(f"se_{name}" for name in THRESHOLD_FIELDS)


class ItemUsage(SQLModel, table=True):
    """How often an item (any version) has been given: its exposure."""

    __tablename__ = "bank_item_usage"

    item_id: str = Field(primary_key=True, max_length=64)
    administered: int = 0
    last_used_at: dt.datetime | None = None


BANK_TABLES = tuple(
    SQLModel.metadata.tables[name]
    for name in (
        "bank_subtest",
        "bank_content_area",
        "bank_item",
        "bank_item_option",
        "bank_calibration_run",
        "bank_item_calibration",
        "bank_item_usage",
        "bank_item_media",
    )
)

__all__ = [
    "BANK_TABLES",
    "THRESHOLD_FIELDS",
    "THRESHOLD_SE_FIELDS",
    "CalibrationRun",
    "ContentArea",
    "Item",
    "ItemBase",
    "ItemCalibration",
    "ItemMedia",
    "ItemOption",
    "ItemOptionBase",
    "ItemPublic",
    "ItemUsage",
    "OptionPublic",
    "Subtest",
    "utcnow",
]
