"""Shared fixtures: a real exam server on a free port, seeded with a small exam.

For the server, UI and scale-out tests:

* ``server_factory(mode="linear", n_candidates=6, database_url=None, clock=None, **settings)``
  → a :class:`ServerHandle` (uvicorn in a thread of the test process,
  stopped at the end of the test). ``database_url`` defaults to a fresh
  SQLite file in ``tmp_path``; ``clock``: a :class:`~exam_server.clock.ManualClock`
  the test moves instead of sleeping.
* ``live_server``: ``server_factory()`` with the defaults (linear mode).
* ``postgres_url``: a fresh schema on the PostgreSQL at 127.0.0.1:5432
  (database ``test``, user ``postgres``), dropped afterwards; skips with
  the reason when PostgreSQL is unreachable.

A handle has ``url``, ``ws_url``, ``settings``, ``seed`` (the
:class:`~exam_server.demo.SeedSummary`: session id and token, candidates
with PINs, admin and proctor passwords), ``login(reg, terminal_id)`` → the
candidate token, ``staff(role)`` → a bearer token, ``db`` (an engine).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from exam_server.clock import Clock
from exam_server.db import make_engine
from exam_server.demo import SeedSummary, seed_exam
from exam_server.settings import Settings
from exam_server.testing import (
    ThreadServer,
    candidate_login,
    free_port,
    small_bank,
    small_design,
    staff_token,
)


def pytest_configure(config: pytest.Config) -> None:
    """Let the servers and commands the tests start as child processes keep
    their compiled bytecode, as Python does by default. A machine with
    ``PYTHONDONTWRITEBYTECODE=1`` (this one and CI have it) makes every child
    compile the project's modules again, about 0.5 s of CPU a start; the
    caches go to the ``__pycache__`` folders ``.gitignore`` leaves out."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto`` (the suite's addopts): one worker more than the cores.
    Much of the suite waits on servers, sockets and clocks rather than
    computing (on a 2-core AMD EPYC it used about 1.45 cores with 2 workers),
    so a third worker fills the waits: the whole suite took 8 min 10 s with
    3 workers and 8 min 36 s with 4, against 9 min 8 s to 10 min 29 s with 2,
    all green (2026-12-07)."""
    return (os.cpu_count() or 1) + 1


TEST_SECRET = "test-secret-key-0123456789-abcdefghijklmnop"
# A cheap scrypt for tests (the default 2**14 costs ~25 ms a hash).
TEST_SCRYPT_N = 2**8
ADMIN_PASSWORD = "admin-password"
PROCTOR_PASSWORD = "proctor-password"


@dataclass
class ServerHandle:
    server: ThreadServer
    seed: SeedSummary
    db: Engine
    _tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def ws_url(self) -> str:
        return self.server.ws_url

    @property
    def settings(self) -> Settings:
        return self.server.settings

    @property
    def app(self) -> Any:
        return self.server.app

    def login(self, registration_number: str, terminal_id: str = "T-1") -> str:
        r = candidate_login(
            self.url,
            registration_number,
            self.seed.pins()[registration_number],
            self.seed.session_token,
            terminal_id,
        )
        assert r.status_code == 200, r.text
        return str(r.json()["token"])

    def staff(self, role: str = "proctor") -> str:
        if role not in self._tokens:
            user, pw = self.seed.admin if role == "admin" else self.seed.proctor
            self._tokens[role] = staff_token(self.url, user, pw)
        return self._tokens[role]

    def headers(self, role: str = "proctor") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.staff(role)}"}


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "secret_key": TEST_SECRET,
        "port": free_port(),
        "grace_seconds": 2.0,
        "presence_interval_seconds": 0.5,
        "sweep_interval_seconds": 0.2,
        "scrypt_n": TEST_SCRYPT_N,
    }
    values.update(overrides)
    return Settings(**values)


def add_running_attempts(conn: Any, limit: int | None = None) -> list[int]:
    """Attempts running at ``last_seq`` 3 for the seeded candidates (in id
    order, the first ``limit`` of them), inserted directly, for tests of the
    stale-copy guard; returns their ids."""
    conn.execute(
        text(
            "INSERT INTO exam_attempt (session_id, candidate_id, status, seed,"
            " last_seq, response_head, terminal_released, remaining_at_start,"
            " last_seen_at, started_at)"
            " SELECT session_id, id, 'running', 1, 3, '', false, 600, 0, 0"
            " FROM exam_candidate ORDER BY id"
            + ("" if limit is None else f" LIMIT {int(limit)}")
            + " ON CONFLICT DO NOTHING"
        )
    )
    return [int(r[0]) for r in conn.execute(text("SELECT id FROM exam_attempt ORDER BY id"))]


def seed_small(
    database_url: str,
    mode: str = "linear",
    n_candidates: int = 6,
    time_limit_seconds: float = 600.0,
    lengths: tuple[int, int, int] = (3, 3, 4),
) -> SeedSummary:
    engine = make_engine(database_url)
    try:
        bank, items = small_bank()
        return seed_exam(
            engine,
            TEST_SECRET,
            design=small_design(mode, time_limit_seconds, lengths),
            bank=bank,
            items=items,
            n_candidates=n_candidates,
            scrypt_n=TEST_SCRYPT_N,
            admin_password=ADMIN_PASSWORD,
            proctor_password=PROCTOR_PASSWORD,
        )
    finally:
        engine.dispose()


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., ServerHandle]]:
    started: list[ServerHandle] = []

    def make(
        mode: str = "linear",
        n_candidates: int = 6,
        database_url: str | None = None,
        time_limit_seconds: float = 600.0,
        clock: Clock | None = None,
        presence_timer: bool = True,
        **settings: Any,
    ) -> ServerHandle:
        url = database_url or f"sqlite:///{tmp_path / f'exam-{len(started)}.db'}"
        seed = seed_small(url, mode, n_candidates, time_limit_seconds)
        settings_ = make_settings(url, **settings)
        server = ThreadServer(settings_, clock=clock, presence_timer=presence_timer).start()
        handle = ServerHandle(server, seed, make_engine(url))
        started.append(handle)
        return handle

    yield make
    for h in started:
        h.server.stop()
        h.db.dispose()


@pytest.fixture
def live_server(server_factory: Callable[..., ServerHandle]) -> ServerHandle:
    return server_factory()


def fresh_postgres_schema(prefix: str = "t") -> Iterator[str]:
    """A SQLAlchemy URL on a fresh schema of the PostgreSQL at 127.0.0.1:5432,
    dropped afterwards (``exam_server.scaleout.migrate.temporary_schema``);
    skips the test, with the reason, when psycopg or the server is missing."""
    try:
        import psycopg
    except ImportError:
        pytest.skip("psycopg is not installed (pip install -e '.[postgres]')")
    from exam_server.scaleout.migrate import temporary_schema

    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(temporary_schema(prefix=prefix))
        except psycopg.OperationalError as exc:
            pytest.skip(f"PostgreSQL at 127.0.0.1:5432 is unreachable: {exc}")
        yield url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose default schema is a fresh one, dropped afterwards."""
    yield from fresh_postgres_schema("t")
