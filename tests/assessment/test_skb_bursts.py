"""Concurrent bursts of forged receipts at the SKB candidate page (issue 14,
hole 3; the page took birth dates then): the page checks the back-off, checks
the receipt, then counts a refused one. Check and count are one step (``LoginLimiter.trying``), so a
burst gets at most ``free`` + the in-flight allowance checked, from one
address and — through the per-number count — from many."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import httpx

from exam_server.clock import ManualClock
from exam_server.limits import LoginLimiter
from tests.assessment.conftest import forged, start_server

PER_ACCOUNT = LoginLimiter.in_flight_per_account


async def _burst(url: str, tries: list[tuple[str, str]]) -> list[httpx.Response]:
    """POST a forged receipt of R002 per (receipt, X-Forwarded-For), all at once."""
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    async with httpx.AsyncClient(timeout=60, limits=limits) as c:
        return list(
            await asyncio.gather(
                *(
                    c.post(
                        url + "/api/skb/candidate",
                        json={"registration_number": "R002", "receipt": code},
                        headers={"X-Forwarded-For": source},
                    )
                    for code, source in tries
                )
            )
        )


def _dates(n: int) -> list[str]:
    """``n`` different forged receipts of R002."""
    return [forged("R002", k) for k in range(n)]


def test_a_burst_of_forged_receipts_is_checked_only_up_to_the_allowance(
    tmp_path: Path,
) -> None:
    srv = start_server(tmp_path, ManualClock(time.time()), trusted_proxies=("127.0.0.1",))
    try:
        free = srv.settings.login_failures_per_candidate
        n = 60
        # From one address ...
        got = asyncio.run(_burst(srv.url, [(d, "10.9.9.9") for d in _dates(n)]))
        c = Counter(r.status_code for r in got)
        assert set(c) <= {401, 429} and c[401] + c[429] == n, c
        assert 1 <= c[401] <= free + PER_ACCOUNT, c
        assert all(r.json()["retry_after"] >= 1 for r in got if r.status_code == 429)
    finally:
        srv.stop()
