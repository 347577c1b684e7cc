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
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Row, Table, false, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from item_bank import models
from item_bank.io_csv import parse_csv, write_csv
from item_bank.io_json import parse_json, write_json
from item_bank.io_qti import Placement, parse_qti
from item_bank.io_qti_export import media_digests, write_qti_package
from item_bank.models import (
    BANK_TABLES,
    THRESHOLD_FIELDS,
    THRESHOLD_SE_FIELDS,
    ItemPublic,
    OptionPublic,
)
from item_bank.parsed import ParsedFile
from item_bank.records import (
    BankDocument,
    BankImportError,
    ContentAreaSpec,
    ImportSummary,
    IrtRecord,
    ItemRecord,
    ItemStatus,
    MediaFile,
    Problem,
    ScoringMode,
    StemFormat,
    SubtestSpec,
)

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


FORMATS = ("csv", "json", "qti")
QTI_EXPORT_FORMATS = {"qti3": "3.0", "qti22": "2.2"}


def detect_format(path: str | Path, fmt: str | None = None) -> str:
    """``csv``, ``json`` or ``qti`` (a ``.zip`` package or an ``.xml`` item), from ``fmt`` or
    the file name's extension."""
    if fmt:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}; expected {', '.join(FORMATS)}")
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix in (".csv", ".json"):
        return suffix[1:]
    if suffix in (".zip", ".xml"):
        return "qti"
    raise ValueError(
        f"cannot tell the format of {str(path)!r}; name it .csv, .json, or .zip/.xml (QTI)"
    )


def parse_text(text: str, fmt: str) -> ParsedFile:
    """Parse CSV or JSON text (``fmt``) into a :class:`ParsedFile`."""
    return parse_csv(text) if fmt == "csv" else parse_json(text)


def parse_bytes(
    data: bytes, fmt: str, *, name: str = "upload", mapping: Mapping[str, Placement] | None = None
) -> ParsedFile:
    """Parse a file's bytes: QTI as a package or item, CSV/JSON as UTF-8 text."""
    if fmt == "qti":
        return parse_qti(data, name=name, mapping=mapping)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        parsed = ParsedFile()
        parsed.problems.append(Problem(0, "file", f"not UTF-8 text (byte {exc.start})"))
        return parsed
    return parse_text(text, fmt)


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


def _take_write_lock(conn: Connection) -> None:
    """On SQLite, hold the database write lock from the start of a transaction.

    A transaction that reads and then writes may begin deferred (the server's
    engine begins read transactions that way); in WAL mode its first write
    then fails at once with "database is locked" if another connection
    committed after its first read. A write that changes nothing, issued
    before any read, takes the lock instead, waiting through the busy timeout.
    """
    if conn.dialect.name == "sqlite":
        conn.execute(update(T_SUBTEST).where(false()).values(id=T_SUBTEST.c.id))


# ---------------------------------------------------------------------------
# Reading rows
# ---------------------------------------------------------------------------


def _load_subtests(conn: Connection) -> dict[str, SubtestSpec]:
    subtests = conn.execute(select(T_SUBTEST).order_by(T_SUBTEST.c.position)).all()
    areas = conn.execute(select(T_AREA).order_by(T_AREA.c.position, T_AREA.c.id)).all()
    by_subtest: dict[int, list[ContentAreaSpec]] = {}
    for a in areas:
        by_subtest.setdefault(a.subtest_id, []).append(ContentAreaSpec(a.code, a.name))
    return {
        s.code: SubtestSpec(
            code=s.code,
            name=s.name,
            scoring=ScoringMode(s.scoring),
            points_correct=s.points_correct,
            min_points=s.min_points,
            max_points=s.max_points,
            content_areas=tuple(by_subtest.get(s.id, ())),
        )
        for s in subtests
    }


def _subtest_id(conn: Connection, code: str) -> int:
    return int(conn.execute(select(T_SUBTEST.c.id).where(T_SUBTEST.c.code == code)).scalar_one())


def _options_by_item(conn: Connection, item_pks: Sequence[int]) -> dict[int, list[tuple[int, str]]]:
    """(position, text) of the options of each item version, in order."""
    out: dict[int, list[tuple[int, str]]] = {}
    for chunk in _chunks(list(item_pks)):
        rows = conn.execute(
            select(T_OPTION.c.item_pk, T_OPTION.c.position, T_OPTION.c.text)
            .where(T_OPTION.c.item_pk.in_(chunk))
            .order_by(T_OPTION.c.item_pk, T_OPTION.c.position)
        ).all()
        for r in rows:
            out.setdefault(r[0], []).append((r[1], r[2]))
    return out


def points_text(points: Sequence[int] | None) -> str | None:
    """Option points as stored on the item row ("5,4,1,2,3")."""
    return None if points is None else ",".join(str(p) for p in points)


def parse_points(text: str | None) -> tuple[int, ...] | None:
    return None if text is None else tuple(int(p) for p in text.split(","))


