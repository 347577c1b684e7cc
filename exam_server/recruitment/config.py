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
* ``recruitment_registry_extract`` — a population-registry extract (CSV
  ``nik,name,birth_date``) for :class:`recruitment.registry.OfflineRegistry`;
  none: identities are left to the verifiers.

The NIK key is derived from the server's secret key (``recruitment.nik.derive_key``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import make_url

from exam_server.checkpoints import load_or_create_key
from exam_server.recruitment.outbox import SmtpTarget
from exam_server.settings import Settings
from recruitment.documents import DocumentStore
from recruitment.nik import derive_key
from recruitment.registry import NoRegistry, OfflineRegistry, RegistryAdapter


@dataclass
class RecruitmentConfig:
    store: DocumentStore
    key: Ed25519PrivateKey
    nik_key: bytes
    registry: RegistryAdapter
    smtp: SmtpTarget | None

    @classmethod
    def from_settings(cls, settings: Settings) -> RecruitmentConfig:
        def get(name: str) -> str | None:
            return settings.extra.get(name) or os.environ.get(f"SELEKSI_{name.upper()}") or None

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
        host = get("recruitment_smtp_host")
        port = get("recruitment_smtp_port") or "25"
        smtp = (
            SmtpTarget(host, int(port), get("recruitment_mail_from") or "seleksi@localhost")
            if host
            else None
        )
        return cls(
            DocumentStore(docs_dir),
            load_or_create_key(key_path),
            derive_key(settings.secret_key),
            registry,
            smtp,
        )
