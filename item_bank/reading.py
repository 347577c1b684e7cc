"""Reading bank rows back into records: subtests, options, calibrations, items.

Helpers that take an open connection; :class:`item_bank.store.ItemStore`
and the import writer call them inside their own transactions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, select

from item_bank.models import THRESHOLD_FIELDS, THRESHOLD_SE_FIELDS
from item_bank.records import (
    ContentAreaSpec,
    IrtRecord,
    ItemRecord,
    ItemStatus,
    ScoringMode,
    StemFormat,
    SubtestSpec,
)
from item_bank.tables import T_AREA, T_CAL, T_OPTION, T_RUN, T_SUBTEST, _chunks


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
