"""Plain records of the item bank, independent of the database and file formats.

The parsers (``io_csv``, ``io_json``) turn files into these records, the
validator checks them, the store writes and reads them, and the demo
generator produces them. They are frozen dataclasses so that a round trip
(import → export → import) can be checked with ``==``.

Conventions: option positions and keys are 0-based inside the code (files
use the letters ``A``–``F``); points are on the published scale (SKD: 5 for a
TWK/TIU key, 1–5 per TKP option); dates are :class:`datetime.date`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from enum import StrEnum

MIN_OPTIONS = 2
MAX_OPTIONS = 6
OPTION_LETTERS = "ABCDEF"
# Polytomous items have at most MAX_OPTIONS categories, hence MAX_OPTIONS − 1
# thresholds (GRM boundaries / GPCM steps).
MAX_THRESHOLDS = MAX_OPTIONS - 1


class ScoringMode(StrEnum):
    """How a subtest turns an answer into points."""

    DICHOTOMOUS = "dichotomous"  # the key scores ``points_correct``, anything else 0
    OPTION_SCORED = "option_scored"  # every option carries its own points


class ItemStatus(StrEnum):
    """Life cycle of an item: only ``operational`` items count toward a score."""

    DRAFT = "draft"
    PRETEST = "pretest"
    OPERATIONAL = "operational"
    RETIRED = "retired"


class StemFormat(StrEnum):
    """How a stem (and, for ``html``, each option) is written.

    ``html``: a sanitised XHTML fragment (see :mod:`item_bank.html`), as QTI
    items carry; its options are HTML fragments too. Text and Markdown items
    have plain-text options.
    """

    TEXT = "text"
    MARKDOWN = "markdown"
    HTML = "html"


@dataclass(frozen=True)
class ContentAreaSpec:
    """A content area of a subtest; ``code`` is unique across the whole bank."""

    code: str
    name: str


@dataclass(frozen=True)
class SubtestSpec:
    """A subtest (e.g. TWK) and how it is scored.

    dichotomous: ``points_correct`` for the key (SKD: 5), 0 otherwise;
    option_scored: every option carries integer points in
    ``[min_points, max_points]`` (SKD TKP: 1–5).
    """

    code: str
    name: str
    scoring: ScoringMode
    points_correct: float = 5.0
    min_points: int = 1
    max_points: int = 5
    content_areas: tuple[ContentAreaSpec, ...] = ()

    @property
    def n_thresholds(self) -> int:
        """Thresholds a polytomous model of this subtest has (categories − 1)."""
        return self.max_points - self.min_points


@dataclass(frozen=True)
class IrtRecord:
    """One item's IRT parameters from one calibration run.

    ``model`` is a label of :class:`cat_engine.irt.Model` (``1PL`` … ``GPCM``).
    Dichotomous models use ``a, b, c, d`` (``c``/``d`` only for 3PL/4PL);
    GRM/GPCM use ``a`` and ``thresholds`` (boundaries / step parameters, one
    per category above the lowest). ``se`` holds the standard errors of the
    same names (``se_thresholds`` likewise); None = not estimated.
    """

    model: str
    a: float | None = None
    b: float | None = None
    c: float | None = None
    d: float | None = None
    thresholds: tuple[float, ...] = ()
    se_a: float | None = None
    se_b: float | None = None
    se_c: float | None = None
    se_d: float | None = None
    se_thresholds: tuple[float | None, ...] = ()
    sample_size: int | None = None
    scale: str = "default"
    run: str = "import"
    calibrated_at: dt.date | None = None


@dataclass(frozen=True)
class ItemRecord:
    """One item as it is imported and exported.

    ``key``: 0-based index of the correct option (dichotomous subtests);
    ``points``: points per option (option-scored subtests), same length as
    ``options``. ``version`` is None for an item whose file gave none.
    """

    item_id: str
    subtest: str
    content_area: str
    stem: str
    options: tuple[str, ...]
    key: int | None = None
    points: tuple[int, ...] | None = None
    status: ItemStatus = ItemStatus.DRAFT
    stem_format: StemFormat = StemFormat.TEXT
    enemy_group: str | None = None
    source: str | None = None
    version: int | None = None
    irt: IrtRecord | None = None

    def content_equal(self, other: ItemRecord) -> bool:
        """Same item apart from its version (used to skip unchanged re-imports)."""
        return self == replace(other, version=self.version)


@dataclass(frozen=True)
class MediaFile:
    """An image an HTML item shows, stored once in the bank by content.

    ``sha256``: hex digest of ``data``; items refer to it as
    ``media/<sha256>.<ext>`` (see :func:`item_bank.html.media_href`), so an
    item whose image changes is a changed item. ``name``: the file name it
    came with (informative only).
    """

    sha256: str
    mime_type: str
    data: bytes
    name: str | None = None


@dataclass(frozen=True)
class BankDocument:
    """What one import file holds: optional subtest definitions and items."""

    subtests: tuple[SubtestSpec, ...] = ()
    items: tuple[ItemRecord, ...] = ()


@dataclass(frozen=True)
class Problem:
    """One fault of an import: where it is (``row``, ``field``) and what is wrong.

    ``row`` counts as a spreadsheet does for CSV (the header is row 1, the
    first item row 2) and from 1 over the ``items`` array for JSON; 0 means
    the file as a whole (or its subtest section).
    """

    row: int
    field: str
    message: str
    item_id: str | None = None

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row else "file"
        who = f" (item {self.item_id})" if self.item_id else ""
        return f"{where}, field {self.field!r}{who}: {self.message}"


class BankImportError(Exception):
    """An import refused as a whole; ``problems`` lists every fault found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(
            f"{len(problems)} problem(s) in the input; nothing was imported:\n"
            + "\n".join(f"  {p}" for p in problems)
        )


@dataclass(frozen=True)
class ImportSummary:
    """What an import did, by external item id."""

    created: tuple[str, ...] = ()
    new_versions: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    recalibrated: tuple[str, ...] = ()
    subtests_created: tuple[str, ...] = ()
    content_areas_created: tuple[str, ...] = ()
    calibration_runs: tuple[int, ...] = field(default=())

    def describe(self) -> str:
        return (
            f"{len(self.created)} new item(s), {len(self.new_versions)} new version(s), "
            f"{len(self.recalibrated)} with new parameters, {len(self.unchanged)} unchanged; "
            f"{len(self.subtests_created)} subtest(s) and "
            f"{len(self.content_areas_created)} content area(s) created"
        )
