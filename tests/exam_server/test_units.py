"""Unit tests: event bus, settings, tokens and PINs, group commit, bank snapshot."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import insert, select

from exam_server.audit import append, verify
from exam_server.auth import (
    CandidateClaims,
    StaffClaims,
    TokenError,
    TokenSigner,
    check_pin,
    hash_password,
    pin_mac,
    verify_password,
)
from exam_server.clock import ManualClock
from exam_server.db import create_schema, make_engine
from exam_server.durability import GroupCommitter
from exam_server.events import EventBus, LiveEvent
from exam_server.models import Site
from exam_server.settings import Settings
from exam_server.snapshot import bank_from_json, bank_to_json
from exam_server.testing import small_bank

KEY = "k" * 40


async def test_bus_fans_out_per_session_and_drops_oldest_when_full() -> None:
    bus = EventBus(max_pending=3)
    one, every = bus.subscribe(1), bus.subscribe(None)
    for i in range(5):
        bus.publish(LiveEvent("answer", 1, i, "R1", data={"i": i}))
    bus.publish(LiveEvent("finish", 2, 9, "R2"))
    got = [one.get_nowait() for _ in range(3)]
    assert [e.attempt_id for e in got if e] == [2, 3, 4] and one.dropped == 2
    assert one.get_nowait() is None
    assert [e.kind for e in [every.get_nowait() for _ in range(3)] if e] == [
        "answer",
        "answer",
        "finish",
    ]
    waiter = asyncio.create_task(one.get())
    await asyncio.sleep(0)
    bus.publish(LiveEvent("pause", 1, 1, "R1"))
    assert (await waiter).kind == "pause"
    one.close()
    assert bus.subscriber_count(1) == 0
    with pytest.raises(StopAsyncIteration):
        await one.get()
    with pytest.raises(ValueError, match="unknown kind"):
        LiveEvent("explode", 1)
    ev = LiveEvent("note", 3, None, None, at=5.0, data={"x": 1})
    assert LiveEvent.from_dict(ev.to_dict()) == ev


def test_settings_are_validated_and_read_from_env() -> None:
    with pytest.raises(ValueError, match="secret_key"):
        Settings(secret_key="short")
    with pytest.raises(ValueError, match="database_url"):
        Settings(secret_key=KEY, database_url="mysql://x")
    with pytest.raises(ValueError, match="grace_seconds"):
        Settings(secret_key=KEY, grace_seconds=0)
    # A connected terminal's mark renewed less often than half the grace: on
    # several workers another one's sweep would stop its clock mid-answer.
    with pytest.raises(ValueError, match="presence_interval_seconds must be at most half"):
        Settings(secret_key=KEY, grace_seconds=30, presence_interval_seconds=20)
    half = Settings(secret_key=KEY, grace_seconds=30, presence_interval_seconds=15)
    assert half.presence_interval_seconds == 15
    with pytest.raises(ValueError, match="presence_interval_seconds must be at most half"):
        Settings.from_env({"SELEKSI_GRACE_SECONDS": "8"})  # the 5 s default is over half
    s = Settings.from_env(
        {"SELEKSI_PORT": "9001", "SELEKSI_GRACE_SECONDS": "12.5", "SELEKSI_ALLOWED_ORIGINS": "a,b"}
    )
    assert s.port == 9001 and s.grace_seconds == 12.5 and s.allowed_origins == ("a", "b")
    assert len(s.secret_key) >= 32  # a random key when none is given
    with pytest.raises(ValueError, match="SELEKSI_PORT"):
        Settings.from_env({"SELEKSI_PORT": "eighty"})


def test_tokens_are_bound_salted_and_expire() -> None:
    signer = TokenSigner(KEY, candidate_max_age=60, staff_max_age=60)
    claims = CandidateClaims(1, 2, 3, "T-1", "R1")
    tok = signer.candidate_token(claims)
    assert signer.read_candidate(tok) == claims
    staff = signer.staff_token(StaffClaims(1, "p", "proctor"))
    with pytest.raises(TokenError) as err:
        signer.read_candidate(staff)  # another purpose's salt
    assert err.value.code == "bad_token"
    with pytest.raises(TokenError):
        TokenSigner("x" * 40, 60, 60).read_candidate(tok)  # another key
    clock = ManualClock(1_900_000_000)
    short = TokenSigner(KEY, candidate_max_age=60, staff_max_age=60, clock=clock)
    tok = short.candidate_token(claims)
    # Tokens are dated in whole seconds of the server's clock: read them later.
    clock.advance(60)
    assert short.read_candidate(tok) == claims  # 60 s old: still good
    clock.advance(1)
    with pytest.raises(TokenError) as err:
        short.read_candidate(tok)
    assert err.value.code == "expired_token"


def test_pins_and_passwords() -> None:
    mac = pin_mac(KEY, 1, 7, "123456")
    assert check_pin(KEY, 1, 7, "123456", mac)
    assert not check_pin(KEY, 1, 8, "123456", mac)  # bound to the candidate
    assert not check_pin(KEY, 2, 7, "123456", mac)  # and to the session
    stored = hash_password("correct horse", n=2**8)
    assert stored.startswith("scrypt$256$") and verify_password("correct horse", stored)
    assert not verify_password("wrong horse", stored) and not verify_password("x", "garbage")


async def test_group_commit_batches_concurrent_writes(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'g.db'}")
    create_schema(engine)
    gc = GroupCommitter(engine)
    await gc.start()
    table = Site.__table__  # type: ignore[attr-defined]

    def writer(i: int):  # type: ignore[no-untyped-def]
        return lambda conn: conn.execute(insert(table).values(code=f"S{i}", name="x")).rowcount

    results = await asyncio.gather(*(gc.submit(writer(i)) for i in range(200)))
    assert results == [1] * 200
    # 200 writes arriving together went in far fewer transactions.
    assert gc.writes == 200 and gc.transactions < 50
    # A failing write (duplicate code) fails alone; the others in its group commit.
    outcomes = await asyncio.gather(
        gc.submit(writer(0)), gc.submit(writer(1000)), return_exceptions=True
    )
    assert isinstance(outcomes[0], Exception) and outcomes[1] == 1
    await gc.stop()
    with engine.connect() as c:
        assert len(c.execute(select(table.c.code)).all()) == 201
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()


async def test_group_commit_rows_guards_reconnect_and_shutdown(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    create_schema(engine)
    table = Site.__table__  # type: ignore[attr-defined]

    def guard(conn: Any, guards: list[tuple[int, int]]) -> dict[int, Exception]:
        return {aid: RuntimeError(f"stale copy of {aid}") for aid, _ in guards if aid == 2}

    committer = GroupCommitter(engine, guard_check=guard)
    await committer.start()
    rows = [[(table, {"code": f"R{i}", "name": "x"})] for i in (1, 2, 3)]
    outs = await asyncio.gather(
        *(committer.submit_rows(r, guard=(i, 0)) for i, r in zip((1, 2, 3), rows, strict=True)),
        return_exceptions=True,
    )
    # The refused write is the only one left out of its group.
    assert outs[0] is None and outs[2] is None and isinstance(outs[1], RuntimeError)
    with engine.connect() as c:
        ids: dict[str, int] = dict(c.execute(select(table.c.code, table.c.id)).all())
    assert set(ids) == {"R1", "R3"}
    # The writer's kept connection breaks: the next write opens a new one.
    assert committer._conn is not None
    committer._conn.invalidate()
    await committer.submit_rows(updates=[(table, ids["R1"], {"name": "renamed"})])
    # Writes queued when the server stops are committed before stop() returns.
    pending = [
        asyncio.ensure_future(committer.submit_rows([(table, {"code": f"Q{i}", "name": "q"})]))
        for i in range(20)
    ]
    await asyncio.sleep(0)  # every one is queued
    await committer.stop()
    assert await asyncio.gather(*pending) == [None] * 20
    with pytest.raises(RuntimeError, match="after stop"):
        await committer.submit_rows([(table, {"code": "late", "name": "x"})])
    with engine.connect() as c:
        got: dict[str, str] = dict(c.execute(select(table.c.code, table.c.name)).all())
    engine.dispose()
    assert got["R1"] == "renamed" and "R2" not in got and "late" not in got
    assert {f"Q{i}" for i in range(20)} <= set(got)


def test_audit_chain_links_every_event(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    create_schema(engine)
    with engine.begin() as conn:
        h1 = append(conn, "open_session", "proctor:p", session_id=1)
        h2 = append(conn, "note", "proctor:p", session_id=1, reason="lights off")
    assert h1 != h2
    rep = verify(engine)
    assert rep.ok and rep.events == 2
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM exam_audit WHERE id = 2")
    assert any("head" in p for p in verify(engine).problems)
    engine.dispose()


def test_bank_snapshot_round_trip_is_exact() -> None:
    bank, _ = small_bank()
    back = bank_from_json(bank_to_json(bank))
    assert back.item_ids == bank.item_ids
    np.testing.assert_array_equal(back.params.thresholds, bank.params.thresholds)
    np.testing.assert_array_equal(back.option_points, bank.option_points)
    np.testing.assert_array_equal(back.params.b, bank.params.b)  # NaN kept
    assert back.params.model.dtype == bank.params.model.dtype
