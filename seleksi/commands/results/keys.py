"""Keys for ``seleksi results``: ``keygen`` (the publication signing key
pair), and reading a signing key or the receipt keys a publication lists.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from seleksi.cli import CommandError
from seleksi.commands.results.sources import _read


def _keygen(args: argparse.Namespace) -> int:
    from exam_server.results.publication import generate_key, private_key_pem, public_key_pem

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    key_path, pub_path = out / "results-signing.key", out / "results-signing.pub"
    if key_path.exists() and not args.force:
        raise CommandError(f"{key_path} exists; use --force to replace it")
    key = generate_key()
    # The private key is written readable by its owner only.
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(private_key_pem(key))
    pub_path.write_bytes(public_key_pem(key.public_key()))
    from exam_server.results.publication import public_key_fingerprint

    print(f"private key: {key_path} (keep it secret)")
    print(f"public key:  {pub_path} (announce it)")
    print(f"fingerprint: {public_key_fingerprint(key.public_key())}")
    return 0


def _key(path: str, private: bool) -> Any:
    """The Ed25519 key in the PEM file ``path`` (private or public), or one line saying
    what the file is instead."""
    from exam_server.results import publication as pubm

    pem = _read(path)
    try:
        return pubm.load_private_key(pem) if private else pubm.load_public_key(pem)
    except pubm.PublicationError:
        pass
    if private and b"PUBLIC KEY" in pem:
        found = "a public key (give the private results-signing.key from keygen)"
    elif not private and b"PRIVATE KEY" in pem:
        found = "a private key (give the public .pub file; never hand out the private key)"
    else:
        found = "not an Ed25519 key in PEM"
    raise CommandError(f"{path}: {found}")


def _receipt_keys(path: str) -> list[Any]:
    """The receipt keys in ``path``: a key list (JSON) or one public key (PEM)."""
    from exam_server import receipts

    data = _read(path)
    if not data.lstrip().startswith(b"{"):
        return [_key(path, private=False)]
    try:
        return receipts.parse_key_list(json.loads(data))
    except ValueError as exc:
        raise CommandError(f"{path}: {exc}") from None
