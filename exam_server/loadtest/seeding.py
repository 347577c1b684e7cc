"""A fresh exam for a load run: the small SKD-shaped exam with N candidates,
or any bank and design (an exposure run)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from exam_server.demo import SeedSummary, seed_exam
from exam_server.loadtest.runner import Credentials

if TYPE_CHECKING:
    from cat_engine.bank import BankArrays
    from cat_engine.design import TestDesign


def seed_load_exam(
    database_url: str,
    secret_key: str,
    n_candidates: int,
    *,
    mode: str = "linear",
    time_limit_seconds: float = 3 * 3600.0,
    scrypt_n: int = 2**8,
    design: TestDesign | None = None,
    bank: BankArrays | None = None,
) -> tuple[SeedSummary, list[Credentials]]:
    """Seed a new database with one open session of ``n_candidates`` (PINs issued).

    The server must use the same ``secret_key`` (it keys the PIN HMAC).
    By default the exam is :func:`exam_server.testing.small_design` on
    :func:`exam_server.testing.small_bank` (10 items): load runs measure the
    server, not the engine. ``design`` and ``bank`` (both or neither) seed
    another exam; its item texts come from
    :func:`exam_server.loadtest.exposure.public_items`.
    """
    from exam_server.db import make_engine
    from exam_server.loadtest.exposure import public_items
    from exam_server.testing import small_bank, small_design

    if (design is None) != (bank is None):
        raise ValueError("seed_load_exam: give both design and bank, or neither")
    if design is None or bank is None:
        bank, items = small_bank()
        design = small_design(mode, time_limit_seconds)
    else:
        items = public_items(bank)
    engine = make_engine(database_url)
    try:
        seed = seed_exam(
            engine,
            secret_key,
            design=design,
            bank=bank,
            items=items,
            n_candidates=n_candidates,
            scrypt_n=scrypt_n,
        )
    finally:
        engine.dispose()
    creds = [Credentials(c["registration_number"], c["pin"]) for c in seed.candidates]
    return seed, creds
