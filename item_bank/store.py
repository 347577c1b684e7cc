"""The item store: import, export, versions, public items, usage, calibrations.

:class:`ItemStore` wraps a SQLAlchemy engine (SQLite or PostgreSQL) and
works through SQLAlchemy Core in explicit transactions. Every import is
checked in full first and then written in one transaction: a file with any
fault changes nothing, and a database error rolls everything back.

Re-importing an item id:

* content changed (stem, options, key/points, subtest, content area, status,
  format, enemy group or source) → a new row with ``version + 1``; the old
  row stays, no longer current (audit trail);
* content unchanged, IRT parameters given and different → the parameters are
  added to the current version as a new calibration (no new version);
* otherwise → nothing happens (counted as unchanged).

The helpers live beside it: table handles in :mod:`item_bank.tables`, file
formats in :mod:`item_bank.formats`, rows read back into records in
:mod:`item_bank.reading`, and an import's writes in :mod:`item_bank.writing`.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from item_bank import models
from item_bank.formats import (
    FORMATS,
    QTI_EXPORT_FORMATS,
    detect_format,
    parse_bytes,
    parse_text,
)
from item_bank.io_csv import write_csv
from item_bank.io_json import parse_json, write_json
from item_bank.io_qti import Placement
from item_bank.io_qti_export import media_digests, write_qti_package
from item_bank.models import BANK_TABLES, ItemPublic, OptionPublic
from item_bank.parsed import ParsedFile
from item_bank.reading import (
    _load_subtests,
    _options_by_item,
    _records,
    _subtest_id,
    latest_calibrations,
    parse_points,
    points_text,
)
from item_bank.records import (
    BankDocument,
    BankImportError,
    ImportSummary,
    IrtRecord,
    ItemRecord,
    ItemStatus,
    MediaFile,
    SubtestSpec,
)
from item_bank.tables import (
    CHUNK,
    T_AREA,
    T_CAL,
    T_ITEM,
    T_MEDIA,
    T_OPTION,
    T_RUN,
    T_SUBTEST,
    T_USAGE,
    _chunks,
)
from item_bank.writing import _take_write_lock, _write, _write_media

# The names this module has always offered; they now live in the modules
# above and stay importable from here so that no caller has to change.
__all__ = [
    "CHUNK",
    "FORMATS",
    "QTI_EXPORT_FORMATS",
    "T_AREA",
    "T_CAL",
    "T_ITEM",
    "T_MEDIA",
    "T_OPTION",
    "T_RUN",
    "T_SUBTEST",
    "T_USAGE",
    "ItemStore",
    "UsageCount",
    "detect_format",
    "latest_calibrations",
    "parse_bytes",
    "parse_points",
    "parse_text",
    "points_text",
]


@dataclass(frozen=True)
class UsageCount:
    item_id: str
    administered: int
    last_used_at: dt.datetime | None


class ItemStore:
    """The item bank in a database. ``engine``: a SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- schema --------------------------------------------------------------

    def create_tables(self) -> None:
        """Create the bank's tables if missing (other tables are left alone)."""
        SQLModel.metadata.create_all(self.engine, tables=list(BANK_TABLES))

    # -- subtests ------------------------------------------------------------

    def subtests(self) -> dict[str, SubtestSpec]:
        """Defined subtests by code, in their display order."""
        with self.engine.connect() as conn:
            return _load_subtests(conn)

    def define_subtests(self, specs: Sequence[SubtestSpec]) -> ImportSummary:
        """Create or extend subtests (an import with no items)."""
        return self.import_document(BankDocument(subtests=tuple(specs)))

    # -- import --------------------------------------------------------------

    def import_file(
        self,
        path: str | Path,
        fmt: str | None = None,
        *,
        dry_run: bool = False,
        mapping: Mapping[str, Placement] | None = None,
    ) -> ImportSummary:
        """Import a CSV, JSON or QTI file; raises :class:`BankImportError` listing all faults.

        ``mapping`` (QTI only) places items without Seleksi metadata by id.
        """
        fmt = detect_format(path, fmt)
        data = Path(path).read_bytes()
        parsed = parse_bytes(data, fmt, name=Path(path).name, mapping=mapping)
        return self.import_parsed(parsed, dry_run=dry_run)

    def import_bytes(
        self,
        data: bytes,
        fmt: str | None,
        *,
        name: str = "upload",
        dry_run: bool = False,
        mapping: Mapping[str, Placement] | None = None,
    ) -> ImportSummary:
        """Import an uploaded file's bytes (CSV, JSON or QTI); as :meth:`import_file`."""
        parsed = parse_bytes(data, detect_format(name, fmt), name=name, mapping=mapping)
        return self.import_parsed(parsed, dry_run=dry_run)

    def import_text(self, text: str, fmt: str, *, dry_run: bool = False) -> ImportSummary:
        return self.import_parsed(parse_text(text, fmt), dry_run=dry_run)

    def import_document(self, doc: BankDocument, *, dry_run: bool = False) -> ImportSummary:
        """Import records (e.g. the demo bank) through the same checks as a file."""
        return self.import_parsed(parse_json(write_json(doc)), dry_run=dry_run)

    def import_parsed(self, parsed: ParsedFile, *, dry_run: bool = False) -> ImportSummary:
        """Check ``parsed`` completely, then write it in one transaction.

        Raises :class:`BankImportError` (nothing written) if anything is wrong.
        With ``dry_run`` everything is checked and the summary computed, then
        the transaction is rolled back.
        """
        with self.engine.connect() as conn, conn.begin() as tx:
            _take_write_lock(conn)
            existing = _load_subtests(conn)
            bank_media = set(conn.execute(select(T_MEDIA.c.sha256)).scalars())
            doc, _merged, problems = parsed.to_document(existing, bank_media)
            if problems:
                raise BankImportError(problems)
            _write_media(conn, [m for h, m in parsed.media.items() if h not in bank_media])
            summary = _write(conn, doc, existing)
            if dry_run:
                tx.rollback()
        return summary

    # -- export and reading ----------------------------------------------------

    def export_document(
        self,
        *,
        subtests: Sequence[str] | None = None,
        statuses: Sequence[str] | None = None,
    ) -> BankDocument:
        """Current versions (optionally of some subtests/statuses) with all subtests."""
        with self.engine.connect() as conn:
            specs = _load_subtests(conn)
            query = select(T_ITEM).where(T_ITEM.c.is_current.is_(True))
            if subtests:
                unknown = sorted(set(subtests) - set(specs))
                if unknown:
                    raise KeyError(f"unknown subtest(s): {', '.join(unknown)}")
                ids = [_subtest_id(conn, code) for code in subtests]
                query = query.where(T_ITEM.c.subtest_id.in_(ids))
            if statuses:
                query = query.where(T_ITEM.c.status.in_([ItemStatus(s).value for s in statuses]))
            items = _records(conn, conn.execute(query).all())
        # Sorted here, not in SQL, so that the order (and an exported file) does
        # not depend on the backend's collation.
        position = {code: i for i, code in enumerate(specs)}
        items.sort(key=lambda it: (position[it.subtest], it.item_id))
        chosen = [specs[c] for c in subtests] if subtests else list(specs.values())
        return BankDocument(subtests=tuple(chosen), items=tuple(items))

    def export_text(
        self,
        fmt: str,
        *,
        subtests: Sequence[str] | None = None,
        statuses: Sequence[str] | None = None,
    ) -> str:
        doc = self.export_document(subtests=subtests, statuses=statuses)
        return write_csv(doc.items) if fmt == "csv" else write_json(doc)

    def media(self, digests: Iterable[str]) -> dict[str, MediaFile]:
        """Stored images by SHA-256 (digests not in the bank are absent)."""
        out: dict[str, MediaFile] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(sorted(set(digests))):
                for r in conn.execute(select(T_MEDIA).where(T_MEDIA.c.sha256.in_(chunk))):
                    out[r.sha256] = MediaFile(r.sha256, r.mime_type, bytes(r.data), r.name)
        return out

    def export_qti(
        self,
        version: str = "3.0",
        *,
        subtests: Sequence[str] | None = None,
        statuses: Sequence[str] | None = None,
        ids: Sequence[str] | None = None,
    ) -> tuple[bytes, int]:
        """A QTI content package (zip bytes) of current items, and how many it holds.

        ``version``: ``3.0`` or ``2.2``; ``ids`` narrows the selection further.
        """
        doc = self.export_document(subtests=subtests, statuses=statuses)
        if ids:
            wanted = set(ids)
            missing = sorted(wanted - {it.item_id for it in doc.items})
            if missing:
                raise KeyError(f"not in the selection: {', '.join(missing[:10])}")
            doc = replace(doc, items=tuple(it for it in doc.items if it.item_id in wanted))
        media = self.media(media_digests(doc.items))
        return write_qti_package(doc, media, version=version), len(doc.items)

    def item(self, item_id: str, version: int | None = None) -> ItemRecord:
        """One item (the current version unless ``version``); ``KeyError`` if none."""
        with self.engine.connect() as conn:
            query = select(T_ITEM).where(T_ITEM.c.item_id == item_id)
            query = query.where(
                T_ITEM.c.version == version if version is not None else T_ITEM.c.is_current
            )
            rows = conn.execute(query).all()
            if not rows:
                raise KeyError(f"no item {item_id!r}" + (f" version {version}" if version else ""))
            return _records(conn, rows)[0]

    def items(self, ids: Sequence[str]) -> list[ItemRecord]:
        """Current versions of ``ids`` (in ``ids`` order); ``KeyError`` names missing ids."""
        wanted = list(dict.fromkeys(ids))
        with self.engine.connect() as conn:
            rows: list[Row[Any]] = []
            for chunk in _chunks(wanted):
                rows += conn.execute(
                    select(T_ITEM).where(T_ITEM.c.is_current.is_(True), T_ITEM.c.item_id.in_(chunk))
                ).all()
            records = {r.item_id: r for r in _records(conn, rows)}
        missing = [i for i in wanted if i not in records]
        if missing:
            raise KeyError(f"not in the bank: {', '.join(missing[:10])}")
        return [records[i] for i in ids]

    def history(self, item_id: str) -> list[ItemRecord]:
        """Every stored version of an item, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(T_ITEM).where(T_ITEM.c.item_id == item_id).order_by(T_ITEM.c.version)
            ).all()
            return _records(conn, rows)

    def public_items(self, ids: Sequence[str]) -> list[ItemPublic]:
        """The current versions of ``ids`` as terminals may see them (in ``ids`` order).

        No key, no points, no parameters. ``KeyError`` names ids not in the bank.
        """
        wanted = list(dict.fromkeys(ids))
        with self.engine.connect() as conn:
            rows: list[Row[Any]] = []
            for chunk in _chunks(wanted):
                rows += conn.execute(  # type: ignore[arg-type]
                    select(
                        T_ITEM.c.id,
                        T_ITEM.c.item_id,
                        T_ITEM.c.version,
                        T_ITEM.c.stem,
                        T_ITEM.c.stem_format,
                        T_SUBTEST.c.code,
                    )
                    .join(T_SUBTEST, T_SUBTEST.c.id == T_ITEM.c.subtest_id)
                    .where(T_ITEM.c.is_current.is_(True), T_ITEM.c.item_id.in_(chunk))
                ).all()
            options = _options_by_item(conn, [r.id for r in rows])
        by_id = {r.item_id: r for r in rows}
        missing = [i for i in wanted if i not in by_id]
        if missing:
            raise KeyError(f"not in the bank: {', '.join(missing[:10])}")
        out: dict[str, ItemPublic] = {}
        for item_id, r in by_id.items():
            out[item_id] = ItemPublic(
                item_id=item_id,
                version=r.version,
                stem=r.stem,
                stem_format=r.stem_format,
                subtest=r.code,
                options=[OptionPublic(position=p, text=t) for p, t in options.get(r.id, [])],
            )
        return [out[i] for i in ids]

    # -- status and calibration ------------------------------------------------

    def set_status(self, ids: Sequence[str], status: ItemStatus | str) -> int:
        """Move current versions of ``ids`` to ``status`` (no new version). Returns rows."""
        value = ItemStatus(status).value
        n = 0
        with self.engine.begin() as conn:
            for chunk in _chunks(list(ids)):
                result = conn.execute(
                    update(T_ITEM)
                    .where(T_ITEM.c.is_current.is_(True), T_ITEM.c.item_id.in_(chunk))
                    .values(status=value)
                )
                n += result.rowcount
        return n

    def record_calibration(
        self,
        estimates: Mapping[str, IrtRecord],
        *,
        run: str,
        scale: str = "default",
        calibrated_at: dt.date | None = None,
    ) -> int:
        """Store one calibration run's parameters for the current versions of items.

        ``estimates`` maps item ids to parameters (their ``run``, ``scale`` and
        ``calibrated_at`` fields are replaced by the arguments). Every estimate
        is checked as an import would check it; returns the run id.
        """
        current = {r.item_id: r for r in self.items(list(estimates))}
        when = calibrated_at or dt.date.today()
        items = [
            replace(
                current[i],
                irt=replace(est, run=run, scale=scale, calibrated_at=when),
            )
            for i, est in estimates.items()
        ]
        summary = self.import_document(BankDocument(items=tuple(items)))
        return summary.calibration_runs[0] if summary.calibration_runs else -1

    # -- usage -----------------------------------------------------------------

    def add_usage(self, ids: Iterable[str], count: int = 1) -> None:
        """Add ``count`` administrations to each id (repeats add up)."""
        counts = Counter(ids)
        if not counts:
            return
        now = models.utcnow()
        rows = [
            {"item_id": i, "administered": n * count, "last_used_at": now}
            for i, n in counts.items()
        ]
        dialect = self.engine.dialect.name
        with self.engine.begin() as conn:
            if dialect in ("sqlite", "postgresql"):
                upsert = sqlite_insert if dialect == "sqlite" else postgresql_insert
                for chunk in _chunks(rows):
                    stmt = upsert(T_USAGE).values(list(chunk))
                    stmt = stmt.on_conflict_do_update(
                        index_elements=[T_USAGE.c.item_id],
                        set_={
                            "administered": T_USAGE.c.administered + stmt.excluded.administered,
                            "last_used_at": stmt.excluded.last_used_at,
                        },
                    )
                    conn.execute(stmt)
            else:  # portable fallback: update, then insert what was not there
                for row in rows:
                    res = conn.execute(
                        update(T_USAGE)
                        .where(T_USAGE.c.item_id == row["item_id"])
                        .values(
                            administered=T_USAGE.c.administered + row["administered"],
                            last_used_at=now,
                        )
                    )
                    if res.rowcount == 0:
                        conn.execute(insert(T_USAGE).values(**row))

    def usage(self, ids: Sequence[str] | None = None) -> dict[str, int]:
        """Administrations per item id (ids never used are absent)."""
        with self.engine.connect() as conn:
            query = select(T_USAGE.c.item_id, T_USAGE.c.administered)
            if ids is None:
                return {r.item_id: r.administered for r in conn.execute(query)}
            out: dict[str, int] = {}
            for chunk in _chunks(list(ids)):
                for r in conn.execute(query.where(T_USAGE.c.item_id.in_(chunk))):
                    out[r.item_id] = r.administered
            return out

    def counts(self) -> dict[str, int]:
        """Rows per table (for summaries): items are all versions."""
        with self.engine.connect() as conn:
            return {
                t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                for t in BANK_TABLES
            }
