"""Writing a checked import: subtests, item versions, options, media, calibrations.

Helpers that take an open connection inside the import's one transaction
(see :meth:`item_bank.store.ItemStore.import_parsed`); nothing here checks
the input, which has been checked in full before any of it runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, Row, false, insert, select, update

from item_bank import models
from item_bank.models import THRESHOLD_FIELDS, THRESHOLD_SE_FIELDS
from item_bank.reading import _records, _subtest_id, points_text
from item_bank.records import (
    BankDocument,
    ContentAreaSpec,
    ImportSummary,
    IrtRecord,
    ItemRecord,
    MediaFile,
    SubtestSpec,
)
from item_bank.tables import (
    T_AREA,
    T_CAL,
    T_ITEM,
    T_MEDIA,
    T_OPTION,
    T_RUN,
    T_SUBTEST,
    _chunks,
)


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
