"""Login limits that slow guessing down without handing anyone a lock-out.

The rules (docs/reliability.md, "Limits that cannot be turned against people"):

* A failed login counts against the key (scope, account, source): scope
  ``pin`` (candidate check-in) or ``staff``; account the registration number
  or username as typed (unknown ones count the same, so the answer never
  tells whether an account exists); source the client's address as the server
  sees it (:func:`request_source`; ``X-Forwarded-For`` only from the
  proxies in ``Settings.trusted_proxies``, :func:`proxy_headers`). A second
  key (scope, ``""``, source) counts every account from that source, with a
  larger allowance: guessing across many registration numbers from one
  address slows down too. A candidate login that brings a valid terminal
  pass (:mod:`exam_server.terminal_passes`) keeps that second count under
  ``pass:<id>@<address>`` instead (the ``shared`` argument), so the
  terminals of one NAT address that hold their own passes do not wait for
  each other; the first key stays (account, address) with or without a
  pass. The
  terminal id a client chooses is never a key: an attacker could rotate it
  to escape, or take a victim's to lock them out.
* Back-off, not a lock: ``free`` failures cost nothing, then each further try
  of the key must wait ``base · 2^(failures − free)`` seconds after the last
  failure (1 s, 2 s, 4 s …), capped at ``cap`` seconds. A try inside the wait
  is answered 429 ``rate_limited`` with ``retry_after`` (whole seconds) and is
  neither checked nor counted. A key whose last failure is older than
  ``forget`` seconds (cap + window) starts over.
* A success clears its (account, source) key; a proctor's PIN re-issue
  clears the candidate's keys from every source; an admin lists and clears
  keys (``/api/admin/login-limits``). A staff key's first wait (its
  "lock-out") is written to the audit chain by the caller.

Stores (:mod:`exam_server.limit_stores`): :class:`MemoryStore` for SQLite
(one process), bounded (at most ``max_keys`` keys, least recently failed
evicted first, expired keys dropped as they come to the front);
:class:`SqlStore` for PostgreSQL, shared by every worker over the
``exam_login_limit`` table and updated with one atomic upsert per failure
(no lost increments between workers).

Check and count as one step: a caller that checks, then awaits slow work (a
database lookup, a password hash), then counts the failure, runs inside
:meth:`LoginLimiter.trying`. Without it every try of a concurrent burst
passed the check before the first was counted, so a burst was checked in
full whatever the allowance. ``trying`` first holds an in-flight slot of
both keys (per process, in memory: ``in_flight_per_account`` = 2 tries of
one (account, source) key at once, so a double-clicked form still works;
``in_flight_per_source`` = 8 of one every-account key) and refuses a try
beyond them unchecked with 429 ``rate_limited``, ``retry_after`` 1; the
slots are released when the block ends, however it ends. So a burst gets at
most ``free`` + the in-flight allowance of a key checked before the back-off
holds it, in each process (with several workers on PostgreSQL, that many per
worker: the counts themselves stay shared and exact, only the in-flight
slots are per process).

Times are epoch seconds from the injected :class:`~exam_server.clock.Clock`.
"""

from __future__ import annotations

import ipaddress
import math
import threading
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from sqlalchemy.engine import Connection, Engine
from starlette.middleware import Middleware
from starlette.responses import JSONResponse

from exam_server.clock import Clock
from exam_server.limit_stores import Entry, LimitKey, LimitStore, MemoryStore, SqlStore

if TYPE_CHECKING:
    from exam_server.settings import Settings

# "recruit": logins and sign-ups of the recruitment pages (exam_server.recruitment).
# "skb": the SKB candidate page's registration number and date of birth (issue 19).
SCOPES = ("pin", "staff", "recruit", "skb")
# The account of a key that counts every account from one source.
ANY_ACCOUNT = ""
# The every-account source of a login with a terminal pass: pass:<id>@<address>.
PASS_SOURCE_PREFIX = "pass:"
# Longest account / source kept in a key (longer input is cut, not refused:
# the callers already bound what they accept).
_MAX_ACCOUNT = 200
_MAX_SOURCE = 64
_RETRY_MESSAGE = (
    "terlalu banyak percobaan masuk yang gagal; coba lagi setelah {s} detik / "
    "too many failed logins; try again in {s} s"
)


