"""The checkpoint key: where it lives beside the database, made on first start
(file mode 0600), and its public half for verifiers."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from exam_server.receipts import key_id
from exam_server.settings import Settings

log = logging.getLogger(__name__)


def default_paths(settings: Settings) -> tuple[Path, Path]:
    """(checkpoint file, private key file) for ``settings`` (see :func:`paths_for`)."""
    return paths_for(settings.database_url, settings.checkpoint_path, settings.checkpoint_key_path)


def paths_for(
    database_url: str, file: str | None = None, key: str | None = None
) -> tuple[Path, Path]:
    """(checkpoint file, private key file): ``file``/``key`` if given, else
    beside the SQLite file (``seleksi.db.checkpoints.jsonl``,
    ``seleksi.db.checkpoint-key.pem``), else (PostgreSQL) in the working
    directory (``seleksi-checkpoints.jsonl``, ``seleksi-checkpoint-key.pem``)."""
    if database_url.startswith("sqlite"):
        db = database_url.split(":///", 1)[-1]
        base = Path(db if db and db != ":memory:" else "seleksi.db")
        file_default = base.with_name(base.name + ".checkpoints.jsonl")
        key_default = base.with_name(base.name + ".checkpoint-key.pem")
    else:
        file_default = Path("seleksi-checkpoints.jsonl")
        key_default = Path("seleksi-checkpoint-key.pem")
    return (Path(file) if file else file_default, Path(key) if key else key_default)


def public_key_path(private_key_path: Path) -> Path:
    """Where the public half is written (``….pem`` → ``….pub.pem``)."""
    return private_key_path.with_name(private_key_path.stem + ".pub.pem")


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The server's checkpoint key: read from ``path``, or generated there on
    first start (mode 0600, created exclusively so two workers starting at once
    end up with one key), with its public half beside it (mode 0644)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = read_private_key(path)
    else:
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
            f.flush()
            os.fsync(f.fileno())
        log.info("made the checkpoint key %s (key id %s)", path, key_id(key.public_key()))
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        log.warning("the checkpoint key %s is readable by others (mode %o): chmod 600", path, mode)
    pub = public_key_path(path)
    pem_pub = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if not pub.exists() or pub.read_bytes() != pem_pub:
        pub.write_bytes(pem_pub)
    return key


def read_private_key(path: Path) -> Ed25519PrivateKey:
    """An existing Ed25519 private key (PEM); never makes one."""
    for _ in range(50):  # another worker may be writing it this instant
        data = path.read_bytes()
        if data:
            break
        time.sleep(0.02)
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """A public key from a PEM file holding the public or the private key."""
    data = path.read_bytes()
    try:
        key: Any = serialization.load_pem_public_key(data)
    except ValueError:
        try:
            key = serialization.load_pem_private_key(data, password=None).public_key()
        except (ValueError, TypeError):
            raise ValueError(f"{path}: not a PEM key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path}: not an Ed25519 key")
    return key
