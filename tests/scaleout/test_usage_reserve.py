"""Places under a hard exposure limit, taken in PostgreSQL by several processes
(``exam_server.usage.reserve``): however stale each process's own counts are,
no item is given past the limit."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import insert, select

from exam_server.db import create_schema, make_engine
from exam_server.models import Exam
from exam_server.usage import EXAM_USAGE, ITEM_USAGE, release, reserve

pytestmark = pytest.mark.postgres


def _exam(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        eid = conn.execute(
            insert(Exam.__table__).values(  # type: ignore[attr-defined]
                code="E1", name="E1", design_json="{}", bank_json="{}", items_json="[]"
            )
        ).inserted_primary_key[0]
        # 19 tests started: with max_rate 0.25 and warmup 1 an item may be given
        # to 0.25 · (19 + 1) = 5 tests.
        conn.execute(insert(EXAM_USAGE).values(exam_id=eid, tests=19))
    return int(eid)


def _count(engine, eid: int, item: int) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(ITEM_USAGE.c.administered).where(
                    ITEM_USAGE.c.exam_id == eid, ITEM_USAGE.c.item_index == item
                )
            ).scalar_one()
        )


def test_concurrent_processes_never_pass_the_limit(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    create_schema(engine)
    eid = _exam(engine)
    taken: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(12)

    def worker() -> None:
        start.wait()  # twelve "processes" ask for item 7 at once
        with engine.begin() as conn:
            ok = not reserve(conn, eid, [7], max_rate=0.25, warmup=1)
        with lock:
            taken.append(ok)

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert taken.count(True) == 5 and _count(engine, eid, 7) == 5
    # A step that was not stored gives its place back; the next may take it.
    with engine.begin() as conn:
        release(conn, eid, [7])
    with engine.begin() as conn:
        assert reserve(conn, eid, [7, 8], max_rate=0.25, warmup=1) == []
        assert reserve(conn, eid, [7], max_rate=0.25, warmup=1) == [7]
    assert _count(engine, eid, 7) == 5 and _count(engine, eid, 8) == 1
    engine.dispose()
