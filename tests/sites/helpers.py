"""What the site tests with real servers share: a site installed from its
package, settings for a centre or site server, reading one value or the rows
of a query, waiting for a condition."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import text
from sqlalchemy.engine import Engine

from exam_server import scheduling as sch
from exam_server.admin import assign_rooms
from exam_server.db import make_engine
from exam_server.settings import Settings
from exam_server.sites.install import install
from exam_server.testing import free_port
from tests.conftest import TEST_SCRYPT_N, TEST_SECRET


def server_settings(
    tmp: Path, name: str, url: str, *, checkpoint_seconds: float = 0.5, **kw: Any
) -> Settings:
    """A server's settings on ``url`` with its checkpoint file and key in
    ``tmp`` under ``name``, checkpoints every ``checkpoint_seconds`` and a
    site syncing every 0.3 s."""
    return Settings(
        database_url=url,
        secret_key=TEST_SECRET,
        port=free_port(),
        scrypt_n=TEST_SCRYPT_N,
        checkpoint_seconds=checkpoint_seconds,
        checkpoint_path=str(tmp / f"{name}.checkpoints.jsonl"),
        checkpoint_key_path=str(tmp / f"{name}.key.pem"),
        site_sync_seconds=0.3,
        **kw,
    )


def installed_site(tmp: Path, package: bytes, centre_key: Ed25519PublicKey) -> tuple[str, Engine]:
    """A site database in ``tmp`` installed from ``package`` (checked with the
    centre's key), with an admin (``admin-password``) and a proctor
    ``pengawas`` (``proctor-password``) assigned to the session's room: its
    URL and engine."""
    url = f"sqlite:///{tmp / 'site.db'}"
    engine = make_engine(url)
    install(engine, package, centre_key)
    sch.create_staff(engine, "admin", "Admin", "admin", "admin-password", TEST_SCRYPT_N)
    pid = sch.create_staff(
        engine, "pengawas", "Pengawas", "proctor", "proctor-password", TEST_SCRYPT_N
    )
    assign_rooms(engine, pid, [int(scalar(engine, "SELECT room_id FROM exam_session"))])
    return url, engine


def scalar(engine: Engine, sql: str) -> Any:
    with engine.connect() as c:
        return c.execute(text(sql)).scalar()


def rows(engine: Engine, sql: str) -> list[tuple[Any, ...]]:
    with engine.connect() as c:
        return [tuple(r) for r in c.execute(text(sql))]


async def wait_for(cond: Callable[[], Any], timeout: float, what: str) -> None:
    """Poll ``cond`` every 0.2 s until true; fail naming ``what`` after ``timeout`` s."""
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, f"{what} did not happen within {timeout} s"
        await asyncio.sleep(0.2)
