"""Where login failures are counted, for :mod:`exam_server.limits`: the
key and entry types and the two stores (:class:`MemoryStore` in this
process, :class:`SqlStore` in ``exam_login_limit`` shared by every worker on
PostgreSQL). The rules (allowances, waits, in-flight slots) are the
limiter's; a store only counts."""

from __future__ import annotations

import itertools
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import case, delete, func, select, tuple_
from sqlalchemy.engine import Connection

from exam_server.models import LoginLimit

LIMIT = LoginLimit.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, order=True)
class LimitKey:
    scope: str
    account: str
    source: str


@dataclass(frozen=True)
class Entry:
    """A key's failures and the time of its last one (epoch seconds)."""

    key: LimitKey
    failures: int
    last_failure_at: float


class LimitStore(Protocol):
    """Where failures are counted. Methods get the caller's connection (None
    for stores that need none) and never commit it; ``needs_connection``
    says whether they use it."""

    needs_connection: bool

    def read(self, conn: Connection | None, keys: Sequence[LimitKey], since: float) -> list[Entry]:
        """The entries of ``keys`` whose last failure is after ``since``."""
        ...

    def add_failure(
        self, conn: Connection | None, keys: Sequence[LimitKey], now: float, since: float
    ) -> dict[LimitKey, int]:
        """Count one failure at ``now`` for each key (a key last failed at or
        before ``since`` starts over at 1); the failures of each key after it."""
        ...

    def clear(
        self, conn: Connection | None, scope: str | None, account: str | None, source: str | None
    ) -> int:
        """Forget the keys matching every given part (None: any); how many."""
        ...

    def entries(self, conn: Connection | None, since: float, limit: int) -> list[Entry]:
        """The ``limit`` keys that failed last, after ``since``, most recent first."""
        ...


def _matches(key: LimitKey, scope: str | None, account: str | None, source: str | None) -> bool:
    return (
        (scope is None or key.scope == scope)
        and (account is None or key.account == account)
        and (source is None or key.source == source)
    )


class MemoryStore:
    """Failures in this process's memory (SQLite: one process), thread-safe.

    At most ``max_keys`` keys: a flood of distinct accounts or sources evicts
    the key that failed longest ago, never grows memory. Keys are kept in
    the order of their last failure, so expired ones leave from the front."""

    needs_connection = False

    def __init__(self, max_keys: int = 50_000) -> None:
        if max_keys < 1:
            raise ValueError("MemoryStore.max_keys must be at least 1")
        self.max_keys = max_keys
        self._keys: OrderedDict[LimitKey, tuple[int, float]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._keys)

    def _expire(self, since: float) -> None:
        while self._keys:
            key, (_, last) = next(iter(self._keys.items()))
            if last > since:
                return
            del self._keys[key]

    def read(self, conn: Connection | None, keys: Sequence[LimitKey], since: float) -> list[Entry]:
        with self._lock:
            out = []
            for k in keys:
                v = self._keys.get(k)
                if v is not None and v[1] > since:
                    out.append(Entry(k, v[0], v[1]))
            return out

    def add_failure(
        self, conn: Connection | None, keys: Sequence[LimitKey], now: float, since: float
    ) -> dict[LimitKey, int]:
        with self._lock:
            self._expire(since)
            out: dict[LimitKey, int] = {}
            for k in keys:
                old = self._keys.pop(k, None)
                n = 1 if old is None or old[1] <= since else old[0] + 1
                self._keys[k] = (n, now)
                out[k] = n
            while len(self._keys) > self.max_keys:
                self._keys.popitem(last=False)
            return out

    def clear(
        self, conn: Connection | None, scope: str | None, account: str | None, source: str | None
    ) -> int:
        with self._lock:
            if scope is not None and account is not None and source is not None:
                # One key (a login's success): no scan of the whole store.
                return 0 if self._keys.pop(LimitKey(scope, account, source), None) is None else 1
            gone = [k for k in self._keys if _matches(k, scope, account, source)]
            for k in gone:
                del self._keys[k]
            return len(gone)

    def entries(self, conn: Connection | None, since: float, limit: int) -> list[Entry]:
        with self._lock:
            self._expire(since)
            recent = itertools.islice(reversed(self._keys.items()), limit)
            return [Entry(k, n, last) for k, (n, last) in recent]


class SqlStore:
    """Failures in ``exam_login_limit``, shared by every worker (PostgreSQL).

    One ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` per failure: the
    database serialises concurrent upserts of one row, so no increment is
    lost between workers. Expired rows are deleted at most once a minute per
    process, which bounds the table by what failed in the last ``forget``
    seconds."""

    needs_connection = True
    prune_every_seconds = 60.0

    def __init__(self) -> None:
        self._pruned_at = -math.inf

    def read(self, conn: Connection | None, keys: Sequence[LimitKey], since: float) -> list[Entry]:
        assert conn is not None
        cols = (LIMIT.c.scope, LIMIT.c.account, LIMIT.c.source)
        rows = conn.execute(
            select(*cols, LIMIT.c.failures, LIMIT.c.last_failure_at).where(
                tuple_(*cols).in_([(k.scope, k.account, k.source) for k in keys]),
                LIMIT.c.last_failure_at > since,
            )
        )
        return [Entry(LimitKey(r[0], r[1], r[2]), int(r[3]), float(r[4])) for r in rows]

    def add_failure(
        self, conn: Connection | None, keys: Sequence[LimitKey], now: float, since: float
    ) -> dict[LimitKey, int]:
        assert conn is not None
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        rows = pg_insert(LIMIT).values(
            [
                {
                    "scope": k.scope,
                    "account": k.account,
                    "source": k.source,
                    "failures": 1,
                    "last_failure_at": now,
                }
                for k in keys
            ]
        )
        old = LIMIT.c
        stmt = rows.on_conflict_do_update(
            index_elements=[old.scope, old.account, old.source],
            set_={
                # An expired row starts over.
                "failures": case((old.last_failure_at <= since, 1), else_=old.failures + 1),
                "last_failure_at": func.greatest(old.last_failure_at, now),
            },
        ).returning(old.scope, old.account, old.source, old.failures)
        out = {LimitKey(r[0], r[1], r[2]): int(r[3]) for r in conn.execute(stmt)}
        if now - self._pruned_at >= self.prune_every_seconds:
            self._pruned_at = now
            conn.execute(delete(LIMIT).where(LIMIT.c.last_failure_at <= since))
        return out

    def clear(
        self, conn: Connection | None, scope: str | None, account: str | None, source: str | None
    ) -> int:
        assert conn is not None
        stmt = delete(LIMIT)
        for col, value in (
            (LIMIT.c.scope, scope),
            (LIMIT.c.account, account),
            (LIMIT.c.source, source),
        ):
            if value is not None:
                stmt = stmt.where(col == value)
        return int(conn.execute(stmt).rowcount)

    def entries(self, conn: Connection | None, since: float, limit: int) -> list[Entry]:
        assert conn is not None
        rows = conn.execute(
            select(
                LIMIT.c.scope,
                LIMIT.c.account,
                LIMIT.c.source,
                LIMIT.c.failures,
                LIMIT.c.last_failure_at,
            )
            .where(LIMIT.c.last_failure_at > since)
            .order_by(LIMIT.c.last_failure_at.desc())
            .limit(limit)
        )
        return [Entry(LimitKey(r[0], r[1], r[2]), int(r[3]), float(r[4])) for r in rows]
