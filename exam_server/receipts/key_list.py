"""The server's receipt key list: a small JSON file beside its private key
(:func:`key_list_path`) listing every key that has signed its receipts, the
current one and the retired ones (:func:`record_current_key` at each start,
:func:`held_keys` to read them); its public document (:func:`key_list_document`,
:func:`parse_key_list`).

The standard library and ``cryptography``; no web, no database.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from exam_server.receipts.keys import ReceiptKey, utc_text
from exam_server.receipts.receipt import key_id

KEY_LIST_KIND = "seleksi-receipt-keys"

log = logging.getLogger(__name__)


def key_list_path(private_key_path: Path) -> Path:
    """Where a server lists its receipt keys: beside its private key
    (``seleksi.db.checkpoint-key.pem`` → ``seleksi.db.checkpoint-key.receipt-keys.json``)."""
    return private_key_path.with_name(private_key_path.stem + ".receipt-keys.json")


def key_list_document(keys: Sequence[ReceiptKey], **extra: Any) -> dict[str, Any]:
    """The public form of a key list (what the file holds and the server serves).

    Exam sites' keys, which verify their own candidates' receipts only, go in
    ``site_keys`` of a version-2 list: a reader that knows only version 1
    refuses the list rather than take them for keys of every receipt."""
    site = [k.to_dict() for k in keys if k.site]
    doc = {"kind": KEY_LIST_KIND, "v": 2 if site else 1, **extra}
    doc["keys"] = [k.to_dict() for k in keys if not k.site]
    if site:
        doc["site_keys"] = site
    return doc


def parse_key_list(doc: Any) -> list[ReceiptKey]:
    """The keys of a key list document (version 1, or 2 with ``site_keys``),
    or of a manifest's list of keys; ``ValueError`` saying what is wrong."""
    site: Any = []
    if isinstance(doc, Mapping):
        if doc.get("kind") != KEY_LIST_KIND or doc.get("v") not in (1, 2):
            raise ValueError(f"not a receipt key list ({KEY_LIST_KIND}, version 1 or 2)")
        site = doc.get("site_keys", []) if doc.get("v") == 2 else []
        doc = doc.get("keys")
    if not isinstance(doc, list) or not isinstance(site, list):
        raise ValueError("a receipt key list holds a list of keys")
    keys = [ReceiptKey.from_dict(d) for d in doc]
    sites = [ReceiptKey.from_dict(d) for d in site]
    if any(not k.site for k in sites):
        raise ValueError("a site key without its site and sessions")
    return keys + sites


def read_key_list(path: Path) -> list[ReceiptKey]:
    """The keys listed in ``path`` (``[]`` when there is no list yet)."""
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        return []
    try:
        return parse_key_list(json.loads(text))
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


@contextlib.contextmanager
def _list_lock(path: Path) -> Iterator[None]:
    """One writer of the list at a time (several workers start together)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.with_name(path.name + ".lock").open("a+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _write_list(path: Path, keys: Sequence[ReceiptKey]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(key_list_document(keys), indent=2) + "\n", "utf-8")
    os.replace(tmp, path)


def record_key(
    path: Path, public_key: Ed25519PublicKey, *, now: float, since: float | None = None
) -> list[ReceiptKey]:
    """List ``public_key`` as the key in use from now on: a key not yet listed
    is added (in use from ``since``, default ``now``) and the key in use
    before it is retired at ``now``. Idempotent for the key already in use.
    Returns the list as written."""
    kid = key_id(public_key)
    with _list_lock(path):
        keys = read_key_list(path)
        current = [k for k in keys if not k.retired]
        if [k.key_id for k in current] == [kid]:
            return keys
        out = []
        for k in keys:
            if k.key_id == kid:
                # A retired key in use again (a restored backup): listed as
                # current, the earlier end dropped; said in the log.
                log.warning("receipt key %s retired at %s is in use again", kid, k.valid_until)
                k = dataclasses.replace(k, valid_until="")
            elif not k.retired:
                k = dataclasses.replace(k, valid_until=utc_text(now))
            out.append(k)
        if all(k.key_id != kid for k in out):
            out.append(ReceiptKey(public_key, utc_text(now if since is None else min(since, now))))
        _write_list(path, out)
        log.info("receipt key %s listed in %s (%d keys)", kid, path, len(out))
        return out


def record_current_key(private_key_path: Path, public_key: Ed25519PublicKey) -> None:
    """At a server's start: list its key (in use from the key file's time when
    first listed) and retire the one before. Never raises: a list that cannot
    be written is logged, and the exam goes on."""
    try:
        since = private_key_path.stat().st_mtime if private_key_path.exists() else None
        record_key(key_list_path(private_key_path), public_key, now=time.time(), since=since)
    except (OSError, ValueError):
        log.exception("the receipt key list beside %s was not updated", private_key_path)


class KeyHolder(Protocol):
    """What :func:`server_keys` reads of a server's checkpointer
    (``exam_server.checkpoints.Checkpointer``)."""

    key_path: Path
    key: Ed25519PrivateKey | None


def server_keys(holder: KeyHolder) -> list[ReceiptKey]:
    """The receipt keys a running server has held (:func:`held_keys` of its key)."""
    current = holder.key.public_key() if holder.key is not None else None
    return held_keys(holder.key_path, current)


def held_keys(private_key_path: Path, current: Ed25519PublicKey | None = None) -> list[ReceiptKey]:
    """Every receipt key the server has held: its key list, plus ``current``
    if the list does not hold it yet (a list that cannot be read gives the
    current key alone, and a log line)."""
    try:
        keys = read_key_list(key_list_path(private_key_path))
    except (OSError, ValueError):
        log.exception("the receipt key list beside %s cannot be read", private_key_path)
        keys = []
    if current is not None and all(k.key_id != key_id(current) for k in keys):
        keys.append(ReceiptKey(current))
    return keys