def latest_calibrations(conn: Connection, item_pks: Sequence[int]) -> dict[int, Row[Any]]:
    """The newest calibration row (with its run's label/scale/date) per item version."""
    out: dict[int, Row[Any]] = {}
    for chunk in _chunks(list(item_pks)):
        rows = conn.execute(
            select(T_CAL, T_RUN.c.label, T_RUN.c.scale, T_RUN.c.calibrated_at)
            .join(T_RUN, T_RUN.c.id == T_CAL.c.run_id)
            .where(T_CAL.c.item_pk.in_(chunk))
            .order_by(T_CAL.c.id)
        ).all()
        for r in rows:
            out[r.item_pk] = r  # ascending ids: the last one wins
    return out


def _irt_record(r: Row[Any]) -> IrtRecord:
    thresholds = tuple(getattr(r, f) for f in THRESHOLD_FIELDS if getattr(r, f) is not None)
    se_thr: list[float | None] = [getattr(r, f) for f in THRESHOLD_SE_FIELDS]
    while se_thr and se_thr[-1] is None:
        se_thr.pop()
    return IrtRecord(
        model=r.model,
        a=r.a,
        b=r.b,
        c=r.c,
        d=r.d,
        thresholds=thresholds,
        se_a=r.se_a,
        se_b=r.se_b,
        se_c=r.se_c,
        se_d=r.se_d,
        se_thresholds=tuple(se_thr),
        sample_size=r.sample_size,
        scale=r.scale,
        run=r.label,
        calibrated_at=r.calibrated_at,
    )


def _records(conn: Connection, rows: Sequence[Row[Any]]) -> list[ItemRecord]:
    subtest_code = {r.id: r.code for r in conn.execute(select(T_SUBTEST.c.id, T_SUBTEST.c.code))}
    area_code = {r.id: r.code for r in conn.execute(select(T_AREA.c.id, T_AREA.c.code))}
    pks = [r.id for r in rows]
    options = _options_by_item(conn, pks)
    cals = latest_calibrations(conn, pks)
    out: list[ItemRecord] = []
    for r in rows:
        opts = options.get(r.id, [])
        out.append(
            ItemRecord(
                item_id=r.item_id,
                subtest=subtest_code[r.subtest_id],
                content_area=area_code[r.content_area_id],
                stem=r.stem,
                options=tuple(t for _, t in opts),
                key=r.key,
                points=parse_points(r.points),
                status=ItemStatus(r.status),
                stem_format=StemFormat(r.stem_format),
                enemy_group=r.enemy_group,
                source=r.source,
                version=r.version,
                irt=_irt_record(cals[r.id]) if r.id in cals else None,
            )
        )
    return out


# ---------------------------------------------------------------------------
# Writing an import
# ---------------------------------------------------------------------------


def _write(
    conn: Connection, doc: BankDocument, existing: Mapping[str, SubtestSpec]
) -> ImportSummary:
    subtests_created, areas_created = _write_subtests(conn, doc.subtests, existing)
    subtest_ids = {r.code: r.id for r in conn.execute(select(T_SUBTEST.c.code, T_SUBTEST.c.id))}
    area_ids = {r.code: r.id for r in conn.execute(select(T_AREA.c.code, T_AREA.c.id))}

    # The current version of every incoming id that the bank already holds.
    ids = [item.item_id for item in doc.items]
    current_rows: list[Row[Any]] = []
    for chunk in _chunks(ids):
        current_rows += conn.execute(
            select(T_ITEM).where(T_ITEM.c.is_current.is_(True), T_ITEM.c.item_id.in_(chunk))
        ).all()
    current = {rec.item_id: rec for rec in _records(conn, current_rows)}
    current_pk = {r.item_id: r.id for r in current_rows}

    created: list[str] = []
    new_versions: list[str] = []
    unchanged: list[str] = []
    recalibrated: list[str] = []
    to_insert: list[ItemRecord] = []
    recalibrate: list[tuple[int, IrtRecord]] = []
    for item in doc.items:
        old = current.get(item.item_id)
        if old is None:
            created.append(item.item_id)
            to_insert.append(replace(item, version=item.version or 1))
        elif replace(old, irt=None).content_equal(replace(item, irt=None)):
            if item.irt is not None and item.irt != old.irt:
                recalibrate.append((current_pk[item.item_id], item.irt))
                recalibrated.append(item.item_id)
            else:
                unchanged.append(item.item_id)
        else:
            new_versions.append(item.item_id)
            to_insert.append(replace(item, version=(old.version or 0) + 1))

    if new_versions:
        for chunk in _chunks(new_versions):
            conn.execute(
                update(T_ITEM)
                .where(T_ITEM.c.is_current.is_(True), T_ITEM.c.item_id.in_(chunk))
                .values(is_current=False)
            )
    now = models.utcnow()
    pks: list[int] = []
    if to_insert:
        item_rows = [
            {
                "item_id": it.item_id,
                "stem": it.stem,
                "stem_format": it.stem_format.value,
                "version": it.version,
                "is_current": True,
                "subtest_id": subtest_ids[it.subtest],
                "content_area_id": area_ids[it.content_area],
                "status": it.status.value,
                "n_options": len(it.options),
                "key": it.key,
                "points": points_text(it.points),
                "enemy_group": it.enemy_group,
                "source": it.source,
                "created_at": now,
            }
            for it in to_insert
        ]
        for chunk in _chunks(item_rows):
            result = conn.execute(
                insert(T_ITEM).returning(T_ITEM.c.id, sort_by_parameter_order=True), list(chunk)
            )
            pks += [int(r[0]) for r in result]
        option_rows = [
            {"item_pk": pk, "position": k, "text": text}
            for pk, it in zip(pks, to_insert, strict=True)
            for k, text in enumerate(it.options)
        ]
        for chunk in _chunks(option_rows):
            conn.execute(insert(T_OPTION), list(chunk))
    calibrations = [
        (pk, it.irt) for pk, it in zip(pks, to_insert, strict=True) if it.irt is not None
    ] + recalibrate
    run_ids = _write_calibrations(conn, calibrations, now)
    return ImportSummary(
        created=tuple(created),
        new_versions=tuple(new_versions),
        unchanged=tuple(unchanged),
        recalibrated=tuple(recalibrated),
        subtests_created=tuple(subtests_created),
        content_areas_created=tuple(areas_created),
        calibration_runs=tuple(run_ids),
    )


