"""The group commit's row writes and stale-copy guard, on SQLite and PostgreSQL:
what a group stores, and which writer copies it refuses, must not depend on
the database."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, text
from sqlalchemy.engine import Engine

from exam_server.attempts.storage import check_attempt_guards
from exam_server.db import make_engine, writer
from exam_server.durability import _apply_rows, _Write
from tests.conftest import add_running_attempts, fresh_postgres_schema, seed_small


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'rows.db'}"
    else:
        yield from fresh_postgres_schema("rows")


def _table() -> Table:
    # "order" is a reserved word: the names are quoted as the server's are.
    return Table(
        "t_rows",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("a", Integer),
        Column("order", String),
        Column("note", String, nullable=True),
    )


def _write(inserts: list[dict[str, Any]], updates: list[tuple[int, dict[str, Any]]]) -> _Write:
    table = _table()
    fut: Any = asyncio.Future  # never awaited here: _apply_rows only reads the rows
    return _Write(None, fut, [(table, r) for r in inserts], [(table, k, v) for k, v in updates])


def _rows(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as c:
        return [
            tuple(r) for r in c.execute(text('SELECT id, a, "order", note FROM t_rows ORDER BY id'))
        ]


def test_a_group_stores_every_row_in_order_and_the_last_update_wins(url: str) -> None:
    engine = make_engine(url)
    try:
        _table().metadata.create_all(engine)
        first = [{"a": i, "order": f"o{i}", "note": None} for i in range(12)]
        with writer(engine).begin() as conn:
            _apply_rows(conn, [_write(first[:5], []), _write(first[5:], [])])
        batch = [
            _write([{"a": 100, "order": "x", "note": "new"}], [(1, {"a": -1, "order": "u1"})]),
            _write([], [(2, {"a": -2, "order": "u2"}), (3, {"a": -3, "order": "u3"})]),
            # Key 2 twice in one group: the later write is the one that stays.
            _write([], [(2, {"a": -22, "order": "u22"})]),
            _write([], [(5, {"note": "only the note"})]),
        ]
        with writer(engine).begin() as conn:
            _apply_rows(conn, batch)
        rows = _rows(engine)
    finally:
        engine.dispose()
    expected = [(i + 1, i, f"o{i}", None) for i in range(12)] + [(13, 100, "x", "new")]
    expected[0] = (1, -1, "u1", None)
    expected[1] = (2, -22, "u22", None)
    expected[2] = (3, -3, "u3", None)
    expected[4] = (5, 4, "o4", "only the note")
    assert rows == expected


def test_the_guard_refuses_exactly_the_stale_copies(url: str) -> None:
    seed_small(url, n_candidates=4)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            ids = add_running_attempts(conn)
            pause = text("UPDATE exam_attempt SET status = 'paused' WHERE id = :a")
            conn.execute(pause, {"a": ids[1]})  # a proctor paused it elsewhere
            moved = text("UPDATE exam_attempt SET last_seq = 5 WHERE id = :a")
            conn.execute(moved, {"a": ids[2]})  # another process stored two answers
        missing = max(ids) + 1000
        guards = [(ids[0], 3), (ids[1], 3), (ids[2], 3), (ids[3], 3), (missing, 0)]
        with writer(engine).begin() as conn:
            refused = check_attempt_guards(conn, guards)
        with writer(engine).begin() as conn:
            none_refused = check_attempt_guards(conn, [(ids[0], 3), (ids[3], 3)])
    finally:
        engine.dispose()
    found = {aid: (e.found_seq, e.status) for aid, e in refused.items()}  # type: ignore[attr-defined]
    assert found == {ids[1]: (3, "paused"), ids[2]: (5, "running"), missing: (None, "missing")}
    assert none_refused == {}