@dataclass(frozen=True)
class Backoff:
    """The delay rule of one kind of key.

    free: failures that cost no wait; base_seconds: the first wait;
    cap_seconds: the longest wait. Waits run from the last failure."""

    free: int
    base_seconds: float = 1.0
    cap_seconds: float = 300.0

    def __post_init__(self) -> None:
        if self.free < 1 or not 0 < self.base_seconds <= self.cap_seconds:
            raise ValueError("Backoff needs free >= 1 and 0 < base_seconds <= cap_seconds")

    def delay(self, failures: int) -> float:
        """Seconds a key with ``failures`` failures waits after its last one."""
        if failures < self.free:
            return 0.0
        # min() before the power: 2**huge overflows a float.
        return min(self.cap_seconds, self.base_seconds * 2.0 ** min(failures - self.free, 60))


class Throttled(Exception):
    """A login refused unchecked because its key must still wait.

    retry_after: whole seconds (at least 1) until a try is checked again."""

    code = "rate_limited"
    status = 429

    def __init__(self, wait_seconds: float) -> None:
        self.retry_after = max(1, math.ceil(wait_seconds))
        super().__init__(_RETRY_MESSAGE.format(s=self.retry_after))


def throttled_response(exc: Throttled) -> JSONResponse:
    """429 ``{"error": "rate_limited", "message", "retry_after"}`` and a
    ``Retry-After`` header (seconds)."""
    return JSONResponse(
        {"error": exc.code, "message": str(exc), "retry_after": exc.retry_after},
        status_code=exc.status,
        headers={"Retry-After": str(exc.retry_after)},
    )


@dataclass(frozen=True)
class Failure:
    """What one counted failure left: the (account, source) key's failures,
    the wait now due before the next try (seconds, the longer of both keys),
    and whether this failure started the account key's first wait."""

    failures: int
    wait_seconds: float
    locked_now: bool


# --- the source address ---------------------------------------------------------------


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(specs: Iterable[str]) -> tuple[Network, ...]:
    """Networks from addresses or CIDR blocks (``10.0.0.5``, ``10.0.0.0/8``);
    ValueError naming the first that is neither."""
    out: list[Network] = []
    for spec in specs:
        try:
            out.append(ipaddress.ip_network(spec.strip(), strict=False))
        except ValueError:
            raise ValueError(f"trusted_proxies: {spec!r} is not an address or network") from None
    return tuple(out)


