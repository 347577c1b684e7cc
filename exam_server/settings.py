"""Server settings, validated at construction; read from ``SELEKSI_*`` env vars."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

_SQLITE_SYNC = ("OFF", "NORMAL", "FULL", "EXTRA")


@dataclass(frozen=True)
class Settings:
    """Everything the server needs to run. Times are seconds.

    database_url: SQLAlchemy URL (``sqlite:///path.db`` or
    ``postgresql+psycopg://user@host/db``). secret_key: signs tokens and keys
    the PIN HMAC; at least 32 characters (generate with
    ``python -c "import secrets; print(secrets.token_urlsafe(48))"``).
    grace_seconds: how long a vanished terminal's clock keeps running before it
    stops, counted from when it was last seen alive (``exam_server.presence``).
    presence_interval_seconds: how often each process marks its connected
    terminals alive in the database; at most half the grace (checked here).
    ws_ping_interval_seconds / ws_ping_timeout_seconds: the transport's
    keep-alive pings, which find terminals that vanished without closing.
    allowed_origins: WebSocket/browser origins accepted besides the
    server's own host (empty = same host only). results_dir: the folder that
    ``seleksi results publish`` wrote, served read-only at ``/results``, and
    where the admin page publishes; results_key_path: the key that signs those.
    gc_freeze_seconds: how often surviving objects are moved out of the
    garbage collector's reach so full collections stay short
    (``exam_server.gcpolicy``); 0 leaves Python's collector as it is.
    login_*: failed-login back-off (``exam_server.limits``): free failures per
    (account, source) and per source, the longest wait, and how long a quiet
    key is remembered after its wait. trusted_proxies: addresses or networks
    of reverse proxies whose ``X-Forwarded-For`` is believed (default: this
    host's loopback, as uvicorn did; empty: none).
    """

    database_url: str = "sqlite:///seleksi.db"
    secret_key: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    grace_seconds: float = 30.0
    ws_ping_interval_seconds: float = 20.0
    ws_ping_timeout_seconds: float = 20.0
    candidate_token_seconds: float = 6 * 3600.0
    staff_token_seconds: float = 12 * 3600.0
    sqlite_synchronous: str = "FULL"
    allowed_origins: tuple[str, ...] = ()
    max_frame_bytes: int = 4096
    messages_per_second: float = 20.0
    message_burst: int = 40
    # Sockets open without a login (a terminal's before its hello is
    # accepted; the public board's), per source address and in all, per
    # process (exam_server.socket_gate): one address cannot use up the file
    # descriptors every terminal and proctor needs. A room of terminals
    # behind one NAT address connects at once, each socket pre-login only
    # until its hello is answered: the per-address cap leaves room for it.
    preauth_sockets_per_source: int = 500
    preauth_sockets_total: int = 2000
    board_sockets_per_source: int = 50
    board_sockets_total: int = 1000
    # TCP connections per source address (trusted proxies take none), in all
    # the open-files limit less connection_reserve descriptors kept for the
    # database, files and logs; a request's header is due within
    # header_timeout_seconds (exam_server.connection_gate). A room of
    # terminals behind one NAT address holds one socket each and a few
    # kept-alive page connections: the cap leaves room for hundreds.
    connections_per_source: int = 2000
    connection_reserve: int = 512
    header_timeout_seconds: float = 10.0
    login_failures_per_candidate: int = 5
    login_failures_per_source: int = 100
    login_failure_window_seconds: float = 300.0
    login_backoff_cap_seconds: float = 300.0
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")
    sweep_interval_seconds: float = 0.5
    presence_interval_seconds: float = 5.0
    commit_max_batch: int = 500
    # The engine state is stored every this many responses (and when an
    # adaptive section ends, and at the finish); between snapshots only the
    # narrow response rows are written, and a load replays at most this many
    # minus one (exam_server.attempts.storage; docs/benchmarks.md).
    snapshot_every: int = 10
    # Database connections one server process may hold: this many kept open and as
    # many more at a peak (SQLAlchemy's pool_size and max_overflow). On PostgreSQL,
    # workers x 2 x this must fit in max_connections (checked at start).
    database_pool_size: int = 20
    # How often each worker reads which staff accounts are disabled: the longest a
    # disabled account's token still works (exam_server.revocation).
    staff_refresh_seconds: float = 2.0
    gc_freeze_seconds: float = 5.0
    # Signed checkpoints of the chain heads (exam_server.checkpoints): cadence
    # (0 = only at session close and stop), file and key (None = beside the
    # SQLite file; in the working directory on PostgreSQL).
    checkpoint_seconds: float = 60.0
    # Survey answers after the test are written in batches of this many
    # candidates, shuffled, in one transaction, so that nothing in the database
    # links them to an attempt; a smaller batch waits at most survey_max_wait
    # seconds (and is written when the server stops). 1 writes each at once
    # (exam_server.after_test.survey_pool).
    survey_batch: int = 10
    survey_max_wait_seconds: float = 3600.0
    checkpoint_path: str | None = None
    checkpoint_key_path: str | None = None
    scrypt_n: int = 2**14
    static_dir: str | None = None
    results_dir: str | None = None
    # The Ed25519 private key (PEM, from `seleksi results keygen`) that signs
    # publications made from the admin page (exam_server.results_api); None:
    # the admin page can verify but not publish.
    results_key_path: str | None = None
    # Sites and the centre (exam_server.sites, docs/sites.md): "standalone"
    # (this server is the whole world), "site" (runs its installed package
    # without the centre, syncing to centre_url with site_token every
    # site_sync_seconds) or "centre" (takes sites' syncs; releases a session's
    # key site_key_lead_seconds before its start).
    role: str = "standalone"
    centre_url: str | None = None
    site_token: str | None = None
    site_sync_seconds: float = 10.0
    site_key_lead_seconds: float = 1800.0
    # ``seleksi demo`` only: the file that says its finished exam is being
    # seeded in the background (exam_server.demo.being_prepared); None elsewhere.
    demo_preparing_path: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.database_url or "://" not in self.database_url:
            raise ValueError(f"Settings.database_url is not a database URL: {self.database_url!r}")
        if not (
            self.database_url.startswith("sqlite") or self.database_url.startswith("postgresql")
        ):
            raise ValueError("Settings.database_url must be sqlite:// or postgresql+psycopg://")
        if len(self.secret_key) < 32:
            raise ValueError("Settings.secret_key must be at least 32 characters")
        if not (0 < self.port < 65536):
            raise ValueError(f"Settings.port out of range: {self.port}")
        positive = (
            "grace_seconds",
            "ws_ping_interval_seconds",
            "ws_ping_timeout_seconds",
            "candidate_token_seconds",
            "staff_token_seconds",
            "messages_per_second",
            "login_failure_window_seconds",
            "login_backoff_cap_seconds",
            "sweep_interval_seconds",
            "presence_interval_seconds",
        )
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"Settings.{name} must be positive")
        # Another worker's database sweep takes a terminal for gone when its
        # process's row (rewritten every presence interval) is older than the
        # grace: a flush must come well inside the grace, or a connected
        # terminal's clock is stopped while its candidate is still answering
        # (exam_server.presence). Half the grace leaves the other half for a
        # slow commit or a stalled loop.
        if self.presence_interval_seconds > self.grace_seconds / 2:
            raise ValueError(
                "Settings.presence_interval_seconds must be at most half of grace_seconds "
                f"({self.presence_interval_seconds:g} s against a grace of "
                f"{self.grace_seconds:g} s): a connected terminal must be marked alive "
                "well before the grace runs out"
            )
        if not 1 <= self.snapshot_every <= 1000:
            raise ValueError("Settings.snapshot_every must be between 1 and 1000 responses")
        if not 1 <= self.survey_batch <= 10_000:
            raise ValueError("Settings.survey_batch must be between 1 and 10000 submissions")
        if not self.survey_max_wait_seconds > 0:
            raise ValueError("Settings.survey_max_wait_seconds must be positive")
        if not 1 <= self.database_pool_size <= 1000:
            raise ValueError("Settings.database_pool_size must be between 1 and 1000 connections")
        if not 0 < self.staff_refresh_seconds <= 60:
            raise ValueError("Settings.staff_refresh_seconds must be in (0, 60] seconds")
        for name in ("max_frame_bytes", "message_burst", "commit_max_batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"Settings.{name} must be at least 1")
        for kind in ("preauth", "board"):
            per, total = (getattr(self, f"{kind}_sockets_{x}") for x in ("per_source", "total"))
            if not 1 <= per <= total:
                raise ValueError(
                    f"Settings.{kind}_sockets_per_source must be at least 1 and at most "
                    f"{kind}_sockets_total ({per} and {total})"
                )
        if self.connections_per_source < 1 or self.connection_reserve < 0:
            raise ValueError(
                "Settings.connections_per_source must be at least 1 and "
                "connection_reserve at least 0"
            )
        if not 0 < self.header_timeout_seconds <= 300:
            raise ValueError("Settings.header_timeout_seconds must be in (0, 300] seconds")
        for name in ("login_failures_per_candidate", "login_failures_per_source"):
            if getattr(self, name) < 1:
                raise ValueError(f"Settings.{name} must be at least 1")
        if self.sqlite_synchronous.upper() not in _SQLITE_SYNC:
            raise ValueError(f"Settings.sqlite_synchronous must be one of {_SQLITE_SYNC}")
        if self.gc_freeze_seconds < 0:
            raise ValueError("Settings.gc_freeze_seconds must be 0 (off) or positive")
        if self.checkpoint_seconds < 0:
            raise ValueError("Settings.checkpoint_seconds must be 0 (off) or positive")
        if self.role not in ("standalone", "site", "centre"):
            raise ValueError("Settings.role must be standalone, site or centre")
        if not (self.site_sync_seconds > 0 and self.site_key_lead_seconds >= 0):
            raise ValueError(
                "Settings.site_sync_seconds must be positive, site_key_lead_seconds 0 or more"
            )
        if self.scrypt_n < 2 or self.scrypt_n & (self.scrypt_n - 1):
            raise ValueError("Settings.scrypt_n must be a power of two")

    @property
    def keepalive_seconds(self) -> float:
        """How long before a dropped connection was noticed its terminal may
        still have answered pings (ping interval + ping timeout)."""
        return self.ws_ping_interval_seconds + self.ws_ping_timeout_seconds

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``SELEKSI_<FIELD>`` variables (e.g. ``SELEKSI_DATABASE_URL``).

        Without ``SELEKSI_SECRET_KEY`` a random key is made: tokens then do not
        survive a restart, which is fine for a demo and wrong for exam day.
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "extra":
                continue
            raw = env.get(f"SELEKSI_{f.name.upper()}")
            if raw is None:
                continue
            default = f.default
            try:
                if isinstance(default, bool):
                    values[f.name] = raw.lower() in ("1", "true", "yes")
                elif isinstance(default, int):
                    values[f.name] = int(raw)
                elif isinstance(default, float):
                    values[f.name] = float(raw)
                elif isinstance(default, tuple):
                    values[f.name] = tuple(s.strip() for s in raw.split(",") if s.strip())
                else:
                    values[f.name] = raw
            except ValueError as exc:
                raise ValueError(f"SELEKSI_{f.name.upper()}: {exc}") from None
        values.update(overrides)
        if not values.get("secret_key"):
            values["secret_key"] = secrets.token_urlsafe(48)
        return cls(**values)
