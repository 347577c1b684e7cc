"""The SKB candidate page's back-off per registration number, over every source.

The page identifies a candidate by registration number and their signed SKD
receipt (``api._as_candidate``): a receipt verifies only under a key this
server holds or has held (or a registered site key) and names one number, so
it cannot be guessed as the date of birth it replaced could (the date is
published with the results, and was guessable besides: some thousands of
days). The back-off stays around the check all the same: every refused
receipt (forged, altered, unreadable, another candidate's) counts as a failed
login. The login back-off (:mod:`exam_server.limits`, scope ``skb``) counts
them per (number, address) and per address; this adds one more count, per
registration number over every address: key (``skb``, number, ``*``) in the
limiter's own store (shared by the workers on PostgreSQL, listed and cleared by
an administrator with the others, ``/api/admin/login-limits``), under the
limiter's per-account rule — the one every account key of every scope has:
``login_failures_per_candidate`` free failures, then a wait of 1 s, 2 s, 4 s …
after each, at most ``login_backoff_cap_seconds``.

So the owner is never held up longer than the cap (300 s by default) at a try,
whoever tries and from wherever; and someone sending made-up or altered
receipts gets no more than about 1,430 checked tries a day at one number
however many addresses they have (the count is forgotten 600 s after its last
failure), each with no better chance than forging an Ed25519 signature. A
success does not clear this count: the owner's login proves nothing about the
other tries, and clearing it would hand the other side fresh free tries each
time the owner looks. The count's first wait is an audit event
(``skb_lockout``), like a staff account's.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

from exam_server import audit
from exam_server.durability import GroupCommitter
from exam_server.limits import Entry, LimitKey, LoginLimiter, Throttled

SCOPE = "skb"
#: The source of a key that counts a registration number's failures from every address.
EVERY_SOURCE = "*"
# As the limiter keeps accounts (longer input is cut; the body allows 40).
_MAX_ACCOUNT = 200


def account_key(registration_number: str) -> LimitKey:
    """The key of ``registration_number``'s refused receipts from every source."""
    return LimitKey(SCOPE, registration_number[:_MAX_ACCOUNT], EVERY_SOURCE)


class NumberBackoff:
    """The per-number count over ``limits``' store, clock and rule; its first
    wait is written to the audit chain through ``committer``."""

    def __init__(self, limits: LoginLimiter, committer: GroupCommitter) -> None:
        self.limits = limits
        self.committer = committer

    def _check_on(self, conn: Connection | None, registration_number: str) -> None:
        now = self.limits.clock.now()
        since = now - self.limits.forget_after_seconds
        entries: list[Entry] = self.limits.store.read(
            conn, [account_key(registration_number)], since
        )
        wait = max((self.limits.wait_of(e, now) for e in entries), default=0.0)
        if wait > 0:
            raise Throttled(wait)

    def _failed_on(self, conn: Connection | None, registration_number: str) -> tuple[int, float]:
        now = self.limits.clock.now()
        since = now - self.limits.forget_after_seconds
        key = account_key(registration_number)
        n = self.limits.store.add_failure(conn, [key], now, since)[key]
        return n, self.limits.backoff(key).delay(n)

    async def check(self, registration_number: str) -> None:
        """Raise :class:`~exam_server.limits.Throttled` while the number must wait."""
        await self.limits.on_store(self._check_on, registration_number)

    async def failed(self, registration_number: str, source: str) -> None:
        """Count a refused receipt for the number from ``source``; the failure that
        starts its first wait goes into the audit chain (``skb_lockout``; actor:
        that failure's address)."""
        n, wait = await self.limits.on_store(self._failed_on, registration_number)
        if n != self.limits.backoff(account_key(registration_number)).free:
            return
        data = {
            "registration_number": registration_number,
            "source": EVERY_SOURCE,
            "failures": n,
            "wait_seconds": wait,
        }
        await self.committer.submit(
            lambda conn: audit.append(conn, "skb_lockout", f"source:{source}", data=data)
        )
