"""Fixtures of the scale-out tests: servers in subprocesses on a shared database.

``pg_url`` is the shared ``postgres_url`` fixture (a fresh schema, dropped
afterwards; skipped with the reason when PostgreSQL is unreachable).
``cluster_factory(url, workers=0|N, **settings)`` starts a server in a
subprocess (0: one plain process; N: N uvicorn workers) on a seeded
database and stops every started server at the end of the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from exam_server.scaleout.cluster import WorkerCluster
from tests.conftest import make_settings


@pytest.fixture
def pg_url(postgres_url: str) -> str:
    return postgres_url


@pytest.fixture
def cluster_factory() -> Iterator[Callable[..., WorkerCluster]]:
    started: list[WorkerCluster] = []

    def make(database_url: str, workers: int = 0, **settings: Any) -> WorkerCluster:
        cluster = WorkerCluster(make_settings(database_url, **settings), workers=workers)
        started.append(cluster)
        return cluster.start()

    yield make
    for c in started:
        c.stop()
