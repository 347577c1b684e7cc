"""A centre database with one small exam day at site TILOK-01 (not opened),
and the centre's signing key; the browser tests' chromium (``browser``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import Engine

from exam_server.db import create_schema, make_engine
from exam_server.demo import SeedSummary, seed_exam
from exam_server.testing import small_bank, small_design
from tests.conftest import TEST_SCRYPT_N, TEST_SECRET
from tests.proctor_ui.conftest import browser  # noqa: F401  (the fixture: Debian's chromium)


@dataclass
class Centre:
    engine: Engine
    seed: SeedSummary
    key: Ed25519PrivateKey
    url: str


def make_centre(path: Path, n_candidates: int = 4, time_limit: float = 600.0) -> Centre:
    return make_centre_on(f"sqlite:///{path}", n_candidates, time_limit)


def make_centre_on(url: str, n_candidates: int = 4, time_limit: float = 600.0) -> Centre:
    """The centre's exam day on the database at ``url`` (SQLite or PostgreSQL)."""
    engine = make_engine(url)
    create_schema(engine)
    bank, items = small_bank()
    seed = seed_exam(
        engine,
        TEST_SECRET,
        design=small_design(time_limit_seconds=time_limit),
        bank=bank,
        items=items,
        n_candidates=n_candidates,
        scrypt_n=TEST_SCRYPT_N,
        admin_password="admin-password",
        proctor_password="proctor-password",
        open_session=False,
    )
    return Centre(engine, seed, Ed25519PrivateKey.generate(), url)


@pytest.fixture
def centre(tmp_path: Path) -> Centre:
    return make_centre(tmp_path / "centre.db")


@pytest.fixture
def site_engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'site.db'}")
    create_schema(engine)
    return engine
