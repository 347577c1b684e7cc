"""Bank loading benchmark: stored rows → the engine's ``BankArrays``.

Run from the repository root::

    .venv/bin/python -m benchmarks.bank_load            # SQLite, and PostgreSQL if reachable
    .venv/bin/python -m benchmarks.bank_load --quick    # fewer repetitions

A 20,000-item bank (a third each TWK and TIU with 3PL parameters, TKP with
GPCM, all operational, five options each) is generated from a fixed seed and
imported once into a SQLite file under ``benchmarks/.data/bank_load/`` (and
into a fresh schema of the PostgreSQL at 127.0.0.1:5432 when it answers).
Three ways of getting the arrays are then timed, interleaved A, B, C, A, B, C…:

* ``load_bank_arrays`` — Seleksi: two queries, then numpy only;
* row by row — the same result built the obvious way: every current item as a
  record (``ItemStore.export_document``), then a Python loop over items;
* floor — the two queries' raw rows fetched through the DB-API cursor with
  no conversion at all (the least any loader must pay).

Threads are pinned to one (``OMP_NUM_THREADS=1``). The figures go to the
``bank_load`` section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script as well as with -m
    sys.path.insert(0, str(ROOT))

from benchmarks.report import machine_line, write_section  # noqa: E402
from cat_engine.bank import BankArrays  # noqa: E402
from cat_engine.irt import ItemParameters, Model  # noqa: E402
from item_bank.arrays import load_bank_arrays  # noqa: E402
from item_bank.database import open_engine, sqlite_url  # noqa: E402
from item_bank.demo import SKD_SUBTESTS  # noqa: E402
from item_bank.records import BankDocument, IrtRecord, ItemRecord, ItemStatus  # noqa: E402
from item_bank.store import ItemStore  # noqa: E402

DATA = ROOT / "benchmarks" / ".data" / "bank_load"
N_ITEMS = 20_000
SEED = 20_000
PG_BASE = "postgresql://postgres@127.0.0.1:5432/test"


def synthetic_bank(n_items: int = N_ITEMS, seed: int = SEED) -> BankDocument:
    """``n_items`` items spread over TWK/TIU/TKP and their content areas."""
    rng = np.random.default_rng(seed)
    items: list[ItemRecord] = []
    for k in range(n_items):
        subtest = SKD_SUBTESTS[k % 3]
        areas = subtest.content_areas
        area = areas[(k // 3) % len(areas)].code
        options = tuple(f"Pilihan {x} soal {k}" for x in "ABCDE")
        if subtest.code == "TKP":
            points = tuple(int(p) for p in rng.permutation([1, 2, 3, 4, 5]))
            steps = np.sort(rng.normal(-1.0, 1.0, 4))
            irt = IrtRecord(
                model="GPCM",
                a=round(float(rng.lognormal(np.log(0.8), 0.25)), 4),
                thresholds=tuple(round(float(t), 4) for t in steps),
                sample_size=1000,
                scale="bench",
                run="bench",
            )
            items.append(
                ItemRecord(
                    f"B{k:05d}",
                    "TKP",
                    area,
                    f"Situasi sintetis {k}",
                    options,
                    points=points,
                    status=ItemStatus.OPERATIONAL,
                    enemy_group=f"E{k // 40}" if k % 7 == 0 else None,
                    irt=irt,
                )
            )
        else:
            irt = IrtRecord(
                model="3PL",
                a=round(float(rng.lognormal(0, 0.3)), 4),
                b=round(float(rng.normal()), 4),
                c=round(float(rng.beta(4, 16)), 4),
                sample_size=1000,
                scale="bench",
                run="bench",
            )
            items.append(
                ItemRecord(
                    f"B{k:05d}",
                    subtest.code,
                    area,
                    f"Soal sintetis {k}",
                    options,
                    key=int(rng.integers(5)),
                    status=ItemStatus.OPERATIONAL,
                    enemy_group=f"E{k // 40}" if k % 7 == 0 else None,
                    irt=irt,
                )
            )
    return BankDocument(subtests=SKD_SUBTESTS, items=tuple(items))


def row_by_row(store: ItemStore) -> BankArrays:
    """The same arrays, built from per-item records with a Python loop (the baseline)."""
    doc = store.export_document(statuses=["operational", "pretest"])
    specs = {s.code: s for s in doc.subtests}
    sub_codes = tuple(specs)
    area_codes = tuple(ca.code for s in doc.subtests for ca in s.content_areas)
    items = [i for i in doc.items if i.irt is not None]
    n = len(items)
    width = max(len(i.options) for i in items)
    model = np.zeros(n, dtype=np.int8)
    a, b, c, d = np.ones(n), np.full(n, np.nan), np.zeros(n), np.ones(n)
    thresholds = np.full((n, 4), np.nan)
    points = np.full((n, width), np.nan)
    category = np.full((n, width), -1, dtype=np.int64)
    enemy_codes: dict[str, int] = {}
    enemy = np.full(n, -1, dtype=np.int64)
    for r, item in enumerate(items):
        irt = item.irt
        assert irt is not None
        model[r] = Model.parse(irt.model)
        a[r] = irt.a if irt.a is not None else 1.0
        if irt.b is not None:
            b[r] = irt.b
        c[r] = irt.c or 0.0
        for k, t in enumerate(irt.thresholds):
            thresholds[r, k] = t
        spec = specs[item.subtest]
        for k in range(len(item.options)):
            if item.key is not None:
                points[r, k] = spec.points_correct if k == item.key else 0.0
                category[r, k] = 1 if k == item.key else 0
            else:
                assert item.points is not None
                points[r, k] = item.points[k]
                category[r, k] = item.points[k] - spec.min_points
        if item.enemy_group:
            enemy[r] = enemy_codes.setdefault(item.enemy_group, len(enemy_codes))
    return BankArrays(
        item_ids=tuple(i.item_id for i in items),
        params=ItemParameters(model, a, b, c, d, thresholds),
        subtest=np.array([sub_codes.index(i.subtest) for i in items], dtype=np.int64),
        subtest_codes=sub_codes,
        content_area=np.array([area_codes.index(i.content_area) for i in items], dtype=np.int64),
        content_codes=area_codes,
        n_options=np.array([len(i.options) for i in items], dtype=np.int64),
        option_points=points,
        option_category=category,
        enemy_group=enemy,
        pretest=np.array([i.status is ItemStatus.PRETEST for i in items]),
    )


def floor(store: ItemStore) -> int:
    """The raw rows of the three queries, fetched and dropped."""
    sql = (
        "SELECT i.id, i.item_id, i.version, i.subtest_id, i.content_area_id, i.status, "
        "i.n_options, i.key, i.points, i.enemy_group FROM bank_item i "
        "WHERE i.is_current AND i.status IN ('operational', 'pretest')",
        "SELECT item_pk, model, a, b, c, d, t1, t2, t3, t4, t5 FROM bank_item_calibration "
        "WHERE id IN (SELECT max(id) FROM bank_item_calibration GROUP BY item_pk)",
    )
    rows = 0
    raw = store.engine.raw_connection()
    try:
        cur = raw.cursor()
        for q in sql:
            cur.execute(q)
            rows += len(cur.fetchall())
        cur.close()
    finally:
        raw.close()
    return rows


def time_interleaved(
    candidates: dict[str, Callable[[], object]], reps: int
) -> dict[str, tuple[list[float], list[float]]]:
    """Wall-clock and CPU seconds of each candidate, ``reps`` interleaved rounds."""
    times: dict[str, tuple[list[float], list[float]]] = {n: ([], []) for n in candidates}
    for fn in candidates.values():  # warm-up: connections, caches, imports
        fn()
    for _ in range(reps):
        for name, fn in candidates.items():
            c0, t0 = time.process_time(), time.perf_counter()
            fn()
            times[name][0].append(time.perf_counter() - t0)
            times[name][1].append(time.process_time() - c0)
    return times


def prepare_sqlite(doc: BankDocument) -> tuple[ItemStore, float | None]:
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"bank{N_ITEMS}.db"
    store = ItemStore(open_engine(sqlite_url(path)))
    store.create_tables()
    if store.counts()["bank_item"] == len(doc.items):
        return store, None
    t0 = time.perf_counter()
    store.import_document(doc)
    return store, time.perf_counter() - t0


def prepare_postgres(doc: BankDocument) -> tuple[ItemStore, float, Callable[[], None]] | None:
    try:
        import psycopg
    except ImportError:
        return None
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(PG_BASE, connect_timeout=3, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
    except psycopg.OperationalError:
        return None
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{schema}"
    store = ItemStore(open_engine(url))

    def drop() -> None:
        store.engine.dispose()
        with psycopg.connect(PG_BASE, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    try:
        store.create_tables()
        t0 = time.perf_counter()
        store.import_document(doc)
        seconds = time.perf_counter() - t0
    except Exception as exc:  # the shared server was restarted under us, say
        print(f"PostgreSQL import failed, leaving it out: {exc!s:.200}", file=sys.stderr)
        drop()
        return None
    return store, seconds, drop


def _fmt(values: tuple[list[float], list[float]]) -> str:
    wall = [v * 1000 for v in values[0]]
    cpu = statistics.median(values[1]) * 1000
    return f"{statistics.median(wall):.0f} ms ({min(wall):.0f}–{max(wall):.0f}); CPU {cpu:.0f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 repetitions instead of 9")
    args = parser.parse_args(argv)
    reps = 3 if args.quick else 9
    load_before = os.getloadavg()[0]
    doc = synthetic_bank()
    backends: list[tuple[str, ItemStore, float | None]] = []
    sqlite_store, sqlite_import = prepare_sqlite(doc)
    backends.append(("SQLite (file, WAL)", sqlite_store, sqlite_import))
    cleanup: Callable[[], None] | None = None
    pg = prepare_postgres(doc)
    if pg is not None:
        backends.append(("PostgreSQL (local)", pg[0], pg[1]))
        cleanup = pg[2]
    rows = []
    try:
        for label, store, import_seconds in backends:
            fast = load_bank_arrays(store)
            slow = row_by_row(store)
            # Same content both ways (the baseline is a fair comparison).
            assert fast.item_ids == slow.item_ids
            assert np.array_equal(fast.option_points, slow.option_points, equal_nan=True)
            assert np.array_equal(fast.params.a, slow.params.a)
            times = time_interleaved(
                {
                    "load_bank_arrays": lambda s=store: load_bank_arrays(s),
                    "row by row": lambda s=store: row_by_row(s),
                    "floor": lambda s=store: floor(s),
                },
                reps,
            )
            ratio = statistics.median(times["row by row"][0]) / statistics.median(
                times["load_bank_arrays"][0]
            )
            rows.append(
                f"| {label} | {fast.n_items:,} | {_fmt(times['load_bank_arrays'])} | "
                f"{_fmt(times['row by row'])} | {_fmt(times['floor'])} | {ratio:.1f}× | "
                + (f"{import_seconds:.1f} s |" if import_seconds is not None else "(cached) |")
            )
            print(rows[-1], flush=True)
    finally:
        if cleanup is not None:
            cleanup()
    if pg is None:
        rows.append("| PostgreSQL | — | not reachable on 127.0.0.1:5432 in this run | | | | |")
    section = "\n".join(
        [
            "## Item bank: loading 20,000 items into the engine's arrays",
            "",
            machine_line()
            + f" Median of {reps} interleaved runs (min–max) and median CPU time of this "
            f"process; one thread. Load average {load_before:.1f} before and "
            f"{os.getloadavg()[0]:.1f} after the run on this shared machine: wall-clock "
            "figures are inflated by other work, compare the columns of one row.",
            "",
            "| database | items | `load_bank_arrays` | row by row | floor (raw fetch) "
            "| speed-up | one-off import |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
            *rows,
            "",
            "*Row by row* builds the same arrays from per-item records with a Python loop; "
            "*floor* fetches the two queries' raw rows and converts nothing. "
            "The import is one transaction of all 20,000 items with their options and "
            "parameters, checked in full first.",
            "",
            "Reproduce: `.venv/bin/python -m benchmarks.bank_load`",
        ]
    )
    write_section("bank_load", section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
