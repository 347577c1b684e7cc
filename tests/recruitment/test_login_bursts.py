"""Bursts at the recruitment login page (issue 14, hole 3).

Check and count are one step (``LoginLimiter.trying``): a concurrent burst of
wrong passwords from one address gets at most ``free`` + the in-flight
allowance checked. And the public pages hash on their own queue
(``public_hash_limiter``): a flood of logins there, from as many addresses as
the attacker likes, never keeps a proctor's login waiting.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from exam_server.db import make_engine
from exam_server.limits import LoginLimiter
from exam_server.recruitment.config import RecruitmentConfig
from exam_server.recruitment.demo import seed_recruitment
from exam_server.testing import ThreadServer
from tests.conftest import TEST_SCRYPT_N, ServerHandle, make_settings, seed_small
from tests.recruitment.conftest import PASSWORDS, Mailbox

CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')
PER_ACCOUNT = LoginLimiter.in_flight_per_account
# The dummy hash of an unknown email costs this much here (~25 ms a hash),
# so a flood of logins makes a queue a proctor would notice.
BURST_SCRYPT_N = 2**14


@pytest.fixture(scope="module")
def burst_server(
    smtp: tuple[Mailbox, int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerHandle]:
    """The demo recruitment on a real server (as ``start_rec_server``) that
    believes X-Forwarded-For from 127.0.0.1 and hashes unknown accounts'
    passwords at ``BURST_SCRYPT_N``."""
    tmp = Path(tmp_path_factory.mktemp("bursts"))
    _, port = smtp
    url = f"sqlite:///{tmp / 'exam.db'}"
    seed = seed_small(url)
    extra = {
        "recruitment_documents_dir": str(tmp / "docs"),
        "recruitment_key_path": str(tmp / "rec.key"),
        "recruitment_smtp_host": "127.0.0.1",
        "recruitment_smtp_port": str(port),
    }
    settings = make_settings(
        url, extra=extra, trusted_proxies=("127.0.0.1",), scrypt_n=BURST_SCRYPT_N
    )
    server = ThreadServer(settings).start()
    handle = ServerHandle(server, seed, make_engine(url))
    cfg = RecruitmentConfig.from_settings(handle.settings)
    seed_recruitment(
        handle.db,
        key=cfg.key,
        nik_key=cfg.nik_key,
        store=cfg.store,
        now=time.time(),
        passwords=PASSWORDS,
        scrypt_n=TEST_SCRYPT_N,
        site_code=seed.site_code,
        room_code="R2",
        exam_code=seed.exam_code,
    )
    yield handle
    server.stop()
    handle.db.dispose()


def _client(url: str) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    return httpx.AsyncClient(base_url=url, timeout=120, limits=limits)


async def _csrf(c: httpx.AsyncClient) -> str:
    m = CSRF.search((await c.get("/recruitment/login")).text)
    assert m is not None
    return m.group(1)


async def _logins(c: httpx.AsyncClient, token: str, tries: list[tuple[str, str]]) -> list[Any]:
    """POST /recruitment/login for every (email, X-Forwarded-For) at once."""
    return list(
        await asyncio.gather(
            *(
                c.post(
                    "/recruitment/login",
                    data={"csrf": token, "email": email, "password": "wrong-password"},
                    headers={"X-Forwarded-For": source},
                )
                for email, source in tries
            )
        )
    )


def test_a_burst_of_wrong_passwords_is_checked_only_up_to_the_allowance(
    burst_server: ServerHandle,
) -> None:
    free = burst_server.settings.login_failures_per_candidate
    n = 60

    async def run() -> list[httpx.Response]:
        async with _client(burst_server.url) as c:
            token = await _csrf(c)
            # An unknown email: its dummy hash is slow here, the window wide.
            return await _logins(c, token, [("nobody@contoh.id", "10.9.9.9")] * n)

    got = asyncio.run(run())
    c = Counter(r.status_code for r in got)
    assert set(c) <= {401, 429} and c[401] + c[429] == n, c
    assert 1 <= c[401] <= free + PER_ACCOUNT, c


def test_a_flood_on_the_recruitment_login_does_not_delay_a_proctor(
    burst_server: ServerHandle,
) -> None:
    """Unknown emails from as many addresses as tries: no back-off or
    in-flight allowance holds the flood (each key is new), every try is
    hashed. The proctor's login from another address, sent once the flood is
    being answered, is answered while most of the flood still waits for its
    hash — it is not queued behind it."""
    user, password = burst_server.seed.proctor
    n = 120

    async def run() -> tuple[float, int, int]:
        async with _client(burst_server.url) as c:
            token = await _csrf(c)
            done = 0

            async def one(k: int) -> httpx.Response:
                nonlocal done
                (r,) = await _logins(c, token, [(f"x{k}@contoh.id", f"10.{k // 250}.{k % 250}.9")])
                done += 1
                return r

            flood = [asyncio.create_task(one(k)) for k in range(n)]
            while done < 2:  # the flood is being hashed
                await asyncio.sleep(0.005)
            t0 = time.monotonic()
            r = await c.post(
                "/api/auth/login",
                json={"username": user, "password": password},
                headers={"X-Forwarded-For": "10.200.0.1"},
            )
            took, done_then = time.monotonic() - t0, done
            assert r.status_code == 200, r.text
            codes = Counter(x.status_code for x in await asyncio.gather(*flood))
            assert codes == {401: n}, codes
            return took, done_then, n

    took, done_then, total = asyncio.run(run())
    # Before the separate queue the proctor waited for (nearly) the whole flood.
    assert done_then < total // 2, (took, done_then)