def source_of(address: str) -> str:
    """The key form of an address: IPv4 as is, IPv6 as its /64 (one host
    holds a whole /64 and could rotate inside it); anything else cut to 64
    characters, with no ``@`` (which marks a terminal pass's source,
    :func:`pass_source`)."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address.strip().replace("@", "_")[:_MAX_SOURCE] or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def proxy_headers(trusted: Sequence[str]) -> Middleware:
    """The app's one reading of ``X-Forwarded-For`` (and ``-Proto``): uvicorn's
    ProxyHeadersMiddleware, believing the header only from a peer in
    ``trusted`` and only as far back as a chain of trusted proxies reaches
    (walking from the right, the first hop that is not a trusted proxy is the
    client; what a client writes further left is ignored). The server itself
    runs with ``proxy_headers=False``, so nothing outside the app believes
    the header."""
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    parse_networks(trusted)  # a bad entry fails the start, not silently
    return Middleware(ProxyHeadersMiddleware, trusted_hosts=[t.strip() for t in trusted])


def request_source(request: Any) -> str:
    """The limit key of a request's client (:func:`source_of` of the address
    that :func:`proxy_headers` left in the request)."""
    return source_of(request.client.host if request.client is not None else "unknown")


def pass_source(pass_id: str, address: str) -> str:
    """The every-account source of a login with terminal pass ``pass_id``
    from ``address`` (a source as :func:`source_of` gives it)."""
    return f"{PASS_SOURCE_PREFIX}{pass_id}@{address}"


def split_source(source: str) -> tuple[str | None, str]:
    """(terminal pass id, address) of a key's source; (None, source) for a
    source without a pass."""
    if source.startswith(PASS_SOURCE_PREFIX) and "@" in source:
        pass_id, _, address = source[len(PASS_SOURCE_PREFIX) :].partition("@")
        if pass_id:
            return pass_id, address
    return None, source


# --- the limiter ----------------------------------------------------------------------


class LoginLimiter:
    """The back-off rules over a store (one per app, ``context(app).limits``).

    The ``*_on`` methods run in the caller's thread on the caller's
    connection (the candidate login's credentials check, so a login costs
    one statement more and no extra thread hop); they commit the connection
    after a write. The async methods run on their own connection in a
    worker thread when the store needs one.

    :meth:`trying` makes check and count one step per process (module
    docstring): at most ``in_flight_per_account`` tries of one (account,
    source) key and ``in_flight_per_source`` of one every-account key run at
    once in this process."""

    # Tries of one key that may be between check and count at once (per
    # process). 2 per (account, source): a double-clicked form still works;
    # 8 per every-account key: a few people behind one NAT address log in
    # together without a refusal.
    in_flight_per_account = 2
    in_flight_per_source = 8

    def __init__(
        self,
        store: LimitStore,
        engine: Engine,
        clock: Clock,
        *,
        per_account: Backoff,
        per_source: Backoff,
        forget_after_seconds: float,
    ) -> None:
        if forget_after_seconds < max(per_account.cap_seconds, per_source.cap_seconds):
            # A key forgotten before its wait ended would hand out free tries.
            raise ValueError("forget_after_seconds must be at least the longest wait")
        self.store = store
        self.engine = engine
        self.clock = clock
        self.per_account = per_account
        self.per_source = per_source
        self.forget_after_seconds = forget_after_seconds
        # Tries between check and count, per key, in this process (trying()).
        self._in_flight: dict[LimitKey, int] = {}
        self._in_flight_lock = threading.Lock()

    @classmethod
    def for_settings(cls, settings: Settings, engine: Engine, clock: Clock) -> LoginLimiter:
        """In memory on SQLite, in ``exam_login_limit`` on PostgreSQL."""
        cap = settings.login_backoff_cap_seconds
        store: LimitStore = MemoryStore() if settings.is_sqlite else SqlStore()
        return cls(
            store,
            engine,
            clock,
            per_account=Backoff(settings.login_failures_per_candidate, 1.0, cap),
            per_source=Backoff(settings.login_failures_per_source, 1.0, cap),
            forget_after_seconds=cap + settings.login_failure_window_seconds,
        )

    @staticmethod
    def keys(
        scope: str, account: str, source: str, shared: str | None = None
    ) -> tuple[LimitKey, LimitKey]:
        """(the account-from-source key, the every-account key). The second
        is kept under ``shared`` when given (a terminal pass at that source,
        ``pass:<id>@<address>``), else under ``source`` too."""
        if scope not in SCOPES:
            raise ValueError(f"unknown limit scope {scope!r}")
        src = source[:_MAX_SOURCE] or "unknown"
        every = src if shared is None else shared[:_MAX_SOURCE] or src
        return LimitKey(scope, account[:_MAX_ACCOUNT], src), LimitKey(scope, ANY_ACCOUNT, every)

    def backoff(self, key: LimitKey) -> Backoff:
        return self.per_source if key.account == ANY_ACCOUNT else self.per_account

    def wait_of(self, entry: Entry, now: float) -> float:
        """Seconds ``entry``'s key must still wait at ``now`` (0: may try)."""
        return max(0.0, entry.last_failure_at + self.backoff(entry.key).delay(entry.failures) - now)

    def _since(self, now: float) -> float:
        return now - self.forget_after_seconds

    # --- on the caller's connection ---------------------------------------------------

    def check_on(
        self,
        conn: Connection | None,
        scope: str,
        account: str,
        source: str,
        shared: str | None = None,
    ) -> bool:
        """Raise :class:`Throttled` if either key must still wait; True if the
        account key has failures (a success should clear it). ``shared``:
        the every-account key's source if not ``source`` (:meth:`keys`)."""
        now = self.clock.now()
        keys = self.keys(scope, account, source, shared)
        entries = self.store.read(conn, keys, self._since(now))
        wait = max((self.wait_of(e, now) for e in entries), default=0.0)
        if wait > 0:
            raise Throttled(wait)
        return any(e.key.account != ANY_ACCOUNT for e in entries)

    def failed_on(
        self,
        conn: Connection | None,
        scope: str,
        account: str,
        source: str,
        shared: str | None = None,
    ) -> Failure:
        """Count a failed login of ``account`` from ``source`` (the
        every-account count under ``shared`` if given, :meth:`keys`)."""
        now = self.clock.now()
        mine, everyone = self.keys(scope, account, source, shared)
        counts = self.store.add_failure(conn, (mine, everyone), now, self._since(now))
        if conn is not None and self.store.needs_connection:
            conn.commit()
        n = counts[mine]
        wait = max(self.per_account.delay(n), self.per_source.delay(counts[everyone]))
        return Failure(n, wait, n == self.per_account.free)

    def succeeded_on(self, conn: Connection | None, scope: str, account: str, source: str) -> None:
        """A correct login clears its (account, source) key."""
        self.store.clear(conn, scope, account[:_MAX_ACCOUNT], source[:_MAX_SOURCE] or "unknown")
        if conn is not None and self.store.needs_connection:
            conn.commit()

    # --- on a connection of their own -------------------------------------------------

    async def on_store(self, fn: Any, *args: Any) -> Any:
        """``fn(conn, *args)`` on a connection of its own in a worker thread when
        the store needs one (committed after), else ``fn(None, *args)`` here."""
        if not self.store.needs_connection:
            return fn(None, *args)

        def work() -> Any:
            with self.engine.connect() as conn:
                out = fn(conn, *args)
                conn.commit()
                return out

        return await anyio.to_thread.run_sync(work)

    async def check(self, scope: str, account: str, source: str) -> bool:
        """:meth:`check_on` on a connection of its own."""
        return bool(await self.on_store(self.check_on, scope, account, source))

    async def failed(self, scope: str, account: str, source: str) -> Failure:
        """:meth:`failed_on` on a connection of its own."""
        out: Failure = await self.on_store(self.failed_on, scope, account, source)
        return out

    async def succeeded(self, scope: str, account: str, source: str) -> None:
        await self.on_store(self.succeeded_on, scope, account, source)

    # --- check and count as one step ------------------------------------------------

    def in_flight_allowance(self, key: LimitKey) -> int:
        """How many tries of ``key`` may be in flight at once in this process."""
        if key.account == ANY_ACCOUNT:
            return self.in_flight_per_source
        return self.in_flight_per_account

    def in_flight(self, key: LimitKey) -> int:
        """Tries of ``key`` now between check and count in this process."""
        with self._in_flight_lock:
            return self._in_flight.get(key, 0)

    def _reserve(self, keys: Sequence[LimitKey]) -> None:
        """Hold one in-flight slot of every key, or none: :class:`Throttled`
        (1 s) if a key already has its allowance in flight."""
        with self._in_flight_lock:
            if any(self._in_flight.get(k, 0) >= self.in_flight_allowance(k) for k in keys):
                raise Throttled(1.0)
            for k in keys:
                self._in_flight[k] = self._in_flight.get(k, 0) + 1

    def _release(self, keys: Sequence[LimitKey]) -> None:
        with self._in_flight_lock:
            for k in keys:
                n = self._in_flight.get(k, 0) - 1
                if n > 0:
                    self._in_flight[k] = n
                else:
                    self._in_flight.pop(k, None)

    @asynccontextmanager
    async def trying(
        self, scope: str, account: str, source: str, also: Sequence[LimitKey] = ()
    ) -> AsyncIterator[bool]:
        """``async with limits.trying(scope, account, source) as had_failures:``
        — a login whose check and count are one step in this process.

        Holds an in-flight slot of both keys (:meth:`keys`) and of each key in
        ``also`` (a caller's further count, e.g. the SKB page's per-number key;
        the per-account allowance), refusing with :class:`Throttled`
        (``retry_after`` 1) when one already has its allowance in flight; then
        :meth:`check` (Throttled while a key must wait). The block awaits the
        slow work and calls :meth:`failed` or :meth:`succeeded`; the slots are
        released when it ends, whatever happens. A try refused here is
        neither checked nor counted."""
        held = tuple(dict.fromkeys((*self.keys(scope, account, source), *also)))
        self._reserve(held)
        try:
            yield await self.check(scope, account, source)
        finally:
            self._release(held)

    async def clear(
        self, scope: str | None = None, account: str | None = None, source: str | None = None
    ) -> int:
        """Forget every key matching the given parts (None: any); how many."""
        if scope is not None and scope not in SCOPES:
            raise ValueError(f"unknown limit scope {scope!r}")
        return int(await self.on_store(self.store.clear, scope, account, source))

    async def entries(self, limit: int = 1000) -> list[dict[str, Any]]:
        """The ``limit`` keys that failed last and are not yet forgotten, most
        recent first:
        ``scope``, ``account`` ("" = every account from the source),
        ``source``, ``pass_id`` (the terminal pass of a ``pass:<id>@<address>``
        source, else None), ``address`` (the source's address),
        ``failures``, ``last_failure_at`` (epoch s),
        ``retry_after`` (whole seconds still to wait, 0 = may try)."""
        now = self.clock.now()
        rows: list[Entry] = await self.on_store(self.store.entries, self._since(now), limit)
        return [
            {
                "scope": e.key.scope,
                "account": e.key.account,
                "source": e.key.source,
                "pass_id": split_source(e.key.source)[0],
                "address": split_source(e.key.source)[1],
                "failures": e.failures,
                "last_failure_at": e.last_failure_at,
                "retry_after": math.ceil(self.wait_of(e, now)),
            }
            for e in rows
        ]
