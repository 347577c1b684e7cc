"""Fixtures for the item bank tests: stores on SQLite and on PostgreSQL.

``store`` is parametrised over both backends; the PostgreSQL one lives in a
fresh schema (so it never meets other engineers' tables) that is dropped
afterwards, and is skipped, with the reason, when the server is unreachable.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from item_bank.database import open_engine, sqlite_url
from item_bank.demo import generate_demo_bank
from item_bank.records import BankDocument
from item_bank.store import ItemStore
from tests.conftest import fresh_postgres_schema


def _pg_schema_url() -> Iterator[str]:
    return fresh_postgres_schema("bank")


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from _pg_schema_url()


def _sqlite_store(tmp_path: Path) -> ItemStore:
    store = ItemStore(open_engine(sqlite_url(tmp_path / "bank.db")))
    store.create_tables()
    return store


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ItemStore]:
    """An empty item store on each backend."""
    if request.param == "sqlite":
        s = _sqlite_store(tmp_path)
        yield s
        s.engine.dispose()
        return
    gen = _pg_schema_url()
    url = next(gen)
    s = ItemStore(open_engine(url))
    s.create_tables()
    try:
        yield s
    finally:
        s.engine.dispose()
        next(gen, None)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[ItemStore]:
    s = _sqlite_store(tmp_path)
    yield s
    s.engine.dispose()


@pytest.fixture(scope="session")
def demo_bank() -> BankDocument:
    """The full demo bank (600 items per subtest, default seed)."""
    return generate_demo_bank()


@pytest.fixture(scope="session")
def small_demo() -> BankDocument:
    """A small demo bank (30 items per subtest) for quick tests."""
    return generate_demo_bank(seed=7, per_subtest=30)
