"""The recruitment pages' configuration, built once from the server's settings.

Read from ``Settings.extra`` or, failing that, the environment
(``SELEKSI_RECRUITMENT_*``):

* ``recruitment_documents_dir`` — where uploads are kept (never under a web
  root); default ``recruitment-documents`` beside the SQLite database, or in
  ``./seleksi-data`` on PostgreSQL;
* ``recruitment_key_path`` — the Ed25519 key that signs announcements and
  receipts (made on first use; default ``recruitment-signing.key`` beside the
  documents);
* ``recruitment_smtp_host`` / ``recruitment_smtp_port`` /
  ``recruitment_mail_from`` — the outbox's SMTP server (no host: messages stay
  in the outbox);
* ``recruitment_smtp_timeout_seconds`` (10) — each SMTP socket operation;
* ``recruitment_retry_first_seconds`` (60), ``recruitment_retry_max_seconds``
  (3600), ``recruitment_retry_max_attempts`` (8) — the outbox's back-off
  (``recruitment.delivery.RetryPolicy``);
* ``recruitment_outbox_interval_seconds`` (30) — how often the server's
  background sender looks for due messages and reminders;
  ``recruitment_outbox_lease_seconds`` (300) — how long a sender's claim on a
  message holds (at least 6 × the SMTP timeout);
* ``recruitment_reminder_days`` (``3,1``) — reminders of an unsubmitted
  registration, days before registration closes (``off``: none);
* ``recruitment_registry_extract`` — a population-registry extract (CSV
  ``nik,name,birth_date``) for :class:`recruitment.registry.OfflineRegistry`;
  none: identities are left to the verifiers.

A value that does not parse or is out of range fails the start with a
``ValueError`` naming its variable (:meth:`OutboxConfig.from_settings`).
The NIK key is derived from the server's secret key (``recruitment.nik.derive_key``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import make_url

from exam_server.checkpoints import load_or_create_key
from exam_server.recruitment.outbox import SmtpTarget
from exam_server.settings import Settings
from recruitment.delivery import RetryPolicy, parse_lead_days
from recruitment.documents import DocumentStore
from recruitment.nik import derive_key
from recruitment.registry import NoRegistry, OfflineRegistry, RegistryAdapter


def _getter(settings: Settings) -> Callable[[str], str | None]:
    def get(name: str) -> str | None:
        return settings.extra.get(name) or os.environ.get(f"SELEKSI_{name.upper()}") or None

    return get


@dataclass(frozen=True)
class OutboxConfig:
    """The outbox's delivery settings (no files touched: the server reads them
    at start, whether or not the recruitment pages are used). smtp: None when
    no SMTP host is set (messages stay in the outbox). interval_seconds: the
    background sender's period; reminder_days: lead times, largest first."""

    smtp: SmtpTarget | None
    interval_seconds: float
    reminder_days: tuple[float, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> OutboxConfig:
        get = _getter(settings)

        def number(name: str, default: float, low: float, high: float) -> float:
            raw = get(name) or str(default)
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(f"SELEKSI_{name.upper()}: not a number: {raw!r}") from None
            if not low <= value <= high:
                raise ValueError(f"SELEKSI_{name.upper()}: {value:g} not in [{low:g}, {high:g}]")
            return value

        timeout = number("recruitment_smtp_timeout_seconds", 10, 1, 300)
        interval = number("recruitment_outbox_interval_seconds", 30, 0.1, 3600)
        lease = number("recruitment_outbox_lease_seconds", 300, 6 * timeout, 86400)
        attempts = number("recruitment_retry_max_attempts", 8, 1, 100)
        if attempts != int(attempts):
            raise ValueError("SELEKSI_RECRUITMENT_RETRY_MAX_ATTEMPTS: a whole number")
        try:
            policy = RetryPolicy(
                number("recruitment_retry_first_seconds", 60, 1, 86400),
                number("recruitment_retry_max_seconds", 3600, 1, 7 * 86400),
                int(attempts),
            )
        except ValueError as exc:
            raise ValueError(f"SELEKSI_RECRUITMENT_RETRY_*: {exc}") from None
        try:
            days = parse_lead_days(get("recruitment_reminder_days") or "3,1")
        except ValueError as exc:
            raise ValueError(f"SELEKSI_RECRUITMENT_REMINDER_DAYS: {exc}") from None
        port_text = get("recruitment_smtp_port") or "25"
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"SELEKSI_RECRUITMENT_SMTP_PORT: not a port: {port_text!r}")
        host = get("recruitment_smtp_host")
        smtp = (
            SmtpTarget(
                host,
                int(port_text),
                get("recruitment_mail_from") or "seleksi@localhost",
                timeout_seconds=timeout,
                policy=policy,
                lease_seconds=lease,
            )
            if host
            else None
        )
        return cls(smtp, interval, days)


@dataclass
class RecruitmentConfig:
    store: DocumentStore
    key: Ed25519PrivateKey
    nik_key: bytes
    registry: RegistryAdapter
    smtp: SmtpTarget | None

    @classmethod
    def from_settings(cls, settings: Settings) -> RecruitmentConfig:
        get = _getter(settings)
        if settings.is_sqlite:
            db = make_url(settings.database_url).database
            base = Path(db).resolve().parent if db and db != ":memory:" else Path("seleksi-data")
        else:
            base = Path("seleksi-data")
        docs_dir = Path(get("recruitment_documents_dir") or base / "recruitment-documents")
        key_path = Path(get("recruitment_key_path") or docs_dir.parent / "recruitment-signing.key")
        docs_dir.mkdir(parents=True, exist_ok=True)
        extract = get("recruitment_registry_extract")
        registry: RegistryAdapter = (
            OfflineRegistry(Path(extract).read_text("utf-8")) if extract else NoRegistry()
        )
        smtp = OutboxConfig.from_settings(settings).smtp
        return cls(
            DocumentStore(docs_dir),
            load_or_create_key(key_path),
            derive_key(settings.secret_key),
            registry,
            smtp,
        )