def _write_media(conn: Connection, files: Sequence[MediaFile]) -> None:
    now = models.utcnow()
    for f in files:  # one by one: images can be large, and a package holds few
        conn.execute(
            insert(T_MEDIA).values(
                sha256=f.sha256,
                mime_type=f.mime_type,
                size=len(f.data),
                data=f.data,
                name=f.name,
                created_at=now,
            )
        )


def _write_subtests(
    conn: Connection, declared: Sequence[SubtestSpec], existing: Mapping[str, SubtestSpec]
) -> tuple[list[str], list[str]]:
    created: list[str] = []
    areas_created: list[str] = []
    next_position = len(existing)
    for spec in declared:
        old = existing.get(spec.code)
        if old is None:
            subtest_id = conn.execute(
                insert(T_SUBTEST).values(
                    code=spec.code,
                    name=spec.name,
                    scoring=spec.scoring.value,
                    points_correct=spec.points_correct,
                    min_points=spec.min_points,
                    max_points=spec.max_points,
                    position=next_position,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            next_position += 1
            created.append(spec.code)
            old_areas: dict[str, ContentAreaSpec] = {}
        else:
            subtest_id = _subtest_id(conn, spec.code)
            if old.name != spec.name:
                conn.execute(
                    update(T_SUBTEST).where(T_SUBTEST.c.id == subtest_id).values(name=spec.name)
                )
            old_areas = {a.code: a for a in old.content_areas}
        for position, area in enumerate(spec.content_areas):
            if area.code not in old_areas:
                conn.execute(
                    insert(T_AREA).values(
                        subtest_id=subtest_id, code=area.code, name=area.name, position=position
                    )
                )
                areas_created.append(area.code)
            elif old_areas[area.code].name != area.name:
                conn.execute(
                    update(T_AREA).where(T_AREA.c.code == area.code).values(name=area.name)
                )
    return created, areas_created


def _write_calibrations(
    conn: Connection, calibrations: Sequence[tuple[int, IrtRecord]], now: dt.datetime
) -> list[int]:
    """Insert parameter rows, finding or creating their runs by (label, scale, date)."""
    if not calibrations:
        return []
    runs: dict[tuple[str, str, dt.date | None], int] = {}
    for r in conn.execute(select(T_RUN.c.id, T_RUN.c.label, T_RUN.c.scale, T_RUN.c.calibrated_at)):
        runs.setdefault((r.label, r.scale, r.calibrated_at), r.id)
    used: list[int] = []
    rows = []
    for pk, irt in calibrations:
        key = (irt.run, irt.scale, irt.calibrated_at)
        if key not in runs:
            runs[key] = int(
                conn.execute(
                    insert(T_RUN).values(
                        label=irt.run,
                        scale=irt.scale,
                        calibrated_at=irt.calibrated_at,
                        created_at=now,
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
            )
        if runs[key] not in used:
            used.append(runs[key])
        row: dict[str, Any] = {
            "item_pk": pk,
            "run_id": runs[key],
            "model": irt.model,
            "a": irt.a,
            "b": irt.b,
            "c": irt.c,
            "d": irt.d,
            "se_a": irt.se_a,
            "se_b": irt.se_b,
            "se_c": irt.se_c,
            "se_d": irt.se_d,
            "sample_size": irt.sample_size,
        }
        for k, name in enumerate(THRESHOLD_FIELDS):
            row[name] = irt.thresholds[k] if k < len(irt.thresholds) else None
        for k, name in enumerate(THRESHOLD_SE_FIELDS):
            row[name] = irt.se_thresholds[k] if k < len(irt.se_thresholds) else None
        rows.append(row)
    for chunk in _chunks(rows):
        conn.execute(insert(T_CAL), list(chunk))
    return used
