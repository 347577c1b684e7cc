"""A fresh exam for a load run: the small SKD-shaped exam with N candidates."""

from __future__ import annotations

from exam_server.demo import SeedSummary, seed_exam
from exam_server.loadtest.runner import Credentials


def seed_load_exam(
    database_url: str,
    secret_key: str,
    n_candidates: int,
    *,
    mode: str = "linear",
    time_limit_seconds: float = 3 * 3600.0,
    scrypt_n: int = 2**8,
) -> tuple[SeedSummary, list[Credentials]]:
    """Seed a new database with one open session of ``n_candidates`` (PINs issued).

    The server must use the same ``secret_key`` (it keys the PIN HMAC).
    The exam is :func:`exam_server.testing.small_design` on
    :func:`exam_server.testing.small_bank` (10 items): load runs measure the
    server, not the engine.
    """
    from exam_server.db import make_engine
    from exam_server.testing import small_bank, small_design

    engine = make_engine(database_url)
    try:
        bank, items = small_bank()
        seed = seed_exam(
            engine,
            secret_key,
            design=small_design(mode, time_limit_seconds),
            bank=bank,
            items=items,
            n_candidates=n_candidates,
            scrypt_n=scrypt_n,
        )
    finally:
        engine.dispose()
    creds = [Credentials(c["registration_number"], c["pin"]) for c in seed.candidates]
    return seed, creds
